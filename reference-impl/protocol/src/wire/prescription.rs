//! The electronic prescription service: registration, checks, retrieval, dispensing,
//! cancellation and the medication view.

use super::common::PersonRef;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum PrescriptionKind {
    /// An electronic prescription for an outside pharmacy: signed, gets an access code.
    #[default]
    Electronic,
    /// In-hospital dispensing (院内処方), registered as information only.
    InHospital,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegisterPrescriptionRequest {
    #[serde(default)]
    pub kind: PrescriptionKind,
    /// A FHIR R4 document Bundle (see [`fhir`]); an electronic prescription carries the
    /// prescriber's HPKI signature in `Bundle.signature` (see [`super::hpki`]).
    pub bundle: serde_json::Value,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RegisterPrescriptionResponse {
    pub prescription_id: String,
    pub kind: PrescriptionKind,
    /// The 6-digit access code (引換番号) for electronic prescriptions.
    #[serde(default)]
    pub access_code: Option<String>,
    pub person_id: String,
    pub issued_on: NaiveDate,
    /// How many times it may be dispensed: 1, or 2–3 for a refill prescription.
    pub uses_allowed: u8,
    pub warnings: Vec<Warning>,
}

/// A drug line in a check request or a dispensing result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DrugLine {
    /// YJ code (12 characters) or HOT9 code (9 digits) from the drug master.
    pub code: String,
    /// Days of supply; as-needed and topical drugs count 14 days in the checks regardless.
    pub days: u16,
    /// Total quantity in the drug's unit.
    #[serde(default)]
    pub quantity: Option<u32>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckRequest {
    pub person: PersonRef,
    /// First day of the new drugs; defaults to today (JST).
    #[serde(default)]
    pub start_date: Option<NaiveDate>,
    pub items: Vec<DrugLine>,
    /// Include drugs from the calling facility itself (excluded by default).
    #[serde(default)]
    pub include_same_facility: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CheckResponse {
    pub person_id: String,
    pub warnings: Vec<Warning>,
    /// Whether the caller holds medication consent, and so sees the other drug's details.
    pub details_disclosed: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WarningKind {
    /// Same active ingredient, same route, overlapping dosing periods (重複投薬).
    Duplicate,
    /// A pair listed as contraindicated in combination (併用禁忌).
    Contraindication,
    /// The drug is registered as contraindicated for this patient (薬剤禁忌, EHR sharing).
    RegisteredContraindication,
    /// The patient has a registered allergy to the drug's ingredient (EHR sharing).
    Allergy,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Warning {
    pub kind: WarningKind,
    /// The new drug's code, as sent.
    pub code: String,
    pub ingredient: String,
    pub other_ingredient: String,
    /// Where the conflicting drug came from; present only with medication consent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub other: Option<OtherDrug>,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OtherDrug {
    pub code: String,
    pub name: String,
    pub facility_code: String,
    pub start_date: NaiveDate,
    pub days: u16,
    pub source: MedicationSource,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MedicationSource {
    /// Prescribed, not (yet) dispensed; includes in-hospital prescriptions.
    Prescription,
    /// Dispensed at a pharmacy (for an electronic or a paper prescription).
    Dispensing,
    /// Prescribed within this request.
    ThisRequest,
    /// An allergy or contraindicated drug registered with the EHR sharing service.
    EhrRecord,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PrescriptionStatus {
    /// Can be dispensed (for a refill, until its last use).
    Active,
    /// Every allowed use has been dispensed.
    Completed,
    Cancelled,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RefillState {
    pub uses_allowed: u8,
    pub uses_done: u8,
    /// The window in which the next use may be dispensed (inclusive), if any use is left.
    #[serde(default)]
    pub next_window: Option<DateWindow>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DateWindow {
    pub from: NaiveDate,
    pub to: NaiveDate,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RetrieveResponse {
    pub prescription_id: String,
    pub status: PrescriptionStatus,
    pub facility_code: String,
    pub person_id: String,
    pub issued_on: NaiveDate,
    pub refill: RefillState,
    pub bundle: serde_json::Value,
}

/// The signed part of a dispensing result.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dispensation {
    pub access_code: String,
    pub items: Vec<DrugLine>,
}

impl Dispensation {
    /// What the pharmacist signs: the canonical bytes of `{"dispensation": …, "pharmacy": …,
    /// "prescription_id": …}`, so a signed result answers for one prescription at one pharmacy.
    pub fn signed_bytes(&self, prescription_id: &str, pharmacy: &str) -> Vec<u8> {
        super::canonical::canonical_bytes(&serde_json::json!({
            "dispensation": self,
            "pharmacy": pharmacy,
            "prescription_id": prescription_id,
        }))
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DispenseRequest {
    pub dispensation: Dispensation,
    /// The pharmacist's HPKI signature: a compact JWS with a detached payload over
    /// [`Dispensation::signed_bytes`] (see [`super::hpki`]).
    pub signature: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DispenseResponse {
    pub dispensation_id: i64,
    pub prescription_id: String,
    pub use_number: u8,
    pub uses_remaining: u8,
    pub dispensed_on: NaiveDate,
    pub status: PrescriptionStatus,
    /// Window of the next refill use, if any remain.
    #[serde(default)]
    pub next_window: Option<DateWindow>,
}

/// Dispensing result of a paper prescription (unsigned).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PaperDispenseRequest {
    pub person: PersonRef,
    /// Facility code printed on the paper prescription.
    pub prescriber_facility: String,
    pub items: Vec<DrugLine>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PaperDispenseResponse {
    pub dispensation_id: i64,
    pub person_id: String,
    pub dispensed_on: NaiveDate,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CancelResponse {
    pub prescription_id: String,
    pub status: PrescriptionStatus,
}

/// Retrieval by access code unlocked for a person, after wrong codes had locked it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UnlockResponse {
    pub person_id: String,
    pub unlocked_at: chrono::DateTime<chrono::Utc>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MedicationsResponse {
    pub person_id: String,
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// Newest first.
    pub entries: Vec<MedicationEntry>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MedicationEntry {
    pub source: MedicationSource,
    pub date: NaiveDate,
    pub facility_code: String,
    pub code: String,
    pub name: String,
    pub ingredient: String,
    pub route: String,
    pub days: u16,
    #[serde(default)]
    pub prescription_id: Option<String>,
}

/// The query of the medication view: the last `days` days (default 100).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MedicationsQuery {
    pub days: Option<i64>,
}
