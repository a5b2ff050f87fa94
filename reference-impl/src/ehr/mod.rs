//! The EHR sharing service (電子カルテ情報共有サービス): 3 documents and 6 items.
//!
//! - **6 items**: facilities submit diagnoses, infections, allergies, contraindicated drugs and lab
//!   results per visit (a `collection` Bundle, see [`dx_protocol::wire::clins`]); prescriptions are read
//!   from the e-prescription service, never stored twice. Items are kept 5 years from
//!   registration ([`RETENTION_MONTHS`]), without end when flagged long-term.
//! - **Clinical summary**: a facility holding the person's EHR consent reads all six, newest
//!   first, paged; the person reads their own through the portal without undisclosed diagnoses.
//! - **3 documents**: referral letters (addressed to one facility, listed in its inbox until
//!   marked received, then kept [`REFERRAL_GRACE_DAYS`]), discharge summaries and checkup
//!   reports (kept 5 years).
//! - Allergies and contraindicated drugs registered here raise warnings in the e-prescription
//!   checks, which read them with their other reads ([`storage::DRUG_FLAGS_PART`]).
//!
//! Expired records are never served; `POST /v1/admin/ehr/purge` deletes them.

pub mod documents;
pub mod items;
mod parse;
pub(crate) mod storage;
pub mod submit;

use crate::audit::AuditEvent;
use crate::store::error::StoreError;
use chrono::{DateTime, Months, NaiveDate, TimeDelta, Utc};
use dx_protocol::wire::DocumentSummary;
use dx_protocol::wire::clins::{DocumentKind, ItemKind};

/// Items and checkup reports are kept 5 years from registration (FACTS: EHR sharing).
pub const RETENTION_MONTHS: u32 = 60;
/// A referral letter is removed this long after the addressee marks it received. FACTS gives
/// no figure; 180 days is our assumption.
pub const REFERRAL_GRACE_DAYS: i64 = 180;
/// Most entries in one submitted Bundle.
pub const MAX_ENTRIES: usize = 200;
/// Page size of the clinical summary and the referral inbox: default and most.
pub const PAGE_DEFAULT: u32 = 50;
pub const PAGE_MAX: u32 = 200;

/// The last day a record registered on `on` is kept; `None` when kept without end.
pub fn retain_until(on: NaiveDate, long_term: bool) -> Option<NaiveDate> {
    (!long_term).then(|| {
        on.checked_add_months(Months::new(RETENTION_MONTHS))
            .expect("dates far from the end of time")
    })
}

/// The last day of a referral received on `on`.
pub fn referral_retained_until(on: NaiveDate) -> NaiveDate {
    on + TimeDelta::days(REFERRAL_GRACE_DAYS)
}

/// One item to store.
#[derive(Debug, Clone, PartialEq)]
pub struct NewItem {
    pub kind: ItemKind,
    pub system: String,
    pub code: String,
    pub recorded_on: NaiveDate,
    pub undisclosed: bool,
    pub retain_until: Option<NaiveDate>,
    /// Allergies to a drug and contraindicated drugs: the master's YJ code.
    pub drug_yj: Option<String>,
    /// The FHIR resource, its subject rewritten to `Patient/<person id>`.
    pub resource: String,
}

#[derive(Debug, Clone)]
pub struct NewSubmission {
    pub facility_code: String,
    pub submission_id: String,
    pub person_id: String,
    pub registered_at: DateTime<Utc>,
    pub items: Vec<NewItem>,
}

/// An item as the clinical summary reads it.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredItem {
    pub seq: i64,
    pub kind: ItemKind,
    pub facility_code: String,
    pub recorded_on: NaiveDate,
    pub registered_at: DateTime<Utc>,
    pub resource: String,
}

/// Which items a page reads.
#[derive(Debug, Clone)]
pub struct ItemQuery {
    pub person_id: String,
    /// Records kept through this day or later.
    pub today: NaiveDate,
    pub kinds: Vec<ItemKind>,
    pub include_undisclosed: bool,
    /// Only items sorting before (recorded_on, seq), newest first.
    pub before: Option<(NaiveDate, i64)>,
    pub limit: u32,
}

/// A registered allergy or contraindicated drug, for the prescription checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DrugFlag {
    pub kind: ItemKind,
    pub yj: String,
    pub facility_code: String,
    pub recorded_on: NaiveDate,
}

