//! Prescribing side: registration, the stand-alone check, the medication view.

use super::checks::{Candidate, CheckScope, find_warnings, flag_warnings};
use super::lines::{check_days, validate_lines};
use super::refill::MAX_USES;
use super::signature::verify_prescription;
use super::{HISTORY_DAYS, NewPrescription, bundle};
use crate::audit::AuditEvent;
use crate::auth::Auth;
use crate::auth::principal::Principal;
use crate::clock::jst;
use crate::consent::guard::{consent_held, require_consent};
use crate::eligibility::resolve::resolve_person;
use crate::eligibility::rules::status_on;
use crate::eligibility::{Identity, parse_identity};
use crate::extract::{Answer, Body, Params, Routes};
use crate::refdata::{Drug, DrugMaster};
use crate::refusal::Refusal;
use crate::state::AppState;
use axum::Router;
use axum::extract::{Path, State};
use chrono::{NaiveDate, TimeDelta};
use dx_protocol::wire::MedicationsQuery;
use dx_protocol::wire::endpoints::{CheckPrescription, ReadMedications, RegisterPrescription};
use dx_protocol::wire::{
    CheckRequest, CheckResponse, ConsentKind, MedicationEntry, MedicationsResponse, PersonRef,
    PrescriptionKind, QualificationStatus, RegisterPrescriptionRequest,
    RegisterPrescriptionResponse, Role, Warning,
};

const PRESCRIBERS: [Role; 3] = [Role::Hospital, Role::Clinic, Role::Dental];

pub fn router() -> Router<AppState> {
    Router::new()
        .endpoint(RegisterPrescription, register)
        .endpoint(CheckPrescription, check)
        .endpoint(ReadMedications, medications)
}

/// What the checks look at: the person's recent history, their registered allergies and
/// contraindicated drugs (EHR sharing), and whether the caller may see the details.
struct CheckContext {
    history: Vec<super::HistoryItem>,
    flags: Vec<crate::ehr::DrugFlag>,
    disclose: bool,
}

async fn check_context(
    state: &AppState,
    caller: &Principal,
    person_id: &str,
    start: NaiveDate,
) -> Result<CheckContext, Refusal> {
    let (p, facility) = (person_id.to_owned(), caller.subject().to_owned());
    let (dates, today) = (
        (start - TimeDelta::days(HISTORY_DAYS), start),
        state.clock().today_jst(),
    );
    let reads = state
        .blocking(move |s| s.check_reads(&p, &facility, dates, today))
        .await?;
    let disclose = consent_held(
        state,
        reads.medication_consent_until,
        ConsentKind::Medication,
    )
    .is_ok();
    Ok(CheckContext {
        history: reads.history,
        flags: reads.flags,
        disclose,
    })
}

