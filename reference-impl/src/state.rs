//! The application state every handler shares: the store, the clock, the keys, the audit sink,
//! the metrics, and (in test builds) the faults switched on.

use crate::audit::AuditEvent;
use crate::audit::sink::AuditSink;
use crate::auth::keys::Keys;
use crate::auth::principal::Principal;
use crate::clock::Clock;
use crate::limits::{AttemptLimiter, CODE_FAILURES_PER_MINUTE, SECRET_FAILURES_PER_MINUTE};
use crate::metrics::Metrics;
use crate::refdata::DrugMaster;
use crate::refusal::Refusal;
use crate::store::Store;
use chrono::{DateTime, Utc};
use std::sync::Arc;

struct Inner {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    keys: Keys,
    audit: AuditSink,
    metrics: Arc<Metrics>,
    limits: Limits,
    admission: Arc<crate::admission::Admission>,
    /// Credential generations of the principals ever revoked (all others are at 0), so tokens
    /// are checked against revocation without a store round trip.
    generations: std::sync::RwLock<std::collections::HashMap<String, u32>>,
    /// Trusted card authorities, the revocation list and the nonces seen.
    cards: crate::cards::CardTrust,
    /// Trusted HPKI roots and revoked practitioner certificates.
    hpki: crate::hpki::HpkiTrust,
    /// Faults switched on (bits of [`crate::faults::Fault`]); always 0 without the feature.
    faults: std::sync::atomic::AtomicU32,
    /// Microseconds added to every store transaction (`slow_store`); always 0 without the
    /// feature.
    slow_store_us: std::sync::atomic::AtomicU64,
    /// The base URL of absolute URLs in answers; set once, by `--public-url` or the listener.
    public_base: std::sync::OnceLock<String>,
}

/// The limits on failed attempts (see [`crate::limits`]).
pub struct Limits {
    /// Wrong access codes, per pharmacy.
    pub codes: AttemptLimiter,
    /// Wrong secrets, per principal.
    pub secrets: AttemptLimiter,
}

/// Shared by all handlers; cheap to clone.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

impl AppState {
    /// The state over `store`, with the credential generations it keeps.
    pub fn new(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        keys: Keys,
        generations: Vec<(String, u32)>,
        cards: crate::cards::CardTrust,
        admission: crate::admission::Limits,
    ) -> Self {
        let audit = AuditSink::start(store.clone());
        Self(Arc::new(Inner {
            store,
            clock,
            keys,
            audit,
            metrics: Arc::default(),
            limits: Limits {
                codes: AttemptLimiter::new(CODE_FAILURES_PER_MINUTE, "wrong access codes"),
                secrets: AttemptLimiter::new(SECRET_FAILURES_PER_MINUTE, "wrong secrets"),
            },
            generations: std::sync::RwLock::new(generations.into_iter().collect()),
            cards,
            hpki: crate::hpki::HpkiTrust::default(),
            admission: Arc::new(crate::admission::Admission::new(admission)),
            faults: std::sync::atomic::AtomicU32::new(0),
            slow_store_us: std::sync::atomic::AtomicU64::new(0),
            public_base: std::sync::OnceLock::new(),
        }))
    }

    /// Joins the other nodes of a shared store: failed attempts and card nonces are counted in
    /// the store, and the changes other nodes announce (revoked credentials, card trust) are
    /// applied here as they commit. Nothing to do on a store one process serves.
    pub fn join_nodes(&self) -> Result<(), crate::store::StoreError> {
        let store = self.0.store.clone();
        if !store.shared() {
            return Ok(());
        }
        let nodes: Arc<dyn crate::nodes::NodeStore + Send + Sync> = store.clone();
        self.0.cards.share(nodes.clone());
        self.0.limits.codes.share(nodes.clone(), "codes");
        self.0.limits.secrets.share(nodes, "secrets");
        let weak = Arc::downgrade(&self.0);
        store.watch(Box::new(move |notice| match weak.upgrade() {
            Some(inner) => {
                AppState(inner).hear(notice);
                true
            }
            None => false,
        }))
    }

    /// Sets the base URL of absolute URLs in answers, unless one was set already.
    pub fn set_public_base(&self, url: String) {
        let _ = self.0.public_base.set(url);
    }

    /// The base URL clients reach this exchange at (`http://localhost` before it serves).
    pub fn public_base(&self) -> &str {
        self.0
            .public_base
            .get()
            .map_or("http://localhost", String::as_str)
    }

    /// Applies what another node announced.
    fn hear(&self, notice: crate::nodes::Notice) {
        use crate::nodes::{Change, Notice};
        let store = &self.0.store;
        let reloaded = match notice {
            Notice::Changed(Change::Generation {
                principal,
                generation,
            }) => {
                self.set_generation(&principal, generation);
                Ok(())
            }
            Notice::Changed(Change::Cards) => self.0.cards.reload(store.as_ref()),
            Notice::Changed(Change::Hpki) => self.0.hpki.reload(store.as_ref()),
            Notice::Changed(Change::Suspensions) => self.suspended().reload(store.as_ref()),
            Notice::Resync => store.credential_generations().and_then(|all| {
                for (p, g) in all {
                    self.set_generation(&p, g);
                }
                self.0.cards.reload(store.as_ref())?;
                self.suspended().reload(store.as_ref())?;
                self.0.hpki.reload(store.as_ref())
            }),
            Notice::Idle => Ok(()),
        };
        if let Err(e) = reloaded {
            tracing::error!(error = %e, "applying another node's change");
        }
    }

