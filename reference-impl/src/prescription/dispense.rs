//! Pharmacy side: retrieval by access code, dispensing results (electronic and paper), and the
//! prescriber's cancellation before dispensing.

use super::lines::{Line, validate_lines};
use super::refill::{check_use, next_window, planned_next};
use super::signature::verify_signature;
use super::{NewDispensation, StoredPrescription, UseTransition};
use crate::audit::AuditEvent;
use crate::auth::Auth;
use crate::auth::principal::Principal;
use crate::eligibility::resolve::resolve_person;
use crate::eligibility::{lookup, parse_identity};
use crate::extract::{Answer, Body, Params, Routes};
use crate::refusal::Refusal;
use crate::state::AppState;
use axum::Router;
use axum::extract::{Path, State};
use dx_protocol::codes::validate_facility_code;
use dx_protocol::wire::endpoints::{
    CancelPrescription, Dispense, PaperDispense, RetrievePrescription,
};
use dx_protocol::wire::{
    CancelResponse, DispenseRequest, DispenseResponse, PaperDispenseRequest, PaperDispenseResponse,
    PersonRef, PrescriptionKind, PrescriptionStatus, RefillState, RetrieveResponse, Role,
};

pub fn router() -> Router<AppState> {
    Router::new()
        .endpoint(RetrievePrescription, retrieve)
        .endpoint(Dispense, dispense)
        .endpoint(CancelPrescription, cancel)
        .endpoint(PaperDispense, paper)
}

fn not_found() -> Refusal {
    Refusal::not_found(
        "prescription_not_found",
        "no active prescription matches that access code and person",
    )
}

async fn load(state: &AppState, id: &str) -> Result<StoredPrescription, Refusal> {
    let id = id.to_owned();
    state
        .blocking(move |s| s.prescription(&id))
        .await?
        .ok_or_else(|| Refusal::not_found("prescription_not_found", "no prescription with that id"))
}

fn refill_state(p: &StoredPrescription) -> RefillState {
    RefillState {
        uses_allowed: p.uses_allowed,
        uses_done: p.uses_done,
        next_window: next_window(p),
    }
}

async fn retrieve(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(code): Path<String>,
    query: Result<Params<RetrievePrescription>, Refusal>,
) -> Result<Answer<RetrievePrescription>, Refusal> {
    let result = retrieve_inner(&state, &caller, &code, query.map(|Params(q)| q)).await;
    let result = state
        .audited(&caller, "prescription.retrieve", None, result)
        .await;
    result.map(Answer)
}

async fn retrieve_inner(
    state: &AppState,
    caller: &Principal,
    code: &str,
    query: Result<PersonRef, Refusal>,
) -> Result<RetrieveResponse, Refusal> {
    caller.require(&[Role::Pharmacy], "retrieving prescriptions")?;
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(
            Refusal::invalid("invalid_access_code", "the access code has 6 digits")
                .at("access_code"),
        );
    }
    let person_ref = query?;
    let identity = parse_identity(&person_ref, "query")?;
    let code = code.to_owned();
    let (p, person) = state
        .blocking(move |s| {
            Ok::<_, crate::store::StoreError>((
                s.prescription_by_access_code(&code)?,
                lookup(s, &identity)?,
            ))
        })
        .await?;
    // An unknown code and a code of someone else's prescription answer alike.
    let (Some(p), Some(person)) = (p, person) else {
        return Err(not_found());
    };
    if p.person_id != person.id {
        return Err(not_found());
    }
    state
        .audit_read(
            caller,
            "prescription.retrieve",
            p.person_id.clone(),
            Some(p.id.clone()),
        )
        .await?;
    let bundle = serde_json::from_str(&p.bundle)
        .map_err(|e| Refusal::internal(format!("stored bundle unreadable: {e}")))?;
    Ok(RetrieveResponse {
        prescription_id: p.id.clone(),
        status: p.status,
        facility_code: p.facility_code.clone(),
        person_id: p.person_id.clone(),
        issued_on: p.issued_on,
        refill: refill_state(&p),
        bundle,
    })
}

async fn dispense(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    Body(req): Body<Dispense>,
) -> Result<Answer<Dispense>, Refusal> {
    let result = dispense_inner(&state, &caller, &id, req).await;
    let result = state
        .audited(&caller, "prescription.dispense", None, result)
        .await;
    result.map(Answer)
}

