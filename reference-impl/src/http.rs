//! HTTP plumbing shared by every service: the application state, the JSON extractor that turns
//! every rejection into our error body, body limits, metrics, and the router that joins the
//! services' routers.

use crate::audit::{AuditEvent, AuditSink};
use crate::auth::{Auth, Keys, Principal};
use crate::clock::Clock;
use crate::error::ApiError;
use crate::metrics::{self, Metrics};
use crate::refdata::DrugMaster;
use crate::store::Store;
use crate::wire::{Role, StatsResponse};
use axum::extract::rejection::JsonRejection;
use axum::extract::{DefaultBodyLimit, FromRequest, Request, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use std::sync::Arc;

/// Largest request body accepted by ordinary routes.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;
/// Largest body of a bulk import call (NDJSON); larger populations are sent in several calls.
pub const MAX_IMPORT_BODY_BYTES: usize = 256 * 1024 * 1024;

struct Inner {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    keys: Keys,
    audit: AuditSink,
    metrics: Arc<Metrics>,
    /// Faults switched on (bits of [`crate::faults::Fault`]); always 0 without the feature.
    faults: std::sync::atomic::AtomicU8,
}

/// Shared by all handlers; cheap to clone.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

impl AppState {
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>, keys: Keys) -> Self {
        let audit = AuditSink::start(store.clone());
        Self(Arc::new(Inner {
            store,
            clock,
            keys,
            audit,
            metrics: Arc::default(),
            faults: std::sync::atomic::AtomicU8::new(0),
        }))
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
        self.0
            .faults
            .fetch_or(f.bit(), std::sync::atomic::Ordering::Relaxed);
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
    ) -> Result<T, ApiError>
    where
        T: Send + 'static,
        E: Into<ApiError> + Send + 'static,
    {
        let store = self.0.store.clone();
        match tokio::task::spawn_blocking(move || f(&*store)).await {
            Ok(r) => r.map_err(Into::into),
            Err(e) => Err(ApiError::internal(format!("worker failed: {e}"))),
        }
    }

    /// Records a refused request in the audit log (successful writes audit inside their own
    /// transaction; successful reads call [`AppState::audit_read`]).
    pub async fn audit_refusal(
        &self,
        who: &Principal,
        action: &'static str,
        person_id: Option<String>,
        err: &ApiError,
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
        result: Result<T, ApiError>,
    ) -> Result<T, ApiError> {
        if let Err(e) = &result {
            self.audit_refusal(who, action, person_id, e).await;
        }
        result
    }

    /// Records a read of personal data.
    pub async fn audit_read(
        &self,
        who: &Principal,
        action: &'static str,
        person_id: String,
        target: Option<String>,
    ) {
        self.0
            .audit
            .record(AuditEvent::new(
                self.now(),
                who,
                action,
                Some(person_id),
                target,
                "ok",
            ))
            .await;
    }
}

/// `axum::Json` with rejections mapped to our error body: malformed JSON → 400 `malformed_json`,
/// wrong shape → 400 `invalid_body`, wrong content type → 415, too large → 413 `body_too_large`.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(v)) => Ok(ApiJson(v)),
            Err(rejection) => Err(json_rejection(rejection)),
        }
    }
}

fn json_rejection(r: JsonRejection) -> ApiError {
    let text = r.body_text();
    match r {
        JsonRejection::JsonSyntaxError(_) => ApiError::bad_request("malformed_json", text),
        JsonRejection::JsonDataError(_) => ApiError::bad_request("invalid_body", text),
        JsonRejection::MissingJsonContentType(_) => ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            text,
        ),
        other if other.status() == StatusCode::PAYLOAD_TOO_LARGE => ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            format!("request body exceeds the limit of {MAX_BODY_BYTES} bytes"),
        ),
        other => ApiError::new(other.status(), "invalid_body", text),
    }
}

/// The whole API: every service's routes, operations routes, limits and metrics.
pub fn router(state: AppState) -> Router {
    let metrics = state.0.metrics.clone();
    Router::new()
        .merge(crate::auth::router())
        .merge(crate::eligibility::router())
        .merge(crate::consent::router())
        .merge(crate::prescription::router())
        .merge(crate::ehr::router())
        .merge(crate::municipal::router())
        .merge(crate::audit::router())
        .route("/healthz", get(healthz))
        .route("/metrics", get(render_metrics))
        .route("/v1/admin/stats", get(stats))
        .route("/v1/admin/clock", axum::routing::post(move_clock))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
        .layer(axum::middleware::from_fn_with_state(
            metrics,
            metrics::track,
        ))
}

async fn healthz() -> &'static str {
    "ok"
}

async fn render_metrics(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4",
        )],
        state.0.metrics.render(),
    )
}

async fn stats(
    State(state): State<AppState>,
    Auth(caller): Auth,
) -> Result<Json<StatsResponse>, ApiError> {
    caller.require(&[Role::Admin], "store statistics")?;
    state.audit().flush().await;
    Ok(Json(state.blocking(|s| s.stats()).await?))
}

/// Moves a test exchange's clock forward (consent, token and refill windows); an exchange on the
/// wall clock answers `409 clock_fixed`.
async fn move_clock(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ApiJson(req): ApiJson<crate::wire::ClockRequest>,
) -> Result<Json<crate::wire::ClockResponse>, ApiError> {
    caller.require(&[Role::Admin], "moving the clock")?;
    if !(0..=366 * 86_400).contains(&req.advance_seconds) {
        return Err(ApiError::bad_request(
            "invalid_field",
            "advance_seconds must be 0 to 31,622,400 (366 days)",
        )
        .at("advance_seconds"));
    }
    if !state
        .clock()
        .advance(chrono::TimeDelta::seconds(req.advance_seconds))
    {
        return Err(ApiError::conflict(
            "clock_fixed",
            "this exchange runs on the wall clock; only a test exchange's clock moves",
        ));
    }
    Ok(Json(crate::wire::ClockResponse { now: state.now() }))
}

async fn not_found() -> ApiError {
    ApiError::not_found("no_route", "no such route; see docs/api.md")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this route does not take that method",
    )
}