    /// Whether the exchange was told to break a rule (only possible with the `faults` feature).
    #[inline]
    pub fn fault(&self, f: crate::faults::Fault) -> bool {
        cfg!(feature = "faults")
            && self.0.faults.load(std::sync::atomic::Ordering::Relaxed) & f.bit() != 0
    }

    /// Tells the exchange to break a rule: for tests of the conformance suite.
    #[cfg(feature = "faults")]
    pub fn inject_fault(&self, f: crate::faults::Fault) {
        if f == crate::faults::Fault::OverloadUnstructured {
            self.0.admission.answer_bare();
        }
        self.0
            .faults
            .fetch_or(f.bit(), std::sync::atomic::Ordering::Relaxed);
    }

    /// Slows every store transaction by `delay` (`POST /v1/admin/faults/slow-store`, the
    /// `slow_store` fault of a scenario).
    #[cfg(feature = "faults")]
    pub fn slow_store(&self, delay: std::time::Duration) {
        self.0.slow_store_us.store(
            delay.as_micros() as u64,
            std::sync::atomic::Ordering::Relaxed,
        );
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.0.clock.now()
    }

    pub fn clock(&self) -> &dyn Clock {
        &*self.0.clock
    }

    pub fn keys(&self) -> &Keys {
        &self.0.keys
    }

    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.0.metrics
    }

    /// The principal's current credential generation.
    pub fn generation(&self, principal: &str) -> u32 {
        let g = self.0.generations.read().unwrap_or_else(|e| e.into_inner());
        if g.is_empty() {
            return 0;
        }
        g.get(principal).copied().unwrap_or(0)
    }

    /// Records a principal's new generation after a revocation was stored.
    pub fn set_generation(&self, principal: &str, generation: u32) {
        let mut g = self
            .0
            .generations
            .write()
            .unwrap_or_else(|e| e.into_inner());
        let slot = g.entry(principal.to_owned()).or_insert(0);
        *slot = (*slot).max(generation);
    }

    /// Admission control of the services.
    /// What the exchange trusts and remembers about cards.
    /// Trusted HPKI roots and revoked practitioner certificates.
    pub fn hpki(&self) -> &crate::hpki::HpkiTrust {
        &self.0.hpki
    }

    pub fn cards(&self) -> &crate::cards::CardTrust {
        &self.0.cards
    }

    pub fn admission(&self) -> &Arc<crate::admission::Admission> {
        &self.0.admission
    }

    /// What an operator suspended.
    pub fn suspended(&self) -> &crate::suspension::Suspended {
        &self.0.admission.suspended
    }

    pub fn limits(&self) -> &Limits {
        &self.0.limits
    }

    pub fn drugs(&self) -> &'static DrugMaster {
        DrugMaster::get()
    }

    pub fn audit(&self) -> &AuditSink {
        &self.0.audit
    }

    /// Runs blocking store work off the async workers.
    pub async fn blocking<T, E>(
        &self,
        f: impl FnOnce(&dyn Store) -> Result<T, E> + Send + 'static,
    ) -> Result<T, Refusal>
    where
        T: Send + 'static,
        E: Into<Refusal> + Send + 'static,
    {
        let store = self.0.store.clone();
        let slow = if cfg!(feature = "faults") {
            self.0
                .slow_store_us
                .load(std::sync::atomic::Ordering::Relaxed)
        } else {
            0
        };
        match tokio::task::spawn_blocking(move || {
            if slow > 0 {
                std::thread::sleep(std::time::Duration::from_micros(slow));
            }
            f(&*store)
        })
        .await
        {
            Ok(r) => r.map_err(Into::into),
            Err(e) => Err(Refusal::internal(format!("worker failed: {e}"))),
        }
    }

    /// Records a refused request in the audit log (successful writes audit inside their own
    /// transaction; successful reads call [`AppState::audit_read`]).
    pub async fn audit_refusal(
        &self,
        who: &Principal,
        action: &'static str,
        person_id: Option<String>,
        err: &Refusal,
    ) {
        self.0
            .audit
            .record(AuditEvent::new(
                self.now(),
                who,
                action,
                person_id,
                None,
                err.code,
            ))
            .await;
    }

    /// Passes `result` through, recording it in the audit log if it is a refusal.
    pub async fn audited<T>(
        &self,
        who: &Principal,
        action: &'static str,
        person_id: Option<String>,
        result: Result<T, Refusal>,
    ) -> Result<T, Refusal> {
        if let Err(e) = &result {
            self.audit_refusal(who, action, person_id, e).await;
        }
        result
    }

    /// Records a read of personal data and waits until its audit line is stored: a read is
    /// answered only once its line is durable (500, and no answer, if it cannot be stored).
    pub async fn audit_read(
        &self,
        who: &Principal,
        action: &'static str,
        person_id: String,
        target: Option<String>,
    ) -> Result<(), Refusal> {
        self.audit_reads(who, action, vec![(person_id, target)])
            .await
    }

    /// [`AppState::audit_read`] of several persons read by one request (a batch), in one commit.
    pub async fn audit_reads(
        &self,
        who: &Principal,
        action: &'static str,
        reads: Vec<(String, Option<String>)>,
    ) -> Result<(), Refusal> {
        let now = self.now();
        let lines = reads
            .into_iter()
            .map(|(person, target)| AuditEvent::new(now, who, action, Some(person), target, "ok"))
            .collect();
        self.0
            .audit
            .record_durable(lines)
            .await
            .map_err(|e| Refusal::internal(e.to_string()))
    }
}
