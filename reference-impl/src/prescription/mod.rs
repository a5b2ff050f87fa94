//! The electronic prescription service (電子処方箋管理サービス): signed registration with a
//! 6-digit access code, retrieval by a pharmacy with the code and the patient's identity,
//! dispensing results (signed, and unsigned for paper prescriptions), cancellation before
//! dispensing, refills (at most 3 uses within their windows), in-hospital prescriptions as
//! information, and the duplicate-ingredient and 併用禁忌 checks over 100 days of history.

mod bundle;
pub mod checks;
pub mod dispense;
pub mod lines;
pub mod refill;
pub mod routes;
pub mod signature;
mod storage;

use crate::audit::AuditEvent;
use crate::store::error::StoreError;
use chrono::{DateTime, NaiveDate, Utc};
use dx_protocol::wire::{MedicationSource, PrescriptionKind, PrescriptionStatus};

/// How far back the checks and the medication view look.
pub const HISTORY_DAYS: i64 = 100;
/// Most drugs in one prescription, check or dispensing.
pub const MAX_ITEMS: usize = 50;
/// Most days of supply of one drug, whatever the drug.
pub const MAX_DAYS: u16 = 365;

/// One drug line as stored: the YJ code of the master, days, quantity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    pub code: String,
    pub days: u16,
    pub quantity: u32,
}

#[derive(Debug, Clone)]
pub struct NewPrescription {
    pub kind: PrescriptionKind,
    pub facility_code: String,
    pub person_id: String,
    pub practitioner_id: String,
    pub document_id: String,
    pub issued_on: NaiveDate,
    pub registered_at: DateTime<Utc>,
    pub uses_allowed: u8,
    pub bundle: String,
    /// The prescriber's JWS (in `bundle` too, as `Bundle.signature`).
    pub signature: Option<String>,
    pub items: Vec<Item>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredPrescription {
    pub id: String,
    pub kind: PrescriptionKind,
    pub facility_code: String,
    pub person_id: String,
    pub issued_on: NaiveDate,
    pub access_code: Option<String>,
    pub status: PrescriptionStatus,
    pub uses_allowed: u8,
    pub uses_done: u8,
    pub next_planned_on: Option<NaiveDate>,
    pub bundle: String,
    pub items: Vec<Item>,
}

#[derive(Debug, Clone)]
pub struct NewDispensation {
    pub prescription_id: Option<String>,
    pub pharmacy_code: String,
    pub prescriber_facility: String,
    pub person_id: String,
    pub dispensed_on: NaiveDate,
    pub recorded_at: DateTime<Utc>,
    pub use_number: u8,
    /// The signing pharmacist (their certificate's common name) and their JWS.
    pub pharmacist_id: Option<String>,
    pub signature: Option<String>,
    pub items: Vec<Item>,
}

/// The state change a dispensing makes to its prescription, applied only if the prescription
/// still has `expect_uses_done` uses (compare-and-set against a concurrent pharmacy).
#[derive(Debug, Clone)]
pub struct UseTransition {
    pub expect_uses_done: u8,
    pub status: PrescriptionStatus,
    pub next_planned_on: Option<NaiveDate>,
}

/// One drug of a person's recent history, as the checks and the medication view see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryItem {
    pub source: MedicationSource,
    pub date: NaiveDate,
    /// Where it happened: the prescriber, or the pharmacy for a dispensing.
    pub facility_code: String,
    /// The facility that prescribed it.
    pub prescriber_facility: String,
    pub code: String,
    pub days: u16,
    pub prescription_id: Option<String>,
}

pub trait PrescriptionStore {
    /// The patient a registration's coverage names.
    fn registration_reads(
        &self,
        patient: &crate::eligibility::Identity,
    ) -> Result<Option<dx_protocol::wire::PersonRecord>, StoreError>;
    /// Stores a prescription with an id `<facility>-<year>-<8-digit sequence>` and, for an
    /// electronic one, the first of its candidate codes `access_code(attempt)` not held by
    /// another active prescription. The audit line's target is set to the new id. Returns (id,
    /// access code).
    fn insert_prescription(
        &self,
        p: &NewPrescription,
        access_code: &mut dyn FnMut(u32) -> String,
        audit: &AuditEvent,
    ) -> Result<(String, Option<String>), StoreError>;
    fn prescription(&self, id: &str) -> Result<Option<StoredPrescription>, StoreError>;
    /// The active prescription holding this access code.
    fn prescription_by_access_code(
        &self,
        code: &str,
    ) -> Result<Option<StoredPrescription>, StoreError>;
    /// Stores a dispensing and, if it belongs to a prescription, applies `transition`.
    fn insert_dispensation(
        &self,
        d: &NewDispensation,
        transition: Option<&UseTransition>,
        audit: &AuditEvent,
    ) -> Result<i64, StoreError>;
    /// Cancels an active prescription nothing was dispensed for.
    fn cancel_prescription(&self, id: &str, audit: &AuditEvent) -> Result<(), StoreError>;
    /// Prescriptions not (yet) dispensed and not cancelled, and dispensings, dated `from..=to`.
    fn history(
        &self,
        person_id: &str,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<HistoryItem>, StoreError>;
    /// What the checks of a prescription for a person read, together (one round trip on
    /// PostgreSQL): their history over `dates` (as [`PrescriptionStore::history`]), their
    /// registered allergies and contraindicated drugs kept on `today`, and when their latest
    /// consent to `facility` seeing their medication expires.
    fn check_reads(
        &self,
        person_id: &str,
        facility: &str,
        dates: (NaiveDate, NaiveDate),
        today: NaiveDate,
    ) -> Result<CheckReads, StoreError>;
}

/// What [`PrescriptionStore::check_reads`] reads.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckReads {
    pub history: Vec<HistoryItem>,
    pub flags: Vec<crate::ehr::DrugFlag>,
    pub medication_consent_until: Option<DateTime<Utc>>,
}
