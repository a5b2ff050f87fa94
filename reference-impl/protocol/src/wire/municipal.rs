//! Bodies of the municipal, long-term-care and portal routes: municipalities, vaccination
//! (予防接種), maternal-child health (母子保健), care-level certification (要介護認定),
//! public-expense and local-subsidy entitlements, and the portal's online applications.

use super::common::{PersonRef, PublicExpenseRecord};
use super::ehr::DocumentSummary;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

/// One municipality as the population file and `POST /v1/admin/municipalities` carry it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MunicipalityRecord {
    /// 6-digit local government code (全国地方公共団体コード) with its check digit.
    pub code: String,
    pub name: String,
    pub prefecture: u8,
}

// ---------------------------------------------------------------------------------------------
// Long-term care

/// Care level (要介護度): support 1–2 (要支援) and care 1–5 (要介護).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum CareLevel {
    #[serde(rename = "support_1")]
    Support1,
    #[serde(rename = "support_2")]
    Support2,
    #[serde(rename = "care_1")]
    Care1,
    #[serde(rename = "care_2")]
    Care2,
    #[serde(rename = "care_3")]
    Care3,
    #[serde(rename = "care_4")]
    Care4,
    #[serde(rename = "care_5")]
    Care5,
}

impl CareLevel {
    pub const ALL: [CareLevel; 7] = [
        CareLevel::Support1,
        CareLevel::Support2,
        CareLevel::Care1,
        CareLevel::Care2,
        CareLevel::Care3,
        CareLevel::Care4,
        CareLevel::Care5,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CareLevel::Support1 => "support_1",
            CareLevel::Support2 => "support_2",
            CareLevel::Care1 => "care_1",
            CareLevel::Care2 => "care_2",
            CareLevel::Care3 => "care_3",
            CareLevel::Care4 => "care_4",
            CareLevel::Care5 => "care_5",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|l| l.as_str() == s)
    }

    /// The population's numbering: 1–2 support, 3–7 care.
    pub fn from_number(n: u8) -> Option<Self> {
        Self::ALL.get(usize::from(n).checked_sub(1)?).copied()
    }
}

