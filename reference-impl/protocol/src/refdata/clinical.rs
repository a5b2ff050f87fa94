//! Clinical code tables of the EHR sharing service: the laboratory tests it accepts (the common
//! lifestyle-disease and emergency panels, and the four infection markers), food allergens, and
//! the diagnoses the workload draws from.
//!
//! Laboratory codes are 17 characters shaped like JLAC10 — analyte (5), identification (4),
//! material (3), method (3), result (2). The analyte parts follow JLAC10's analyte codes; the
//! remaining parts are ours and fixed per test (serum or whole blood, one method). Diagnoses are
//! ICD-10 codes, of which the service checks the form (it ships no full ICD-10 list).

/// Which part of the clinical summary a laboratory test belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Panel {
    /// Specific health checkup and lifestyle-disease follow-up (生活習慣病).
    Lifestyle,
    /// Common emergency tests (救急時に有用な検査).
    Emergency,
    /// Infections (感染症): syphilis, HBs, HCV, HIV — reported as positive or negative.
    Infection,
}

#[derive(Debug)]
pub struct LabTest {
    pub code: &'static str,
    pub name: &'static str,
    /// UCUM-like unit of the value; empty for infection markers.
    pub unit: &'static str,
    pub panel: Panel,
    /// Reference interval, for generated values.
    pub low: f64,
    pub high: f64,
}

const fn lab(
    code: &'static str,
    name: &'static str,
    unit: &'static str,
    panel: Panel,
    low: f64,
    high: f64,
) -> LabTest {
    LabTest {
        code,
        name,
        unit,
        panel,
        low,
        high,
    }
}

use Panel::*;

#[rustfmt::skip]
pub const LAB_TESTS: &[LabTest] = &[
    lab("3D046000002327101", "HbA1c (NGSP)", "%", Lifestyle, 4.6, 6.2),
    lab("3D010000002327101", "Glucose", "mg/dL", Lifestyle, 70.0, 109.0),
    lab("3F077000002327101", "LDL cholesterol", "mg/dL", Lifestyle, 65.0, 139.0),
    lab("3F070000002327101", "HDL cholesterol", "mg/dL", Lifestyle, 40.0, 90.0),
    lab("3F015000002327101", "Triglycerides", "mg/dL", Lifestyle, 30.0, 149.0),
    lab("3B035000002327201", "AST", "U/L", Lifestyle, 13.0, 30.0),
    lab("3B045000002327201", "ALT", "U/L", Lifestyle, 7.0, 30.0),
    lab("3B090000002327201", "γ-GT", "U/L", Lifestyle, 9.0, 50.0),
    lab("3C015000002327101", "Creatinine", "mg/dL", Lifestyle, 0.46, 1.07),
    lab("8A065000002391901", "eGFR", "mL/min/1.73m2", Lifestyle, 60.0, 120.0),
    lab("3C020000002327101", "Uric acid", "mg/dL", Lifestyle, 2.6, 7.0),
    lab("2A990000001930101", "White blood cells", "10*3/uL", Emergency, 3.3, 8.6),
    lab("2A030000001930101", "Haemoglobin", "g/dL", Emergency, 11.6, 16.8),
    lab("2A050000001930101", "Platelets", "10*3/uL", Emergency, 158.0, 348.0),
    lab("5C070000002306201", "CRP", "mg/dL", Emergency, 0.0, 0.14),
    lab("3H010000002326101", "Sodium", "mmol/L", Emergency, 138.0, 145.0),
    lab("3H015000002326101", "Potassium", "mmol/L", Emergency, 3.6, 4.8),
    lab("3C025000002327101", "Urea nitrogen", "mg/dL", Emergency, 8.0, 20.0),
    lab("5E071000002305401", "Syphilis TP antibody", "", Infection, 0.0, 0.0),
    lab("5F016141002305401", "HBs antigen", "", Infection, 0.0, 0.0),
    lab("5F360149002305401", "HCV antibody", "", Infection, 0.0, 0.0),
    lab("5F601147002305401", "HIV-1/2 antibody", "", Infection, 0.0, 0.0),
];

/// The laboratory test with this code.
pub fn lab_test(code: &str) -> Option<&'static LabTest> {
    LAB_TESTS.iter().find(|t| t.code == code)
}

