//! Bulk enrolment (admin): `POST /v1/admin/{persons,insurers,facilities,municipalities}` take
//! NDJSON, one record
//! per line in the population file's record format, validate every line, and store all of them in
//! one transaction or none.

use super::records::{validate_facility, validate_insurer, validate_municipality, validate_person};
use crate::auth::Auth;
use crate::extract::MAX_IMPORT_BODY_BYTES;
use crate::extract::{Answer, BulkBody, Routes};
use crate::refusal::Refusal;
use crate::state::AppState;
use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use dx_protocol::wire::endpoints::{
    ImportFacilities, ImportInsurers, ImportMunicipalities, ImportPersons,
};
use dx_protocol::wire::{ImportResponse, Role};
use serde::de::DeserializeOwned;

/// Most records in one import call.
const MAX_RECORDS: usize = 1_000_000;

pub fn router() -> Router<AppState> {
    Router::new()
        .endpoint(ImportPersons, persons)
        .endpoint(ImportInsurers, insurers)
        .endpoint(ImportFacilities, facilities)
        .endpoint(ImportMunicipalities, municipalities)
        .layer(DefaultBodyLimit::max(MAX_IMPORT_BODY_BYTES))
}

fn parse_ndjson<T: DeserializeOwned>(
    body: &[u8],
    check: fn(&T) -> Result<(), String>,
) -> Result<Vec<T>, Refusal> {
    let text = std::str::from_utf8(body)
        .map_err(|_| Refusal::invalid("malformed_body", "body is not UTF-8"))?;
    let mut out = Vec::new();
    for (n, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let field = format!("line {}", n + 1);
        let rec: T = serde_json::from_str(line).map_err(|e| {
            Refusal::invalid("invalid_record", format!("{field}: {e}")).at(field.clone())
        })?;
        check(&rec)
            .map_err(|e| Refusal::invalid("invalid_record", format!("{field}: {e}")).at(field))?;
        out.push(rec);
        if out.len() > MAX_RECORDS {
            return Err(Refusal::invalid(
                "too_many_records",
                format!("at most {MAX_RECORDS} records per call"),
            ));
        }
    }
    if out.is_empty() {
        return Err(Refusal::invalid(
            "empty_import",
            "the body holds no records",
        ));
    }
    Ok(out)
}

async fn persons(
    State(state): State<AppState>,
    Auth(caller): Auth,
    BulkBody(body): BulkBody,
) -> Result<Answer<ImportPersons>, Refusal> {
    caller.require(&[Role::Admin], "importing persons")?;
    let records = parse_ndjson(&body, validate_person)?;
    let imported = state.blocking(move |s| s.import_persons(&records)).await?;
    Ok(Answer(ImportResponse { imported }))
}

async fn insurers(
    State(state): State<AppState>,
    Auth(caller): Auth,
    BulkBody(body): BulkBody,
) -> Result<Answer<ImportInsurers>, Refusal> {
    caller.require(&[Role::Admin], "importing insurers")?;
    let records = parse_ndjson(&body, validate_insurer)?;
    let imported = state.blocking(move |s| s.import_insurers(&records)).await?;
    Ok(Answer(ImportResponse { imported }))
}

async fn facilities(
    State(state): State<AppState>,
    Auth(caller): Auth,
    BulkBody(body): BulkBody,
) -> Result<Answer<ImportFacilities>, Refusal> {
    caller.require(&[Role::Admin], "importing facilities")?;
    let records = parse_ndjson(&body, validate_facility)?;
    let imported = state
        .blocking(move |s| s.import_facilities(&records))
        .await?;
    Ok(Answer(ImportResponse { imported }))
}

async fn municipalities(
    State(state): State<AppState>,
    Auth(caller): Auth,
    BulkBody(body): BulkBody,
) -> Result<Answer<ImportMunicipalities>, Refusal> {
    caller.require(&[Role::Admin], "importing municipalities")?;
    let records = parse_ndjson(&body, validate_municipality)?;
    let imported = state
        .blocking(move |s| s.import_municipalities(&records))
        .await?;
    Ok(Answer(ImportResponse { imported }))
}
