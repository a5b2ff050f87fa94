//! E-prescription (電子処方箋), refills (リフィル) and the duplicate and interaction checks
//! (重複投薬等チェック).

use super::eligibility::consent_by_card;
use crate::check::check;
use crate::check::{Check, Ctx};
use crate::fhir;
use crate::finding::{Finding, Outcome, ensure, error, fail, status};
use crate::target::{Exchange, Person, yj};
use dx_protocol::wire::endpoints as ep;
use dx_protocol::wire::{CheckRequest, DrugLine, PaperDispenseRequest};
use serde_json::{Value, json};

pub fn checks() -> Vec<Check> {
    vec![
        check!(
            "eprescription.register",
            "A signed electronic prescription is registered with an access code",
            "POST /v1/prescriptions answers 201 with a prescription id <facility>-<year>-<8 digits>, a 6-digit access code and uses_allowed 1",
            "docs/api.md § E-prescription; FACTS § Protocol rules",
            register
        ),
        check!(
            "eprescription.retrieve-fhir-document",
            "The pharmacy retrieves the prescription as a FHIR document",
            "GET /v1/prescriptions/{access_code} with the patient's card answers the registered Bundle: a FHIR R4 document with its Composition, Patient, Coverage, Organization and MedicationRequests coded in YJ or HOT9, keeping every element rule of ePrescriptionData 1.0.0 (and, given --fhir-schema, HL7's FHIR R4 JSON schema)",
            "JAMI ePrescriptionData 1.0.0 JP_Bundle_ePrescriptionData and its entries' profiles; docs/api.md § E-prescription",
            retrieve_fhir
        ),
        check!(
            "eprescription.dispense-completes",
            "A signed dispensing result completes the prescription and frees its code",
            "POST /v1/prescriptions/{id}/dispensations answers 201 with status completed; the access code then retrieves nothing (404 prescription_not_found)",
            "docs/api.md § E-prescription",
            dispense_completes
        ),
        check!(
            "eprescription.code-bound-to-person",
            "An access code with another person's card retrieves nothing",
            "A code is the patient's: with someone else's card it answers 404 prescription_not_found, as an unknown code does",
            "docs/api.md § E-prescription",
            code_bound_to_person
        ),
        check!(
            "eprescription.bad-signature",
            "A registration whose signature does not verify is refused and not stored",
            "The signature covers the canonical bytes of the Bundle: a wrong one is 422 invalid_signature and stores no prescription",
            "docs/api.md § E-prescription",
            bad_signature
        ),
        check!(
            "eprescription.facility-mismatch",
            "A facility cannot register another facility's prescription",
            "The Bundle's Organization must be the calling facility: 403 facility_mismatch",
            "docs/api.md § E-prescription",
            facility_mismatch
        ),
        check!(
            "eprescription.unknown-drug",
            "A drug code outside the drug master is refused",
            "MedicationRequest codes must be YJ or HOT9 codes of the master: 422 unknown_drug_code",
            "docs/api.md § E-prescription",
            unknown_drug
        ),
        check!(
            "eprescription.duplicate-document",
            "The same document registered twice is refused the second time",
            "Bundle.identifier is unique per facility: a second registration is 409 duplicate (idempotency)",
            "docs/api.md § E-prescription",
            duplicate_document
        ),
        check!(
            "eprescription.cancel",
            "Only the issuer cancels, once, and a cancelled code retrieves nothing",
            "POST /v1/prescriptions/{id}/cancel: another facility 404 prescription_not_found (as an unknown id); the issuer 200 cancelled, again 409 already_cancelled; retrieval 404",
            "docs/api.md § E-prescription",
            cancel
        ),
        check!(
            "refill.uses-exhausted",
            "A refill prescription is dispensed as many times as it allows, no more",
            "uses_allowed counts every use: after the last one the prescription is completed and a further dispensing is refused (422 uses_exhausted, or 403 access_code_mismatch once the code is freed)",
            "docs/api.md § E-prescription; FACTS § Refill",
            uses_exhausted
        ),
        check!(
            "refill.too-early",
            "A later use before its window is refused",
            "A later refill use comes within ±7 days of the previous dispensing plus its days of supply: earlier is 422 refill_too_early",
            "FACTS § Refill; docs/api.md § E-prescription",
            too_early
        ),
        check!(
            "refill.not-for-restricted-drugs",
            "Narcotics, psychotropics and new drugs cannot be refills",
            "A refill (numberOfRepeatsAllowed ≥ 1) of a restricted drug is 422 refill_not_allowed",
            "FACTS § Refill; docs/api.md § E-prescription",
            not_for_restricted
        ),
        check!(
            "refill.first-use-within-4-days",
            "The first use comes within 4 days of issue",
            "After 4 days (issue day counted) dispensing is 422 prescription_expired",
            "FACTS § Refill; docs/api.md § E-prescription",
            first_use_window
        ),
        check!(
            "checks.duplicate-across-facilities",
            "A drug another facility prescribed raises a duplicate warning",
            "POST /v1/prescriptions/check warns duplicate for the same ingredient and route in an overlapping period at another facility; without medication consent the details are withheld",
            "FACTS § Duplicate / interaction check; docs/api.md § E-prescription",
            duplicate_across
        ),
        check!(
            "checks.contraindicated-pair",
            "A 併用禁忌 pair raises a contraindication warning",
            "A new drug forming a listed 併用禁忌 pair with a recent one warns contraindication",
            "FACTS § Duplicate / interaction check; docs/api.md § E-prescription",
            contraindicated_pair
        ),
        check!(
            "checks.same-facility-excluded",
            "The caller's own drugs are excluded unless asked for",
            "Without include_same_facility the issuing facility gets no warning of its own prescription; with it, the duplicate",
            "FACTS § Duplicate / interaction check; docs/api.md § E-prescription",
            same_facility_excluded
        ),
        check!(
            "checks.details-with-consent",
            "With medication consent the warning says where the other drug came from",
            "details_disclosed is true and other.facility_code names the prescriber when the caller holds medication consent",
            "docs/api.md § E-prescription",
            details_with_consent
        ),
        check!(
            "checks.paper-dispensing-counts",
            "A paper prescription's dispensing result counts in the checks",
            "POST /v1/dispensations (paper) answers 201, and the drug then warns duplicate at another facility",
            "FACTS § Protocol rules (E-prescription); docs/api.md § E-prescription",
            paper_counts
        ),
    ]
}

