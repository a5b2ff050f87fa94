use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

/// Every error response: `{ "error": { "code": "...", "message": "...", "field": "..." } }`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ErrorDetail {
    /// Stable machine-readable code, e.g. `invalid_check_digit`, `consent_required`.
    pub code: String,
    pub message: String,
    /// The request field at fault, as a dotted path, where one is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

// ---------------------------------------------------------------------------------------------
// Principals and tokens

/// The role a principal acts in; facilities take theirs from the facility's kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Hospital,
    Clinic,
    Dental,
    Pharmacy,
    Municipality,
    /// A long-term-care provider (介護事業所), e.g. a home-care support office.
    CareProvider,
    Person,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Hospital => "hospital",
            Role::Clinic => "clinic",
            Role::Dental => "dental",
            Role::Pharmacy => "pharmacy",
            Role::Municipality => "municipality",
            Role::CareProvider => "care_provider",
            Role::Person => "person",
            Role::Admin => "admin",
        }
    }

    /// Medical institutions that prescribe: hospitals, clinics, dental clinics.
    pub fn prescribes(self) -> bool {
        matches!(self, Role::Hospital | Role::Clinic | Role::Dental)
    }

    /// Any facility at which a patient presents a card.
    pub fn is_facility(self) -> bool {
        self.prescribes() || self == Role::Pharmacy
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenRequest {
    /// `facility:<10-digit code>`, `municipality:<6-digit code>`, `person:<id>` or `admin`.
    pub principal: String,
    pub secret: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TokenResponse {
    pub token: String,
    pub role: Role,
    pub expires_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CredentialRequest {
    pub principal: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CredentialResponse {
    pub principal: String,
    pub role: Role,
    pub secret: String,
}

// ---------------------------------------------------------------------------------------------
// Reference data and enrolment (admin)

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FacilityKind {
    Hospital,
    Clinic,
    Dental,
    Pharmacy,
    /// A long-term-care provider; its code has table digit 7.
    CareProvider,
}

impl FacilityKind {
    pub fn role(self) -> Role {
        match self {
            FacilityKind::Hospital => Role::Hospital,
            FacilityKind::Clinic => Role::Clinic,
            FacilityKind::Dental => Role::Dental,
            FacilityKind::Pharmacy => Role::Pharmacy,
            FacilityKind::CareProvider => Role::CareProvider,
        }
    }

    pub fn as_str(self) -> &'static str {
        self.role().as_str()
    }
}

/// One facility as the population file and the import route carry it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FacilityRecord {
    pub code: String,
    pub kind: FacilityKind,
    pub name: String,
    pub prefecture: u8,
}

/// One insurer as the population file and the import route carry it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InsurerRecord {
    pub number: String,
    /// Scheme code (法別番号): 01 Kyokai Kenpo, 06 societies, 31–34 mutual aid, 39 late-elderly,
    /// `null` for municipal NHI (6-digit numbers).
    pub scheme: Option<u8>,
    pub name: String,
    pub prefecture: u8,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Sex {
    #[serde(rename = "M")]
    Male,
    #[serde(rename = "F")]
    Female,
}

impl Sex {
    pub fn as_str(self) -> &'static str {
        match self {
            Sex::Male => "M",
            Sex::Female => "F",
        }
    }
}

/// One person as the population file carries it: identity, card, insurance history and
/// public-expense entitlements. The import route takes these as NDJSON, one per line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PersonRecord {
    pub id: String,
    pub sex: Sex,
    pub birth_date: NaiveDate,
    pub prefecture: u8,
    pub municipality: String,
    /// Serial of the My Number card registered as insurance card, if any.
    #[serde(default)]
    pub card_serial: Option<String>,
    /// Qualification history, in any order; at most one may be open-ended.
    pub qualifications: Vec<QualificationRecord>,
    #[serde(default)]
    pub public_expenses: Vec<PublicExpenseRecord>,
    /// Long-term-care certification in force, certified by the municipality of residence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub care_certification: Option<super::CareCertificationRecord>,
    /// A pregnancy registered with the municipality of residence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pregnancy: Option<super::PregnancyRecord>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QualificationRecord {
    pub insurer_number: String,
    /// 記号 (may be empty for schemes without one).
    pub symbol: String,
    /// 番号.
    pub number: String,
    /// 枝番: two digits.
    pub branch: String,
    pub valid_from: NaiveDate,
    /// Last day covered; `None` while current.
    #[serde(default)]
    pub valid_to: Option<NaiveDate>,
}

