//! `GET /v1/portal/access-log`: a person reads who accessed their records; `POST
//! /v1/admin/writes`: the admin asks which acknowledged requests left no audit line.

use crate::auth::Auth;
use crate::extract::{Answer, Body, Params, Routes};
use crate::refusal::Refusal;
use crate::state::AppState;
use axum::Router;
use axum::extract::State;
use dx_protocol::wire::endpoints::{AccessLog, CheckWrites};
use dx_protocol::wire::{
    AccessLogResponse, MAX_WRITES_CHECKED, Role, WritesResponse, valid_request_id,
};

/// Most entries per page.
const MAX_PAGE: u32 = 500;

pub fn router() -> Router<AppState> {
    Router::new()
        .endpoint(AccessLog, access_log)
        .endpoint(CheckWrites, check_writes)
}

/// Which of the requests named (by their `x-request-id`) left no successful audit line — a
/// write is stored in the transaction of its line, so these are acknowledged writes lost.
async fn check_writes(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Body(req): Body<CheckWrites>,
) -> Result<Answer<CheckWrites>, Refusal> {
    caller.require(&[Role::Admin], "checking writes")?;
    if req.request_ids.len() > MAX_WRITES_CHECKED {
        return Err(Refusal::invalid(
            "too_many_items",
            format!("at most {MAX_WRITES_CHECKED} request ids at once"),
        )
        .at("request_ids"));
    }
    if let Some(i) = req.request_ids.iter().position(|id| !valid_request_id(id)) {
        return Err(Refusal::invalid(
            "invalid_request_id",
            "a request id is 1–64 characters of A–Z, a–z, 0–9, '.', '_' and '-'",
        )
        .at(format!("request_ids[{i}]")));
    }
    state.audit().flush().await;
    let checked = req.request_ids.len() as u64;
    let missing = state
        .blocking(move |s| s.missing_requests(&req.request_ids))
        .await?;
    Ok(Answer(WritesResponse { checked, missing }))
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
