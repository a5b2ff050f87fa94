//! A person's registered drug allergies and contraindicated drugs, for the prescription checks.

use super::DrugFlag;
use crate::refusal::Refusal;
use crate::state::AppState;

/// Registered drug allergies and contraindicated drugs of a person, for the prescription checks.
pub async fn drug_flags(state: &AppState, person_id: &str) -> Result<Vec<DrugFlag>, Refusal> {
    let (p, today) = (person_id.to_owned(), state.clock().today_jst());
    state.blocking(move |s| s.drug_flags(&p, today)).await
}
