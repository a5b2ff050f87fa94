//! Reference data and enrolment (admin): facilities, insurers and persons as the population file
//! and the import routes carry them, and the operations routes' bodies.

use super::common::{PublicExpenseRecord, QualificationRecord, Role, Sex};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

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
    pub care_certification: Option<super::municipal::CareCertificationRecord>,
    /// A pregnancy registered with the municipality of residence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pregnancy: Option<super::municipal::PregnancyRecord>,
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
    /// Trusted HPKI roots.
    #[serde(default)]
    pub hpki_roots: u64,
    /// Revoked practitioner certificates listed.
    #[serde(default)]
    pub hpki_revocations: u64,
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

/// What an operator can suspend through `POST /v1/admin/suspensions`: a service, whose every
/// route then answers `503 suspended`, or e-prescription issuing alone (registration), as in
/// December 2024, while the pharmacies go on dispensing what was issued before.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SuspensionTarget {
    Eligibility,
    Eprescription,
    /// Registration of e-prescriptions only.
    EprescriptionIssuing,
    Ehr,
    Municipal,
    Portal,
}

impl SuspensionTarget {
    pub const ALL: [SuspensionTarget; 6] = [
        SuspensionTarget::Eligibility,
        SuspensionTarget::Eprescription,
        SuspensionTarget::EprescriptionIssuing,
        SuspensionTarget::Ehr,
        SuspensionTarget::Municipal,
        SuspensionTarget::Portal,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SuspensionTarget::Eligibility => "eligibility",
            SuspensionTarget::Eprescription => "eprescription",
            SuspensionTarget::EprescriptionIssuing => "eprescription_issuing",
            SuspensionTarget::Ehr => "ehr",
            SuspensionTarget::Municipal => "municipal",
            SuspensionTarget::Portal => "portal",
        }
    }

    pub fn parse(s: &str) -> Option<SuspensionTarget> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

/// Longest reason a suspension carries (characters).
pub const MAX_SUSPENSION_REASON: usize = 200;

/// `POST /v1/admin/suspensions`: suspend a target (`suspended: true`, with the reason its
/// refusals give) or resume it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SuspensionRequest {
    pub target: SuspensionTarget,
    pub suspended: bool,
    /// Why (at most [`MAX_SUSPENSION_REASON`] characters); required to suspend.
    #[serde(default)]
    pub reason: Option<String>,
}

/// A target suspended now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Suspension {
    pub target: SuspensionTarget,
    pub reason: String,
    pub since: DateTime<Utc>,
}

/// Every target suspended now, by target.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SuspensionsResponse {
    pub suspensions: Vec<Suspension>,
}

/// The header a client names its request by (at most [`MAX_REQUEST_ID`] characters of
/// `A–Z a–z 0–9 . _ -`); the exchange writes it into the request's audit line, so that
/// `POST /v1/admin/writes` can say whether an acknowledged write is stored.
pub const REQUEST_ID_HEADER: &str = "x-request-id";
/// Longest request id.
pub const MAX_REQUEST_ID: usize = 64;
/// Request ids asked about at once.
pub const MAX_WRITES_CHECKED: usize = 10_000;

/// Whether `id` is a request id the exchange takes.
pub fn valid_request_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_REQUEST_ID
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// `POST /v1/admin/writes`: request ids whose writes the client saw acknowledged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WritesRequest {
    pub request_ids: Vec<String>,
}

/// Those of the ids with no successful audit line: acknowledged, and not stored.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WritesResponse {
    pub checked: u64,
    pub missing: Vec<String>,
}

/// Longest delay `POST /v1/admin/faults/slow-store` adds to a store transaction (ms).
pub const MAX_SLOW_STORE_MS: u32 = 10_000;

/// `POST /v1/admin/faults/slow-store` (test builds with the `faults` feature only): the delay
/// added to every store transaction from now on, 0 to end it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlowStoreRequest {
    pub delay_ms: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlowStoreResponse {
    pub delay_ms: u32,
}
