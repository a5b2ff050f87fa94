//! Online applications (オンライン申請): a person files one on the portal
//! (`POST /v1/portal/applications`, only for themself) and follows its status
//! (`GET /v1/portal/applications`); the municipality of residence lists what it must decide
//! (`GET /v1/municipal/applications`) and decides (`POST /v1/municipal/applications/{id}/decision`).

use super::access::person_by_id;
use super::rules::CARE_INSURED_AGE;
use super::{ApplicationOwner, ApplicationQuery, NewApplication, check_text};
use crate::audit::AuditEvent;
use crate::auth::Auth;
use crate::auth::principal::Principal;
use crate::extract::{Answer, Body, Params, Routes};
use crate::refdata::vaccines::age_on;
use crate::refusal::Refusal;
use crate::state::AppState;
use axum::Router;
use axum::extract::{Path, State};
use dx_protocol::wire::ApplicationsQuery;
use dx_protocol::wire::endpoints::{
    ApplicationInbox, DecideApplication, FileApplication, MyApplications,
};
use dx_protocol::wire::{
    Application, ApplicationKind, ApplicationStatus, ApplicationsResponse, Decision,
    DecisionRequest, Role,
};

/// Most applications per page.
const MAX_PAGE: u32 = 200;
/// Longest note or reason, in characters.
const MAX_TEXT: usize = 500;

pub fn router() -> Router<AppState> {
    Router::new()
        .endpoint(FileApplication, file)
        .endpoint(MyApplications, mine)
        .endpoint(ApplicationInbox, inbox)
        .endpoint(DecideApplication, decide)
}

async fn file(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Body(req): Body<FileApplication>,
) -> Result<Answer<FileApplication>, Refusal> {
    let action = "application.file";
    let result = async {
        caller.require(&[Role::Person], "filing an application")?;
        if req.person_id != caller.subject() {
            return Err(Refusal::forbidden(
                "application_for_someone_else",
                "a person files applications only for themself",
            )
            .at("person_id"));
        }
        check_text(&req.note, MAX_TEXT, "note")?;
        let person = person_by_id(&state, &req.person_id).await?;
        let today = state.clock().today_jst();
        if req.kind == ApplicationKind::CareCertification
            && age_on(person.birth_date, today) < CARE_INSURED_AGE
        {
            return Err(Refusal::broken_rule(
                "not_applicable",
                format!("care certification is for persons aged {CARE_INSURED_AGE} and over"),
            )
            .at("kind"));
        }
        let now = state.now();
        let new = NewApplication {
            person_id: person.id.clone(),
            municipality: person.municipality,
            kind: req.kind,
            note: req.note,
            at: now,
        };
        let audit = AuditEvent::new(
            now,
            &caller,
            action,
            Some(person.id),
            Some(req.kind.as_str().into()),
            "ok",
        );
        state
            .blocking(move |s| s.file_application(&new, &audit))
            .await
    }
    .await;
    let result = state.audited(&caller, action, None, result).await;
    result.map(Answer)
}

async fn page(
    state: &AppState,
    owner: ApplicationOwner,
    page: Result<ApplicationsQuery, Refusal>,
) -> Result<ApplicationsResponse, Refusal> {
    let page = page?;
    let limit = page.limit.unwrap_or(50);
    if limit == 0 || limit > MAX_PAGE {
        return Err(
            Refusal::invalid("invalid_limit", format!("limit must be 1–{MAX_PAGE}")).at("limit"),
        );
    }
    let status = page
        .status
        .as_deref()
        .map(|s| {
            ApplicationStatus::parse(s).ok_or_else(|| {
                Refusal::invalid(
                    "invalid_status",
                    "status must be submitted, approved or rejected",
                )
                .at("status")
            })
        })
        .transpose()?;
    let q = ApplicationQuery {
        owner,
        status,
        before: page.before,
        limit,
    };
    let rows = state.blocking(move |s| s.applications(&q)).await?;
    let next_before = (rows.len() == limit as usize)
        .then(|| rows.last().map(|(seq, _)| *seq))
        .flatten();
    Ok(ApplicationsResponse {
        applications: rows.into_iter().map(|(_, a)| a).collect(),
        next_before,
    })
}

async fn mine(
    State(state): State<AppState>,
    Auth(caller): Auth,
    query: Result<Params<MyApplications>, Refusal>,
) -> Result<Answer<MyApplications>, Refusal> {
    caller.require(&[Role::Person], "your applications")?;
    let owner = ApplicationOwner::Person(caller.subject().to_owned());
    page(&state, owner, query.map(|Params(q)| q))
        .await
        .map(Answer)
}

async fn inbox(
    State(state): State<AppState>,
    Auth(caller): Auth,
    query: Result<Params<ApplicationInbox>, Refusal>,
) -> Result<Answer<ApplicationInbox>, Refusal> {
    let result = async {
        caller.require(&[Role::Municipality], "the applications inbox")?;
        let owner = ApplicationOwner::Municipality(caller.subject().to_owned());
        page(&state, owner, query.map(|Params(q)| q)).await
    }
    .await;
    let result = state
        .audited(&caller, "application.list", None, result)
        .await;
    result.map(Answer)
}

async fn decide_inner(
    state: &AppState,
    caller: &Principal,
    id: &str,
    req: DecisionRequest,
) -> Result<Application, Refusal> {
    caller.require(&[Role::Municipality], "deciding an application")?;
    let i = id.to_owned();
    let app = state
        .blocking(move |s| s.application(&i))
        .await?
        .ok_or_else(|| Refusal::not_found("application_not_found", "no such application"))?;
    if app.municipality != caller.subject() {
        return Err(Refusal::forbidden(
            "wrong_municipality",
            "the application was filed with another municipality",
        ));
    }
    check_text(&req.reason, MAX_TEXT, "reason")?;
    let status = match req.decision {
        Decision::Approved => ApplicationStatus::Approved,
        Decision::Rejected => ApplicationStatus::Rejected,
    };
    if status == ApplicationStatus::Rejected
        && req.reason.as_deref().is_none_or(|r| r.trim().is_empty())
    {
        return Err(
            Refusal::invalid("reason_required", "a rejection states its reason").at("reason"),
        );
    }
    let now = state.now();
    let audit = AuditEvent::new(
        now,
        caller,
        "application.decide",
        Some(app.person_id.clone()),
        Some(app.application_id.clone()),
        "ok",
    );
    let i = id.to_owned();
    state
        .blocking(move |s| s.decide_application(&i, status, req.reason, now, &audit))
        .await
}

async fn decide(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    Body(req): Body<DecideApplication>,
) -> Result<Answer<DecideApplication>, Refusal> {
    let result = decide_inner(&state, &caller, &id, req).await;
    let result = state
        .audited(&caller, "application.decide", None, result)
        .await;
    result.map(Answer)
}
