//! The bounded queue of audit lines for reads and refusals, and the thread that stores them in
//! batched transactions.

use super::{AuditEvent, AuditStore};
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

/// Bound of the audit queue; when full, recording waits (backpressure rather than loss).
const QUEUE_BOUND: usize = 65_536;
/// Most lines written in one transaction.
const MAX_BATCH: usize = 1_000;

enum Msg {
    Event(AuditEvent),
    Flush(oneshot::Sender<()>),
}

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

fn drain(mut rx: mpsc::Receiver<Msg>, store: &dyn AuditStore) {
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
