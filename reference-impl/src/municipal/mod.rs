//! The exchange with municipalities, long-term care and the person's portal (マイナポータル):
//! vaccination records and the routine schedule (`vaccination.rs`), maternal-child health
//! (`maternal.rs`), care-level certifications (`care.rs`), public-expense and local-subsidy
//! entitlements (`entitlements.rs`), online applications (`applications.rs`) and the portal's
//! own pages (`portal.rs`). The rules that depend on what is stored run inside the write
//! transaction (`rules.rs`, called from `storage.rs`), so two concurrent requests cannot both
//! pass them.
//!
//! Who sees what: a municipality sees only its residents (`wrong_municipality` otherwise); a
//! facility reads a person's vaccinations with vaccination consent from the card reader; a care
//! provider reads care certifications with care consent the person gave on the portal; a person
//! reads their own records on the portal.

pub mod access;
pub mod applications;
pub mod care;
pub mod entitlements;
pub mod maternal;
pub mod portal;
pub mod rules;
pub(crate) mod storage;
pub mod vaccination;

use crate::audit::AuditEvent;
use crate::auth::principal::Principal;
use crate::refdata::vaccines::Vaccine;
use crate::refusal::Refusal;
use crate::store::error::StoreError;
use chrono::{DateTime, NaiveDate, Utc};
use dx_protocol::wire::{
    Application, ApplicationKind, ApplicationStatus, CareCertification, CareCertificationResponse,
    CareLevel, MaternalKind, MaternalRecord, MunicipalityRecord, PersonRecord, PublicExpenseRecord,
    Role, Vaccination,
};

/// A dose to record.
#[derive(Debug, Clone)]
pub struct NewDose {
    pub person_id: String,
    pub birth_date: NaiveDate,
    pub vaccine: &'static Vaccine,
    pub administered_on: NaiveDate,
    pub lot: Option<String>,
    pub recorded_by: String,
    pub at: DateTime<Utc>,
    /// Where the dose stands in the request, for a refusal's `field` (`items[3]`).
    pub field: String,
}

/// A maternal-child health record to store.
#[derive(Debug, Clone)]
pub struct NewMaternal {
    pub kind: MaternalKind,
    pub person_id: String,
    pub on: NaiveDate,
    /// Pregnancies: the expected delivery date.
    pub end: Option<NaiveDate>,
    pub recorded_by: String,
    pub at: DateTime<Utc>,
    pub details: serde_json::Value,
}

#[derive(Debug, Clone)]
pub struct NewCertification {
    pub person_id: String,
    pub municipality: String,
    pub level: CareLevel,
    pub valid_from: NaiveDate,
    pub valid_to: NaiveDate,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct NewApplication {
    pub person_id: String,
    pub municipality: String,
    pub kind: ApplicationKind,
    pub note: Option<String>,
    pub at: DateTime<Utc>,
}

/// Which applications a listing asks for.
#[derive(Debug, Clone)]
pub enum ApplicationOwner {
    Person(String),
    Municipality(String),
}

#[derive(Debug, Clone)]
pub struct ApplicationQuery {
    pub owner: ApplicationOwner,
    pub status: Option<ApplicationStatus>,
    /// Sequence numbers below this one (the cursor).
    pub before: Option<i64>,
    pub limit: u32,
}

pub trait MunicipalStore {
    /// Inserts or replaces.
    fn import_municipalities(&self, m: &[MunicipalityRecord]) -> Result<u64, StoreError>;
    fn municipality(&self, code: &str) -> Result<Option<MunicipalityRecord>, StoreError>;
    /// Records the doses and their audit lines in one transaction, numbering each against the
    /// doses already stored (and those before it in the call) with [`rules::number_dose`]; the
    /// first refusal stores nothing.
    fn record_doses(
        &self,
        doses: &[NewDose],
        audit: &[AuditEvent],
    ) -> Result<Vec<Vaccination>, StoreError>;
    /// A person's doses, oldest first.
    fn vaccinations(&self, person_id: &str) -> Result<Vec<Vaccination>, StoreError>;
    /// Stores a record after [`rules::pregnancy_for`] placed it.
    fn insert_maternal(
        &self,
        r: &NewMaternal,
        audit: &AuditEvent,
    ) -> Result<MaternalRecord, StoreError>;
    /// A person's records, oldest first.
    fn maternal_records(&self, person_id: &str) -> Result<Vec<MaternalRecord>, StoreError>;
    /// Stores a certification, ending the one it supersedes ([`rules::supersede`]).
    fn certify_care(
        &self,
        c: &NewCertification,
        audit: &AuditEvent,
    ) -> Result<CareCertificationResponse, StoreError>;
    /// A person's certifications, newest first.
    fn care_certifications(&self, person_id: &str) -> Result<Vec<CareCertification>, StoreError>;
    /// Stores an entitlement, ending the one of the same law and payer it renews; returns that
    /// one's new last day.
    fn register_entitlement(
        &self,
        person_id: &str,
        e: &PublicExpenseRecord,
        registered_by: &str,
        audit: &AuditEvent,
    ) -> Result<Option<NaiveDate>, StoreError>;
    /// Files an application; `application_pending` if one of the kind awaits a decision.
    fn file_application(
        &self,
        a: &NewApplication,
        audit: &AuditEvent,
    ) -> Result<Application, StoreError>;
    /// Newest first, with each one's sequence number (the cursor).
    fn applications(&self, q: &ApplicationQuery) -> Result<Vec<(i64, Application)>, StoreError>;
    fn application(&self, id: &str) -> Result<Option<Application>, StoreError>;
    /// Decides a submitted application; `Conflict` if it was already decided.
    fn decide_application(
        &self,
        id: &str,
        status: ApplicationStatus,
        reason: Option<String>,
        at: DateTime<Utc>,
        audit: &AuditEvent,
    ) -> Result<Application, StoreError>;
}

/// Record ids: a letter and 12 digits of the store's sequence.
pub fn record_id(prefix: char, seq: i64) -> String {
    format!("{prefix}{seq:012}")
}

pub fn record_seq(prefix: char, id: &str) -> Option<i64> {
    let digits = id.strip_prefix(prefix)?;
    (digits.len() == 12 && digits.bytes().all(|b| b.is_ascii_digit()))
        .then(|| digits.parse().ok())
        .flatten()
}

/// Refuses unless the calling municipality is the person's municipality of residence.
pub fn require_resident(caller: &Principal, person: &PersonRecord) -> Result<(), Refusal> {
    if caller.role == Role::Municipality && caller.subject() == person.municipality {
        return Ok(());
    }
    Err(Refusal::forbidden(
        "wrong_municipality",
        "a municipality sees and records only its own residents; this person lives elsewhere",
    ))
}

/// Text of at most `max` characters without control characters.
pub fn check_text(value: &Option<String>, max: usize, field: &str) -> Result<(), Refusal> {
    match value {
        Some(v) if v.chars().count() > max || v.chars().any(char::is_control) => {
            Err(Refusal::invalid(
                "invalid_field",
                format!("at most {max} characters, no control characters"),
            )
            .at(field))
        }
        _ => Ok(()),
    }
}