async fn dispense_inner(
    state: &AppState,
    caller: &Principal,
    id: &str,
    req: DispenseRequest,
) -> Result<DispenseResponse, Refusal> {
    caller.require(&[Role::Pharmacy], "registering dispensing results")?;
    let p = load(state, id).await?;
    if p.kind == PrescriptionKind::InHospital {
        return Err(Refusal::conflict(
            "not_dispensable",
            "in-hospital prescriptions are information only",
        ));
    }
    if p.access_code.as_deref() != Some(req.dispensation.access_code.as_str()) {
        return Err(Refusal::forbidden(
            "access_code_mismatch",
            "the access code is not this prescription's",
        )
        .at("dispensation.access_code"));
    }
    let lines = validate_lines(&req.dispensation.items, "dispensation.items", state.drugs())?;
    let master = state.drugs();
    let prescribed: Vec<&str> = p
        .items
        .iter()
        .filter_map(|i| master.by_code(&i.code))
        .map(|d| d.ingredient)
        .collect();
    if let Some((i, l)) = lines
        .iter()
        .enumerate()
        .find(|(_, l)| !prescribed.contains(&l.drug.ingredient))
    {
        return Err(Refusal::broken_rule(
            "item_not_prescribed",
            format!("{} is not on the prescription", l.drug.name),
        )
        .at(format!("dispensation.items[{i}].code")));
    }
    let today = state.clock().today_jst();
    // The fault: one use more than the prescription allows.
    let allowed = p.uses_allowed + u8::from(state.fault(crate::faults::Fault::RefillLimitOffByOne));
    check_use(
        &StoredPrescription {
            uses_allowed: allowed,
            ..p.clone()
        },
        today,
    )?;
    verify_signature(state, &req.signature, caller.subject(), req.dispensation).await?;
    let use_number = p.uses_done + 1;
    let remaining = allowed - use_number;
    let supply = lines
        .iter()
        .filter(|l| !l.drug.as_needed)
        .map(|l| l.days)
        .max()
        .unwrap_or(0);
    let transition = UseTransition {
        expect_uses_done: p.uses_done,
        status: if remaining == 0 {
            PrescriptionStatus::Completed
        } else {
            PrescriptionStatus::Active
        },
        next_planned_on: (remaining > 0).then(|| planned_next(today, supply)),
    };
    let new = NewDispensation {
        prescription_id: Some(p.id.clone()),
        pharmacy_code: caller.subject().to_owned(),
        prescriber_facility: p.facility_code.clone(),
        person_id: p.person_id.clone(),
        dispensed_on: today,
        recorded_at: state.now(),
        use_number,
        pharmacist_id: Some(req.signature.practitioner_id.clone()),
        signature: Some(req.signature.value.clone()),
        items: lines.iter().map(Line::to_item).collect(),
    };
    let audit = AuditEvent::new(
        state.now(),
        caller,
        "prescription.dispense",
        Some(p.person_id.clone()),
        Some(p.id.clone()),
        "ok",
    );
    let t = transition.clone();
    let dispensation_id = state
        .blocking(move |s| s.insert_dispensation(&new, Some(&t), &audit))
        .await?;
    let after = StoredPrescription {
        uses_done: use_number,
        status: transition.status,
        next_planned_on: transition.next_planned_on,
        ..p
    };
    Ok(DispenseResponse {
        dispensation_id,
        prescription_id: after.id.clone(),
        use_number,
        uses_remaining: remaining,
        dispensed_on: today,
        status: after.status,
        next_window: next_window(&after),
    })
}

async fn paper(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Body(req): Body<PaperDispense>,
) -> Result<Answer<PaperDispense>, Refusal> {
    let result = paper_inner(&state, &caller, req).await;
    let result = state
        .audited(&caller, "dispensation.paper", None, result)
        .await;
    result.map(Answer)
}

async fn paper_inner(
    state: &AppState,
    caller: &Principal,
    req: PaperDispenseRequest,
) -> Result<PaperDispenseResponse, Refusal> {
    caller.require(&[Role::Pharmacy], "registering dispensing results")?;
    validate_facility_code(&req.prescriber_facility).map_err(|e| {
        Refusal::invalid("invalid_facility_code", format!("prescriber_facility: {e}"))
            .at("prescriber_facility")
    })?;
    let lines = validate_lines(&req.items, "items", state.drugs())?;
    let person = resolve_person(state, &req.person, "person").await?;
    let today = state.clock().today_jst();
    let new = NewDispensation {
        prescription_id: None,
        pharmacy_code: caller.subject().to_owned(),
        prescriber_facility: req.prescriber_facility,
        person_id: person.id.clone(),
        dispensed_on: today,
        recorded_at: state.now(),
        use_number: 1,
        pharmacist_id: None,
        signature: None,
        items: lines.iter().map(Line::to_item).collect(),
    };
    let audit = AuditEvent::new(
        state.now(),
        caller,
        "dispensation.paper",
        Some(person.id.clone()),
        None,
        "ok",
    );
    let dispensation_id = state
        .blocking(move |s| s.insert_dispensation(&new, None, &audit))
        .await?;
    Ok(PaperDispenseResponse {
        dispensation_id,
        person_id: person.id,
        dispensed_on: today,
    })
}

async fn cancel(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> Result<Answer<CancelPrescription>, Refusal> {
    let result = cancel_inner(&state, &caller, &id).await;
    let result = state
        .audited(&caller, "prescription.cancel", None, result)
        .await;
    result.map(Answer)
}

async fn cancel_inner(
    state: &AppState,
    caller: &Principal,
    id: &str,
) -> Result<CancelResponse, Refusal> {
    caller.require(
        &[Role::Hospital, Role::Clinic, Role::Dental],
        "cancelling prescriptions",
    )?;
    let p = load(state, id).await?;
    if p.facility_code != caller.subject() {
        return Err(Refusal::forbidden(
            "not_your_prescription",
            "only the issuing facility may cancel a prescription",
        ));
    }
    match p.status {
        PrescriptionStatus::Cancelled => {
            return Err(Refusal::conflict(
                "already_cancelled",
                "the prescription is already cancelled",
            ));
        }
        _ if p.uses_done > 0 || p.status == PrescriptionStatus::Completed => {
            return Err(Refusal::conflict(
                "already_dispensed",
                "a dispensed prescription cannot be cancelled",
            ));
        }
        _ => {}
    }
    let audit = AuditEvent::new(
        state.now(),
        caller,
        "prescription.cancel",
        Some(p.person_id.clone()),
        Some(p.id.clone()),
        "ok",
    );
    let pid = p.id.clone();
    state
        .blocking(move |s| s.cancel_prescription(&pid, &audit))
        .await?;
    Ok(CancelResponse {
        prescription_id: p.id,
        status: PrescriptionStatus::Cancelled,
    })
}
