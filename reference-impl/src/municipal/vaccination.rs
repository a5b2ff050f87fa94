//! Vaccination (予防接種): `GET /v1/vaccines` (the table), `POST /v1/vaccinations` (a facility or
//! the municipality of residence records a dose), `POST /v1/municipal/vaccinations/batch` (a
//! municipality uploads up to 1,000 doses from paper records, all or none),
//! `GET /v1/persons/{id}/vaccinations` and `GET /v1/persons/{id}/vaccination-schedule`.

use super::access::{past_date, person_by_id, require_reader};
use super::{NewDose, require_resident};
use crate::audit::AuditEvent;
use crate::auth::Auth;
use crate::auth::principal::Principal;
use crate::eligibility::resolve::resolve_person;
use crate::extract::{Answer, Body, Params, Routes};
use crate::refdata::vaccines;
use crate::refusal::Refusal;
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::{Json, Router};
use chrono::NaiveDate;
use dx_protocol::wire::endpoints::{
    ReadVaccinationSchedule, ReadVaccinations, RecordVaccination, VaccinationBatch, Vaccines,
};
use dx_protocol::wire::{
    ConsentKind, MAX_VACCINATION_BATCH, Role, ScheduleResponse, VaccinationBatchResponse,
    VaccinationHistory, VaccinationRequest, VaccineInfo,
};

pub fn router() -> Router<AppState> {
    Router::new()
        .endpoint(Vaccines, list)
        .endpoint(RecordVaccination, record)
        .endpoint(VaccinationBatch, batch)
        .endpoint(ReadVaccinations, history)
        .endpoint(ReadVaccinationSchedule, schedule)
}

/// Facilities that vaccinate and read vaccination records with consent.
const VACCINATORS: [Role; 2] = [Role::Hospital, Role::Clinic];

async fn list() -> Json<Vec<VaccineInfo>> {
    Json(vaccines::info())
}

/// Checks one dose of a request and resolves its person; `field` prefixes error fields.
async fn prepare(
    state: &AppState,
    caller: &Principal,
    req: &VaccinationRequest,
    field: &str,
) -> Result<NewDose, Refusal> {
    let vaccine = vaccines::vaccine(&req.vaccine).ok_or_else(|| {
        Refusal::broken_rule(
            "unknown_vaccine",
            format!(
                "{:?} is not in the vaccine table (GET /v1/vaccines)",
                req.vaccine
            ),
        )
        .at(format!("{field}vaccine"))
    })?;
    if let Some(lot) = &req.lot {
        if lot.is_empty()
            || lot.len() > 20
            || !lot.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        {
            return Err(
                Refusal::invalid("invalid_field", "lot: 1–20 letters, digits or hyphens")
                    .at(format!("{field}lot")),
            );
        }
    }
    let person = resolve_person(state, &req.person, &format!("{field}person")).await?;
    if caller.role == Role::Municipality {
        require_resident(caller, &person).map_err(|e| e.at(format!("{field}person")))?;
    }
    past_date(
        state,
        req.administered_on,
        person.birth_date,
        &format!("{field}administered_on"),
    )?;
    Ok(NewDose {
        person_id: person.id,
        birth_date: person.birth_date,
        vaccine,
        administered_on: req.administered_on,
        lot: req.lot.clone(),
        recorded_by: caller.sub.clone(),
        at: state.now(),
        field: field.to_owned(),
    })
}

fn dose_audit(caller: &Principal, d: &NewDose) -> AuditEvent {
    AuditEvent::new(
        d.at,
        caller,
        "vaccination.record",
        Some(d.person_id.clone()),
        Some(d.vaccine.code.into()),
        "ok",
    )
}

