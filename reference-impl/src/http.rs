//! The router that joins the services' routers, with the operations routes (`/healthz`,
//! `/metrics`, `/v1/admin/stats`, `/v1/admin/clock`), the body limit and the metrics layer.

use crate::auth::Auth;
use crate::extract::MAX_BODY_BYTES;
use crate::extract::{Answer, Body, Routes};
use crate::metrics;
use crate::refusal::{Kind, Refusal};
use crate::state::AppState;
use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::response::IntoResponse;
use dx_protocol::wire::Role;
use dx_protocol::wire::endpoints::{Healthz, Metrics, MoveClock, Stats};

/// The whole API: every service's routes, operations routes, limits and metrics.
pub fn router(state: AppState) -> Router {
    let metrics = state.metrics().clone();
    let admission = state.admission().clone();
    Router::new()
        .merge(crate::auth::routes::router())
        .merge(crate::cards::routes::router())
        .merge(crate::hpki::routes::router())
        .merge(crate::eligibility::routes::router())
        .merge(crate::eligibility::qualifications::router())
        .merge(crate::eligibility::import::router())
        .merge(crate::consent::routes::router())
        .merge(crate::prescription::routes::router())
        .merge(crate::prescription::dispense::router())
        .merge(crate::ehr::items::router())
        .merge(crate::ehr::documents::router())
        .merge(crate::municipal::vaccination::router())
        .merge(crate::municipal::maternal::router())
        .merge(crate::municipal::care::router())
        .merge(crate::municipal::entitlements::router())
        .merge(crate::municipal::applications::router())
        .merge(crate::municipal::portal::router())
        .merge(crate::audit::routes::router())
        .merge(crate::suspension::routes::router())
        .endpoint(Healthz, healthz)
        .endpoint(Metrics, render_metrics)
        .endpoint(Stats, stats)
        .endpoint(MoveClock, move_clock)
        .merge(slow_store_router())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::middleware::map_response(crate::error::json_errors))
        .layer(axum::middleware::from_fn(request_id))
        .layer(axum::middleware::from_fn_with_state(
            admission,
            crate::admission::admit,
        ))
        .with_state(state)
        .layer(axum::middleware::from_fn_with_state(
            metrics,
            metrics::track,
        ))
        .layer(axum::middleware::from_fn(crate::error::head_limits))
}

/// The operations routes alone (`/healthz`, `/metrics`), for a listener of their own
/// (`--ops-addr`): probes and scrapers never queue behind the API's connections.
pub fn ops_router(state: AppState) -> Router {
    Router::new()
        .endpoint(Healthz, healthz)
        .endpoint(Metrics, render_metrics)
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::map_response(crate::error::json_errors))
        .with_state(state)
        .layer(axum::middleware::from_fn(crate::error::head_limits))
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
        state.metrics().render() + &state.admission().render(),
    )
}

async fn stats(
    State(state): State<AppState>,
    Auth(caller): Auth,
) -> Result<Answer<Stats>, Refusal> {
    caller.require(&[Role::Admin], "store statistics")?;
    state.audit().flush().await;
    Ok(Answer(state.blocking(|s| s.stats()).await?))
}

/// Moves a test exchange's clock forward (consent, token and refill windows); an exchange on the
/// wall clock answers `409 clock_fixed`.
async fn move_clock(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Body(req): Body<MoveClock>,
) -> Result<Answer<MoveClock>, Refusal> {
    caller.require(&[Role::Admin], "moving the clock")?;
    if !(0..=366 * 86_400).contains(&req.advance_seconds) {
        return Err(Refusal::invalid(
            "invalid_field",
            "advance_seconds must be 0 to 31,622,400 (366 days)",
        )
        .at("advance_seconds"));
    }
    if !state
        .clock()
        .advance(chrono::TimeDelta::seconds(req.advance_seconds))
    {
        return Err(Refusal::conflict(
            "clock_fixed",
            "this exchange runs on the wall clock; only a test exchange's clock moves",
        ));
    }
    Ok(Answer(dx_protocol::wire::ClockResponse {
        now: state.now(),
    }))
}

/// `POST /v1/admin/faults/slow-store`, in a build with the `faults` feature.
#[cfg(feature = "faults")]
fn slow_store_router() -> Router<AppState> {
    Router::new().endpoint(dx_protocol::wire::endpoints::SlowStore, slow_store)
}

/// No fault switches in a build without the `faults` feature: the route answers 404.
#[cfg(not(feature = "faults"))]
fn slow_store_router() -> Router<AppState> {
    Router::new()
}

#[cfg(feature = "faults")]
async fn slow_store(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Body(req): Body<dx_protocol::wire::endpoints::SlowStore>,
) -> Result<Answer<dx_protocol::wire::endpoints::SlowStore>, Refusal> {
    caller.require(&[Role::Admin], "slowing the store")?;
    let max = dx_protocol::wire::MAX_SLOW_STORE_MS;
    if req.delay_ms > max {
        return Err(
            Refusal::invalid("invalid_field", format!("delay_ms must be 0–{max}")).at("delay_ms"),
        );
    }
    state.slow_store(std::time::Duration::from_millis(u64::from(req.delay_ms)));
    Ok(Answer(dx_protocol::wire::SlowStoreResponse {
        delay_ms: req.delay_ms,
    }))
}

/// Middleware: takes the request's `x-request-id` (refusing a malformed one) for the audit
/// lines made while it is served.
async fn request_id(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let id = match req.headers().get(dx_protocol::wire::REQUEST_ID_HEADER) {
        None => None,
        Some(v) => match v
            .to_str()
            .ok()
            .filter(|s| dx_protocol::wire::valid_request_id(s))
        {
            Some(s) => Some(s.to_owned()),
            None => {
                return Refusal::invalid(
                    "invalid_request_id",
                    format!(
                        "x-request-id is 1–{} characters of A–Z, a–z, 0–9, '.', '_' and '-'",
                        dx_protocol::wire::MAX_REQUEST_ID
                    ),
                )
                .into_response();
            }
        },
    };
    crate::audit::with_request_id(id, next.run(req)).await
}

async fn not_found() -> Refusal {
    Refusal::not_found("no_route", "no such route; see docs/api.md")
}

async fn method_not_allowed() -> Refusal {
    Refusal::new(
        Kind::MethodNotAllowed,
        "method_not_allowed",
        "this route does not take that method",
    )
}
