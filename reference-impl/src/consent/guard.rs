//! The consent guard every clinical read passes.

use super::check;
use crate::refusal::Refusal;
use crate::state::AppState;
use dx_protocol::wire::ConsentKind;

/// Refuses unless `facility` holds the person's consent of `kind` now.
pub async fn require_consent(
    state: &AppState,
    person_id: &str,
    facility: &str,
    kind: ConsentKind,
) -> Result<(), Refusal> {
    if state.fault(crate::faults::Fault::ConsentUnchecked) {
        return Ok(());
    }
    let (p, f) = (person_id.to_owned(), facility.to_owned());
    let latest = state
        .blocking(move |s| s.latest_consent_expiry(&p, &f, kind))
        .await?;
    consent_held(state, latest, kind)
}

/// As [`require_consent`], given when the latest consent of `kind` expires (read by the caller
/// with its other reads).
pub fn consent_held(
    state: &AppState,
    latest_expiry: Option<chrono::DateTime<chrono::Utc>>,
    kind: ConsentKind,
) -> Result<(), Refusal> {
    if state.fault(crate::faults::Fault::ConsentUnchecked) {
        return Ok(());
    }
    check(latest_expiry, state.now(), kind)
}

/// Refuses verbal consent unless `facility` verified the person's eligibility (by card or
/// insurance number) today: a facility cannot grant itself consent for a person it never saw.
pub async fn require_visit(
    state: &AppState,
    person_id: &str,
    facility: &str,
) -> Result<(), Refusal> {
    let since = crate::clock::start_of_day_jst(state.now());
    let (p, actor) = (person_id.to_owned(), format!("facility:{facility}"));
    let visited = state
        .blocking(move |s| s.verified_since(&p, &actor, since))
        .await?;
    if visited || state.fault(crate::faults::Fault::VisitUnchecked) {
        return Ok(());
    }
    Err(Refusal::forbidden(
        "no_visit",
        "verbal consent is taken at a visit: verify the patient's eligibility (by card or insurance number) at this facility today first",
    )
    .at("person"))
}
