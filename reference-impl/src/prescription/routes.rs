//! Prescribing side: practitioner keys, registration, the stand-alone check, the medication view.

use super::checks::{Candidate, CheckScope, find_warnings, flag_warnings};
use super::refill::MAX_USES;
use super::{HISTORY_DAYS, MAX_DAYS, MAX_ITEMS, NewPrescription, bundle, dispense};
use crate::audit::AuditEvent;
use crate::auth::{Auth, Principal};
use crate::clock::jst;
use crate::consent::require_consent;
use crate::eligibility::rules::status_on;
use crate::eligibility::{Identity, lookup, parse_identity, resolve_person};
use crate::error::ApiError;
use crate::http::{ApiJson, AppState};
use crate::refdata::{Drug, DrugMaster};
use crate::wire::canonical::{SignatureError, parse_public_key, verify};
use crate::wire::{
    CheckRequest, CheckResponse, ConsentKind, DrugLine, MedicationEntry, MedicationsResponse,
    PersonRef, PractitionerKeyRequest, PractitionerKeyResponse, PrescriptionKind,
    QualificationStatus, RegisterPrescriptionRequest, RegisterPrescriptionResponse, Role,
    Signature, Warning,
};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{NaiveDate, TimeDelta};
use serde::Deserialize;
use serde::Serialize;

const PRESCRIBERS: [Role; 3] = [Role::Hospital, Role::Clinic, Role::Dental];

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/practitioners/keys", post(put_key))
        .route("/v1/prescriptions", post(register))
        .route("/v1/prescriptions/check", post(check))
        .route("/v1/persons/{person_id}/medications", get(medications))
        .merge(dispense::router())
}

/// A validated drug line.
pub struct Line {
    pub code: String,
    pub drug: &'static Drug,
    pub days: u16,
    pub quantity: u32,
}

impl Line {
    /// The stored form: the master's YJ code, days, quantity.
    pub fn to_item(&self) -> super::Item {
        super::Item {
            code: self.drug.yj.clone(),
            days: self.days,
            quantity: self.quantity,
        }
    }
}

/// Checks drug lines of a check or dispensing request against the master and the day limits.
pub fn validate_lines(
    lines: &[DrugLine],
    field: &str,
    master: &'static DrugMaster,
) -> Result<Vec<Line>, ApiError> {
    if lines.is_empty() || lines.len() > MAX_ITEMS {
        return Err(ApiError::bad_request(
            "invalid_items",
            format!("1–{MAX_ITEMS} items are required"),
        )
        .at(field));
    }
    lines
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let drug = master.by_code(&l.code).ok_or_else(|| {
                ApiError::unprocessable(
                    "unknown_drug_code",
                    format!("{} is not in the drug master", l.code),
                )
                .at(format!("{field}[{i}].code"))
            })?;
            check_days(drug, l.days, &format!("{field}[{i}].days"))?;
            Ok(Line {
                code: l.code.clone(),
                drug,
                days: l.days,
                quantity: l.quantity.unwrap_or(0),
            })
        })
        .collect()
}

fn check_days(drug: &Drug, days: u16, field: &str) -> Result<(), ApiError> {
    let limit = drug.max_days.unwrap_or(MAX_DAYS).min(MAX_DAYS);
    if days == 0 || days > limit {
        return Err(ApiError::unprocessable(
            "days_limit_exceeded",
            format!(
                "{}: days of supply must be 1–{limit}, got {days}",
                drug.name
            ),
        )
        .at(field));
    }
    Ok(())
}