/// Registers a signed prescription of `lines` for `p` at `facility`; returns the answer.
pub async fn register_rx(
    c: &Ctx,
    facility: &str,
    p: &Person,
    lines: &[(&str, u16, u32)],
    uses: u8,
) -> Result<Exchange, Finding> {
    let body =
        c.fx.prescription(&c.t, facility, p, lines, uses, |_| {})
            .await?;
    let tok = c.facility(facility).await?;
    c.t.post::<ep::RegisterPrescription>(&tok, &body).await
}

/// Registers and expects 201; returns (prescription id, access code).
async fn registered(
    c: &Ctx,
    facility: &str,
    p: &Person,
    lines: &[(&str, u16, u32)],
    uses: u8,
) -> Result<(String, String), Finding> {
    let ex = register_rx(c, facility, p, lines, uses).await?;
    status(&ex, 201)?;
    Ok((ex.text("/prescription_id"), ex.text("/access_code")))
}

async fn retrieve(c: &Ctx, pharmacy: &str, code: &str, p: &Person) -> Result<Exchange, Finding> {
    let tok = c.facility(pharmacy).await?;
    let card = c.card(pharmacy, p).await?;
    c.t.send::<ep::RetrievePrescription>(Some(&tok), &[code], &card, &())
        .await
}

/// Retrieves the prescription by code and `p`'s insurance number, as a pharmacy must before
/// dispensing, then dispenses. A code freed by the last use retrieves nothing; the dispensing
/// then answers for itself.
async fn dispense(
    c: &Ctx,
    pharmacy: &str,
    (id, code): (&str, &str),
    p: &Person,
    lines: &[(&str, u16, u32)],
) -> Result<Exchange, Finding> {
    let items: Vec<DrugLine> = lines.iter().map(|(i, d, q)| drug(i, *d, *q)).collect();
    let tok = c.facility(pharmacy).await?;
    c.t.send::<ep::RetrievePrescription>(Some(&tok), &[code], &p.by_number(), &())
        .await?;
    let body = c.fx.dispensation(&c.t, pharmacy, (id, code), items).await?;
    c.t.send::<ep::Dispense>(Some(&tok), &[id], &(), &body)
        .await
}

/// A drug line of the ingredient's YJ code.
fn drug(ingredient: &str, days: u16, quantity: u32) -> DrugLine {
    DrugLine {
        code: yj(ingredient),
        days,
        quantity: Some(quantity),
    }
}

