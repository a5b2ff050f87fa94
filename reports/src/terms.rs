//! Japanese terms shown in parentheses beside English names: routes, services, facility kinds
//! and the rollout's measures. Every character here must be in the embedded font
//! (`assets/README.md` says how the font subset is made; a test checks coverage).

/// The Japanese term for a route, service, facility kind or measure, if it has one.
pub fn ja(key: &str) -> Option<&'static str> {
    Some(match key {
        // Routes of the exchange.
        "verify" => "資格確認",
        "batch" => "一括照会",
        "consent" => "閲覧同意",
        "check" => "重複投薬等チェック",
        "register" => "処方箋登録",
        "cancel" => "処方箋取消",
        "retrieve" => "処方箋取得",
        "dispense" => "調剤結果登録",
        "paper_dispense" => "紙処方箋の調剤結果",
        "ehr_items" => "6情報登録",
        "ehr_document" => "文書登録",
        "ehr_inbox" => "診療情報提供書の受信一覧",
        // Also the service of every EHR read.
        "ehr_read" => "文書閲覧",
        "ehr_receive" => "受信確認",
        "ehr_summary" => "電子カルテ情報の閲覧",
        "vaccination_record" => "予防接種記録",
        "vaccination_batch" => "予防接種一括登録",
        "vaccination_read" => "接種歴閲覧",
        "vaccination_schedule" => "定期接種の確認",
        "prenatal_checkup" => "妊婦健診",
        "infant_checkup" => "乳幼児健診",
        "qualification_acquire" => "資格取得",
        "care_certify" => "要介護認定",
        "care_read" => "要介護認定の閲覧",
        "portal_read" => "マイナポータル閲覧",
        "portal_apply" => "オンライン申請",
        "application_decide" => "申請の審査",
        // Central services of the capacity model.
        "eligibility" => "オンライン資格確認",
        "prescription_register" => "電子処方箋 登録",
        "prescription_check" => "重複投薬等チェック",
        "prescription_retrieve" => "電子処方箋 取得",
        "prescription_dispense" => "調剤結果登録",
        "ehr_write" => "電子カルテ情報共有 登録",
        "municipal" => "自治体・介護連携",
        "portal" => "マイナポータル",
        // Facility kinds.
        "hospital" => "病院",
        "clinic" => "診療所",
        "dental" => "歯科診療所",
        "pharmacy" => "薬局",
        // Measures of the rollout.
        "electronic_share" => "電子処方箋の割合",
        "eprescription" => "電子処方箋",
        "paper" => "紙の処方箋",
        "paper_avoided" => "紙の書類の削減",
        "duplicate" => "重複投薬",
        "contraindication" => "併用禁忌",
        "record_views" => "同意に基づく閲覧",
        "card_use" => "マイナ保険証の利用",
        "online_eligibility" => "オンライン資格確認",
        "ehr_sharing" => "電子カルテ情報共有サービス",
        "participation" => "自治体の参加",
        "refill" => "リフィル処方箋",
        "referral" => "診療情報提供書",
        "discharge_summary" => "退院時サマリー",
        "checkup_report" => "健診結果報告書",
        "vaccination" => "予防接種",
        _ => return None,
    })
}

/// `name (日本語)`, or the name alone when it has no term.
pub fn label(key: &str) -> String {
    match ja(key) {
        Some(j) => format!("{key} ({j})"),
        None => key.to_owned(),
    }
}

/// Every key with a term, for the font coverage test.
pub const KEYS: &[&str] = &[
    "verify",
    "batch",
    "consent",
    "check",
    "register",
    "cancel",
    "retrieve",
    "dispense",
    "paper_dispense",
    "ehr_items",
    "ehr_document",
    "ehr_inbox",
    "ehr_read",
    "ehr_receive",
    "ehr_summary",
    "vaccination_record",
    "vaccination_batch",
    "vaccination_read",
    "vaccination_schedule",
    "prenatal_checkup",
    "infant_checkup",
    "qualification_acquire",
    "care_certify",
    "care_read",
    "portal_read",
    "portal_apply",
    "application_decide",
    "eligibility",
    "prescription_register",
    "prescription_check",
    "prescription_retrieve",
    "prescription_dispense",
    "ehr_write",
    "municipal",
    "portal",
    "hospital",
    "clinic",
    "dental",
    "pharmacy",
    "electronic_share",
    "eprescription",
    "paper",
    "paper_avoided",
    "duplicate",
    "contraindication",
    "record_views",
    "card_use",
    "online_eligibility",
    "ehr_sharing",
    "participation",
    "refill",
    "referral",
    "discharge_summary",
    "checkup_report",
    "vaccination",
];

#[cfg(test)]
mod tests {
    #[test]
    fn every_key_has_a_term() {
        for k in super::KEYS {
            assert!(super::ja(k).is_some(), "{k}");
        }
        assert_eq!(super::label("verify"), "verify (資格確認)");
        assert_eq!(super::label("healthz"), "healthz");
    }
}
