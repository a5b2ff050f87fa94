//! Pharmacy side: retrieval by access code, dispensing results (electronic and paper), the
//! prescriber's cancellation before dispensing, and unlocking retrieval after wrong codes.
//!
//! A prescription is reached only through its patient: retrieval needs the access code and the
//! patient's card or insurance number; a dispensing is accepted only from a pharmacy that
//! retrieved the prescription in the last 24 hours. [`CODE_ATTEMPTS`] wrong codes in a row named
//! with one patient's identity lock retrieval by code for that patient until the prescriber or the
//! patient (at the portal) unlocks it, and a pharmacy presenting more than
//! [`crate::limits::CODE_FAILURES_PER_MINUTE`] wrong codes a minute is refused with 429. Every
//! failed attempt is audited with the patient it named, so it shows in their access log; a
//! prescription the caller may not act on answers exactly as one that does not exist.

use super::lines::{Line, validate_lines};
use super::refill::{check_use, next_window, planned_next};
use super::signature::verify_dispensing;
use super::{NewDispensation, StoredPrescription, UseTransition};
use crate::audit::AuditEvent;
use crate::auth::Auth;
use crate::auth::principal::Principal;
use crate::eligibility::resolve::resolve_person;
use crate::eligibility::{Identity, lookup, parse_identity};
use crate::extract::{Answer, Body, Params, Routes};
use crate::refusal::Refusal;
use crate::state::AppState;
use axum::Router;
use axum::extract::{Path, State};
use chrono::TimeDelta;
use dx_protocol::codes::validate_facility_code;
use dx_protocol::wire::endpoints::{
    CancelPrescription, Dispense, PaperDispense, PortalUnlockPrescriptions, RetrievePrescription,
    UnlockPrescription,
};
use dx_protocol::wire::{
    CancelResponse, DispenseRequest, DispenseResponse, PaperDispenseRequest, PaperDispenseResponse,
    PersonRef, PrescriptionKind, PrescriptionStatus, RefillState, RetrieveResponse, Role,
    UnlockResponse,
};

pub fn router() -> Router<AppState> {
    Router::new()
        .endpoint(RetrievePrescription, retrieve)
        .endpoint(Dispense, dispense)
        .endpoint(CancelPrescription, cancel)
        .endpoint(PaperDispense, paper)
        .endpoint(UnlockPrescription, unlock)
        .endpoint(PortalUnlockPrescriptions, portal_unlock)
}

/// Wrong access codes in a row, named with one patient's identity, that lock retrieval by code
/// for that patient.
pub const CODE_ATTEMPTS: u32 = 5;
/// How long a retrieval lets its pharmacy register the dispensing.
pub const RETRIEVAL_VALIDITY: TimeDelta = TimeDelta::hours(24);

/// Whether a person's latest access-code attempts (newest first) lock retrieval by code:
/// [`CODE_ATTEMPTS`] of them, none successful.
fn locks(latest: &[String]) -> bool {
    latest.len() >= CODE_ATTEMPTS as usize && latest.iter().all(|o| o != "ok")
}

fn never_locks(_: &[String]) -> bool {
    false
}

fn locked() -> Refusal {
    Refusal::forbidden(
        "retrieval_locked",
        format!(
            "retrieval by access code is locked for this patient after {CODE_ATTEMPTS} wrong codes; the prescriber or the patient (at the portal) unlocks it"
        ),
    )
    .at("access_code")
}

fn not_found() -> Refusal {
    Refusal::not_found(
        "prescription_not_found",
        "no active prescription matches that access code and person",
    )
}

/// What a prescription id the caller may not act on answers, as one that does not exist.
fn no_such_id() -> Refusal {
    Refusal::not_found(
        "prescription_not_found",
        "no prescription with that id that you may act on",
    )
}

/// A refused request with the patient its audit line names (so the patient sees the attempt in
/// their access log), and whether that line is already stored.
struct Refused {
    refusal: Refusal,
    person_id: Option<String>,
    stored: bool,
}

impl From<Refusal> for Refused {
    fn from(refusal: Refusal) -> Self {
        Self {
            refusal,
            person_id: None,
            stored: false,
        }
    }
}

impl Refused {
    fn naming(refusal: Refusal, person_id: &str) -> Self {
        Self {
            refusal,
            person_id: Some(person_id.to_owned()),
            stored: false,
        }
    }
}

