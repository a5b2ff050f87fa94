//! `POST /v1/consents`: consent recorded outside verification (card reader or verbal).

use super::{Consent, verbal_allowed};
use crate::audit::AuditEvent;
use crate::auth::Auth;
use crate::auth::principal::Principal;
use crate::eligibility::resolve::resolve_person;
use crate::eligibility::{Identity, parse_presented};
use crate::extract::{Answer, Body, Routes};
use crate::refusal::Refusal;
use crate::state::AppState;
use axum::Router;
use axum::extract::State;
use dx_protocol::wire::endpoints::GiveConsent;
use dx_protocol::wire::{ConsentMethod, ConsentRequest, ConsentResponse, PersonRef};

pub fn router() -> Router<AppState> {
    Router::new().endpoint(GiveConsent, give)
}

async fn give(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Body(req): Body<GiveConsent>,
) -> Result<Answer<GiveConsent>, Refusal> {
    let result = give_inner(&state, &caller, req).await;
    let result = state.audited(&caller, "consent.record", None, result).await;
    result.map(Answer)
}

async fn give_inner(
    state: &AppState,
    caller: &Principal,
    req: ConsentRequest,
) -> Result<ConsentResponse, Refusal> {
    caller.require_facility("recording consent")?;
    match req.method {
        ConsentMethod::Verbal if !verbal_allowed(req.kind) => {
            if state.fault(crate::faults::Fault::RefusedRequestStored) {
                // The fault: the consent is recorded, then refused.
                if let Ok(person) = resolve_person(state, &req.person, "person").await {
                    let c = Consent::new(
                        &person.id,
                        caller.subject(),
                        req.kind,
                        req.method,
                        state.now(),
                    );
                    let audit = AuditEvent::new(
                        state.now(),
                        caller,
                        "consent.record",
                        Some(person.id.clone()),
                        None,
                        "ok",
                    );
                    let _ = state
                        .blocking(move |s| s.record_consents(&[c], &audit))
                        .await;
                }
            }
            return Err(Refusal::broken_rule(
                "verbal_consent_not_allowed",
                format!(
                    "verbal consent covers medication information only, not {}",
                    req.kind.as_str()
                ),
            )
            .at("method"));
        }
        ConsentMethod::Card
            if !matches!(parse_presented(&req.person, "person")?, Identity::Card(_)) =>
        {
            return Err(Refusal::invalid(
                "consent_needs_card",
                "card consent names the person by card_serial",
            )
            .at("person"));
        }
        ConsentMethod::Card => {
            crate::cards::present::present(state, caller, &req.person, "person")?;
        }
        _ => {}
    }
    let named = PersonRef {
        card_proof: None,
        ..req.person.clone()
    };
    let person = resolve_person(state, &named, "person").await?;
    if req.method == ConsentMethod::Verbal {
        super::guard::require_visit(state, &person.id, caller.subject()).await?;
    }
    let now = state.now();
    let consent = Consent::new(&person.id, caller.subject(), req.kind, req.method, now);
    let audit = AuditEvent::new(
        now,
        caller,
        "consent.record",
        Some(person.id.clone()),
        Some(req.kind.as_str().into()),
        "ok",
    );
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
