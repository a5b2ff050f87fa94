//! `POST /v1/admin/suspensions` and `GET /v1/admin/suspensions` (admin).

use crate::audit::AuditEvent;
use crate::auth::Auth;
use crate::extract::{Answer, Body, Routes};
use crate::refusal::Refusal;
use crate::state::AppState;
use axum::Router;
use axum::extract::State;
use dx_protocol::wire::endpoints::{SetSuspension, Suspensions};
use dx_protocol::wire::{MAX_SUSPENSION_REASON, Role, Suspension, SuspensionsResponse};

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
