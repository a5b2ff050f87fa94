//! Suspensions: an operator takes a service out of use (`POST /v1/admin/suspensions`, admin
//! only) — the whole of it, or e-prescription issuing alone — and its requests answer
//! `503 suspended` with the reason until it is resumed, counted in `/metrics`
//! (`dx_suspended_total`). The switch is stored with its audit line in one transaction and, on a
//! shared store, announced to the other nodes (`crate::nodes`), which apply it as it commits.
//! The check is made at admission, before any work: a refused request changes nothing.

use crate::admission::Service;
use crate::audit::AuditEvent;
use crate::audit::storage::insert as insert_audit;
use crate::auth::Auth;
use crate::extract::{Answer, Body, Routes};
use crate::nodes::{CHANNEL, Change};
use crate::refusal::{Kind, Refusal};
use crate::state::AppState;
use crate::store::SqlStore;
use crate::store::error::StoreError;
use crate::store::sql::args;
use axum::Router;
use axum::extract::State;
use chrono::{DateTime, Utc};
use dx_protocol::wire::endpoints::{Endpoint, RegisterPrescription, SetSuspension, Suspensions};
use dx_protocol::wire::{
    MAX_SUSPENSION_REASON, Role, Suspension, SuspensionTarget, SuspensionsResponse,
};
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

impl SuspensionStore for SqlStore {
    fn suspensions(&self) -> Result<Vec<Suspension>, StoreError> {
        self.read(|c| {
            c.query(
                "SELECT target, reason, since_ms FROM suspensions ORDER BY target",
                &[],
            )?
            .into_iter()
            .filter_map(|mut r| {
                let target = match r.text(0) {
                    Ok(t) => SuspensionTarget::parse(&t)?,
                    Err(e) => return Some(Err(e)),
                };
                Some((|| {
                    Ok(Suspension {
                        target,
                        reason: r.text(1)?,
                        since: r.time(2)?,
                    })
                })())
            })
            .collect()
        })
    }

    fn set_suspension(
        &self,
        target: SuspensionTarget,
        suspension: Option<(&str, DateTime<Utc>)>,
        audit: &AuditEvent,
    ) -> Result<(), StoreError> {
        self.write(|tx| {
            match suspension {
                Some((reason, since)) => tx.execute(
                    "INSERT INTO suspensions (target, reason, since_ms) VALUES (?1, ?2, ?3)
                     ON CONFLICT (target) DO UPDATE SET reason = excluded.reason",
                    args![target.as_str(), reason, since],
                )?,
                None => tx.execute(
                    "DELETE FROM suspensions WHERE target = ?1",
                    args![target.as_str()],
                )?,
            };
            tx.notify(CHANNEL, &Change::Suspensions.to_payload())?;
            insert_audit(tx, audit)
        })
    }
}

/// The suspensions in force, in memory, and the requests each has refused.
#[derive(Default)]
pub struct Suspended {
    now: RwLock<BTreeMap<SuspensionTarget, Suspension>>,
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
        *self.now.write().unwrap_or_else(|e| e.into_inner()) =
            all.into_iter().map(|s| (s.target, s)).collect();
        Ok(())
    }

    fn set(&self, target: SuspensionTarget, s: Option<Suspension>) {
        let mut now = self.now.write().unwrap_or_else(|e| e.into_inner());
        match s {
            Some(s) => {
                now.insert(target, s);
            }
            None => {
                now.remove(&target);
            }
        }
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

    /// The refusal of a request of `service` to `path` by `method`, if a suspension holds it.
    pub fn refusal(&self, service: Service, method: &str, path: &str) -> Option<Refusal> {
        let now = self.now.read().unwrap_or_else(|e| e.into_inner());
        if now.is_empty() {
            return None;
        }
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

/// Whether a suspension of `target` holds a request of `service` to `path` by `method`.
fn covers(target: SuspensionTarget, service: Service, method: &str, path: &str) -> bool {
    match target {
        SuspensionTarget::Eligibility => service == Service::Eligibility,
        SuspensionTarget::Eprescription => service == Service::Prescription,
        SuspensionTarget::EprescriptionIssuing => {
            method == "POST" && path == RegisterPrescription::PATH
        }
        SuspensionTarget::Ehr => service == Service::Ehr,
        SuspensionTarget::Municipal => service == Service::Municipal,
        SuspensionTarget::Portal => service == Service::Portal,
    }
}

pub fn router() -> Router<AppState> {
    Router::new()
        .endpoint(SetSuspension, set_suspension)
        .endpoint(Suspensions, list)
}

async fn set_suspension(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Body(req): Body<SetSuspension>,
) -> Result<Answer<SetSuspension>, Refusal> {
    caller.require(&[Role::Admin], "suspending a service")?;
    let reason = match (req.suspended, req.reason.as_deref().map(str::trim)) {
        (true, None | Some("")) => {
            return Err(
                Refusal::invalid("missing_field", "a suspension needs its reason").at("reason"),
            );
        }
        (_, Some(r)) if r.chars().count() > MAX_SUSPENSION_REASON => {
            return Err(Refusal::invalid(
                "invalid_field",
                format!("at most {MAX_SUSPENSION_REASON} characters"),
            )
            .at("reason"));
        }
        (true, Some(r)) => Some(r.to_owned()),
        (false, _) => None,
    };
    let now = state.now();
    let target = req.target;
    let audit = AuditEvent::new(
        now,
        &caller,
        if reason.is_some() {
            "admin.suspend"
        } else {
            "admin.resume"
        },
        None,
        Some(target.as_str().to_owned()),
        "ok",
    );
    // A target suspended already keeps its first instant (the row's own; only the reason moves).
    let since = state
        .suspended()
        .list()
        .into_iter()
        .find(|s| s.target == target)
        .map_or(now, |s| s.since);
    let stored = reason.clone();
    state
        .blocking(move |st| {
            st.set_suspension(target, stored.as_deref().map(|r| (r, since)), &audit)
        })
        .await?;
    state.suspended().set(
        target,
        reason.map(|reason| Suspension {
            target,
            reason,
            since,
        }),
    );
    Ok(Answer(SuspensionsResponse {
        suspensions: state.suspended().list(),
    }))
}

async fn list(
    State(state): State<AppState>,
    Auth(caller): Auth,
) -> Result<Answer<Suspensions>, Refusal> {
    caller.require(&[Role::Admin], "reading the suspensions")?;
    Ok(Answer(SuspensionsResponse {
        suspensions: state.suspended().list(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issuing_covers_registration_alone() {
        let t = SuspensionTarget::EprescriptionIssuing;
        assert!(covers(
            t,
            Service::Prescription,
            "POST",
            "/v1/prescriptions"
        ));
        assert!(!covers(
            t,
            Service::Prescription,
            "POST",
            "/v1/prescriptions/check"
        ));
        assert!(!covers(
            t,
            Service::Prescription,
            "POST",
            "/v1/dispensations"
        ));
        assert!(!covers(
            t,
            Service::Prescription,
            "GET",
            "/v1/prescriptions"
        ));
        let all = SuspensionTarget::Eprescription;
        assert!(covers(
            all,
            Service::Prescription,
            "POST",
            "/v1/dispensations"
        ));
        assert!(!covers(
            all,
            Service::Eligibility,
            "POST",
            "/v1/eligibility/verify"
        ));
    }
}