/// A public-expense (公費) or local-subsidy entitlement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublicExpenseRecord {
    /// Law code (法別番号), e.g. "54" intractable diseases, "12" public assistance,
    /// "88" a municipal child medical subsidy.
    pub law_code: String,
    /// Payer number (負担者番号), 8 digits.
    pub payer_number: String,
    /// Recipient number (受給者番号), 7 digits.
    pub recipient_number: String,
    pub valid_from: NaiveDate,
    #[serde(default)]
    pub valid_to: Option<NaiveDate>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ImportResponse {
    pub imported: u64,
}

/// `POST /v1/admin/clock`: move a test exchange's clock forward.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClockRequest {
    pub advance_seconds: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClockResponse {
    pub now: DateTime<Utc>,
}

/// Row counts of the store, for operators and for tests that show a refusal stored nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatsResponse {
    pub persons: u64,
    pub qualifications: u64,
    pub insurers: u64,
    pub facilities: u64,
    pub consents: u64,
    pub practitioner_keys: u64,
    pub prescriptions: u64,
    pub dispensations: u64,
    #[serde(default)]
    pub ehr_documents: u64,
    #[serde(default)]
    pub ehr_items: u64,
    #[serde(default)]
    pub municipalities: u64,
    #[serde(default)]
    pub vaccinations: u64,
    #[serde(default)]
    pub maternal_records: u64,
    #[serde(default)]
    pub care_certifications: u64,
    #[serde(default)]
    pub public_expenses: u64,
    #[serde(default)]
    pub applications: u64,
    pub audit: u64,
}

// ---------------------------------------------------------------------------------------------
// Identifying a person

/// Who a request is about: exactly one of a person id (as returned by verification), a card
/// serial, or the insurance number quadruple.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PersonRef {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub person_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub card_serial: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub insurer_number: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub symbol: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branch: Option<String>,
}

impl PersonRef {
    pub fn by_card(serial: impl Into<String>) -> Self {
        Self {
            card_serial: Some(serial.into()),
            ..Self::default()
        }
    }

    pub fn by_id(id: impl Into<String>) -> Self {
        Self {
            person_id: Some(id.into()),
            ..Self::default()
        }
    }