#[derive(Debug, Clone)]
pub struct NewDocument {
    pub kind: DocumentKind,
    pub person_id: String,
    pub author_facility: String,
    /// The author's own id of the document (`Bundle.identifier`).
    pub source_id: String,
    pub addressee: Option<String>,
    pub attachments: Vec<String>,
    pub submitted_at: DateTime<Utc>,
    pub retain_until: Option<NaiveDate>,
    pub bundle: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct StoredDocument {
    pub id: String,
    pub kind: DocumentKind,
    pub person_id: String,
    pub author_facility: String,
    pub addressee: Option<String>,
    pub attachments: Vec<String>,
    pub submitted_at: DateTime<Utc>,
    pub received_at: Option<DateTime<Utc>>,
    pub retain_until: Option<NaiveDate>,
    /// Empty in inbox listings.
    pub bundle: String,
}

/// Which referrals an inbox page lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InboxFilter {
    Unreceived,
    Received,
    All,
}

pub trait EhrStore {
    /// Stores a submission's items and its audit line; `Duplicate` if the facility already sent
    /// this submission id. Returns the items' sequence numbers, in order.
    fn insert_items(&self, s: &NewSubmission, audit: &AuditEvent) -> Result<Vec<i64>, StoreError>;
    /// A page of items, newest first (by clinical date, then registration), not past retention,
    /// and how many items `q` matches on all pages (read together: one round trip on
    /// PostgreSQL).
    fn items_page(&self, q: &ItemQuery) -> Result<(Vec<StoredItem>, u64), StoreError>;
    /// Stores a document and its audit line; `Duplicate` if the author already sent this id.
    /// Returns the document id.
    fn insert_document(&self, d: &NewDocument, audit: &AuditEvent) -> Result<String, StoreError>;
    /// A document still kept on `today`.
    fn document(&self, id: &str, today: NaiveDate) -> Result<Option<StoredDocument>, StoreError>;
    /// Whether a referral addressed to `facility`, still kept on `today`, attaches `document_id`.
    fn attached_for(
        &self,
        document_id: &str,
        facility: &str,
        today: NaiveDate,
    ) -> Result<bool, StoreError>;
    /// Referrals addressed to `facility`, newest first, before document sequence `before`.
    fn referral_inbox(
        &self,
        facility: &str,
        filter: InboxFilter,
        today: NaiveDate,
        before: Option<i64>,
        limit: u32,
    ) -> Result<Vec<StoredDocument>, StoreError>;
    /// Marks an unreceived referral received; `Conflict` if it already was.
    fn mark_received(
        &self,
        id: &str,
        at: DateTime<Utc>,
        retain_until: NaiveDate,
        audit: &AuditEvent,
    ) -> Result<(), StoreError>;
    /// A person's documents of one kind still kept on `today`, newest first (at most 100).
    fn documents_of(
        &self,
        person_id: &str,
        kind: DocumentKind,
        today: NaiveDate,
    ) -> Result<Vec<StoredDocument>, StoreError>;
    /// Deletes documents and items whose retention ended before `today`: (documents, items).
    fn purge_expired(&self, today: NaiveDate) -> Result<(u64, u64), StoreError>;
}

/// Document ids are `D` and 12 digits of the store's sequence.
pub fn document_id(seq: i64) -> String {
    format!("D{seq:012}")
}

pub fn document_seq(id: &str) -> Option<i64> {
    let digits = id.strip_prefix('D')?;
    (digits.len() == 12 && digits.bytes().all(|b| b.is_ascii_digit()))
        .then(|| digits.parse().ok())
        .flatten()
}

/// Item resource ids are `I` and 12 digits.
pub fn item_id(seq: i64) -> String {
    format!("I{seq:012}")
}

/// A document's listing entry and its Bundle.
pub fn summary_of(d: StoredDocument) -> (DocumentSummary, String) {
    (
        DocumentSummary {
            document_id: d.id,
            kind: d.kind,
            person_id: d.person_id,
            author_facility: d.author_facility,
            addressee: d.addressee,
            attachments: d.attachments,
            submitted_at: d.submitted_at,
            received_at: d.received_at,
            retain_until: d.retain_until,
        },
        d.bundle,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retention_is_five_years_unless_long_term() {
        let d = NaiveDate::from_ymd_opt(2024, 2, 29).unwrap();
        assert_eq!(retain_until(d, false), NaiveDate::from_ymd_opt(2029, 2, 28));
        assert_eq!(retain_until(d, true), None);
        assert_eq!(
            referral_retained_until(d),
            NaiveDate::from_ymd_opt(2024, 8, 27).unwrap()
        );
    }

    #[test]
    fn document_ids_round_trip() {
        assert_eq!(document_id(42), "D000000000042");
        assert_eq!(document_seq("D000000000042"), Some(42));
        for bad in ["D42", "X000000000042", "D00000000004x", ""] {
            assert_eq!(document_seq(bad), None, "{bad}");
        }
    }
}