/// Verifies a practitioner's signature over `signed` with the key registered at `facility`.
pub async fn verify_signature<T: Serialize + Send + Sync + 'static>(
    state: &AppState,
    sig: &Signature,
    facility: &str,
    signed: T,
) -> Result<T, ApiError> {
    if sig.algorithm != "Ed25519" {
        return Err(ApiError::bad_request(
            "unsupported_algorithm",
            "signature.algorithm must be Ed25519",
        )
        .at("signature.algorithm"));
    }
    let (pid, fac) = (sig.practitioner_id.clone(), facility.to_owned());
    let key = state
        .blocking(move |s| s.practitioner_key(&pid, &fac))
        .await?;
    let key = key.ok_or_else(|| {
        ApiError::unprocessable(
            "unknown_practitioner_key",
            format!(
                "no key is registered for {} at {facility}",
                sig.practitioner_id
            ),
        )
        .at("signature.practitioner_id")
    })?;
    let key = parse_public_key(&key)
        .map_err(|e| ApiError::internal(format!("stored key unusable: {e}")))?;
    match verify(&key, &signed, &sig.value) {
        Ok(()) => Ok(signed),
        Err(SignatureError::Malformed) => Err(ApiError::bad_request(
            "invalid_signature",
            "signature.value is not base64 of 64 bytes",
        )
        .at("signature.value")),
        Err(e) => {
            Err(ApiError::unprocessable("invalid_signature", e.to_string()).at("signature.value"))
        }
    }
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
) -> Result<CheckContext, ApiError> {
    let p = person_id.to_owned();
    let history = state
        .blocking(move |s| s.history(&p, start - TimeDelta::days(HISTORY_DAYS), start))
        .await?;
    let flags = crate::ehr::drug_flags(state, person_id).await?;
    let disclose = require_consent(state, person_id, caller.subject(), ConsentKind::Medication)
        .await
        .is_ok();
    Ok(CheckContext {
        history,
        flags,
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

async fn put_key(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ApiJson(req): ApiJson<PractitionerKeyRequest>,
) -> Result<(StatusCode, Json<PractitionerKeyResponse>), ApiError> {
    caller.require_facility("registering practitioner keys")?;
    let id_ok = !req.practitioner_id.is_empty()
        && req.practitioner_id.len() <= 64
        && req
            .practitioner_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
    if !id_ok {
        return Err(ApiError::bad_request(
            "invalid_field",
            "1–64 letters, digits, '-', '_' or '.'",
        )
        .at("practitioner_id"));
    }
    parse_public_key(&req.public_key)
        .map_err(|e| ApiError::bad_request("invalid_public_key", e.to_string()).at("public_key"))?;
    let (pid, fac, key, now) = (
        req.practitioner_id.clone(),
        caller.subject().to_owned(),
        req.public_key,
        state.now(),
    );
    state
        .blocking(move |s| s.put_practitioner_key(&pid, &fac, &key, now))
        .await?;
    let body = PractitionerKeyResponse {
        practitioner_id: req.practitioner_id,
        facility_code: caller.subject().to_owned(),
    };
    Ok((StatusCode::CREATED, Json(body)))
}

async fn register(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ApiJson(req): ApiJson<RegisterPrescriptionRequest>,
) -> Result<(StatusCode, Json<RegisterPrescriptionResponse>), ApiError> {
    let result = register_inner(&state, &caller, req).await;
    let result = state
        .audited(&caller, "prescription.register", None, result)
        .await;
    result.map(|r| (StatusCode::CREATED, Json(r)))
}

async fn register_inner(
    state: &AppState,
    caller: &Principal,
    req: RegisterPrescriptionRequest,
) -> Result<RegisterPrescriptionResponse, ApiError> {
    caller.require(&PRESCRIBERS, "registering prescriptions")?;
    let parsed = bundle::parse(&req.bundle, state.drugs())?;
    if parsed.facility_code != caller.subject() {
        return Err(ApiError::forbidden(
            "facility_mismatch",
            "the Organization of the bundle is not the calling facility",
        )
        .at("bundle.Organization.identifier"));
    }
    let today = state.clock().today_jst();
    let issued_on = parsed.issued_at.with_timezone(&jst()).date_naive();
    if issued_on > today || issued_on < today - TimeDelta::days(1) {
        return Err(ApiError::unprocessable(
            "issue_date_out_of_range",
            format!("issued {issued_on}; register on the day of issue ({today})"),
        )
        .at("bundle.Composition.date"));
    }
    if parsed.uses > MAX_USES || (parsed.uses > 1 && req.kind == PrescriptionKind::InHospital) {
        return Err(ApiError::unprocessable(
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
            return Err(ApiError::unprocessable(
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
        .blocking(move |s| lookup(s, &identity))
        .await?
        .ok_or_else(|| {
            ApiError::unprocessable(
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
        return Err(ApiError::unprocessable(
            "coverage_not_valid",
            format!("the insurance in the bundle is not valid on {issued_on}"),
        )
        .at("bundle.Coverage"));
    }
    if person.birth_date != parsed.patient_birth_date {
        return Err(ApiError::unprocessable(
            "patient_mismatch",
            "Patient.birthDate does not match the insured person",
        )
        .at("bundle.Patient.birthDate"));
    }
    let signature = match req.kind {
        PrescriptionKind::InHospital => None,
        PrescriptionKind::Electronic => {
            let sig = req.signature.as_ref().ok_or_else(|| {
                ApiError::bad_request(
                    "missing_signature",
                    "an electronic prescription must be signed by the prescriber",
                )
                .at("signature")
            })?;
            if sig.practitioner_id != parsed.practitioner_id {
                return Err(ApiError::unprocessable(
                    "practitioner_mismatch",
                    "the signer is not the Practitioner of the bundle",
                )
                .at("signature.practitioner_id"));
            }
            verify_signature(state, sig, caller.subject(), req.bundle.clone()).await?;
            Some(sig.value.clone())
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
        bundle: serde_json::to_string(&req.bundle)
            .map_err(|e| ApiError::internal(e.to_string()))?,
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
            let mut code = |id: &str, attempt: u32| {
                format!(
                    "{:06}",
                    keys.derive_u64("access-code", id, attempt) % 1_000_000
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
    ApiJson(req): ApiJson<CheckRequest>,
) -> Result<Json<CheckResponse>, ApiError> {
    let result = check_inner(&state, &caller, req).await;
    let result = state
        .audited(&caller, "prescription.check", None, result)
        .await;
    result.map(Json)
}

async fn check_inner(
    state: &AppState,
    caller: &Principal,
    req: CheckRequest,
) -> Result<CheckResponse, ApiError> {
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
        .await;
    Ok(CheckResponse {
        person_id: person.id,
        warnings,
        details_disclosed: ctx.disclose,
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MedicationsQuery {
    days: Option<i64>,
}

async fn medications(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(person_id): Path<String>,
    query: Result<Query<MedicationsQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<MedicationsResponse>, ApiError> {
    let result = medications_inner(&state, &caller, &person_id, query).await;
    let result = state
        .audited(&caller, "medications.read", Some(person_id), result)
        .await;
    result.map(Json)
}

async fn medications_inner(
    state: &AppState,
    caller: &Principal,
    person_id: &str,
    query: Result<Query<MedicationsQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<MedicationsResponse, ApiError> {
    caller.require_facility("reading medication information")?;
    let Query(q) = query.map_err(|e| ApiError::bad_request("invalid_query", e.body_text()))?;
    let days = q.days.unwrap_or(HISTORY_DAYS);
    if !(1..=HISTORY_DAYS).contains(&days) {
        return Err(ApiError::bad_request(
            "invalid_days",
            format!("days must be 1–{HISTORY_DAYS}"),
        )
        .at("days"));
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
        .await;
    Ok(MedicationsResponse {
        person_id: person.id,
        from,
        to,
        entries,
    })
}
