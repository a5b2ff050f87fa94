//! The person's portal (マイナポータル) pages of the municipal services: own vaccinations,
//! maternal-child health records, care certifications and checkup reports; and care consent
//! given to a care provider (`POST /v1/portal/consents`). Medications are the portal's
//! clinical summary (`GET /v1/portal/clinical-summary?kind=prescription`); the access log is
//! `GET /v1/portal/access-log`; applications are in `applications.rs`.

use super::{care, maternal, vaccination};
use crate::audit::AuditEvent;
use crate::auth::Auth;
use crate::auth::principal::Principal;
use crate::consent::Consent;
use crate::extract::{Answer, Body, Routes};
use crate::refusal::Refusal;
use crate::state::AppState;
use axum::Router;
use axum::extract::State;
use chrono::TimeDelta;
use dx_protocol::wire::clins::DocumentKind;
use dx_protocol::wire::endpoints::{
    PortalCareCertification, PortalCheckups, PortalConsent, PortalMaternal, PortalVaccinations,
};
use dx_protocol::wire::{
    CheckupReportsResponse, ConsentKind, ConsentMethod, ConsentResponse, FacilityKind, Role,
};

/// How long care consent given on the portal lasts (the span of a care plan; an assumption —
/// FACTS has no figure).
pub const CARE_CONSENT_VALIDITY: TimeDelta = TimeDelta::days(365);

pub fn router() -> Router<AppState> {
    Router::new()
        .endpoint(PortalVaccinations, vaccinations)
        .endpoint(PortalMaternal, maternal_records)
        .endpoint(PortalCareCertification, care_certifications)
        .endpoint(PortalCheckups, checkups)
        .endpoint(PortalConsent, consent)
}

fn person(caller: &Principal, what: &str) -> Result<String, Refusal> {
    caller.require(&[Role::Person], what)?;
    Ok(caller.subject().to_owned())
}

async fn vaccinations(
    State(state): State<AppState>,
    Auth(caller): Auth,
) -> Result<Answer<PortalVaccinations>, Refusal> {
    let result = async {
        let id = person(&caller, "the portal's vaccinations")?;
        vaccination::history_of(&state, &caller, &id).await
    }
    .await;
    let result = state
        .audited(&caller, "portal.vaccinations", None, result)
        .await;
    result.map(Answer)
}

async fn maternal_records(
    State(state): State<AppState>,
    Auth(caller): Auth,
) -> Result<Answer<PortalMaternal>, Refusal> {
    let result = async {
        let id = person(&caller, "the portal's maternal-child health records")?;
        maternal::records_of(&state, &caller, &id).await
    }
    .await;
    let result = state
        .audited(&caller, "portal.maternal", None, result)
        .await;
    result.map(Answer)
}

async fn care_certifications(
    State(state): State<AppState>,
    Auth(caller): Auth,
) -> Result<Answer<PortalCareCertification>, Refusal> {
    let result = async {
        let id = person(&caller, "the portal's care certifications")?;
        care::certifications_of(&state, &caller, &id, None).await
    }
    .await;
    let result = state.audited(&caller, "portal.care", None, result).await;
    result.map(Answer)
}

async fn checkups(
    State(state): State<AppState>,
    Auth(caller): Auth,
) -> Result<Answer<PortalCheckups>, Refusal> {
    let result = async {
        let id = person(&caller, "the portal's checkup reports")?;
        let (p, today) = (id.clone(), state.clock().today_jst());
        let reports = state
            .blocking(move |s| s.documents_of(&p, DocumentKind::CheckupReport, today))
            .await?;
        state
            .audit_read(&caller, "portal.checkups", id.clone(), None)
            .await?;
        Ok(CheckupReportsResponse {
            person_id: id,
            reports: reports
                .into_iter()
                .map(|d| crate::ehr::summary_of(d).0)
                .collect(),
        })
    }
    .await;
    let result = state
        .audited(&caller, "portal.checkups", None, result)
        .await;
    result.map(Answer)
}

async fn consent(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Body(req): Body<PortalConsent>,
) -> Result<Answer<PortalConsent>, Refusal> {
    let action = "portal.consent";
    let result = async {
        let id = person(&caller, "consent on the portal")?;
        if req.kind != ConsentKind::Care {
            return Err(Refusal::broken_rule(
                "invalid_kind",
                format!(
                    "the portal gives care consent; {} consent is given at the card reader",
                    req.kind.as_str()
                ),
            )
            .at("kind"));
        }
        let code = req.provider.clone();
        let provider = state.blocking(move |s| s.facility(&code)).await?;
        if provider.is_none_or(|f| f.kind != FacilityKind::CareProvider) {
            return Err(Refusal::broken_rule(
                "not_a_care_provider",
                format!("{} is not a registered care provider", req.provider),
            )
            .at("provider"));
        }
        let now = state.now();
        let consent = Consent {
            person_id: id.clone(),
            facility_code: req.provider.clone(),
            kind: ConsentKind::Care,
            method: ConsentMethod::Portal,
            given_at: now,
            expires_at: now + CARE_CONSENT_VALIDITY,
        };
        let audit = AuditEvent::new(now, &caller, action, Some(id), Some(req.provider), "ok");
        let stored = consent.clone();
        state
            .blocking(move |s| s.record_consents(&[stored], &audit))
            .await?;
        Ok(ConsentResponse {
            person_id: consent.person_id,
            kind: consent.kind,
            method: consent.method,
            given_at: consent.given_at,
            expires_at: consent.expires_at,
        })
    }
    .await;
    let result = state.audited(&caller, action, None, result).await;
    result.map(Answer)
}