async fn register(c: &Ctx) -> Outcome {
    let p = c.fx.person(&c.t, 50, true).await?;
    let ex = register_rx(c, &c.fx.clinic, &p, &[("rosuvastatin", 28, 28)], 1).await?;
    status(&ex, 201)?;
    let id = ex.text("/prescription_id");
    let parts: Vec<&str> = id.split('-').collect();
    let code = ex.text("/access_code");
    ensure(
        parts.len() == 3
            && parts[0] == c.fx.clinic
            && parts[1].len() == 4
            && parts[2].len() == 8
            && parts[2].bytes().all(|b| b.is_ascii_digit())
            && code.len() == 6
            && code.bytes().all(|b| b.is_ascii_digit())
            && ex.at("/uses_allowed").and_then(Value::as_u64) == Some(1)
            && ex.text("/person_id") == p.id,
        &ex,
        format!(
            "prescription_id {}-YYYY-NNNNNNNN, a 6-digit access_code, uses_allowed 1, person_id {}",
            c.fx.clinic, p.id
        ),
    )
}

async fn retrieve_fhir(c: &Ctx) -> Outcome {
    let p = c.fx.person(&c.t, 62, false).await?;
    let (id, code) = registered(c, &c.fx.clinic, &p, &[("amlodipine", 28, 28)], 1).await?;
    let ex = retrieve(c, &c.fx.pharmacy, &code, &p).await?;
    status(&ex, 200)?;
    ensure(
        ex.text("/prescription_id") == id,
        &ex,
        format!("prescription_id {id}"),
    )?;
    let bundle = ex.at("/bundle").cloned().unwrap_or(Value::Null);
    fhir::prescription_document(&bundle)
        .and_then(|()| c.schema_check(&bundle))
        .map_err(|f| fail(&ex, format!("a FHIR R4 prescription document: {f}")))
}

async fn dispense_completes(c: &Ctx) -> Outcome {
    let p = c.fx.person(&c.t, 44, true).await?;
    let lines = [("famotidine", 14, 28)];
    let (id, code) = registered(c, &c.fx.clinic, &p, &lines, 1).await?;
    let ex = dispense(c, &c.fx.pharmacy, (&id, &code), &p, &lines).await?;
    status(&ex, 201)?;
    ensure(ex.text("/status") == "completed", &ex, "status completed")?;
    error(
        &retrieve(c, &c.fx.pharmacy, &code, &p).await?,
        404,
        "prescription_not_found",
    )
}

async fn code_bound_to_person(c: &Ctx) -> Outcome {
    let p = c.fx.person(&c.t, 36, false).await?;
    let other = c.fx.person(&c.t, 36, true).await?;
    let (_, code) = registered(c, &c.fx.clinic, &p, &[("loxoprofen", 5, 15)], 1).await?;
    error(
        &retrieve(c, &c.fx.pharmacy, &code, &other).await?,
        404,
        "prescription_not_found",
    )
}

pub(super) async fn prescriptions_stored(c: &Ctx) -> Result<u64, Finding> {
    Ok(c.t.stats().await?["prescriptions"].as_u64().unwrap_or(0))
}

async fn bad_signature(c: &Ctx) -> Outcome {
    let p = c.fx.person(&c.t, 55, true).await?;
    let mut body =
        c.fx.prescription(&c.t, &c.fx.clinic, &p, &[("amlodipine", 28, 28)], 1, |_| {})
            .await?;
    // Signed, then changed: 28 days become 56.
    body.bundle["entry"]
        .as_array_mut()
        .into_iter()
        .flatten()
        .filter(|e| e["resource"]["resourceType"] == "MedicationRequest")
        .for_each(|e| {
            e["resource"]["dispenseRequest"]["expectedSupplyDuration"]["value"] = json!(56)
        });
    let before = prescriptions_stored(c).await?;
    let tok = c.facility(&c.fx.clinic).await?;
    let ex = c.t.post::<ep::RegisterPrescription>(&tok, &body).await?;
    error(&ex, 422, "invalid_signature")?;
    let after = prescriptions_stored(c).await?;
    ensure(
        after == before,
        &ex,
        format!("no prescription stored (the store held {before}, now {after})"),
    )
}

async fn facility_mismatch(c: &Ctx) -> Outcome {
    let p = c.fx.person(&c.t, 29, true).await?;
    let body =
        c.fx.prescription(&c.t, &c.fx.clinic, &p, &[("amlodipine", 28, 28)], 1, |_| {})
            .await?;
    let tok = c.facility(&c.fx.clinic2).await?;
    error(
        &c.t.post::<ep::RegisterPrescription>(&tok, &body).await?,
        403,
        "facility_mismatch",
    )
}

