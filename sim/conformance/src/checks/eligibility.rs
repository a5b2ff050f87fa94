//! Eligibility (オンライン資格確認) and consent (同意).

use crate::check::check;
use crate::check::{Check, Ctx};
use crate::finding::{Outcome, ensure, error, status};
use crate::target::Person;
use dx_protocol::wire::endpoints as ep;
use dx_protocol::wire::{
    BatchVerifyRequest, ConsentFlags, ConsentKind, ConsentMethod, ConsentRequest, MedicationsQuery,
    PersonRef, VerifyRequest,
};
use serde_json::Value;

pub fn checks() -> Vec<Check> {
    vec![
        check!(
            "eligibility.verify-by-card",
            "Verification by card names the person and their coverage",
            "POST /v1/eligibility/verify with a card serial answers 200 with status valid, the person's id and the coverage in force",
            "docs/api.md § Eligibility",
            verify_by_card
        ),
        check!(
            "eligibility.verify-by-number",
            "Verification by insurance number finds the same person",
            "An insurer number, 記号, 番号 and 枝番 identify the insured person: status valid with their person id",
            "docs/api.md § Eligibility",
            verify_by_number
        ),
        check!(
            "eligibility.insurer-check-digit",
            "An insurer number with a wrong check digit is refused",
            "Insurer numbers carry a modulus-10 check digit (weights 2,1,… from the right); a wrong one is 400 invalid_check_digit",
            "FACTS § Insurers; docs/api.md § Identifiers",
            insurer_check_digit
        ),
        check!(
            "eligibility.not-found",
            "An unknown insurance number is not found, not an error",
            "A well-formed number nobody holds answers 200 with status not_found",
            "docs/api.md § Eligibility",
            not_found
        ),
        check!(
            "eligibility.copay-by-age",
            "The copay follows the age on the date of service",
            "20% before school entry, 30% to 69, 20% from 70, 10% from 75",
            "docs/api.md § Eligibility",
            copay_by_age
        ),
        check!(
            "eligibility.batch-in-order",
            "A batch pre-check answers each item in order, a malformed one with its error",
            "POST /v1/eligibility/batch: one result per item in order; a malformed item is {\"error\": …}, the others are verified",
            "docs/api.md § Eligibility (一括照会)",
            batch_in_order
        ),
        check!(
            "eligibility.no-person-id",
            "Verification does not take a person id",
            "verify names the person by card or insurance number: a person_id is 400 invalid_person_reference",
            "docs/api.md § Eligibility",
            no_person_id
        ),
        check!(
            "consent.given-at-the-card-reader",
            "Consent given with a card verification opens the medication record",
            "verify with consent flags records each kind for the facility for 24 hours; the medications read then answers 200",
            "docs/api.md § Eligibility; FACTS § Consent",
            consent_at_card_reader
        ),
        check!(
            "consent.required-for-medications",
            "The medication record is refused without consent",
            "GET /v1/persons/{id}/medications without the person's medication consent is 403 consent_required",
            "docs/api.md § E-prescription; FACTS § Consent",
            consent_required
        ),
        check!(
            "consent.card-consent-needs-a-card",
            "Card consent needs the card",
            "Consent by card names the person by card serial; by insurance number it is 400 consent_needs_card",
            "docs/api.md § Consent",
            card_consent_needs_card
        ),
        check!(
            "consent.verbal-for-medication-only",
            "Verbal consent covers medication information only",
            "method verbal is accepted for medication (201) and refused for ehr with 422 verbal_consent_not_allowed",
            "docs/api.md § Consent; FACTS § Consent",
            verbal_medication_only
        ),
        check!(
            "consent.per-facility",
            "Consent given to one facility does not open the record to another",
            "Consent is recorded per person, facility and kind: another facility reading is 403 consent_required",
            "docs/api.md § Consent",
            per_facility
        ),
        check!(
            "consent.expires-after-24-hours",
            "Consent lapses after 24 hours",
            "A read 24 hours after the consent is 403 consent_expired",
            "FACTS § Consent; docs/api.md § Consent",
            expires_after_24h
        ),
    ]
}

/// A verification request of `person`, without consent.
fn verifying(person: PersonRef) -> VerifyRequest {
    VerifyRequest {
        person,
        service_date: None,
        consent: None,
    }
}

