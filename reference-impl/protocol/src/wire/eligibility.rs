//! Online eligibility verification (オンライン資格確認): single and batch (一括照会).

use super::common::{ErrorDetail, PersonRef, PublicExpenseRecord};
use super::consent::{ConsentFlags, ConsentKind};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerifyRequest {
    /// By card (`card_serial`) or by insurance number; not by person id.
    pub person: PersonRef,
    /// Date of service; defaults to today (JST).
    #[serde(default)]
    pub service_date: Option<NaiveDate>,
    /// Consent given at the card reader (card verification only).
    #[serde(default)]
    pub consent: Option<ConsentFlags>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QualificationStatus {
    /// Covered on the date of service.
    Valid,
    /// The number was valid but lapsed before the date of service (`valid_to` says when).
    Expired,
    /// The number starts after the date of service.
    NotYetValid,
    /// No such card or number.
    NotFound,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Coverage {
    pub insurer_number: String,
    pub symbol: String,
    pub number: String,
    pub branch: String,
    pub valid_from: NaiveDate,
    #[serde(default)]
    pub valid_to: Option<NaiveDate>,
    /// Patient's share of the fee on the date of service, in percent (30, 20 or 10).
    pub copay_percent: u8,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifyResponse {
    pub status: QualificationStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub person_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub coverage: Option<Coverage>,
    /// Public-expense and local-subsidy entitlements valid on the date of service.
    #[serde(default)]
    pub public_expenses: Vec<PublicExpenseRecord>,
    /// Long-term-care certification valid on the date of service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub care_certification: Option<super::municipal::CareCertification>,
    /// Consents recorded by this verification.
    #[serde(default)]
    pub consents: Vec<ConsentKind>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchVerifyRequest {
    #[serde(default)]
    pub service_date: Option<NaiveDate>,
    /// At most [`MAX_BATCH_VERIFY`] entries.
    pub items: Vec<PersonRef>,
}

/// Largest batch (一括照会) accepted in one call.
pub const MAX_BATCH_VERIFY: usize = 1_000;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BatchVerifyResponse {
    /// One result per item, in request order; an item with a malformed identifier carries `error`.
    pub results: Vec<BatchVerifyResult>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BatchVerifyResult {
    #[serde(flatten)]
    pub result: Option<VerifyResponse>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorDetail>,
}

/// An insurer reports that a person acquired a qualification with it (資格取得): the 記号・番号・枝番
/// it issued and the first day covered. The insurer is the caller.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AcquisitionRequest {
    /// The person, by id (the insurer registers through the individual number, which the exchange
    /// holds as the person).
    pub person: PersonRef,
    pub symbol: String,
    pub number: String,
    pub branch: String,
    pub valid_from: NaiveDate,
}

/// An insurer reports that a qualification it issued ended (資格喪失): the last day covered.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LossRequest {
    pub symbol: String,
    pub number: String,
    pub branch: String,
    pub valid_to: NaiveDate,
}

/// The qualification as the exchange now holds it, and whose it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QualificationChange {
    pub person_id: String,
    pub qualification: super::common::QualificationRecord,
}
