//! Resolving a request's reference to an enrolled person.

use super::{lookup, parse_identity};
use crate::refusal::Refusal;
use crate::state::AppState;
use dx_protocol::wire::{PersonRecord, PersonRef};

/// Resolves a reference to an enrolled person, or 404 `person_not_found`.
pub async fn resolve_person(
    state: &AppState,
    r: &PersonRef,
    field: &str,
) -> Result<PersonRecord, Refusal> {
    let id = parse_identity(r, field)?;
    let found = state.blocking(move |s| lookup(s, &id)).await?;
    found.ok_or_else(|| {
        Refusal::not_found("person_not_found", "no person with that identity").at(field)
    })
}