async fn unknown_drug(c: &Ctx) -> Outcome {
    let p = c.fx.person(&c.t, 31, false).await?;
    let body =
        c.fx.prescription(&c.t, &c.fx.clinic, &p, &[("amlodipine", 28, 28)], 1, |b| {
            for e in b["entry"].as_array_mut().into_iter().flatten() {
                if e["resource"]["resourceType"] == "MedicationRequest" {
                    e["resource"]["medicationCodeableConcept"]["coding"][0]["code"] =
                        json!("9999999X9999");
                }
            }
        })
        .await?;
    let tok = c.facility(&c.fx.clinic).await?;
    error(
        &c.t.post::<ep::RegisterPrescription>(&tok, &body).await?,
        422,
        "unknown_drug_code",
    )
}

async fn duplicate_document(c: &Ctx) -> Outcome {
    let p = c.fx.person(&c.t, 48, true).await?;
    let body =
        c.fx.prescription(&c.t, &c.fx.clinic, &p, &[("amlodipine", 28, 28)], 1, |_| {})
            .await?;
    let tok = c.facility(&c.fx.clinic).await?;
    status(
        &c.t.post::<ep::RegisterPrescription>(&tok, &body).await?,
        201,
    )?;
    let before = prescriptions_stored(c).await?;
    let ex = c.t.post::<ep::RegisterPrescription>(&tok, &body).await?;
    error(&ex, 409, "duplicate")?;
    let after = prescriptions_stored(c).await?;
    ensure(
        after == before,
        &ex,
        "the second registration stores nothing",
    )
}

async fn cancel(c: &Ctx) -> Outcome {
    let p = c.fx.person(&c.t, 27, true).await?;
    let (id, code) = registered(c, &c.fx.clinic, &p, &[("cefcapene", 5, 15)], 1).await?;
    let params = [id.as_str()];
    let cancel = |tok| {
        c.t.send::<ep::CancelPrescription>(Some(tok), &params, &(), &())
    };
    let other = c.facility(&c.fx.clinic2).await?;
    error(&cancel(&other).await?, 404, "prescription_not_found")?;
    let issuer = c.facility(&c.fx.clinic).await?;
    let ex = cancel(&issuer).await?;
    status(&ex, 200)?;
    ensure(ex.text("/status") == "cancelled", &ex, "status cancelled")?;
    error(&cancel(&issuer).await?, 409, "already_cancelled")?;
    error(
        &retrieve(c, &c.fx.pharmacy, &code, &p).await?,
        404,
        "prescription_not_found",
    )
}

async fn uses_exhausted(c: &Ctx) -> Outcome {
    let p = c.fx.person(&c.t, 68, false).await?;
    // One day's supply: each later use falls in its window the same day.
    let lines = [("amlodipine", 1, 1)];
    let (id, code) = registered(c, &c.fx.clinic, &p, &lines, 2).await?;
    status(
        &dispense(c, &c.fx.pharmacy, (&id, &code), &p, &lines).await?,
        201,
    )?;
    let second = dispense(c, &c.fx.pharmacy, (&id, &code), &p, &lines).await?;
    status(&second, 201)?;
    ensure(
        second.text("/status") == "completed"
            && second.at("/uses_remaining").and_then(Value::as_u64) == Some(0),
        &second,
        "the second of two uses completes the prescription (uses_remaining 0)",
    )?;
    let third = dispense(c, &c.fx.pharmacy, (&id, &code), &p, &lines).await?;
    match (third.status, third.code()) {
        (422, Some("uses_exhausted")) | (403, Some("access_code_mismatch")) => Ok(()),
        _ => Err(fail(
            &third,
            "a third use refused: 422 uses_exhausted (or 403 access_code_mismatch, the code freed)",
        )),
    }
}

async fn too_early(c: &Ctx) -> Outcome {
    let p = c.fx.person(&c.t, 73, true).await?;
    let lines = [("amlodipine", 28, 28)];
    let (id, code) = registered(c, &c.fx.clinic, &p, &lines, 2).await?;
    let first = dispense(c, &c.fx.pharmacy, (&id, &code), &p, &lines).await?;
    status(&first, 201)?;
    ensure(
        first.at("/next_window/from").is_some(),
        &first,
        "next_window of the later use",
    )?;
    error(
        &dispense(c, &c.fx.pharmacy, (&id, &code), &p, &lines).await?,
        422,
        "refill_too_early",
    )
}

async fn not_for_restricted(c: &Ctx) -> Outcome {
    let drug = dx_protocol::refdata::DrugMaster::get()
        .all()
        .iter()
        .find(|d| d.refill_bar.is_some() && d.max_days.is_none_or(|m| m >= 7))
        .ok_or_else(|| Finding::Error("the drug master has no restricted drug".into()))?;
    let p = c.fx.person(&c.t, 57, false).await?;
    let ex = register_rx(c, &c.fx.clinic, &p, &[(drug.ingredient, 7, 7)], 2).await?;
    error(&ex, 422, "refill_not_allowed")
}

