//! EHR sharing (3 documents, 6 items): what its routes answer (the Bundles themselves are in
//! `clins`).

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

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

/// The query of the clinical summary: a page of `count` (default 50, at most 200) after
/// `cursor`, of the comma-separated item `kind`s (all six when absent).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SummaryQuery {
    pub count: Option<u32>,
    pub cursor: Option<String>,
    pub kind: Option<String>,
}

/// The query of the referral inbox: `status` (`unreceived`, the default, `received` or `all`),
/// a page of `count` after `cursor`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InboxQuery {
    pub status: Option<String>,
    pub count: Option<u32>,
    pub cursor: Option<String>,
}