async fn verify(
    c: &Ctx,
    facility: &str,
    body: VerifyRequest,
) -> Result<crate::target::Exchange, crate::finding::Finding> {
    let tok = c.facility(facility).await?;
    c.t.post::<ep::Verify>(&tok, &body).await
}

/// Consent flags naming `kinds` (`medication`, `ehr`, `checkup`, `vaccination`).
fn flags(kinds: &[&str]) -> ConsentFlags {
    ConsentFlags {
        vaccination: kinds.contains(&"vaccination"),
        medication: kinds.contains(&"medication"),
        checkup: kinds.contains(&"checkup"),
        ehr: kinds.contains(&"ehr"),
    }
}

async fn verify_by_card(c: &Ctx) -> Outcome {
    let p = c.fx.person(&c.t, 40, true).await?;
    let ex = verify(c, &c.fx.clinic, verifying(c.card(&c.fx.clinic, &p).await?)).await?;
    status(&ex, 200)?;
    ensure(
        ex.text("/status") == "valid"
            && ex.text("/person_id") == p.id
            && ex.text("/coverage/insurer_number") == p.insurer_number
            && ex.text("/coverage/number") == p.number,
        &ex,
        format!(
            "status valid, person_id {}, the coverage {} {}",
            p.id, p.insurer_number, p.number
        ),
    )
}

async fn verify_by_number(c: &Ctx) -> Outcome {
    let p = c.fx.person(&c.t, 52, false).await?;
    let ex = verify(c, &c.fx.pharmacy, verifying(p.by_number())).await?;
    status(&ex, 200)?;
    ensure(
        ex.text("/status") == "valid" && ex.text("/person_id") == p.id,
        &ex,
        format!("status valid and person_id {}", p.id),
    )
}

async fn insurer_check_digit(c: &Ctx) -> Outcome {
    let p = c.fx.person(&c.t, 33, true).await?;
    let mut number = p.insurer_number.clone();
    let last = number.pop().and_then(|d| d.to_digit(10)).unwrap_or(0);
    number.push(char::from_digit((last + 1) % 10, 10).unwrap_or('0'));
    let mut person = p.by_number();
    person.insurer_number = Some(number);
    let ex = verify(c, &c.fx.clinic, verifying(person)).await?;
    error(&ex, 400, "invalid_check_digit")
}

async fn not_found(c: &Ctx) -> Outcome {
    let ex = verify(
        c,
        &c.fx.clinic,
        verifying(PersonRef {
            insurer_number: Some(c.fx.insurer.clone()),
            symbol: Some("C".into()),
            number: Some(format!("NOBODY{}", c.fx.next())),
            branch: Some("00".into()),
            ..PersonRef::default()
        }),
    )
    .await?;
    status(&ex, 200)?;
    ensure(ex.text("/status") == "not_found", &ex, "status not_found")
}

async fn copay_by_age(c: &Ctx) -> Outcome {
    for (age, copay) in [(3, 20), (40, 30), (72, 20), (80, 10)] {
        let p = c.fx.person(&c.t, age, false).await?;
        let ex = verify(c, &c.fx.clinic, verifying(c.card(&c.fx.clinic, &p).await?)).await?;
        status(&ex, 200)?;
        ensure(
            ex.at("/coverage/copay_percent").and_then(Value::as_u64) == Some(copay),
            &ex,
            format!("copay_percent {copay} at age {age}"),
        )?;
    }
    Ok(())
}

async fn batch_in_order(c: &Ctx) -> Outcome {
    let (a, b) = (
        c.fx.person(&c.t, 30, true).await?,
        c.fx.person(&c.t, 61, false).await?,
    );
    let tok = c.facility(&c.fx.clinic).await?;
    let body = BatchVerifyRequest {
        service_date: None,
        items: vec![
            c.card(&c.fx.clinic, &a).await?,
            PersonRef::by_card(""),
            b.by_number(),
        ],
    };
    let ex = c.t.post::<ep::BatchVerify>(&tok, &body).await?;
    status(&ex, 200)?;
    ensure(
        ex.text("/results/0/person_id") == a.id
            && ex.at("/results/1/error/code").is_some()
            && ex.text("/results/2/person_id") == b.id,
        &ex,
        format!(
            "results in order: {}, an error for the empty card serial, {}",
            a.id, b.id
        ),
    )
}

