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
    check(latest, state.now(), kind)
}