/// Audits a refusal (unless its line is stored) and answers.
async fn answered<T>(
    state: &AppState,
    caller: &Principal,
    action: &'static str,
    result: Result<T, Refused>,
) -> Result<T, Refusal> {
    match result {
        Ok(v) => Ok(v),
        Err(r) => {
            if !r.stored {
                state
                    .audit_refusal(caller, action, r.person_id, &r.refusal)
                    .await;
            }
            Err(r.refusal)
        }
    }
}

/// Loads a prescription by id; an unknown id is [`no_such_id`].
async fn load(state: &AppState, id: &str) -> Result<StoredPrescription, Refusal> {
    let id = id.to_owned();
    state
        .blocking(move |s| s.prescription(&id))
        .await?
        .ok_or_else(no_such_id)
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
    answered(&state, &caller, "prescription.retrieve", result)
        .await
        .map(Answer)
}

async fn retrieve_inner(
    state: &AppState,
    caller: &Principal,
    code: &str,
    query: Result<PersonRef, Refusal>,
) -> Result<RetrieveResponse, Refused> {
    caller.require(&[Role::Pharmacy], "retrieving prescriptions")?;
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(
            Refusal::invalid("invalid_access_code", "the access code has 6 digits")
                .at("access_code")
                .into(),
        );
    }
    let person_ref = query?;
    let identity = crate::eligibility::parse_presented(&person_ref, "query")?;
    if matches!(identity, Identity::PersonId(_)) {
        return Err(Refusal::invalid(
            "invalid_person_reference",
            "retrieve with the patient's card_serial or insurance number (insurer_number + symbol + number + branch)",
        )
        .at("query")
        .into());
    }
    if matches!(identity, Identity::Card(_)) {
        crate::cards::present::present(state, caller, &person_ref, "query")?;
    }
    let limited = !state.fault(crate::faults::Fault::CodeAttemptsUnlimited);
    let (pharmacy, now) = (caller.subject().to_owned(), state.now());
    if limited {
        state.limits().codes.check(&pharmacy, now)?;
    }
    let code = code.to_owned();
    let (p, person, latest) = state
        .blocking(move |s| {
            let person = lookup(s, &identity)?;
            let latest = match &person {
                Some(p) => s.code_attempts(&p.id, CODE_ATTEMPTS)?,
                None => Vec::new(),
            };
            Ok::<_, crate::store::StoreError>((
                s.prescription_by_access_code(&code)?,
                person,
                latest,
            ))
        })
        .await?;
    let Some(person) = person else {
        if limited {
            state.limits().codes.fail(&pharmacy, now);
        }
        return Err(not_found().into());
    };
    if limited && locks(&latest) {
        state.limits().codes.fail(&pharmacy, now);
        return Err(Refused::naming(locked(), &person.id));
    }
    // An unknown code and a code of someone else's prescription answer alike, and count alike
    // against the patient named: the line is stored with the check of the lock, in one write.
    let Some(p) = p.filter(|p| p.person_id == person.id) else {
        if limited {
            state.limits().codes.fail(&pharmacy, now);
        }
        let action = "prescription.retrieve";
        let line = AuditEvent::new(
            now,
            caller,
            action,
            Some(person.id.clone()),
            None,
            "prescription_not_found",
        );
        let locked_line = AuditEvent {
            outcome: "retrieval_locked",
            ..line.clone()
        };
        let rule = if limited { locks } else { never_locks };
        let was_locked = state
            .blocking(move |s| s.record_code_failure(&line, &locked_line, CODE_ATTEMPTS, rule))
            .await?;
        return Err(Refused {
            refusal: if was_locked { locked() } else { not_found() },
            person_id: Some(person.id),
            stored: true,
        });
    };
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
    answered(&state, &caller, "prescription.dispense", result)
        .await
        .map(Answer)
}

