//! The portal's access log.

use super::common::Role;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

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

/// The query of `GET /v1/portal/access-log`: entries with id < `before`, at most `limit`
/// (default 100).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccessLogQuery {
    pub before: Option<i64>,
    pub limit: Option<u32>,
}
