//! Maternal-child health (母子保健): `POST /v1/maternal/pregnancies` (pregnancy registration,
//! 妊娠届 — by the confirming facility or the municipality of residence),
//! `POST /v1/maternal/prenatal-checkups` (妊婦健診, by facilities, inside a registered
//! pregnancy), `POST /v1/maternal/infant-checkups` (乳幼児健診, by facilities or the
//! municipality's group checkups) and `GET /v1/persons/{id}/maternal` (the municipality of
//! residence; the person reads theirs on the portal).

use super::access::{past_date, person_by_id, require_reader};
use super::rules::INFANT_CHECKUP_MAX_AGE;
use super::{NewMaternal, require_resident};
use crate::audit::AuditEvent;
use crate::auth::Auth;
use crate::auth::principal::Principal;
use crate::eligibility::resolve::resolve_person;
use crate::extract::{Answer, Body, Routes};
use crate::refdata::vaccines::age_on;
use crate::refusal::Refusal;
use crate::state::AppState;
use axum::Router;
use axum::extract::{Path, State};
use chrono::NaiveDate;
use dx_protocol::wire::endpoints::{
    InfantCheckup, PrenatalCheckup, ReadMaternal, RegisterPregnancy,
};
use dx_protocol::wire::{
    ConsentKind, MaternalKind, MaternalRecord, MaternalResponse, PersonRecord, PersonRef, Role, Sex,
};
use serde_json::json;

pub fn router() -> Router<AppState> {
    Router::new()
        .endpoint(RegisterPregnancy, pregnancy)
        .endpoint(PrenatalCheckup, prenatal)
        .endpoint(InfantCheckup, infant)
        .endpoint(ReadMaternal, read)
}

/// Longest span from confirmation to the expected delivery, in days (a full term is 280 days
/// from the last period; confirmation comes weeks after it).
const MAX_TERM_DAYS: i64 = 300;

/// A measurement inside its plausible range (NaN is outside every range).
fn range(v: f64, lo: f64, hi: f64, field: &str) -> Result<(), Refusal> {
    if !(lo..=hi).contains(&v) {
        return Err(Refusal::broken_rule(
            "implausible_value",
            format!("{field} {v} is outside {lo}–{hi}"),
        )
        .at(field));
    }
    Ok(())
}

/// Resolves the person, checks the caller may record for them and the date.
async fn subject(
    state: &AppState,
    caller: &Principal,
    roles: &[Role],
    person: &PersonRef,
    on: NaiveDate,
    what: &str,
) -> Result<PersonRecord, Refusal> {
    caller.require(roles, what)?;
    let p = resolve_person(state, person, "person").await?;
    if caller.role == Role::Municipality {
        require_resident(caller, &p).map_err(|e| e.at("person"))?;
    }
    past_date(state, on, p.birth_date, "on")?;
    Ok(p)
}

fn require_woman(p: &PersonRecord) -> Result<(), Refusal> {
    if p.sex == Sex::Female {
        Ok(())
    } else {
        Err(Refusal::broken_rule("not_applicable", "pregnancy records are for women").at("person"))
    }
}

async fn store(
    state: &AppState,
    caller: &Principal,
    action: &'static str,
    r: NewMaternal,
) -> Result<MaternalRecord, Refusal> {
    let audit = AuditEvent::new(
        r.at,
        caller,
        action,
        Some(r.person_id.clone()),
        Some(r.kind.as_str().into()),
        "ok",
    );
    state.blocking(move |s| s.insert_maternal(&r, &audit)).await
}

async fn pregnancy(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Body(req): Body<RegisterPregnancy>,
) -> Result<Answer<RegisterPregnancy>, Refusal> {
    let action = "maternal.pregnancy";
    let result = async {
        let p = subject(
            &state,
            &caller,
            &[Role::Hospital, Role::Clinic, Role::Municipality],
            &req.person,
            req.confirmed_on,
            "registering a pregnancy",
        )
        .await
        .map_err(|e| {
            if e.field.as_deref() == Some("on") {
                e.at("confirmed_on")
            } else {
                e
            }
        })?;
        require_woman(&p)?;
        let span = (req.expected_delivery - req.confirmed_on).num_days();
        if !(1..=MAX_TERM_DAYS).contains(&span) {
            return Err(Refusal::broken_rule(
                "invalid_date",
                format!("expected_delivery must fall 1–{MAX_TERM_DAYS} days after confirmed_on"),
            )
            .at("expected_delivery"));
        }
        store(
            &state,
            &caller,
            action,
            NewMaternal {
                kind: MaternalKind::Pregnancy,
                person_id: p.id,
                on: req.confirmed_on,
                end: Some(req.expected_delivery),
                recorded_by: caller.sub.clone(),
                at: state.now(),
                details: json!({"expected_delivery": req.expected_delivery}),
            },
        )
        .await
    }
    .await;
    let result = state.audited(&caller, action, None, result).await;
    result.map(Answer)
}