/// Food allergens (the eight whose labelling is mandatory in Japan), as (JFAGY code, name): the
/// codes of JP Core's `JP_JfagyFoodAllergen_CS`.
pub const FOOD_ALLERGENS: &[(&str, &str)] = &[
    ("J9FB13110000", "鶏卵"),
    ("J9FB12000000", "乳"),
    ("J9FA15000000", "小麦"),
    ("J9FC15110000", "えび類（いせえび・ざりがに類を除く。）"),
    ("J9FC15120000", "かに類"),
    ("J9FA19140000", "そば"),
    ("J9FA21180000", "落花生"),
    ("J9FA32280000", "くるみ"),
];

pub fn food_allergen(code: &str) -> Option<&'static str> {
    FOOD_ALLERGENS
        .iter()
        .find(|(c, _)| *c == code)
        .map(|(_, n)| *n)
}

/// Whether `code` has the form of an ICD-10 code: a letter, two digits, then optionally a dot
/// and one or two digits (`I10`, `E11.9`, `J45.01`).
pub fn is_icd10(code: &str) -> bool {
    let b = code.as_bytes();
    let head =
        b.len() >= 3 && b[0].is_ascii_uppercase() && b[1].is_ascii_digit() && b[2].is_ascii_digit();
    head && match &b[3..] {
        [] => true,
        [b'.', rest @ ..] => (1..=2).contains(&rest.len()) && rest.iter().all(u8::is_ascii_digit),
        _ => false,
    }
}

/// Common diagnoses of outpatient and inpatient care, as (ICD-10, name, chronic).
pub const DIAGNOSES: &[(&str, &str, bool)] = &[
    ("I10", "本態性高血圧症 (essential hypertension)", true),
    ("E11.9", "2型糖尿病 (type 2 diabetes)", true),
    ("E78.5", "脂質異常症 (dyslipidaemia)", true),
    ("K21.9", "逆流性食道炎 (reflux oesophagitis)", true),
    ("M17.9", "変形性膝関節症 (knee osteoarthritis)", true),
    ("J45.9", "気管支喘息 (asthma)", true),
    ("N18.3", "慢性腎臓病 (chronic kidney disease)", true),
    ("I48.9", "心房細動 (atrial fibrillation)", true),
    ("F32.9", "うつ病 (depression)", true),
    ("E03.9", "甲状腺機能低下症 (hypothyroidism)", true),
    ("J30.4", "アレルギー性鼻炎 (allergic rhinitis)", true),
    ("G47.0", "不眠症 (insomnia)", true),
    (
        "J06.9",
        "急性上気道炎 (acute upper respiratory infection)",
        false,
    ),
    ("J10.1", "インフルエンザ (influenza)", false),
    ("K29.7", "胃炎 (gastritis)", false),
    ("M54.5", "腰痛症 (low back pain)", false),
    ("A09", "感染性胃腸炎 (infectious gastroenteritis)", false),
    ("J18.9", "肺炎 (pneumonia)", false),
    ("I63.9", "脳梗塞 (cerebral infarction)", false),
    ("I21.9", "急性心筋梗塞 (acute myocardial infarction)", false),
    ("S72.0", "大腿骨頸部骨折 (femoral neck fracture)", false),
    ("C16.9", "胃癌 (stomach cancer)", false),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn icd10_form() {
        for ok in ["I10", "E11.9", "J45.01", "A09"] {
            assert!(is_icd10(ok), "{ok}");
        }
        for bad in ["", "I1", "i10", "I10.", "I10.123", "I1A", "110", "I10-9"] {
            assert!(!is_icd10(bad), "{bad}");
        }
        assert!(DIAGNOSES.iter().all(|(c, _, _)| is_icd10(c)));
    }

    #[test]
    fn lab_codes_are_jlac10_shaped_and_unique() {
        let mut seen = std::collections::BTreeSet::new();
        for t in LAB_TESTS {
            assert_eq!(t.code.len(), 17, "{}", t.name);
            assert!(t.code.bytes().all(|b| b.is_ascii_alphanumeric()));
            assert!(seen.insert(t.code), "duplicate {}", t.code);
            assert_eq!(t.unit.is_empty(), t.panel == Panel::Infection);
        }
        assert_eq!(LAB_TESTS.iter().filter(|t| t.panel == Infection).count(), 4);
    }
}