async fn first_use_window(c: &Ctx) -> Outcome {
    let p = c.fx.person(&c.t, 41, true).await?;
    let lines = [("carbocisteine", 5, 15)];
    let (id, code) = registered(c, &c.fx.clinic, &p, &lines, 1).await?;
    c.t.advance(chrono::TimeDelta::days(5)).await?;
    error(
        &dispense(c, &c.fx.pharmacy, (&id, &code), &p, &lines).await?,
        422,
        "prescription_expired",
    )
}

async fn check_at(
    c: &Ctx,
    facility: &str,
    p: &Person,
    ingredient: &str,
    include_same: bool,
) -> Result<Exchange, Finding> {
    let tok = c.facility(facility).await?;
    let body = CheckRequest {
        person: p.by_id(),
        start_date: None,
        items: vec![drug(ingredient, 14, 14)],
        include_same_facility: include_same,
    };
    c.t.post::<ep::CheckPrescription>(&tok, &body).await
}

fn kinds(ex: &Exchange) -> Vec<String> {
    ex.at("/warnings")
        .and_then(Value::as_array)
        .map(|w| {
            w.iter()
                .map(|x| x["kind"].as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

async fn duplicate_across(c: &Ctx) -> Outcome {
    let p = c.fx.person(&c.t, 60, true).await?;
    registered(c, &c.fx.clinic, &p, &[("amlodipine", 28, 28)], 1).await?;
    let ex = check_at(c, &c.fx.clinic2, &p, "amlodipine", false).await?;
    status(&ex, 200)?;
    ensure(
        kinds(&ex) == ["duplicate"]
            && ex.at("/details_disclosed") == Some(&json!(false))
            && ex.at("/warnings/0/other").is_none_or(Value::is_null),
        &ex,
        "one duplicate warning, details withheld without consent",
    )
}

async fn contraindicated_pair(c: &Ctx) -> Outcome {
    let p = c.fx.person(&c.t, 69, false).await?;
    registered(c, &c.fx.hospital, &p, &[("eplerenone", 28, 28)], 1).await?;
    let ex = check_at(c, &c.fx.clinic2, &p, "clarithromycin", false).await?;
    status(&ex, 200)?;
    ensure(
        kinds(&ex) == ["contraindication"],
        &ex,
        "one contraindication warning (clarithromycin with eplerenone)",
    )
}

async fn same_facility_excluded(c: &Ctx) -> Outcome {
    let p = c.fx.person(&c.t, 53, true).await?;
    registered(c, &c.fx.clinic, &p, &[("amlodipine", 28, 28)], 1).await?;
    let ex = check_at(c, &c.fx.clinic, &p, "amlodipine", false).await?;
    status(&ex, 200)?;
    ensure(
        kinds(&ex).is_empty(),
        &ex,
        "no warning of the caller's own prescription",
    )?;
    let ex = check_at(c, &c.fx.clinic, &p, "amlodipine", true).await?;
    ensure(
        kinds(&ex) == ["duplicate"],
        &ex,
        "with include_same_facility, the duplicate",
    )
}

async fn details_with_consent(c: &Ctx) -> Outcome {
    let p = c.fx.person(&c.t, 77, true).await?;
    registered(c, &c.fx.clinic, &p, &[("amlodipine", 28, 28)], 1).await?;
    consent_by_card(c, &c.fx.clinic2, &p, &["medication"]).await?;
    let ex = check_at(c, &c.fx.clinic2, &p, "amlodipine", false).await?;
    status(&ex, 200)?;
    ensure(
        ex.at("/details_disclosed") == Some(&json!(true))
            && ex.text("/warnings/0/other/facility_code") == c.fx.clinic,
        &ex,
        format!("details_disclosed and other.facility_code {}", c.fx.clinic),
    )
}

async fn paper_counts(c: &Ctx) -> Outcome {
    let p = c.fx.person(&c.t, 67, false).await?;
    let tok = c.facility(&c.fx.pharmacy).await?;
    let body = PaperDispenseRequest {
        person: p.by_number(),
        prescriber_facility: c.fx.clinic.clone(),
        items: vec![drug("candesartan", 28, 28)],
    };
    let ex = c.t.post::<ep::PaperDispense>(&tok, &body).await?;
    status(&ex, 201)?;
    let ex = check_at(c, &c.fx.clinic2, &p, "candesartan", false).await?;
    ensure(
        kinds(&ex) == ["duplicate"],
        &ex,
        "the paper dispensing warns duplicate",
    )
}