async fn dispense_inner(
    state: &AppState,
    caller: &Principal,
    id: &str,
    req: DispenseRequest,
) -> Result<DispenseResponse, Refused> {
    caller.require(&[Role::Pharmacy], "registering dispensing results")?;
    let p = load(state, id).await?;
    let (pid, actor) = (p.id.clone(), caller.sub.clone());
    let since = state.now() - RETRIEVAL_VALIDITY;
    let retrieved = state.fault(crate::faults::Fault::RetrievalUnchecked)
        || state
            .blocking(move |s| s.retrieved_since(&pid, &actor, since))
            .await?;
    if !retrieved {
        let refusal = if state.fault(crate::faults::Fault::ExistenceRevealed) {
            Refusal::forbidden(
                "not_retrieved",
                "retrieve the prescription before dispensing it",
            )
        } else {
            no_such_id()
        };
        return Err(Refused::naming(refusal, &p.person_id));
    }
    dispense_retrieved(state, caller, p, req)
        .await
        .map_err(Into::into)
}

/// The dispensing of a prescription this pharmacy retrieved.
async fn dispense_retrieved(
    state: &AppState,
    caller: &Principal,
    p: StoredPrescription,
    req: DispenseRequest,
) -> Result<DispenseResponse, Refusal> {
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
    let payload = req.dispensation.signed_bytes(&p.id, caller.subject());
    let pharmacist = verify_dispensing(state, &req.signature, &payload)?;
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
        pharmacist_id: Some(pharmacist.practitioner_id),
        signature: Some(req.signature.clone()),
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
    if matches!(
        parse_identity(&req.person, "person")?,
        Identity::PersonId(_)
    ) {
        return Err(Refusal::invalid(
            "invalid_person_reference",
            "a paper prescription's patient is named by card_serial or insurance number",
        )
        .at("person"));
    }
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
    answered(&state, &caller, "prescription.cancel", result)
        .await
        .map(Answer)
}

async fn cancel_inner(
    state: &AppState,
    caller: &Principal,
    id: &str,
) -> Result<CancelResponse, Refused> {
    caller.require(&PRESCRIBERS, "cancelling prescriptions")?;
    let p = issued_here(state, caller, id).await?;
    match p.status {
        PrescriptionStatus::Cancelled => {
            return Err(Refusal::conflict(
                "already_cancelled",
                "the prescription is already cancelled",
            )
            .into());
        }
        _ if p.uses_done > 0 || p.status == PrescriptionStatus::Completed => {
            return Err(Refusal::conflict(
                "already_dispensed",
                "a dispensed prescription cannot be cancelled",
            )
            .into());
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

const PRESCRIBERS: [Role; 3] = [Role::Hospital, Role::Clinic, Role::Dental];

/// A prescription the calling facility issued; any other answers as one that does not exist.
async fn issued_here(
    state: &AppState,
    caller: &Principal,
    id: &str,
) -> Result<StoredPrescription, Refused> {
    let p = load(state, id).await?;
    if p.facility_code == caller.subject() {
        return Ok(p);
    }
    let refusal = if state.fault(crate::faults::Fault::ExistenceRevealed) {
        Refusal::forbidden(
            "not_your_prescription",
            "only the issuing facility may act on a prescription",
        )
    } else {
        no_such_id()
    };
    Err(Refused::naming(refusal, &p.person_id))
}

/// Stores the line that unlocks retrieval by access code for `person_id` and answers.
async fn unlock_for(
    state: &AppState,
    caller: &Principal,
    person_id: String,
    target: Option<String>,
) -> Result<UnlockResponse, Refusal> {
    let now = state.now();
    let line = AuditEvent::new(
        now,
        caller,
        "prescription.unlock",
        Some(person_id.clone()),
        target,
        "ok",
    );
    state.blocking(move |s| s.append_audit(&[line])).await?;
    Ok(UnlockResponse {
        person_id,
        unlocked_at: now,
    })
}

async fn unlock(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> Result<Answer<UnlockPrescription>, Refusal> {
    let result = async {
        caller.require(&PRESCRIBERS, "unlocking retrieval")?;
        let p = issued_here(&state, &caller, &id).await?;
        Ok(unlock_for(&state, &caller, p.person_id, Some(p.id)).await?)
    }
    .await;
    answered(&state, &caller, "prescription.unlock", result)
        .await
        .map(Answer)
}

async fn portal_unlock(
    State(state): State<AppState>,
    Auth(caller): Auth,
) -> Result<Answer<PortalUnlockPrescriptions>, Refusal> {
    let result = async {
        caller.require(&[Role::Person], "unlocking your prescriptions")?;
        unlock_for(&state, &caller, caller.subject().to_owned(), None).await
    }
    .await;
    state
        .audited(&caller, "prescription.unlock", None, result)
        .await
        .map(Answer)
}
