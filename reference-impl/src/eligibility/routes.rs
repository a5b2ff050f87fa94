//! `POST /v1/eligibility/verify` and `POST /v1/eligibility/batch`.

use super::rules::{best_qualification, copay_percent, public_expenses_on, status_on};
use super::{Identity, parse_presented};
use crate::audit::AuditEvent;
use crate::auth::Auth;
use crate::auth::principal::Principal;
use crate::cards::present::present;
use crate::consent;
use crate::extract::{Answer, Body, Routes};
use crate::refusal::Refusal;
use crate::state::AppState;
use axum::Router;
use axum::extract::State;
use chrono::NaiveDate;
use dx_protocol::wire::endpoints::{BatchVerify, Verify};
use dx_protocol::wire::{
    BatchVerifyRequest, BatchVerifyResponse, BatchVerifyResult, ConsentMethod, Coverage,
    MAX_BATCH_VERIFY, PersonRecord, QualificationStatus, VerifyRequest, VerifyResponse,
};

pub fn router() -> Router<AppState> {
    Router::new()
        .endpoint(Verify, verify)
        .endpoint(BatchVerify, batch)
}

/// What verification answers for one identity on one date.
fn answer(id: &Identity, person: Option<PersonRecord>, on: NaiveDate) -> VerifyResponse {
    let none = |status| VerifyResponse {
        status,
        person_id: None,
        coverage: None,
        public_expenses: vec![],
        care_certification: None,
        consents: vec![],
    };
    let Some(person) = person else {
        return none(QualificationStatus::NotFound);
    };
    let q = match id {
        Identity::Insurance(k) => person.qualifications.iter().find(|q| {
            q.insurer_number == k.insurer_number
                && q.symbol == k.symbol
                && q.number == k.number
                && q.branch == k.branch
        }),
        _ => best_qualification(&person.qualifications, on),
    };
    let Some(q) = q else {
        // Medical aid (public assistance, law 12) without insurance: verified by card since 2024.
        let aid = public_expenses_on(&person.public_expenses, on);
        if matches!(id, Identity::Card(_)) && aid.iter().any(|e| e.law_code == "12") {
            return VerifyResponse {
                status: QualificationStatus::Valid,
                person_id: Some(person.id.clone()),
                coverage: None,
                public_expenses: aid,
                care_certification: None,
                consents: vec![],
            };
        }
        return none(QualificationStatus::NotFound);
    };
    let status = status_on(q, on);
    let coverage = Coverage {
        insurer_number: q.insurer_number.clone(),
        symbol: q.symbol.clone(),
        number: q.number.clone(),
        branch: q.branch.clone(),
        valid_from: q.valid_from,
        valid_to: q.valid_to,
        copay_percent: copay_percent(person.birth_date, on),
    };
    if status != QualificationStatus::Valid {
        // A lapsed or future number says so, with its dates, and nothing else about the person.
        return VerifyResponse {
            coverage: Some(coverage),
            ..none(status)
        };
    }
    VerifyResponse {
        status,
        person_id: Some(person.id.clone()),
        coverage: Some(coverage),
        public_expenses: public_expenses_on(&person.public_expenses, on),
        care_certification: None,
        consents: vec![],
    }
}

/// The answer with the care certification in force on the date, for an identified person.
fn answer_with_care(
    s: &dyn crate::store::Store,
    id: &Identity,
    on: NaiveDate,
) -> Result<VerifyResponse, crate::store::StoreError> {
    let (person, care) = match s.person_with_care(id)? {
        Some((p, care)) => (Some(p), care),
        None => (None, Vec::new()),
    };
    let mut r = answer(id, person, on);
    r.care_certification = crate::municipal::care::in_force(&care, on);
    Ok(r)
}

async fn verify(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Body(req): Body<Verify>,
) -> Result<Answer<Verify>, Refusal> {
    let action = "eligibility.verify";
    let result = verify_inner(&state, &caller, req).await;
    let result = state.audited(&caller, action, None, result).await;
    result.map(Answer)
}

