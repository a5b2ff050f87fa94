//! The bounded queue of audit lines for reads and refusals, and the thread that stores them in
//! batched transactions (group commit).
//!
//! A read of personal data is answered only once its line is stored: [`AuditSink::record_durable`]
//! waits for the commit of the batch that holds it, so `kill -9` cannot lose the line of a read
//! that was answered. While one batch commits, the next fills, so the commits grow with the load
//! rather than their number. Lines of refusals ([`AuditSink::record`]) are queued without waiting.

use super::{AuditEvent, AuditStore};
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

/// Bound of the audit queue; when full, recording waits (backpressure rather than loss).
const QUEUE_BOUND: usize = 65_536;
/// Most lines written in one transaction.
const MAX_BATCH: usize = 1_000;

enum Msg {
    Events(Vec<AuditEvent>, Option<oneshot::Sender<bool>>),
    Flush(oneshot::Sender<bool>),
}

/// The audit line of a read could not be stored: the read must not be answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the audit line could not be stored")]
pub struct NotStored;

/// The queue of audit lines and its writer thread.
pub struct AuditSink {
    tx: mpsc::Sender<Msg>,
}

impl AuditSink {
    pub fn start(store: Arc<dyn AuditStore + Send + Sync>) -> Self {
        let (tx, rx) = mpsc::channel(QUEUE_BOUND);
        std::thread::Builder::new()
            .name("audit-writer".into())
            .spawn(move || drain(rx, &*store))
            .expect("spawn audit writer");
        Self { tx }
    }

    /// Queues a line without waiting for it to be stored (refusals).
    pub async fn record(&self, e: AuditEvent) {
        // The writer lives as long as any sender; a send only fails during process teardown.
        let _ = self.tx.send(Msg::Events(vec![e], None)).await;
    }

    /// Queues lines and waits until the transaction holding them has committed.
    pub async fn record_durable(&self, lines: Vec<AuditEvent>) -> Result<(), NotStored> {
        if lines.is_empty() {
            return Ok(());
        }
        let (done, wait) = oneshot::channel();
        self.tx
            .send(Msg::Events(lines, Some(done)))
            .await
            .map_err(|_| NotStored)?;
        match wait.await {
            Ok(true) => Ok(()),
            _ => Err(NotStored),
        }
    }

    /// Waits until every line recorded before this call is stored.
    pub async fn flush(&self) {
        let (done, wait) = oneshot::channel();
        if self.tx.send(Msg::Flush(done)).await.is_ok() {
            let _ = wait.await;
        }
    }
}

fn drain(mut rx: mpsc::Receiver<Msg>, store: &dyn AuditStore) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    let mut waiting = Vec::new();
    while let Some(first) = rx.blocking_recv() {
        let mut next = Some(first);
        while let Some(msg) = next {
            match msg {
                Msg::Events(lines, done) => {
                    batch.extend(lines);
                    waiting.extend(done);
                }
                Msg::Flush(done) => waiting.push(done),
            }
            next = if batch.len() < MAX_BATCH {
                rx.try_recv().ok()
            } else {
                None
            };
        }
        let stored = batch.is_empty()
            || match store.append_audit(&batch) {
                Ok(()) => true,
                Err(e) => {
                    tracing::error!(error = %e, lines = batch.len(), "audit lines could not be stored");
                    false
                }
            };
        batch.clear();
        for done in waiting.drain(..) {
            let _ = done.send(stored);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::error::StoreError;
    use std::sync::Mutex;

    /// Keeps lines in memory, or fails every append.
    struct Memory {
        lines: Mutex<Vec<AuditEvent>>,
        fail: bool,
    }

    impl AuditStore for Memory {
        fn append_audit(&self, events: &[AuditEvent]) -> Result<(), StoreError> {
            if self.fail {
                return Err(StoreError::Conflict("disk full"));
            }
            self.lines.lock().unwrap().extend_from_slice(events);
            Ok(())
        }
        fn missing_requests(&self, _: &[String]) -> Result<Vec<String>, StoreError> {
            unreachable!("the sink only appends")
        }
        fn access_log(
            &self,
            _: &str,
            _: Option<i64>,
            _: u32,
        ) -> Result<Vec<dx_protocol::wire::AccessLogEntry>, StoreError> {
            unreachable!("the sink only appends")
        }
        fn verified_since(
            &self,
            _: &str,
            _: &str,
            _: chrono::DateTime<chrono::Utc>,
        ) -> Result<bool, StoreError> {
            unreachable!("the sink only appends")
        }
        fn retrieved_since(
            &self,
            _: &str,
            _: &str,
            _: chrono::DateTime<chrono::Utc>,
        ) -> Result<bool, StoreError> {
            unreachable!("the sink only appends")
        }
        fn code_attempts(&self, _: &str, _: u32) -> Result<Vec<String>, StoreError> {
            unreachable!("the sink only appends")
        }
        fn record_code_failure(
            &self,
            _: &AuditEvent,
            _: &AuditEvent,
            _: u32,
            _: fn(&[String]) -> bool,
        ) -> Result<bool, StoreError> {
            unreachable!("the sink only appends")
        }
    }

    fn line(n: usize) -> AuditEvent {
        let who = crate::auth::Principal {
            sub: "facility:1311001019".into(),
            role: dx_protocol::wire::Role::Clinic,
        };
        AuditEvent::new(
            chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap(),
            &who,
            "eligibility.verify",
            Some(format!("P{n}")),
            None,
            "ok",
        )
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_durable_line_is_stored_when_its_wait_returns() {
        let store = Arc::new(Memory {
            lines: Mutex::default(),
            fail: false,
        });
        let sink = Arc::new(AuditSink::start(store.clone()));
        let waits: Vec<_> = (0..200)
            .map(|n| {
                let sink = sink.clone();
                let store = store.clone();
                tokio::spawn(async move {
                    sink.record_durable(vec![line(n)]).await.unwrap();
                    let want = format!("P{n}");
                    assert!(
                        store
                            .lines
                            .lock()
                            .unwrap()
                            .iter()
                            .any(|l| l.person_id.as_deref() == Some(&want))
                    );
                })
            })
            .collect();
        for w in waits {
            w.await.unwrap();
        }
        assert_eq!(store.lines.lock().unwrap().len(), 200);
    }

    #[tokio::test]
    async fn a_line_that_cannot_be_stored_is_reported() {
        let store = Arc::new(Memory {
            lines: Mutex::default(),
            fail: true,
        });
        let sink = AuditSink::start(store);
        assert_eq!(sink.record_durable(vec![line(1)]).await, Err(NotStored));
    }
}
