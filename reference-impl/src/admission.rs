//! Admission control: each service has a bound on requests in flight and a short queue in front
//! of it. A request that finds its service full waits in the queue for at most the queue
//! deadline; a full queue, or a deadline passed, answers `503 overloaded` with `Retry-After`,
//! counted in `/metrics` (`dx_overloaded_total`). `/healthz` and `/metrics` belong to no service
//! and are never queued; each service queues on its own, so a portal surge cannot hold the
//! permits of the pharmacies' checks.

use crate::refusal::Refusal;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;
use tokio::sync::Semaphore;

/// The services requests are admitted to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    Auth,
    Eligibility,
    Prescription,
    Ehr,
    Municipal,
    Portal,
    Admin,
}

impl Service {
    /// The service of its name (`as_str`).
    pub fn parse(name: &str) -> Option<Service> {
        Self::ALL.into_iter().find(|s| s.as_str() == name)
    }

    pub const ALL: [Service; 7] = [
        Service::Auth,
        Service::Eligibility,
        Service::Prescription,
        Service::Ehr,
        Service::Municipal,
        Service::Portal,
        Service::Admin,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Service::Auth => "auth",
            Service::Eligibility => "eligibility",
            Service::Prescription => "eprescription",
            Service::Ehr => "ehr",
            Service::Municipal => "municipal",
            Service::Portal => "portal",
            Service::Admin => "admin",
        }
    }

    /// The service of a request path; `None` for the operations routes (and unknown paths,
    /// which answer 404 without work).
    pub fn of(path: &str) -> Option<Service> {
        let rest = path.strip_prefix(dx_protocol::wire::endpoints::API_PREFIX)?;
        let (head, tail) = rest.split_once('/').unwrap_or((rest, ""));
        Some(match head {
            "auth" => Service::Auth,
            "admin" => Service::Admin,
            "eligibility" | "consents" => Service::Eligibility,
            "prescriptions" | "dispensations" | "practitioners" => Service::Prescription,
            "ehr" => Service::Ehr,
            "portal" => Service::Portal,
            "vaccines" | "vaccinations" | "municipal" | "maternal" | "care" => Service::Municipal,
            "persons" => match tail.rsplit('/').next().unwrap_or("") {
                "medications" => Service::Prescription,
                "clinical-summary" => Service::Ehr,
                _ => Service::Municipal,
            },
            _ => return None,
        })
    }
}

/// The bounds of admission, the same for every service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Requests of one service in flight at once.
    pub in_flight: usize,
    /// Requests of one service waiting for a permit at once.
    pub queued: usize,
    /// How long a request waits for a permit before `503 overloaded`.
    pub deadline: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            in_flight: 64,
            queued: 512,
            deadline: Duration::from_millis(100),
        }
    }
}

struct Lane {
    permits: Semaphore,
    waiting: AtomicUsize,
    refused: AtomicU64,
    /// This lane's bounds: requests in flight, waiting, and the wait's deadline (ms).
    in_flight: AtomicUsize,
    queued: AtomicUsize,
    deadline_ms: AtomicU64,
}

/// The lanes of every service.
pub struct Admission {
    limits: Limits,
    lanes: Vec<Lane>,
    /// The `overload_unstructured` fault: a bare 503 (test builds only).
    bare: std::sync::atomic::AtomicBool,
    /// What an operator suspended: refused before any lane is entered.
    pub suspended: crate::suspension::Suspended,
}

impl Admission {
    pub fn new(limits: Limits) -> Self {
        let lanes = Service::ALL
            .iter()
            .map(|_| Lane {
                permits: Semaphore::new(limits.in_flight.max(1)),
                waiting: AtomicUsize::new(0),
                refused: AtomicU64::new(0),
                in_flight: AtomicUsize::new(limits.in_flight.max(1)),
                queued: AtomicUsize::new(limits.queued),
                deadline_ms: AtomicU64::new(limits.deadline.as_millis() as u64),
            })
            .collect();
        Self {
            limits,
            lanes,
            bare: std::sync::atomic::AtomicBool::new(false),
            suspended: crate::suspension::Suspended::default(),
        }
    }

    /// Switches on the `overload_unstructured` fault.
    #[cfg(feature = "faults")]
    pub fn answer_bare(&self) {
        self.bare.store(true, Ordering::Relaxed);
    }