fn warnings_for(
    lines: &[(&str, &'static Drug, u16)],
    start: NaiveDate,
    ctx: &CheckContext,
    caller_facility: &str,
    include_same_facility: bool,
) -> Vec<Warning> {
    let candidates: Vec<Candidate<'_>> = lines
        .iter()
        .map(|&(code, drug, days)| Candidate {
            code,
            drug,
            start,
            days,
        })
        .collect();
    let scope = CheckScope {
        caller_facility,
        include_same_facility,
        disclose: ctx.disclose,
    };
    let master = DrugMaster::get();
    let mut out = find_warnings(&candidates, &ctx.history, scope, master);
    out.extend(flag_warnings(&candidates, &ctx.flags, ctx.disclose, master));
    out
}

async fn register(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Body(req): Body<RegisterPrescription>,
) -> Result<Answer<RegisterPrescription>, Refusal> {
    let result = register_inner(&state, &caller, req).await;
    let result = state
        .audited(&caller, "prescription.register", None, result)
        .await;
    result.map(Answer)
}

async fn register_inner(
    state: &AppState,
    caller: &Principal,
    req: RegisterPrescriptionRequest,
) -> Result<RegisterPrescriptionResponse, Refusal> {
    caller.require(&PRESCRIBERS, "registering prescriptions")?;
    let parsed = bundle::parse(&req.bundle, state.drugs())?;
    crate::fhir_read::guide_rules(
        state,
        &req.bundle,
        dx_protocol::wire::guides::rules::prescription(),
    )?;
    if parsed.facility_code != caller.subject() {
        return Err(Refusal::forbidden(
            "facility_mismatch",
            "the Organization of the bundle is not the calling facility",
        )
        .at("bundle.Organization.identifier"));
    }
    let today = state.clock().today_jst();
    let issued_on = parsed.issued_at.with_timezone(&jst()).date_naive();
    if issued_on > today || issued_on < today - TimeDelta::days(1) {
        return Err(Refusal::broken_rule(
            "issue_date_out_of_range",
            format!("issued {issued_on}; register on the day of issue ({today})"),
        )
        .at("bundle.Composition.date"));
    }
    if parsed.uses > MAX_USES || (parsed.uses > 1 && req.kind == PrescriptionKind::InHospital) {
        return Err(Refusal::broken_rule(
            "refill_uses_exceeded",
            format!("a refill prescription allows at most {MAX_USES} uses; in-hospital ones one"),
        )
        .at("bundle.MedicationRequest.dispenseRequest.numberOfRepeatsAllowed"));
    }
    for it in &parsed.items {
        check_days(
            it.drug,
            it.days,
            &it.field.replace(
                "medicationCodeableConcept.coding[0].code",
                "dispenseRequest.expectedSupplyDuration.value",
            ),
        )?;
        if let (true, Some(bar)) = (parsed.uses > 1, it.drug.refill_bar) {
            return Err(Refusal::broken_rule(
                "refill_not_allowed",
                format!(
                    "{} is a {}; it cannot be prescribed as a refill",
                    it.drug.name,
                    bar.as_str()
                ),
            )
            .at(it.field.clone()));
        }
    }
    let person_ref = PersonRef {
        insurer_number: Some(parsed.coverage.insurer_number.clone()),
        symbol: Some(parsed.coverage.symbol.clone()),
        number: Some(parsed.coverage.number.clone()),
        branch: Some(parsed.coverage.branch.clone()),
        ..PersonRef::default()
    };
    let identity = parse_identity(&person_ref, "bundle.Coverage")?;
    let Identity::Insurance(key) = identity.clone() else {
        unreachable!("built from insurance fields")
    };
    let person = state
        .blocking(move |s| s.registration_reads(&identity))
        .await?;
    let person = person.ok_or_else(|| {
        Refusal::broken_rule(
            "unknown_coverage",
            "no person holds the insurance number in the bundle",
        )
        .at("bundle.Coverage")
    })?;
    let q = person.qualifications.iter().find(|q| {
        q.insurer_number == key.insurer_number
            && q.symbol == key.symbol
            && q.number == key.number
            && q.branch == key.branch
    });
    if q.map(|q| status_on(q, issued_on)) != Some(QualificationStatus::Valid) {
        return Err(Refusal::broken_rule(
            "coverage_not_valid",
            format!("the insurance in the bundle is not valid on {issued_on}"),
        )
        .at("bundle.Coverage"));
    }
    if person.birth_date != parsed.patient_birth_date {
        return Err(Refusal::broken_rule(
            "patient_mismatch",
            "Patient.birthDate does not match the insured person",
        )
        .at("bundle.Patient.birthDate"));
    }
    let signature = match req.kind {
        PrescriptionKind::InHospital => None,
        PrescriptionKind::Electronic => {
            let (_, jws) = verify_prescription(
                state,
                &req.bundle,
                &parsed.practitioner_id,
                parsed.practitioner_url.as_deref().unwrap_or_default(),
            )?;
            Some(jws)
        }
    };
    let ctx = check_context(state, caller, &person.id, issued_on).await?;
    let lines: Vec<_> = parsed
        .items
        .iter()
        .map(|i| (i.code.as_str(), i.drug, i.days))
        .collect();
    let warnings = warnings_for(&lines, issued_on, &ctx, caller.subject(), false);
    let new = NewPrescription {
        kind: req.kind,
        facility_code: parsed.facility_code,
        person_id: person.id.clone(),
        practitioner_id: parsed.practitioner_id,
        document_id: parsed.document_id,
        issued_on,
        registered_at: state.now(),
        uses_allowed: parsed.uses,
        bundle: serde_json::to_string(&req.bundle).map_err(|e| Refusal::internal(e.to_string()))?,
        signature,
        items: parsed
            .items
            .iter()
            .map(|i| super::Item {
                code: i.drug.yj.clone(),
                days: i.days,
                quantity: i.quantity,
            })
            .collect(),
    };
    let audit = AuditEvent::new(
        state.now(),
        caller,
        "prescription.register",
        Some(person.id.clone()),
        None,
        "ok",
    );
    let keys = state.keys().clone();
    let (uses_allowed, kind) = (new.uses_allowed, new.kind);
    let (prescription_id, access_code) = state
        .blocking(move |s| {
            // The candidates are drawn from the document (unique at its facility), not from the
            // id, which a registration rolled back hands on to the next one.
            let document = format!("{}/{}", new.facility_code, new.document_id);
            let mut code = |attempt: u32| {
                format!(
                    "{:06}",
                    keys.derive_u64("access-code", &document, attempt) % 1_000_000
                )
            };
            s.insert_prescription(&new, &mut code, &audit)
        })
        .await?;
    Ok(RegisterPrescriptionResponse {
        prescription_id,
        kind,
        access_code,
        person_id: person.id,
        issued_on,
        uses_allowed,
        warnings,
    })
}

async fn check(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Body(req): Body<CheckPrescription>,
) -> Result<Answer<CheckPrescription>, Refusal> {
    let result = check_inner(&state, &caller, req).await;
    let result = state
        .audited(&caller, "prescription.check", None, result)
        .await;
    result.map(Answer)
}

async fn check_inner(
    state: &AppState,
    caller: &Principal,
    req: CheckRequest,
) -> Result<CheckResponse, Refusal> {
    caller.require_facility("duplicate and interaction checks")?;
    let lines = validate_lines(&req.items, "items", state.drugs())?;
    let person = resolve_person(state, &req.person, "person").await?;
    let start = req.start_date.unwrap_or_else(|| state.clock().today_jst());
    let ctx = check_context(state, caller, &person.id, start).await?;
    let refs: Vec<_> = lines
        .iter()
        .map(|l| (l.code.as_str(), l.drug, l.days))
        .collect();
    let warnings = warnings_for(
        &refs,
        start,
        &ctx,
        caller.subject(),
        req.include_same_facility,
    );
    state
        .audit_read(caller, "prescription.check", person.id.clone(), None)
        .await?;
    Ok(CheckResponse {
        person_id: person.id,
        warnings,
        details_disclosed: ctx.disclose,
    })
}

async fn medications(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(person_id): Path<String>,
    query: Result<Params<ReadMedications>, Refusal>,
) -> Result<Answer<ReadMedications>, Refusal> {
    let result = medications_inner(&state, &caller, &person_id, query.map(|Params(q)| q)).await;
    let result = state
        .audited(&caller, "medications.read", Some(person_id), result)
        .await;
    result.map(Answer)
}

async fn medications_inner(
    state: &AppState,
    caller: &Principal,
    person_id: &str,
    query: Result<MedicationsQuery, Refusal>,
) -> Result<MedicationsResponse, Refusal> {
    caller.require_facility("reading medication information")?;
    let q = query?;
    let days = q.days.unwrap_or(HISTORY_DAYS);
    if !(1..=HISTORY_DAYS).contains(&days) {
        return Err(
            Refusal::invalid("invalid_days", format!("days must be 1–{HISTORY_DAYS}")).at("days"),
        );
    }
    let person = resolve_person(state, &PersonRef::by_id(person_id), "person_id").await?;
    require_consent(state, &person.id, caller.subject(), ConsentKind::Medication).await?;
    let to = state.clock().today_jst();
    let from = to - TimeDelta::days(days);
    let p = person.id.clone();
    let mut history = state.blocking(move |s| s.history(&p, from, to)).await?;
    history.sort_by(|a, b| b.date.cmp(&a.date).then_with(|| a.code.cmp(&b.code)));
    let master = state.drugs();
    let entries = history
        .into_iter()
        .filter_map(|h| {
            let d = master.by_code(&h.code)?;
            Some(MedicationEntry {
                source: h.source,
                date: h.date,
                facility_code: h.facility_code,
                code: d.yj.clone(),
                name: d.name.clone(),
                ingredient: d.ingredient.to_owned(),
                route: d.route.as_str().to_owned(),
                days: h.days,
                prescription_id: h.prescription_id,
            })
        })
        .collect();
    state
        .audit_read(caller, "medications.read", person.id.clone(), None)
        .await?;
    Ok(MedicationsResponse {
        person_id: person.id,
        from,
        to,
        entries,
    })
}