async fn record(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Body(req): Body<RecordVaccination>,
) -> Result<Answer<RecordVaccination>, Refusal> {
    let result = async {
        caller.require(
            &[Role::Hospital, Role::Clinic, Role::Municipality],
            "recording a vaccination",
        )?;
        let dose = prepare(&state, &caller, &req, "").await?;
        let audit = dose_audit(&caller, &dose);
        let mut out = state
            .blocking(move |s| s.record_doses(&[dose], &[audit]))
            .await?;
        out.pop()
            .ok_or_else(|| Refusal::internal("no dose was recorded"))
    }
    .await;
    let result = state
        .audited(&caller, "vaccination.record", None, result)
        .await;
    result.map(Answer)
}

async fn batch(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Body(req): Body<VaccinationBatch>,
) -> Result<Answer<VaccinationBatch>, Refusal> {
    let result = async {
        caller.require(&[Role::Municipality], "a batch upload of vaccinations")?;
        if req.items.is_empty() || req.items.len() > MAX_VACCINATION_BATCH {
            return Err(Refusal::invalid(
                "invalid_batch_size",
                format!("items must hold 1–{MAX_VACCINATION_BATCH} doses"),
            )
            .at("items"));
        }
        let mut doses = Vec::with_capacity(req.items.len());
        for (i, item) in req.items.iter().enumerate() {
            doses.push(prepare(&state, &caller, item, &format!("items[{i}].")).await?);
        }
        let audit: Vec<AuditEvent> = doses.iter().map(|d| dose_audit(&caller, d)).collect();
        let recorded = state
            .blocking(move |s| s.record_doses(&doses, &audit))
            .await?;
        Ok(VaccinationBatchResponse { recorded })
    }
    .await;
    let result = state
        .audited(&caller, "vaccination.batch", None, result)
        .await;
    result.map(Answer)
}

/// A person's doses, for a vaccinating facility with consent, the municipality of residence or
/// the person.
pub async fn history_of(
    state: &AppState,
    caller: &Principal,
    id: &str,
) -> Result<VaccinationHistory, Refusal> {
    let person = person_by_id(state, id).await?;
    require_reader(
        state,
        caller,
        &person,
        &VACCINATORS,
        ConsentKind::Vaccination,
        "vaccination history",
    )
    .await?;
    let p = person.id.clone();
    let vaccinations = state.blocking(move |s| s.vaccinations(&p)).await?;
    state
        .audit_read(caller, "vaccination.read", person.id.clone(), None)
        .await?;
    Ok(VaccinationHistory {
        person_id: person.id,
        vaccinations,
    })
}

async fn history(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> Result<Answer<ReadVaccinations>, Refusal> {
    let result = history_of(&state, &caller, &id).await;
    let result = state
        .audited(&caller, "vaccination.read", Some(id), result)
        .await;
    result.map(Answer)
}

async fn schedule(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    query: Result<Params<ReadVaccinationSchedule>, Refusal>,
) -> Result<Answer<ReadVaccinationSchedule>, Refusal> {
    let result = async {
        let Params(q) = query?;
        let person = person_by_id(&state, &id).await?;
        require_reader(
            &state,
            &caller,
            &person,
            &VACCINATORS,
            ConsentKind::Vaccination,
            "the vaccination schedule",
        )
        .await?;
        let on = q.on.unwrap_or_else(|| state.clock().today_jst());
        let p = person.id.clone();
        let given = state.blocking(move |s| s.vaccinations(&p)).await?;
        let recorded = |code: &str| -> Vec<NaiveDate> {
            given
                .iter()
                .filter(|v| v.vaccine == code && v.administered_on <= on)
                .map(|v| v.administered_on)
                .collect()
        };
        let entries = vaccines::schedule(person.birth_date, person.sex, on, &recorded);
        state
            .audit_read(&caller, "vaccination.schedule", person.id.clone(), None)
            .await?;
        Ok(ScheduleResponse {
            person_id: person.id,
            on,
            entries,
        })
    }
    .await;
    let result = state
        .audited(&caller, "vaccination.schedule", Some(id), result)
        .await;
    result.map(Answer)
}