    pub fn by_insurance(q: &QualificationRecord) -> Self {
        Self {
            insurer_number: Some(q.insurer_number.clone()),
            symbol: Some(q.symbol.clone()),
            number: Some(q.number.clone()),
            branch: Some(q.branch.clone()),
            ..Self::default()
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Eligibility and consent

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConsentKind {
    /// Prescription, dispensing and claims-derived drug information.
    Medication,
    /// Specific health checkup information.
    Checkup,
    /// EHR sharing (3 documents, 6 items).
    Ehr,
    /// Vaccination history and schedule.
    Vaccination,
    /// Long-term-care certification, given on the portal to a care provider.
    Care,
}

impl ConsentKind {
    pub const ALL: [ConsentKind; 5] = [
        ConsentKind::Medication,
        ConsentKind::Checkup,
        ConsentKind::Ehr,
        ConsentKind::Vaccination,
        ConsentKind::Care,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ConsentKind::Medication => "medication",
            ConsentKind::Checkup => "checkup",
            ConsentKind::Ehr => "ehr",
            ConsentKind::Vaccination => "vaccination",
            ConsentKind::Care => "care",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConsentMethod {
    /// At the card reader, with the card present.
    Card,
    /// Spoken to staff; allowed for medication (prescription/dispensing) information only.
    Verbal,
    /// Given by the person on the portal (care consent to a care provider).
    Portal,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsentFlags {
    #[serde(default)]
    pub medication: bool,
    #[serde(default)]
    pub checkup: bool,
    #[serde(default)]
    pub ehr: bool,
    #[serde(default)]
    pub vaccination: bool,
}

impl ConsentFlags {
    pub fn kinds(self) -> Vec<ConsentKind> {
        let flags = [
            self.medication,
            self.checkup,
            self.ehr,
            self.vaccination,
            false,
        ];
        ConsentKind::ALL
            .into_iter()
            .zip(flags)
            .filter(|(_, on)| *on)
            .map(|(k, _)| k)
            .collect()
    }
}

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
    pub care_certification: Option<super::CareCertification>,
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

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsentRequest {
    pub person: PersonRef,
    pub kind: ConsentKind,
    pub method: ConsentMethod,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ConsentResponse {
    pub person_id: String,
    pub kind: ConsentKind,
    pub method: ConsentMethod,
    pub given_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

// ---------------------------------------------------------------------------------------------
// E-prescription

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum PrescriptionKind {
    /// An electronic prescription for an outside pharmacy: signed, gets an access code.
    #[default]
    Electronic,
    /// In-hospital dispensing (院内処方), registered as information only.
    InHospital,
}

/// A detached signature over [`canonical::canonical_bytes`] of the signed object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Signature {
    pub practitioner_id: String,
    /// Only `Ed25519` (standing in for HPKI).
    pub algorithm: String,
    /// Base64 (standard alphabet) of the 64-byte signature.
    pub value: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PractitionerKeyRequest {
    pub practitioner_id: String,
    /// Base64 of the 32-byte Ed25519 public key.
    pub public_key: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PractitionerKeyResponse {
    pub practitioner_id: String,
    pub facility_code: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegisterPrescriptionRequest {
    #[serde(default)]
    pub kind: PrescriptionKind,
    /// A FHIR R4 document Bundle (see [`fhir`]).
    pub bundle: serde_json::Value,
    /// Required for electronic prescriptions; ignored for in-hospital ones.
    #[serde(default)]
    pub signature: Option<Signature>,
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

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DispenseRequest {
    pub dispensation: Dispensation,
    /// The pharmacist's signature over the canonical bytes of `dispensation`.
    pub signature: Signature,
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

// ---------------------------------------------------------------------------------------------
// Audit

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AccessLogResponse {
    /// Newest first.
    pub entries: Vec<AccessLogEntry>,
    /// Pass as `before` to get the next page; absent on the last page.
    #[serde(default)]
    pub next_before: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessLogEntry {
    pub id: i64,
    pub at: DateTime<Utc>,
    /// `facility:<code>`, `person:<id>`, …
    pub actor: String,
    pub actor_role: Role,
    /// e.g. `eligibility.verify`, `prescription.register`.
    pub action: String,
    /// `ok`, or the error code of a refusal.
    pub outcome: String,
}

// ---------------------------------------------------------------------------------------------
// EHR sharing (3 documents, 6 items)

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemsSubmittedResponse {
    pub submission_id: String,
    pub person_id: String,
    pub items: Vec<StoredItemRef>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredItemRef {
    /// The resource id in the clinical summary.
    pub id: String,
    pub kind: super::clins::ItemKind,
    /// Last day it is kept; absent for a long-term item.
    #[serde(default)]
    pub retain_until: Option<NaiveDate>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocumentSummary {
    pub document_id: String,
    pub kind: super::clins::DocumentKind,
    pub person_id: String,
    pub author_facility: String,
    /// Referral only.
    #[serde(default)]
    pub addressee: Option<String>,
    /// Referral only: ids of the discharge summaries sent along.
    #[serde(default)]
    pub attachments: Vec<String>,
    pub submitted_at: DateTime<Utc>,
    /// Referral only: when the addressee marked it received.
    #[serde(default)]
    pub received_at: Option<DateTime<Utc>>,
    /// Last day it is kept; absent while an unreceived referral waits.
    #[serde(default)]
    pub retain_until: Option<NaiveDate>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DocumentResponse {
    #[serde(flatten)]
    pub summary: DocumentSummary,
    /// The FHIR document Bundle as submitted.
    pub bundle: serde_json::Value,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReferralInboxResponse {
    pub facility_code: String,
    /// Newest first.
    pub referrals: Vec<DocumentSummary>,
    /// Pass as `cursor` for the next page; absent on the last page.
    #[serde(default)]
    pub next_cursor: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PurgeResponse {
    pub documents_removed: u64,
    pub items_removed: u64,
}