/// A certification as the population file carries it (imported with the person).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CareCertificationRecord {
    pub level: CareLevel,
    pub valid_from: NaiveDate,
    pub valid_to: NaiveDate,
    /// The care provider managing the person's care plan, to whom the person gave care consent
    /// on the portal: imported as that consent, lasting until the certification ends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub care_provider: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CareCertificationRequest {
    pub person: PersonRef,
    pub level: CareLevel,
    pub valid_from: NaiveDate,
    /// Last day of validity; at most 48 months after `valid_from`.
    pub valid_to: NaiveDate,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CareCertification {
    pub certification_id: String,
    pub person_id: String,
    /// The certifying municipality (the insurer of long-term care).
    pub municipality: String,
    pub level: CareLevel,
    pub valid_from: NaiveDate,
    pub valid_to: NaiveDate,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CareCertificationResponse {
    pub certification: CareCertification,
    /// The earlier certification this one superseded, ended the day before it starts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub superseded: Option<CareCertification>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CareCertificationsResponse {
    pub person_id: String,
    /// Newest first.
    pub certifications: Vec<CareCertification>,
}

// ---------------------------------------------------------------------------------------------
// Vaccination

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VaccinationRequest {
    pub person: PersonRef,
    /// A code of the vaccine table (`GET /v1/vaccines`), e.g. `mr`, `influenza`.
    pub vaccine: String,
    pub administered_on: NaiveDate,
    /// Lot number, 1–20 letters, digits or hyphens.
    #[serde(default)]
    pub lot: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Vaccination {
    pub vaccination_id: String,
    pub person_id: String,
    pub vaccine: String,
    /// Dose of the series (or of the season, for influenza), counted from recorded doses.
    pub dose_number: u8,
    pub administered_on: NaiveDate,
    #[serde(default)]
    pub lot: Option<String>,
    /// `facility:<code>` or `municipality:<code>`.
    pub recorded_by: String,
    pub recorded_at: DateTime<Utc>,
}

/// Largest municipal batch upload of doses.
pub const MAX_VACCINATION_BATCH: usize = 1_000;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VaccinationBatchRequest {
    /// 1–[`MAX_VACCINATION_BATCH`] doses, stored all or none.
    pub items: Vec<VaccinationRequest>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VaccinationBatchResponse {
    pub recorded: Vec<Vaccination>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VaccinationHistory {
    pub person_id: String,
    /// Oldest first.
    pub vaccinations: Vec<Vaccination>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScheduleStatus {
    /// Every routine dose given (or this season's, for influenza).
    Complete,
    /// The next dose may be given now and its recommended age has not passed.
    Due,
    /// Past the recommended age, still inside the routine (publicly funded) window.
    Overdue,
    /// Not yet: the minimum age or interval is still ahead (`earliest`).
    NotYet,
    /// The routine window has closed without the dose.
    Missed,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduleEntry {
    pub vaccine: String,
    pub name: String,
    pub doses_given: u8,
    pub doses_total: u8,
    /// The dose this entry is about; absent when complete.
    #[serde(default)]
    pub next_dose: Option<u8>,
    pub status: ScheduleStatus,
    #[serde(default)]
    pub earliest: Option<NaiveDate>,
    #[serde(default)]
    pub due_by: Option<NaiveDate>,
    #[serde(default)]
    pub routine_until: Option<NaiveDate>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ScheduleResponse {
    pub person_id: String,
    pub on: NaiveDate,
    pub entries: Vec<ScheduleEntry>,
}

/// One vaccine of the table, as `GET /v1/vaccines` lists it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VaccineInfo {
    pub code: String,
    pub name: String,
    pub name_ja: String,
    /// `childhood`, `seasonal`, `elderly_once` or `voluntary`.
    pub programme: String,
    pub doses: u8,
    /// Minimum days after the previous dose, per dose (0 for the first).
    pub min_interval_days: Vec<u32>,
}

// ---------------------------------------------------------------------------------------------
// Maternal-child health

/// A pregnancy as the population file carries it (imported with the person).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PregnancyRecord {
    pub confirmed_on: NaiveDate,
    pub expected_delivery: NaiveDate,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PregnancyRequest {
    pub person: PersonRef,
    pub confirmed_on: NaiveDate,
    pub expected_delivery: NaiveDate,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrenatalCheckupRequest {
    pub person: PersonRef,
    pub on: NaiveDate,
    /// Completed weeks of gestation, 4–42.
    pub gestational_weeks: u8,
    pub weight_kg: f64,
    pub systolic_mmhg: u16,
    pub diastolic_mmhg: u16,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Development {
    Normal,
    FollowUp,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InfantCheckupRequest {
    /// The child.
    pub person: PersonRef,
    pub on: NaiveDate,
    pub height_cm: f64,
    pub weight_kg: f64,
    pub development: Development,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MaternalKind {
    Pregnancy,
    PrenatalCheckup,
    InfantCheckup,
}

impl MaternalKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MaternalKind::Pregnancy => "pregnancy",
            MaternalKind::PrenatalCheckup => "prenatal_checkup",
            MaternalKind::InfantCheckup => "infant_checkup",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            MaternalKind::Pregnancy,
            MaternalKind::PrenatalCheckup,
            MaternalKind::InfantCheckup,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MaternalRecord {
    pub record_id: String,
    pub kind: MaternalKind,
    pub person_id: String,
    pub on: NaiveDate,
    /// `facility:<code>` or `municipality:<code>`.
    pub recorded_by: String,
    /// Checkups: the pregnancy they belong to.
    #[serde(default)]
    pub pregnancy_id: Option<String>,
    /// The kind's fields (expected delivery; weeks, weight, blood pressure; height, weight,
    /// development; age in months).
    pub details: serde_json::Value,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MaternalResponse {
    pub person_id: String,
    /// Oldest first.
    pub records: Vec<MaternalRecord>,
}

// ---------------------------------------------------------------------------------------------
// Public expense and local subsidies

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EntitlementRequest {
    pub person: PersonRef,
    pub law_code: String,
    pub payer_number: String,
    pub recipient_number: String,
    pub valid_from: NaiveDate,
    #[serde(default)]
    pub valid_to: Option<NaiveDate>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EntitlementResponse {
    pub person_id: String,
    pub entitlement: PublicExpenseRecord,
    /// When an earlier entitlement of the same law and payer was renewed by this one: the day it
    /// now ends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_ends: Option<NaiveDate>,
}

// ---------------------------------------------------------------------------------------------
// Portal applications

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApplicationKind {
    /// Care-level certification (要介護認定申請); age 40 and over.
    CareCertification,
    /// A vaccination voucher (予防接種券) for a routine or subsidised dose.
    VaccinationVoucher,
    /// A public-expense or local medical subsidy (医療費助成).
    MedicalSubsidy,
}

impl ApplicationKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ApplicationKind::CareCertification => "care_certification",
            ApplicationKind::VaccinationVoucher => "vaccination_voucher",
            ApplicationKind::MedicalSubsidy => "medical_subsidy",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            ApplicationKind::CareCertification,
            ApplicationKind::VaccinationVoucher,
            ApplicationKind::MedicalSubsidy,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApplicationRequest {
    /// The applicant: the person signed in to the portal.
    pub person_id: String,
    pub kind: ApplicationKind,
    /// Free text, at most 500 characters.
    #[serde(default)]
    pub note: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApplicationStatus {
    Submitted,
    Approved,
    Rejected,
}

impl ApplicationStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ApplicationStatus::Submitted => "submitted",
            ApplicationStatus::Approved => "approved",
            ApplicationStatus::Rejected => "rejected",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            ApplicationStatus::Submitted,
            ApplicationStatus::Approved,
            ApplicationStatus::Rejected,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Application {
    pub application_id: String,
    pub person_id: String,
    /// The municipality of residence when filed, which decides it.
    pub municipality: String,
    pub kind: ApplicationKind,
    #[serde(default)]
    pub note: Option<String>,
    pub status: ApplicationStatus,
    pub submitted_at: DateTime<Utc>,
    #[serde(default)]
    pub decided_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ApplicationsResponse {
    /// Newest first.
    pub applications: Vec<Application>,
    /// Pass as `before` for the next page; absent on the last page.
    #[serde(default)]
    pub next_before: Option<i64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    Approved,
    Rejected,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecisionRequest {
    pub decision: Decision,
    /// Required for a rejection; at most 500 characters.
    #[serde(default)]
    pub reason: Option<String>,
}

/// `GET /v1/portal/checkups`: the person's checkup reports (read each with
/// `GET /v1/ehr/documents/{id}`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CheckupReportsResponse {
    pub person_id: String,
    /// Newest first.
    pub reports: Vec<DocumentSummary>,
}

/// Consent a person gives on the portal to a care provider (method `portal`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PortalConsentRequest {
    /// The care provider's 10-digit code.
    pub provider: String,
    pub kind: super::consent::ConsentKind,
}

/// The query of the application lists: by `status`, ids below `before`, at most `limit`
/// (default 50).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApplicationsQuery {
    pub status: Option<String>,
    pub before: Option<i64>,
    pub limit: Option<u32>,
}

/// A query naming the date a read refers to (default: today).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DateQuery {
    pub on: Option<NaiveDate>,
}
