//! Who may read a person's municipal records, and the person a request names.

use super::require_resident;
use crate::auth::principal::Principal;
use crate::consent::guard::require_consent;
use crate::refusal::Refusal;
use crate::state::AppState;
use chrono::NaiveDate;
use dx_protocol::wire::{ConsentKind, PersonRecord, Role};

/// The enrolled person with this id, or 404.
pub async fn person_by_id(state: &AppState, id: &str) -> Result<PersonRecord, Refusal> {
    if id.is_empty() || id.len() > 64 {
        return Err(Refusal::invalid(
            "invalid_field",
            "person id must be 1–64 characters",
        ));
    }
    let p = id.to_owned();
    state
        .blocking(move |s| s.person(&p))
        .await?
        .ok_or_else(|| Refusal::not_found("person_not_found", "no person with that id"))
}

/// Who may read a person's municipal records: the municipality of residence, the person
/// themself, and the `facility_roles` holding the person's consent of `kind`.
pub async fn require_reader(
    state: &AppState,
    caller: &Principal,
    person: &PersonRecord,
    facility_roles: &[Role],
    kind: ConsentKind,
    what: &str,
) -> Result<(), Refusal> {
    match caller.role {
        Role::Municipality => require_resident(caller, person),
        Role::Person if caller.subject() == person.id => Ok(()),
        Role::Person => Err(Refusal::forbidden(
            "not_your_record",
            "a person reads only their own records",
        )),
        r if facility_roles.contains(&r) => {
            require_consent(state, &person.id, caller.subject(), kind).await
        }
        _ => {
            let mut roles: Vec<Role> = facility_roles.to_vec();
            roles.extend([Role::Municipality, Role::Person]);
            caller.require(&roles, what)
        }
    }
}

/// A date that must not lie in the future (JST) nor before `birth`.
pub fn past_date(
    state: &AppState,
    on: NaiveDate,
    birth: NaiveDate,
    field: &str,
) -> Result<(), Refusal> {
    let today = state.clock().today_jst();
    if on > today {
        return Err(Refusal::broken_rule(
            "invalid_date",
            format!("{on} is in the future (today is {today})"),
        )
        .at(field));
    }
    if on < birth {
        return Err(Refusal::broken_rule(
            "invalid_date",
            format!("{on} is before the person's birth ({birth})"),
        )
        .at(field));
    }
    Ok(())
}