async fn no_person_id(c: &Ctx) -> Outcome {
    let p = c.fx.person(&c.t, 45, true).await?;
    let ex = verify(c, &c.fx.clinic, verifying(p.by_id())).await?;
    error(&ex, 400, "invalid_person_reference")
}

/// Verifies `p` by card at `facility` with consent to `kinds`.
pub async fn consent_by_card(c: &Ctx, facility: &str, p: &Person, kinds: &[&str]) -> Outcome {
    let body = VerifyRequest {
        consent: Some(flags(kinds)),
        ..verifying(c.card(facility, p).await?)
    };
    status(&verify(c, facility, body).await?, 200)
}

async fn medications(
    c: &Ctx,
    facility: &str,
    id: &str,
) -> Result<crate::target::Exchange, crate::finding::Finding> {
    let tok = c.facility(facility).await?;
    let days = MedicationsQuery { days: Some(100) };
    c.t.send::<ep::ReadMedications>(Some(&tok), &[id], &days, &())
        .await
}

async fn consent_at_card_reader(c: &Ctx) -> Outcome {
    let p = c.fx.person(&c.t, 66, true).await?;
    let body = VerifyRequest {
        consent: Some(flags(&["medication"])),
        ..verifying(c.card(&c.fx.clinic, &p).await?)
    };
    let ex = verify(c, &c.fx.clinic, body).await?;
    status(&ex, 200)?;
    ensure(
        ex.at("/consents")
            .and_then(Value::as_array)
            .is_some_and(|k| k.iter().any(|x| x == "medication")),
        &ex,
        "consents listing medication",
    )?;
    status(&medications(c, &c.fx.clinic, &p.id).await?, 200)
}

async fn consent_required(c: &Ctx) -> Outcome {
    let p = c.fx.person(&c.t, 58, false).await?;
    error(
        &medications(c, &c.fx.clinic, &p.id).await?,
        403,
        "consent_required",
    )
}

async fn card_consent_needs_card(c: &Ctx) -> Outcome {
    let p = c.fx.person(&c.t, 47, true).await?;
    let tok = c.facility(&c.fx.clinic).await?;
    let body = ConsentRequest {
        person: p.by_number(),
        kind: ConsentKind::Ehr,
        method: ConsentMethod::Card,
    };
    let ex = c.t.post::<ep::GiveConsent>(&tok, &body).await?;
    error(&ex, 400, "consent_needs_card")?;
    let body = VerifyRequest {
        consent: Some(flags(&["ehr"])),
        ..verifying(p.by_number())
    };
    let ex = verify(c, &c.fx.clinic, body).await?;
    error(&ex, 400, "consent_needs_card")
}

async fn verbal_medication_only(c: &Ctx) -> Outcome {
    let p = c.fx.person(&c.t, 39, false).await?;
    let tok = c.facility(&c.fx.clinic).await?;
    let verbal = |kind| ConsentRequest {
        person: p.by_id(),
        kind,
        method: ConsentMethod::Verbal,
    };
    let ex =
        c.t.post::<ep::GiveConsent>(&tok, &verbal(ConsentKind::Ehr))
            .await?;
    error(&ex, 422, "verbal_consent_not_allowed")?;
    // Verbal consent is taken at a visit: the patient's eligibility verified here today.
    status(
        &verify(c, &c.fx.clinic, verifying(p.by_number())).await?,
        200,
    )?;
    let ex =
        c.t.post::<ep::GiveConsent>(&tok, &verbal(ConsentKind::Medication))
            .await?;
    status(&ex, 201)
}

async fn per_facility(c: &Ctx) -> Outcome {
    let p = c.fx.person(&c.t, 71, true).await?;
    consent_by_card(c, &c.fx.clinic, &p, &["medication"]).await?;
    error(
        &medications(c, &c.fx.clinic2, &p.id).await?,
        403,
        "consent_required",
    )
}

async fn expires_after_24h(c: &Ctx) -> Outcome {
    let p = c.fx.person(&c.t, 64, true).await?;
    consent_by_card(c, &c.fx.clinic, &p, &["medication"]).await?;
    status(&medications(c, &c.fx.clinic, &p.id).await?, 200)?;
    c.t.advance(chrono::TimeDelta::hours(24) + chrono::TimeDelta::seconds(60))
        .await?;
    error(
        &medications(c, &c.fx.clinic, &p.id).await?,
        403,
        "consent_expired",
    )
}
