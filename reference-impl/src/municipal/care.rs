//! Long-term care (介護保険): `POST /v1/care/certifications` (the municipality of residence
//! certifies a care level for a period; a new certification supersedes the one in force) and
//! `GET /v1/persons/{id}/care-certification` (a care provider with the person's care consent
//! reads the certification in force; the municipality of residence reads the history).
//! Facilities see the certification in force alongside eligibility ([`in_force`]).

use super::access::{person_by_id, require_reader};
use super::rules::check_certification;
use super::{NewCertification, require_resident};
use crate::audit::AuditEvent;
use crate::auth::Auth;
use crate::auth::principal::Principal;
use crate::eligibility::resolve::resolve_person;
use crate::extract::{Answer, Body, Params, Routes};
use crate::refusal::Refusal;
use crate::state::AppState;
use axum::Router;
use axum::extract::{Path, State};
use chrono::NaiveDate;
use dx_protocol::wire::endpoints::{CertifyCare, ReadCareCertification};
use dx_protocol::wire::{CareCertification, CareCertificationsResponse, ConsentKind, Role};

pub fn router() -> Router<AppState> {
    Router::new()
        .endpoint(CertifyCare, certify)
        .endpoint(ReadCareCertification, read)
}

/// The certification in force on `on` among a person's `certifications`, newest first.
pub fn in_force(certifications: &[CareCertification], on: NaiveDate) -> Option<CareCertification> {
    certifications
        .iter()
        .find(|c| c.valid_from <= on && on <= c.valid_to)
        .cloned()
}

async fn certify(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Body(req): Body<CertifyCare>,
) -> Result<Answer<CertifyCare>, Refusal> {
    let action = "care.certify";
    let result = async {
        caller.require(&[Role::Municipality], "certifying a care level")?;
        let person = resolve_person(&state, &req.person, "person").await?;
        require_resident(&caller, &person).map_err(|e| e.at("person"))?;
        check_certification(person.birth_date, req.valid_from, req.valid_to)?;
        let now = state.now();
        let new = NewCertification {
            person_id: person.id.clone(),
            municipality: caller.subject().to_owned(),
            level: req.level,
            valid_from: req.valid_from,
            valid_to: req.valid_to,
            at: now,
        };
        let audit = AuditEvent::new(
            now,
            &caller,
            action,
            Some(person.id),
            Some(req.level.as_str().into()),
            "ok",
        );
        state.blocking(move |s| s.certify_care(&new, &audit)).await
    }
    .await;
    let result = state.audited(&caller, action, None, result).await;
    result.map(Answer)
}

/// Certifications the caller may see: the one in force for a care provider (refused when the
/// latest has expired), every one for the municipality of residence and the person.
pub async fn certifications_of(
    state: &AppState,
    caller: &Principal,
    id: &str,
    on: Option<NaiveDate>,
) -> Result<CareCertificationsResponse, Refusal> {
    let person = person_by_id(state, id).await?;
    require_reader(
        state,
        caller,
        &person,
        &[Role::CareProvider],
        ConsentKind::Care,
        "care certifications",
    )
    .await?;
    let p = person.id.clone();
    let all = state.blocking(move |s| s.care_certifications(&p)).await?;
    let certifications = if caller.role == Role::CareProvider {
        let on = on.unwrap_or_else(|| state.clock().today_jst());
        match all.iter().find(|c| c.valid_from <= on && on <= c.valid_to) {
            Some(c) => vec![c.clone()],
            None => {
                return Err(match all.iter().find(|c| c.valid_to < on) {
                    Some(last) => Refusal::gone(
                        "certification_expired",
                        format!(
                            "the certification ended on {}; no renewal is registered",
                            last.valid_to
                        ),
                    ),
                    None => Refusal::not_found(
                        "no_certification",
                        format!("no care-level certification is in force on {on}"),
                    ),
                });
            }
        }
    } else {
        all
    };
    state
        .audit_read(caller, "care.read", person.id.clone(), None)
        .await?;
    Ok(CareCertificationsResponse {
        person_id: person.id,
        certifications,
    })
}

async fn read(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    query: Result<Params<ReadCareCertification>, Refusal>,
) -> Result<Answer<ReadCareCertification>, Refusal> {
    let result = match query {
        Ok(Params(q)) => certifications_of(&state, &caller, &id, q.on).await,
        Err(e) => Err(e),
    };
    let result = state.audited(&caller, "care.read", Some(id), result).await;
    result.map(Answer)
}
