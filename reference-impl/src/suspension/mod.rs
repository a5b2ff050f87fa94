//! Suspensions: an operator takes a service out of use (`POST /v1/admin/suspensions`, admin
//! only) — the whole of it, or e-prescription issuing alone — and its requests answer
//! `503 suspended` with the reason until it is resumed, counted in `/metrics`
//! (`dx_suspended_total`). The switch is stored with its audit line in one transaction and, on a
//! shared store, announced to the other nodes (`crate::nodes`), which apply it as it commits.
//! The check is made at admission, before any work: a refused request changes nothing.

pub mod routes;
mod storage;

use crate::audit::AuditEvent;
use crate::refusal::{Kind, Refusal};
use crate::store::error::StoreError;
use chrono::{DateTime, Utc};
use dx_protocol::wire::endpoints::{Endpoint, RegisterPrescription};
use dx_protocol::wire::{Suspension, SuspensionTarget};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::RwLock;
use std::sync::atomic::{AtomicU64, Ordering};

/// Storage of the suspensions in force.
pub trait SuspensionStore {
    /// Every target suspended now.
    fn suspensions(&self) -> Result<Vec<Suspension>, StoreError>;
    /// Suspends `target` (with its reason and instant) or resumes it (`None`), and stores the
    /// audit line, in one transaction.
    fn set_suspension(
        &self,
        target: SuspensionTarget,
        suspension: Option<(&str, DateTime<Utc>)>,
        audit: &AuditEvent,
    ) -> Result<(), StoreError>;
}

/// The suspensions in force, in memory, and the requests each has refused.
#[derive(Default)]
pub struct Suspended {
    now: RwLock<BTreeMap<SuspensionTarget, Suspension>>,
    /// Whether anything is suspended: the every-request check takes no lock while nothing is.
    any: std::sync::atomic::AtomicBool,
    refused: [AtomicU64; SuspensionTarget::ALL.len()],
}

fn index(t: SuspensionTarget) -> usize {
    SuspensionTarget::ALL
        .iter()
        .position(|x| *x == t)
        .expect("listed")
}

impl Suspended {
    /// Replaces what is in memory with what the store holds.
    pub fn reload(&self, store: &dyn SuspensionStore) -> Result<(), StoreError> {
        let all = store.suspensions()?;
        let mut now = self.now.write().unwrap_or_else(|e| e.into_inner());
        *now = all.into_iter().map(|s| (s.target, s)).collect();
        self.any.store(!now.is_empty(), Ordering::Release);
        Ok(())
    }

    /// Sets what is in memory for `target` (after the store has it).
    pub fn set(&self, target: SuspensionTarget, s: Option<Suspension>) {
        let mut now = self.now.write().unwrap_or_else(|e| e.into_inner());
        match s {
            Some(s) => {
                now.insert(target, s);
            }
            None => {
                now.remove(&target);
            }
        }
        self.any.store(!now.is_empty(), Ordering::Release);
    }

    /// Every suspension in force, by target.
    pub fn list(&self) -> Vec<Suspension> {
        self.now
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .cloned()
            .collect()
    }

    /// The refusal of a request of `service` (its admission name: `eligibility`,
    /// `eprescription`, …) to `path` by `method`, if a suspension holds it.
    pub fn refusal(&self, service: &str, method: &str, path: &str) -> Option<Refusal> {
        if !self.any.load(Ordering::Acquire) {
            return None;
        }
        let now = self.now.read().unwrap_or_else(|e| e.into_inner());
        let s = now
            .values()
            .find(|s| covers(s.target, service, method, path))?;
        self.refused[index(s.target)].fetch_add(1, Ordering::Relaxed);
        Some(Refusal::new(
            Kind::Suspended,
            "suspended",
            format!(
                "{} is suspended since {}: {}",
                s.target.as_str(),
                s.since.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                s.reason
            ),
        ))
    }

    /// Requests refused by each suspension, in the Prometheus text format.
    pub fn render(&self) -> String {
        let mut out = String::from(
            "# HELP dx_suspended_total Requests answered 503 suspended, by suspended target.\n# TYPE dx_suspended_total counter\n",
        );
        for t in SuspensionTarget::ALL {
            let _ = writeln!(
                out,
                "dx_suspended_total{{target=\"{}\"}} {}",
                t.as_str(),
                self.refused[index(t)].load(Ordering::Relaxed)
            );
        }
        out
    }
}

/// Whether a suspension of `target` holds a request of `service` (its admission name) to `path`
/// by `method`: a whole service's (its name is the target's), or registration alone.
fn covers(target: SuspensionTarget, service: &str, method: &str, path: &str) -> bool {
    match target {
        SuspensionTarget::EprescriptionIssuing => {
            method == "POST" && path == RegisterPrescription::PATH
        }
        whole => whole.as_str() == service,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issuing_covers_registration_alone() {
        use crate::admission::Service;
        let t = SuspensionTarget::EprescriptionIssuing;
        let rx = Service::Prescription.as_str();
        assert!(covers(t, rx, "POST", "/v1/prescriptions"));
        assert!(!covers(t, rx, "POST", "/v1/prescriptions/check"));
        assert!(!covers(t, rx, "POST", "/v1/dispensations"));
        assert!(!covers(t, rx, "GET", "/v1/prescriptions"));
        let all = SuspensionTarget::Eprescription;
        assert!(covers(all, rx, "POST", "/v1/dispensations"));
        let eligibility = Service::Eligibility.as_str();
        assert!(!covers(all, eligibility, "POST", "/v1/eligibility/verify"));
        // Every whole target is the name of a service of admission.
        for t in SuspensionTarget::ALL {
            assert!(
                t == SuspensionTarget::EprescriptionIssuing
                    || Service::ALL.iter().any(|s| s.as_str() == t.as_str()),
                "{t:?}"
            );
        }
    }
}
