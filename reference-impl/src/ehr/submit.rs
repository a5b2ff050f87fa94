//! What every submission to EHR sharing checks: an authoring facility, and the enrolled patient
//! the Bundle names.

use super::parse::ParsedPatient;
use crate::eligibility::{lookup, parse_identity};
use crate::refusal::Refusal;
use crate::state::AppState;
use crate::store::error::StoreError;
use dx_protocol::wire::{PersonRecord, Role};

/// Who may author items and documents.
pub const AUTHORS: [Role; 3] = [Role::Hospital, Role::Clinic, Role::Dental];

/// The enrolled person a Bundle's Patient names (by insurance, current or past), or 422.
pub async fn resolve_patient(state: &AppState, p: &ParsedPatient) -> Result<PersonRecord, Refusal> {
    let field = "bundle.Patient.identifier";
    let identity = parse_identity(&p.person, field)?;
    let person = state
        .blocking(move |s| lookup(s, &identity))
        .await?
        .ok_or_else(|| {
            Refusal::broken_rule(
                "unknown_patient",
                "no person holds the insurance number of the Patient",
            )
            .at(field)
        })?;
    if p.birth_date.is_some_and(|b| b != person.birth_date) {
        return Err(Refusal::broken_rule(
            "patient_mismatch",
            "Patient.birthDate does not match the insured person",
        )
        .at("bundle.Patient.birthDate"));
    }
    Ok(person)
}

pub fn facility_mismatch() -> Refusal {
    Refusal::forbidden(
        "facility_mismatch",
        "the authoring Organization of the bundle is not the calling facility",
    )
    .at("bundle.Organization.identifier")
}

pub fn duplicate(code: &'static str, what: &str) -> impl FnOnce(StoreError) -> Refusal {
    let what = what.to_owned();
    move |e| match e {
        StoreError::Duplicate(_) => Refusal::conflict(
            code,
            format!("{what} was already submitted by this facility; nothing was stored"),
        )
        .at("bundle.identifier"),
        other => other.into(),
    }
}
