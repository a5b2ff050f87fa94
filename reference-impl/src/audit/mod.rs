//! The audit trail: who read or wrote whose personal data, when, and with what outcome.
//!
//! Successful writes insert their audit line in the same transaction as the write, so one is
//! never durable without the other. Reads and refusals go through [`AuditSink`], a bounded queue
//! drained by one thread (`sink`) in batched transactions; `flush` waits until everything queued is stored.

pub mod routes;
pub mod sink;
pub mod storage;

use crate::auth::principal::Principal;
use crate::store::error::StoreError;
use chrono::{DateTime, Utc};
use dx_protocol::wire::{AccessLogEntry, Role};

/// One audit line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEvent {
    pub at: DateTime<Utc>,
    pub actor: String,
    pub actor_role: Role,
    pub action: &'static str,
    pub person_id: Option<String>,
    pub target: Option<String>,
    /// `ok`, or the error code of a refusal.
    pub outcome: &'static str,
    /// The client's name for the request (`x-request-id`), if it gave one.
    pub request_id: Option<String>,
}

tokio::task_local! {
    /// The `x-request-id` of the request being served (set by the HTTP edge, `http.rs`).
    static REQUEST_ID: Option<String>;
}

/// Runs `f` (the serving of one request) with `id` as the request id of its audit lines.
pub async fn with_request_id<F: std::future::Future>(id: Option<String>, f: F) -> F::Output {
    REQUEST_ID.scope(id, f).await
}

impl AuditEvent {
    pub fn new(
        at: DateTime<Utc>,
        who: &Principal,
        action: &'static str,
        person_id: Option<String>,
        target: Option<String>,
        outcome: &'static str,
    ) -> Self {
        Self {
            at,
            actor: who.sub.clone(),
            actor_role: who.role,
            action,
            person_id,
            target,
            outcome,
            request_id: REQUEST_ID.try_with(Clone::clone).ok().flatten(),
        }
    }
}

/// Storage of the audit trail.
pub trait AuditStore {
    fn append_audit(&self, events: &[AuditEvent]) -> Result<(), StoreError>;
    /// Of the request ids `ids`, those with no successful audit line.
    fn missing_requests(&self, ids: &[String]) -> Result<Vec<String>, StoreError>;
    /// A person's access log, newest first: entries with id < `before`, at most `limit`.
    fn access_log(
        &self,
        person_id: &str,
        before: Option<i64>,
        limit: u32,
    ) -> Result<Vec<AccessLogEntry>, StoreError>;
    /// Whether principal `actor` verified the person's eligibility (`eligibility.verify`, ok)
    /// at or after `since`.
    fn verified_since(
        &self,
        person_id: &str,
        actor: &str,
        since: DateTime<Utc>,
    ) -> Result<bool, StoreError>;
    /// Whether principal `actor` retrieved the prescription (`prescription.retrieve`, ok) at or
    /// after `since`.
    fn retrieved_since(
        &self,
        prescription_id: &str,
        actor: &str,
        since: DateTime<Utc>,
    ) -> Result<bool, StoreError>;
    /// Outcomes of the person's latest `n` access-code attempts (`prescription.retrieve` and
    /// `prescription.unlock` lines), newest first.
    fn code_attempts(&self, person_id: &str, n: u32) -> Result<Vec<String>, StoreError>;
    /// Stores the line of a failed access-code attempt in a write transaction that first reads
    /// the person's latest `n` attempts: if `locked` says they lock retrieval, `locked_line` is
    /// stored instead of `line`. Returns whether it was locked (so parallel guesses cannot pass
    /// the lock between the check and the line).
    fn record_code_failure(
        &self,
        line: &AuditEvent,
        locked_line: &AuditEvent,
        n: u32,
        locked: fn(&[String]) -> bool,
    ) -> Result<bool, StoreError>;
}
