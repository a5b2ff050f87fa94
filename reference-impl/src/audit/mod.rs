//! The audit trail: who read or wrote whose personal data, when, and with what outcome.
//!
//! Successful writes insert their audit line in the same transaction as the write, so one is
//! never durable without the other. Reads and refusals go through [`AuditSink`], a bounded queue
//! drained by one thread in batched transactions; `flush` waits until everything queued is stored.

mod routes;
pub mod storage;

pub use routes::router;

use crate::auth::Principal;
use crate::store::{Store, StoreError};
use crate::wire::{AccessLogEntry, Role};
use chrono::{DateTime, Utc};
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

/// Bound of the audit queue; when full, recording waits (backpressure rather than loss).
const QUEUE_BOUND: usize = 65_536;
/// Most lines written in one transaction.
const MAX_BATCH: usize = 1_000;

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
        }
    }
}

/// Storage of the audit trail.
pub trait AuditStore {
    fn append_audit(&self, events: &[AuditEvent]) -> Result<(), StoreError>;
    /// A person's access log, newest first: entries with id < `before`, at most `limit`.
    fn access_log(
        &self,
        person_id: &str,
        before: Option<i64>,
        limit: u32,
    ) -> Result<Vec<AccessLogEntry>, StoreError>;
}

enum Msg {
    Event(AuditEvent),
    Flush(oneshot::Sender<()>),
}

/// The queue of audit lines and its writer thread.
pub struct AuditSink {
    tx: mpsc::Sender<Msg>,
}

impl AuditSink {
    pub fn start(store: Arc<dyn Store>) -> Self {
        let (tx, rx) = mpsc::channel(QUEUE_BOUND);
        std::thread::Builder::new()
            .name("audit-writer".into())
            .spawn(move || drain(rx, &*store))
            .expect("spawn audit writer");
        Self { tx }
    }

    pub async fn record(&self, e: AuditEvent) {
        // The writer lives as long as any sender; a send only fails during process teardown.
        let _ = self.tx.send(Msg::Event(e)).await;
    }

    /// Waits until every line recorded before this call is stored.
    pub async fn flush(&self) {
        let (done, wait) = oneshot::channel();
        if self.tx.send(Msg::Flush(done)).await.is_ok() {
            let _ = wait.await;
        }
    }
}

fn drain(mut rx: mpsc::Receiver<Msg>, store: &dyn Store) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    let mut waiting = Vec::new();
    while let Some(first) = rx.blocking_recv() {
        let mut next = Some(first);
        while let Some(msg) = next {
            match msg {
                Msg::Event(e) => batch.push(e),
                Msg::Flush(done) => waiting.push(done),
            }
            next = if batch.len() < MAX_BATCH {
                rx.try_recv().ok()
            } else {
                None
            };
        }
        if !batch.is_empty() {
            if let Err(e) = store.append_audit(&batch) {
                tracing::error!(error = %e, lines = batch.len(), "audit lines could not be stored");
            }
            batch.clear();
        }
        for done in waiting.drain(..) {
            let _ = done.send(());
        }
    }
}
