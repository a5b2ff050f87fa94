//! Public-expense and local-subsidy entitlements (公費負担医療・地方単独医療費助成):
//! `POST /v1/municipal/entitlements` — the municipality of residence registers a recipient's
//! entitlement with its validity; eligibility verification returns it with the coverage, so the
//! counter needs no paper certificate. A registration from a later date renews the entitlement
//! of the same law and payer (the old one ends the day before).

use super::require_resident;
use super::rules::check_entitlement;
use crate::audit::AuditEvent;
use crate::auth::Auth;
use crate::eligibility::resolve::resolve_person;
use crate::extract::{Answer, Body, Routes};
use crate::refusal::Refusal;
use crate::state::AppState;
use axum::Router;
use axum::extract::State;
use dx_protocol::wire::endpoints::RegisterEntitlement;
use dx_protocol::wire::{EntitlementResponse, PublicExpenseRecord, Role};

pub fn router() -> Router<AppState> {
    Router::new().endpoint(RegisterEntitlement, register)
}

async fn register(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Body(req): Body<RegisterEntitlement>,
) -> Result<Answer<RegisterEntitlement>, Refusal> {
    let action = "entitlement.register";
    let result = async {
        caller.require(&[Role::Municipality], "registering an entitlement")?;
        let entitlement = PublicExpenseRecord {
            law_code: req.law_code,
            payer_number: req.payer_number,
            recipient_number: req.recipient_number,
            valid_from: req.valid_from,
            valid_to: req.valid_to,
        };
        // The municipality's prefecture is its code's first two digits.
        let prefecture: u8 = caller.subject()[..2]
            .parse()
            .map_err(|_| Refusal::internal("municipality code"))?;
        check_entitlement(&entitlement, prefecture)?;
        let person = resolve_person(&state, &req.person, "person").await?;
        require_resident(&caller, &person).map_err(|e| e.at("person"))?;
        let audit = AuditEvent::new(
            state.now(),
            &caller,
            action,
            Some(person.id.clone()),
            Some(entitlement.law_code.clone()),
            "ok",
        );
        let (p, e, by) = (person.id.clone(), entitlement.clone(), caller.sub.clone());
        let previous_ends = state
            .blocking(move |s| s.register_entitlement(&p, &e, &by, &audit))
            .await?;
        Ok(EntitlementResponse {
            person_id: person.id,
            entitlement,
            previous_ends,
        })
    }
    .await;
    let result = state.audited(&caller, action, None, result).await;
    result.map(Answer)
}