async fn verify_inner(
    state: &AppState,
    caller: &Principal,
    req: VerifyRequest,
) -> Result<VerifyResponse, Refusal> {
    caller.require_facility("eligibility verification")?;
    let mut req = req;
    if state.fault(crate::faults::Fault::CheckDigitUnvalidated) {
        // The fault: whatever check digit was sent, the number is taken as if it were right.
        if let Some(n) = req.person.insurer_number.as_mut().filter(|n| n.len() > 1) {
            let digits: Vec<u8> = n.bytes().map(|b| b.wrapping_sub(b'0')).collect();
            if digits.iter().all(|d| *d < 10) {
                let body = &digits[..digits.len() - 1];
                n.pop();
                n.push(char::from(b'0' + dx_protocol::codes::mod10_weight21(body)));
            }
        }
    }
    let id = parse_presented(&req.person, "person")?;
    if matches!(id, Identity::PersonId(_)) {
        return Err(Refusal::invalid(
            "invalid_person_reference",
            "verify by card_serial or insurance number",
        )
        .at("person"));
    }
    let kinds = req.consent.map(|c| c.kinds()).unwrap_or_default();
    if !kinds.is_empty() && !matches!(id, Identity::Card(_)) {
        return Err(Refusal::invalid(
            "consent_needs_card",
            "consent at verification is given at the card reader; verify by card_serial",
        )
        .at("consent"));
    }
    if matches!(id, Identity::Card(_)) {
        present(state, caller, &req.person, "person")?;
    }
    let on = req
        .service_date
        .unwrap_or_else(|| state.clock().today_jst());
    let lookup_id = id.clone();
    let mut response = state
        .blocking(move |s| answer_with_care(s, &lookup_id, on))
        .await?;
    let Some(person_id) = response.person_id.clone() else {
        return Ok(response);
    };
    if kinds.is_empty() {
        state
            .audit_read(caller, "eligibility.verify", person_id, None)
            .await?;
        return Ok(response);
    }
    let now = state.now();
    let audit = AuditEvent::new(
        now,
        caller,
        "eligibility.verify",
        Some(person_id.clone()),
        None,
        "ok",
    );
    let facility = caller.subject().to_owned();
    let recorded = kinds.clone();
    state
        .blocking(move |s| {
            let consents: Vec<_> = recorded
                .iter()
                .map(|&k| consent::Consent::new(&person_id, &facility, k, ConsentMethod::Card, now))
                .collect();
            s.record_consents(&consents, &audit)
        })
        .await?;
    response.consents = kinds;
    Ok(response)
}

async fn batch(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Body(req): Body<BatchVerify>,
) -> Result<Answer<BatchVerify>, Refusal> {
    let result = batch_inner(&state, &caller, req).await;
    let result = state
        .audited(&caller, "eligibility.batch", None, result)
        .await;
    result.map(Answer)
}

async fn batch_inner(
    state: &AppState,
    caller: &Principal,
    req: BatchVerifyRequest,
) -> Result<BatchVerifyResponse, Refusal> {
    caller.require_facility("batch verification")?;
    if req.items.is_empty() || req.items.len() > MAX_BATCH_VERIFY {
        return Err(Refusal::invalid(
            "invalid_batch_size",
            format!("items must hold 1–{MAX_BATCH_VERIFY} entries"),
        )
        .at("items"));
    }
    let on = req
        .service_date
        .unwrap_or_else(|| state.clock().today_jst());
    // Each presented card costs two signature checks: a batch of them is checked on the
    // blocking pool, off the threads that serve requests.
    let cards = req.items.iter().filter(|r| r.card_proof.is_some()).count();
    let (st, who, items) = (state.clone(), caller.clone(), req.items);
    let identify = move || -> Vec<Result<Identity, Refusal>> {
        items
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let field = format!("items[{i}]");
                let id = parse_presented(r, &field)?;
                match id {
                    Identity::PersonId(_) => {
                        return Err(Refusal::invalid(
                            "invalid_person_reference",
                            "verify by card_serial or insurance number",
                        )
                        .at(field));
                    }
                    Identity::Card(_) => present(&st, &who, r, &field)?,
                    Identity::Insurance(_) => {}
                }
                Ok(id)
            })
            .collect()
    };
    let parsed = if cards > 8 {
        tokio::task::spawn_blocking(identify)
            .await
            .map_err(|e| Refusal::internal(format!("checking the batch's cards: {e}")))?
    } else {
        identify()
    };
    let results = state
        .blocking(move |s| {
            parsed
                .into_iter()
                .map(|p| match p {
                    Ok(id) => Ok(BatchVerifyResult {
                        result: Some(answer_with_care(s, &id, on)?),
                        error: None,
                    }),
                    Err(e) => Ok(BatchVerifyResult {
                        result: None,
                        error: Some(e.to_detail()),
                    }),
                })
                .collect::<Result<Vec<_>, crate::store::StoreError>>()
        })
        .await?;
    let reads = results
        .iter()
        .filter_map(|r| r.result.as_ref().and_then(|v| v.person_id.clone()))
        .map(|p| (p, None))
        .collect();
    state
        .audit_reads(caller, "eligibility.batch", reads)
        .await?;
    Ok(BatchVerifyResponse { results })
}