async fn prenatal(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Body(req): Body<PrenatalCheckup>,
) -> Result<Answer<PrenatalCheckup>, Refusal> {
    let action = "maternal.prenatal_checkup";
    let result = async {
        let p = subject(
            &state,
            &caller,
            &[Role::Hospital, Role::Clinic],
            &req.person,
            req.on,
            "recording a prenatal checkup",
        )
        .await?;
        require_woman(&p)?;
        range(
            f64::from(req.gestational_weeks),
            4.0,
            42.0,
            "gestational_weeks",
        )?;
        range(req.weight_kg, 30.0, 200.0, "weight_kg")?;
        range(f64::from(req.systolic_mmhg), 60.0, 250.0, "systolic_mmhg")?;
        let below_systolic = f64::from(req.systolic_mmhg) - 1.0;
        range(
            f64::from(req.diastolic_mmhg),
            30.0,
            below_systolic,
            "diastolic_mmhg",
        )?;
        store(
            &state,
            &caller,
            action,
            NewMaternal {
                kind: MaternalKind::PrenatalCheckup,
                person_id: p.id,
                on: req.on,
                end: None,
                recorded_by: caller.sub.clone(),
                at: state.now(),
                details: json!({
                    "gestational_weeks": req.gestational_weeks,
                    "weight_kg": req.weight_kg,
                    "systolic_mmhg": req.systolic_mmhg,
                    "diastolic_mmhg": req.diastolic_mmhg,
                }),
            },
        )
        .await
    }
    .await;
    let result = state.audited(&caller, action, None, result).await;
    result.map(Answer)
}

async fn infant(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Body(req): Body<InfantCheckup>,
) -> Result<Answer<InfantCheckup>, Refusal> {
    let action = "maternal.infant_checkup";
    let result = async {
        let p = subject(
            &state,
            &caller,
            &[Role::Hospital, Role::Clinic, Role::Municipality],
            &req.person,
            req.on,
            "recording an infant checkup",
        )
        .await?;
        let age = age_on(p.birth_date, req.on);
        if age >= INFANT_CHECKUP_MAX_AGE {
            return Err(Refusal::broken_rule(
                "not_applicable",
                format!(
                    "infant checkups are for children under {INFANT_CHECKUP_MAX_AGE}; this person is {age}"
                ),
            )
            .at("person"));
        }
        range(req.height_cm, 30.0, 130.0, "height_cm")?;
        range(req.weight_kg, 1.0, 40.0, "weight_kg")?;
        let months = (req.on - p.birth_date).num_days() * 12 / 365;
        store(
            &state,
            &caller,
            action,
            NewMaternal {
                kind: MaternalKind::InfantCheckup,
                person_id: p.id,
                on: req.on,
                end: None,
                recorded_by: caller.sub.clone(),
                at: state.now(),
                details: json!({
                    "age_months": months,
                    "height_cm": req.height_cm,
                    "weight_kg": req.weight_kg,
                    "development": req.development,
                }),
            },
        )
        .await
    }
    .await;
    let result = state.audited(&caller, action, None, result).await;
    result.map(Answer)
}

/// A person's records, for the municipality of residence or the person.
pub async fn records_of(
    state: &AppState,
    caller: &Principal,
    id: &str,
) -> Result<MaternalResponse, Refusal> {
    let person = person_by_id(state, id).await?;
    require_reader(
        state,
        caller,
        &person,
        &[],
        ConsentKind::Checkup,
        "maternal-child health records",
    )
    .await?;
    let p = person.id.clone();
    let records = state.blocking(move |s| s.maternal_records(&p)).await?;
    state
        .audit_read(caller, "maternal.read", person.id.clone(), None)
        .await?;
    Ok(MaternalResponse {
        person_id: person.id,
        records,
    })
}

async fn read(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> Result<Answer<ReadMaternal>, Refusal> {
    let result = records_of(&state, &caller, &id).await;
    let result = state
        .audited(&caller, "maternal.read", Some(id), result)
        .await;
    result.map(Answer)
}
