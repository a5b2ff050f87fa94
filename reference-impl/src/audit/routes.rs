//! `GET /v1/portal/access-log`: a person reads who accessed their records.

use crate::auth::Auth;
use crate::extract::{Answer, Params, Routes};
use crate::refusal::Refusal;
use crate::state::AppState;
use axum::Router;
use axum::extract::State;
use dx_protocol::wire::endpoints::AccessLog;
use dx_protocol::wire::{AccessLogResponse, Role};

/// Most entries per page.
const MAX_PAGE: u32 = 500;

pub fn router() -> Router<AppState> {
    Router::new().endpoint(AccessLog, access_log)
}

async fn access_log(
    State(state): State<AppState>,
    Auth(caller): Auth,
    page: Result<Params<AccessLog>, Refusal>,
) -> Result<Answer<AccessLog>, Refusal> {
    caller.require(&[Role::Person], "the access log")?;
    let Params(page) = page?;
    let limit = page.limit.unwrap_or(100);
    if limit == 0 || limit > MAX_PAGE {
        return Err(
            Refusal::invalid("invalid_limit", format!("limit must be 1–{MAX_PAGE}")).at("limit"),
        );
    }
    // Show the person everything up to this moment, including reads still in the queue.
    state.audit().flush().await;
    let person = caller.subject().to_owned();
    let entries = state
        .blocking(move |s| s.access_log(&person, page.before, limit))
        .await?;
    let next_before = (entries.len() == limit as usize)
        .then(|| entries.last().map(|e| e.id))
        .flatten();
    Ok(Answer(AccessLogResponse {
        entries,
        next_before,
    }))
}