    /// The bounds every service has unless given its own.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Gives `service` bounds of its own (a portal sized apart from the pharmacies' checks);
    /// before serving.
    pub fn set_limits(&self, service: Service, limits: Limits) {
        let lane = self.lane(service);
        let want = limits.in_flight.max(1);
        let had = lane.in_flight.swap(want, Ordering::AcqRel);
        if want > had {
            lane.permits.add_permits(want - had);
        } else {
            lane.permits.forget_permits(had - want);
        }
        lane.queued.store(limits.queued, Ordering::Release);
        lane.deadline_ms
            .store(limits.deadline.as_millis() as u64, Ordering::Release);
    }

    fn lane(&self, s: Service) -> &Lane {
        &self.lanes[Service::ALL
            .iter()
            .position(|x| *x == s)
            .expect("every service has a lane")]
    }

    /// Requests refused as overloaded, per service, in the Prometheus text format.
    pub fn render(&self) -> String {
        let mut out = String::from(
            "# HELP dx_overloaded_total Requests answered 503 overloaded, by service.\n# TYPE dx_overloaded_total counter\n",
        );
        for s in Service::ALL {
            let _ = writeln!(
                out,
                "dx_overloaded_total{{service=\"{}\"}} {}",
                s.as_str(),
                self.lane(s).refused.load(Ordering::Relaxed)
            );
        }
        out + &self.suspended.render()
    }

    fn overloaded(&self, s: Service) -> Response {
        self.lane(s).refused.fetch_add(1, Ordering::Relaxed);
        if cfg!(feature = "faults") && self.bare.load(Ordering::Relaxed) {
            return crate::error::bare(Refusal::overloaded("", 1));
        }
        Refusal::overloaded(
            format!(
                "the {} service is at its bound of {} requests in flight; try again shortly",
                s.as_str(),
                self.lane(s).in_flight.load(Ordering::Relaxed)
            ),
            1,
        )
        .into_response()
    }
}

/// Middleware: admits a request to its service, or answers `503 overloaded`.
pub async fn admit(State(admission): State<Arc<Admission>>, req: Request, next: Next) -> Response {
    let Some(service) = Service::of(req.uri().path()) else {
        return next.run(req).await;
    };
    if let Some(refusal) =
        admission
            .suspended
            .refusal(service.as_str(), req.method().as_str(), req.uri().path())
    {
        return refusal.into_response();
    }
    let lane = admission.lane(service);
    let _permit = match lane.permits.try_acquire() {
        Ok(p) => p,
        Err(_) => {
            if lane.waiting.fetch_add(1, Ordering::AcqRel) >= lane.queued.load(Ordering::Acquire) {
                lane.waiting.fetch_sub(1, Ordering::AcqRel);
                return admission.overloaded(service);
            }
            let deadline = Duration::from_millis(lane.deadline_ms.load(Ordering::Acquire));
            let waited = tokio::time::timeout(deadline, lane.permits.acquire()).await;
            lane.waiting.fetch_sub(1, Ordering::AcqRel);
            match waited {
                Ok(Ok(p)) => p,
                _ => return admission.overloaded(service),
            }
        }
    };
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_service_sized_apart_keeps_its_own_bounds() {
        let a = Admission::new(Limits::default());
        let small = Limits {
            in_flight: 8,
            queued: 64,
            deadline: Duration::from_millis(50),
        };
        a.set_limits(Service::Portal, small);
        let portal = a.lane(Service::Portal);
        assert_eq!(portal.permits.available_permits(), 8);
        assert_eq!(portal.queued.load(Ordering::Relaxed), 64);
        assert_eq!(portal.deadline_ms.load(Ordering::Relaxed), 50);
        assert_eq!(a.lane(Service::Eligibility).permits.available_permits(), 64);
        a.set_limits(Service::Portal, Limits::default());
        assert_eq!(portal.permits.available_permits(), 64);
        assert!(
            a.render()
                .contains("dx_overloaded_total{service=\"portal\"} 0")
        );
    }

    #[test]
    fn every_endpoint_but_the_operations_routes_has_a_service() {
        for e in dx_protocol::wire::endpoints::ALL {
            let path = e.path.replace(['{', '}'], "");
            let s = Service::of(&path);
            assert_eq!(
                s.is_none(),
                ["/healthz", "/metrics"].contains(&e.path),
                "{}",
                e.path
            );
        }
        assert_eq!(
            Service::of("/v1/persons/P1/medications"),
            Some(Service::Prescription)
        );
        assert_eq!(
            Service::of("/v1/persons/P1/clinical-summary"),
            Some(Service::Ehr)
        );
        assert_eq!(
            Service::of("/v1/persons/P1/maternal"),
            Some(Service::Municipal)
        );
        assert_eq!(Service::of("/v1/portal/access-log"), Some(Service::Portal));
    }
}
