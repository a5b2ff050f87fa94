//! Security (tokens, roles, injection, refusals storing nothing) and errors (malformed and
//! oversized bodies, media types, routes and methods).

use crate::check::check;
use crate::check::{Check, Ctx};
use crate::finding::{Finding, Outcome, ensure, error, fail, status};
use crate::target::{Body, Exchange};
use dx_protocol::wire::endpoints::{self as ep, Endpoint};
use dx_protocol::wire::{
    AccessLogQuery, ApplicationKind, ApplicationRequest, ApplicationsQuery, CheckRequest,
    ConsentKind, ConsentMethod, ConsentRequest, Decision, DecisionRequest, DrugLine,
    EntitlementRequest, InboxQuery, PaperDispenseRequest, PersonRef, SummaryQuery, TokenRequest,
    VaccinationRequest, VerifyRequest,
};
use reqwest::Method;
use serde_json::json;

pub fn checks() -> Vec<Check> {
    vec![
        check!(
            "security.no-token",
            "A request without a token is refused",
            "Every route but /healthz, /metrics and POST /v1/auth/token needs a bearer token: 401 unauthenticated",
            "docs/api.md § Conventions",
            no_token
        ),
        check!(
            "security.forged-token",
            "A forged or malformed token is refused",
            "A token whose signature does not verify, or that is not a token at all, is 401 invalid_token",
            "docs/api.md § Conventions",
            forged_token
        ),
        check!(
            "security.expired-token",
            "A token is refused after its hour",
            "Tokens last one hour: after it, 401 token_expired",
            "docs/api.md § Conventions",
            expired_token
        ),
        check!(
            "security.wrong-role",
            "Each route serves its roles only",
            "A pharmacy registering a prescription, a clinic retrieving one and a person verifying eligibility are each 403 wrong_role",
            "docs/api.md § Conventions",
            wrong_role
        ),
        check!(
            "security.wrong-secret",
            "A wrong secret gets no token",
            "POST /v1/auth/token with a wrong secret is 401 invalid_credentials",
            "docs/api.md § Auth",
            wrong_secret
        ),
        check!(
            "security.injection-strings",
            "Injection strings in text fields are data, never code",
            "SQL, script, path and control-character strings in the text fields of token requests, verification, consent, checks, paper dispensing, vaccination, entitlements, applications and decisions, and in path segments and query values, get a structured answer (success or a 4xx error body), never a 5xx; accepted text comes back verbatim, and the exchange keeps serving",
            "docs/api.md § Conventions",
            injection_strings
        ),
        check!(
            "security.refused-stores-nothing",
            "A refused request changes nothing stored",
            "Refused requests (verbal EHR consent, an unsigned registration, a dispensing of an unknown code, a dose for a stranger) leave every row count of GET /v1/admin/stats unchanged",
            "docs/api.md § Conventions",
            refused_stores_nothing
        ),
        check!(
            "security.verbal-consent-needs-visit",
            "Verbal consent follows a visit",
            "Verbal medication consent for a person this facility did not verify today (by card or insurance number) is 403 no_visit and stores nothing; after a verification it is 201",
            "docs/api.md § Consent",
            verbal_consent_needs_visit
        ),
        check!(
            "security.dispense-needs-retrieval",
            "Only the pharmacy that retrieved a prescription dispenses it",
            "A dispensing from a pharmacy that did not retrieve the prescription (with the patient's card or insurance number) in the last 24 hours is 404 prescription_not_found, even with the right access code, and stores nothing",
            "docs/api.md § E-prescription",
            dispense_needs_retrieval
        ),
        check!(
            "security.access-code-guessing",
            "Guessing access codes is limited",
            "5 wrong access codes in a row for one patient lock retrieval by code for that patient (403 retrieval_locked, even with the right code) until the prescriber unlocks it; a pharmacy's 11th wrong code in a minute is 429 too_many_attempts with Retry-After; the patient's access log shows the failed attempts",
            "docs/api.md § Limits",
            access_code_guessing
        ),
        check!(
            "security.uniform-not-found",
            "What the caller may not see answers as what does not exist",
            "Cancelling another facility's prescription, dispensing one not retrieved and reading a checkup report without consent answer exactly as the same request for an id that does not exist (404)",
            "docs/api.md § Conventions",
            uniform_not_found
        ),
        check!(
            "security.token-lifetime",
            "A token lasts an hour at most",
            "POST /v1/auth/token answers an expires_at at most 1 hour after the exchange's now",
            "docs/api.md § Conventions",
            token_lifetime
        ),
        check!(
            "security.revocation",
            "Revoked credentials stop working at once",
            "After POST /v1/admin/credentials/revoke, the principal's earlier token is 401 token_revoked and its earlier secret 401 invalid_credentials; the secret POST /v1/admin/credentials then hands out works",
            "docs/api.md § Auth",
            revocation
        ),
        check!(
            "security.secret-guessing",
            "Guessing a principal's secret is limited",
            "The 6th wrong secret for one principal within a minute is 429 too_many_attempts with Retry-After",
            "docs/api.md § Auth; docs/api.md § Limits",
            secret_guessing
        ),
        check!(
            "security.overload",
            "Overload is answered 503 with Retry-After",
            "A burst of 400 simultaneous verifications is served, or what is shed is 503 overloaded in the JSON error body with Retry-After (seconds); nothing answers another error or drops the connection, and /healthz answers during the burst",
            "docs/api.md § Limits",
            overload
        ),
        check!(
            "errors.malformed-json",
            "Malformed JSON is refused with the error body",
            "A body that is not JSON is 400 malformed_json in {\"error\": {code, message}}",
            "docs/api.md § Conventions",
            malformed_json
        ),
        check!(
            "errors.unknown-field",
            "Unknown fields are refused",
            "A request with a field the route does not know is 400 invalid_body",
            "docs/api.md § Conventions",
            unknown_field
        ),
        check!(
            "errors.oversized-body",
            "A body over 1 MiB is refused",
            "Bodies are at most 1 MiB: larger is 413 body_too_large",
            "docs/api.md § Conventions",
            oversized
        ),
        check!(
            "errors.media-type",
            "A body that is not JSON by its type is refused",
            "Content-Type must be application/json: text/plain is 415 unsupported_media_type",
            "docs/api.md § Conventions",
            media_type
        ),
        check!(
            "errors.no-route",
            "An unknown route answers the error body",
            "A path the API does not have is 404 no_route in the error body",
            "docs/api.md § Conventions",
            no_route
        ),
        check!(
            "errors.method-not-allowed",
            "A route called with the wrong method answers 405",
            "GET on a POST route is 405 method_not_allowed in the error body",
            "docs/api.md § Conventions",
            method_not_allowed
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

/// The referral inbox, read with `token`.
async fn inbox(c: &Ctx, token: &str) -> Result<Exchange, Finding> {
    c.t.send::<ep::ReferralInbox>(Some(token), &[], &InboxQuery::default(), &())
        .await
}

async fn sign_in(c: &Ctx, principal: &str, secret: &str) -> Result<Exchange, Finding> {
    let body = TokenRequest {
        principal: principal.to_owned(),
        secret: secret.to_owned(),
    };
    c.t.send::<ep::Token>(None, &[], &(), &body).await
}

/// Drug lines of one drug by its code.
fn one_drug(code: &str) -> Vec<DrugLine> {
    vec![DrugLine {
        code: code.to_owned(),
        days: 7,
        quantity: Some(7),
    }]
}

async fn no_token(c: &Ctx) -> Outcome {
    let body = verifying(PersonRef::by_card("C1"));
    let ex = c.t.send::<ep::Verify>(None, &[], &(), &body).await?;
    error(&ex, 401, "unauthenticated")
}

async fn forged_token(c: &Ctx) -> Outcome {
    let tok = c.facility(&c.fx.clinic).await?;
    // The last character changed: the same claims, a signature that does not verify.
    let mut forged = tok.clone();
    let last = forged.pop().unwrap_or('A');
    forged.push(if last == 'A' { 'B' } else { 'A' });
    for bad in [forged.as_str(), "not-a-token"] {
        error(&inbox(c, bad).await?, 401, "invalid_token")?;
    }
    Ok(())
}

async fn expired_token(c: &Ctx) -> Outcome {
    let tok = c.facility(&c.fx.clinic).await?;
    status(&inbox(c, &tok).await?, 200)?;
    c.t.advance(chrono::TimeDelta::seconds(3_601)).await?;
    error(&inbox(c, &tok).await?, 401, "token_expired")
}

async fn wrong_role(c: &Ctx) -> Outcome {
    let p = c.fx.person(&c.t, 40, true).await?;
    let body =
        c.fx.prescription(&c.t, &c.fx.clinic, &p, &[("amlodipine", 28, 28)], 1, |_| {})
            .await?;
    let pharmacy = c.facility(&c.fx.pharmacy).await?;
    error(
        &c.t.post::<ep::RegisterPrescription>(&pharmacy, &body)
            .await?,
        403,
        "wrong_role",
    )?;
    let clinic = c.facility(&c.fx.clinic).await?;
    error(
        &c.t.send::<ep::RetrievePrescription>(Some(&clinic), &["123456"], &p.by_card(), &())
            .await?,
        403,
        "wrong_role",
    )?;
    let person = c.t.token(&p.principal()).await?;
    error(
        &c.t.post::<ep::Verify>(&person, &verifying(p.by_card()))
            .await?,
        403,
        "wrong_role",
    )
}

async fn wrong_secret(c: &Ctx) -> Outcome {
    let principal = format!("facility:{}", c.fx.clinic);
    let ex = sign_in(c, &principal, "0000000000000000").await?;
    error(&ex, 401, "invalid_credentials")
}

/// Strings that break naive SQL, HTML, paths, logs and parsers.
const INJECTIONS: [&str; 6] = [
    "' OR '1'='1' --",
    "\"; DROP TABLE persons; --",
    "<script>alert(1)</script>",
    "../../../../etc/passwd",
    "%00\u{0}\r\nX-Injected: 1",
    "${jndi:ldap://x/a}{{7*7}}",
];

/// Principals the injection check sends as.
struct Callers {
    clinic: String,
    person: String,
    pharmacy: String,
    town: String,
}

/// The requests of the injection check: `s` in every text field, path segment and query value
/// the protocol takes (all well-formed as to their types).
async fn injected(
    c: &Ctx,
    p: &crate::target::Person,
    who: &Callers,
    s: &str,
    today: chrono::NaiveDate,
) -> Result<Vec<Exchange>, Finding> {
    let t = &c.t;
    let by_number = PersonRef {
        symbol: Some(s.into()),
        number: Some(s.into()),
        ..p.by_number()
    };
    let consent = ConsentRequest {
        person: PersonRef::by_id(s),
        kind: ConsentKind::Medication,
        method: ConsentMethod::Verbal,
    };
    let dose = VaccinationRequest {
        person: p.by_id(),
        vaccine: s.into(),
        administered_on: today,
        lot: Some(s.into()),
    };
    let application = ApplicationRequest {
        person_id: p.id.clone(),
        kind: ApplicationKind::MedicalSubsidy,
        note: Some(s.into()),
    };
    let check = CheckRequest {
        person: p.by_id(),
        start_date: None,
        items: one_drug(s),
        include_same_facility: false,
    };
    let paper = PaperDispenseRequest {
        person: p.by_number(),
        prescriber_facility: s.into(),
        items: one_drug(s),
    };
    let entitlement = EntitlementRequest {
        person: p.by_id(),
        law_code: s.into(),
        payer_number: s.into(),
        recipient_number: s.into(),
        valid_from: today,
        valid_to: None,
    };
    let summary = SummaryQuery {
        count: None,
        cursor: Some(s.into()),
        kind: Some(s.into()),
    };
    let decision = DecisionRequest {
        decision: Decision::Rejected,
        reason: Some(s.into()),
    };
    Ok(vec![
        t.post::<ep::Verify>(&who.clinic, &verifying(PersonRef::by_card(s)))
            .await?,
        t.post::<ep::Verify>(&who.clinic, &verifying(by_number))
            .await?,
        t.post::<ep::GiveConsent>(&who.clinic, &consent).await?,
        t.post::<ep::RecordVaccination>(&who.clinic, &dose).await?,
        t.post::<ep::FileApplication>(&who.person, &application)
            .await?,
        t.post::<ep::CheckPrescription>(&who.clinic, &check).await?,
        t.post::<ep::PaperDispense>(&who.pharmacy, &paper).await?,
        t.post::<ep::RegisterEntitlement>(&who.town, &entitlement)
            .await?,
        // In paths and queries too, percent-encoded.
        t.send::<ep::RetrievePrescription>(Some(&who.pharmacy), &[s], &PersonRef::by_card(s), &())
            .await?,
        t.send::<ep::ReadClinicalSummary>(Some(&who.clinic), &[s], &summary, &())
            .await?,
        t.send::<ep::DecideApplication>(Some(&who.town), &[s], &(), &decision)
            .await?,
    ])
}

async fn injection_strings(c: &Ctx) -> Outcome {
    let p = c.fx.person(&c.t, 50, false).await?;
    let who = Callers {
        clinic: c.facility(&c.fx.clinic).await?,
        person: c.t.token(&p.principal()).await?,
        pharmacy: c.facility(&c.fx.pharmacy).await?,
        town: c
            .t
            .token(&format!("municipality:{}", c.fx.municipality))
            .await?,
    };
    let today = c.t.today().await?;
    for s in INJECTIONS {
        let ex = sign_in(c, s, s).await?;
        ensure(
            (400..500).contains(&ex.status) && ex.code().is_some(),
            &ex,
            "a 4xx error body for a principal that is no principal",
        )?;
        for ex in &injected(c, &p, &who, s, today).await? {
            let structured = match ex.status {
                200..=299 => ex.json.is_some(),
                400..=499 => ex.code().is_some(),
                _ => false,
            };
            ensure(
                structured,
                ex,
                "a JSON success or a 4xx error body, never a server error",
            )?;
        }
    }
    // What was accepted was stored as data: the first application's note comes back verbatim.
    let mine =
        c.t.send::<ep::MyApplications>(Some(&who.person), &[], &ApplicationsQuery::default(), &())
            .await?;
    status(&mine, 200)?;
    ensure(
        mine.response
            .contains(&serde_json::to_string(INJECTIONS[0]).expect("JSON")),
        &mine,
        format!("the application's note {:?} as it was sent", INJECTIONS[0]),
    )?;
    // Still serving, the person still there.
    let card = c.card(&c.fx.clinic, &p).await?;
    let ex =
        c.t.post::<ep::Verify>(&who.clinic, &verifying(card))
            .await?;
    status(&ex, 200)?;
    ensure(
        ex.text("/person_id") == p.id,
        &ex,
        "the exchange still verifies the person",
    )
}

/// Row counts of the store, less the audit trail (refusals are audited).
pub(super) async fn counts(c: &Ctx) -> Result<Vec<(String, u64)>, Finding> {
    let stats = c.t.stats().await?;
    Ok(stats
        .as_object()
        .map(|m| {
            m.iter()
                .filter(|(k, _)| !k.contains("audit"))
                .filter_map(|(k, v)| v.as_u64().map(|n| (k.clone(), n)))
                .collect()
        })
        .unwrap_or_default())
}

/// Requests the exchange must refuse, each storing nothing: verbal consent to EHR
/// information, an unsigned prescription, a paper dispensing of an unknown drug, a dose of a
/// person of another municipality.
async fn refusable(
    c: &Ctx,
    p: &crate::target::Person,
    stranger: &crate::target::Person,
) -> Result<Vec<Exchange>, Finding> {
    let clinic = c.facility(&c.fx.clinic).await?;
    let pharmacy = c.facility(&c.fx.pharmacy).await?;
    let town =
        c.t.token(&format!("municipality:{}", c.fx.municipality))
            .await?;
    let mut unsigned =
        c.fx.prescription(&c.t, &c.fx.clinic, p, &[("amlodipine", 28, 28)], 1, |_| {})
            .await?;
    unsigned
        .bundle
        .as_object_mut()
        .map(|b| b.remove("signature"));
    let consent = ConsentRequest {
        person: p.by_id(),
        kind: ConsentKind::Ehr,
        method: ConsentMethod::Verbal,
    };
    let paper = PaperDispenseRequest {
        person: p.by_number(),
        prescriber_facility: c.fx.clinic.clone(),
        items: one_drug("9999999X9999"),
    };
    let dose = VaccinationRequest {
        person: stranger.by_id(),
        vaccine: "influenza".into(),
        administered_on: c.t.today().await?,
        lot: None,
    };
    Ok(vec![
        c.t.post::<ep::GiveConsent>(&clinic, &consent).await?,
        c.t.post::<ep::RegisterPrescription>(&clinic, &unsigned)
            .await?,
        c.t.post::<ep::PaperDispense>(&pharmacy, &paper).await?,
        c.t.post::<ep::RecordVaccination>(&town, &dose).await?,
    ])
}

async fn refused_stores_nothing(c: &Ctx) -> Outcome {
    let p = c.fx.person(&c.t, 44, false).await?;
    let stranger =
        c.fx.person_in(&c.t, 44, true, &c.fx.municipality2.clone())
            .await?;
    let before = counts(c).await?;
    let answers = refusable(c, &p, &stranger).await?;
    if let Some(ex) = answers.iter().find(|ex| !(400..500).contains(&ex.status)) {
        return Err(fail(ex, format!("{}: refused with a 4xx", ex.path)));
    }
    let after = counts(c).await?;
    let changed: Vec<String> = before
        .iter()
        .zip(&after)
        .filter(|(a, b)| a != b)
        .map(|((k, a), (_, b))| format!("{k} {a} → {b}"))
        .collect();
    match (changed.is_empty(), answers.last()) {
        (true, _) => Ok(()),
        (false, Some(ex)) => Err(fail(
            ex,
            format!("no row count to change; changed: {}", changed.join(", ")),
        )),
        (false, None) => Err(Finding::Error("no request was sent".into())),
    }
}

/// A deliberately bad body to the verification endpoint.
async fn raw(c: &Ctx, bytes: Vec<u8>, content_type: &'static str) -> Result<Exchange, Finding> {
    let tok = c.facility(&c.fx.clinic).await?;
    c.t.send_raw::<ep::Verify>(Some(&tok), &[], Body::Raw(bytes, content_type))
        .await
}

async fn malformed_json(c: &Ctx) -> Outcome {
    error(
        &raw(c, b"{\"person\": {".to_vec(), "application/json").await?,
        400,
        "malformed_json",
    )
}

async fn unknown_field(c: &Ctx) -> Outcome {
    let body = serde_json::to_vec(&json!({"person": {"card_serial": "C1"}, "colour": "blue"}))
        .expect("JSON");
    error(
        &raw(c, body, "application/json").await?,
        400,
        "invalid_body",
    )
}

async fn oversized(c: &Ctx) -> Outcome {
    let mut body = b"{\"person\": {\"card_serial\": \"".to_vec();
    body.extend(std::iter::repeat_n(b'A', 1024 * 1024 + 16));
    body.extend(b"\"}}");
    error(
        &raw(c, body, "application/json").await?,
        413,
        "body_too_large",
    )
}

async fn media_type(c: &Ctx) -> Outcome {
    let body = serde_json::to_vec(&verifying(PersonRef::by_card("C1"))).expect("JSON");
    error(
        &raw(c, body, "text/plain").await?,
        415,
        "unsupported_media_type",
    )
}

async fn no_route(c: &Ctx) -> Outcome {
    let tok = c.facility(&c.fx.clinic).await?;
    // A path the table does not hold.
    let ex =
        c.t.call(Method::GET, "/v1/no-such-route", Some(&tok), Body::None)
            .await?;
    error(&ex, 404, "no_route")
}

async fn method_not_allowed(c: &Ctx) -> Outcome {
    let tok = c.facility(&c.fx.clinic).await?;
    // The verification endpoint with the method it does not take.
    let ex =
        c.t.call(Method::GET, ep::Verify::PATH, Some(&tok), Body::None)
            .await?;
    error(&ex, 405, "method_not_allowed")
}

/// Registers a one-line prescription at the clinic: (id, access code).
async fn registered(c: &Ctx, p: &crate::target::Person) -> Result<(String, String), Finding> {
    let clinic = c.facility(&c.fx.clinic).await?;
    let body =
        c.fx.prescription(&c.t, &c.fx.clinic, p, &[("amlodipine", 28, 28)], 1, |_| {})
            .await?;
    let ex = c.t.post::<ep::RegisterPrescription>(&clinic, &body).await?;
    status(&ex, 201)?;
    Ok((ex.text("/prescription_id"), ex.text("/access_code")))
}

/// A six-digit code that is not `code`.
fn other_code(code: &str, n: u32) -> String {
    let c: u32 = code.parse().unwrap_or(0);
    format!("{:06}", (c + 1 + n) % 1_000_000)
}

pub(super) fn amlodipine() -> Vec<DrugLine> {
    vec![DrugLine {
        code: crate::target::yj("amlodipine"),
        days: 28,
        quantity: Some(28),
    }]
}

async fn verbal_consent_needs_visit(c: &Ctx) -> Outcome {
    let p = c.fx.person(&c.t, 58, false).await?;
    let clinic = c.facility(&c.fx.clinic2).await?;
    let verbal = ConsentRequest {
        person: p.by_id(),
        kind: ConsentKind::Medication,
        method: ConsentMethod::Verbal,
    };
    let before = counts(c).await?;
    let ex = c.t.post::<ep::GiveConsent>(&clinic, &verbal).await?;
    error(&ex, 403, "no_visit")?;
    ensure(
        counts(c).await? == before,
        &ex,
        "the refused consent stores nothing",
    )?;
    status(
        &c.t.post::<ep::Verify>(&clinic, &verifying(p.by_number()))
            .await?,
        200,
    )?;
    status(&c.t.post::<ep::GiveConsent>(&clinic, &verbal).await?, 201)
}

async fn dispense_needs_retrieval(c: &Ctx) -> Outcome {
    let p = c.fx.person(&c.t, 59, true).await?;
    let (id, code) = registered(c, &p).await?;
    // The second pharmacy knows the id and the code but never retrieved it with the patient.
    let stranger = c.facility(&c.fx.pharmacy2).await?;
    let body =
        c.fx.dispensation(&c.t, &c.fx.pharmacy2, (&id, &code), amlodipine())
            .await?;
    let before = counts(c).await?;
    let ex =
        c.t.send::<ep::Dispense>(Some(&stranger), &[&id], &(), &body)
            .await?;
    error(&ex, 404, "prescription_not_found")?;
    ensure(
        counts(c).await? == before,
        &ex,
        "the refused dispensing stores nothing",
    )
}

async fn access_code_guessing(c: &Ctx) -> Outcome {
    let p = c.fx.person(&c.t, 61, false).await?;
    let (id, code) = registered(c, &p).await?;
    let guesser = c.facility(&c.fx.pharmacy3).await?;
    let retrieve = |code: String, who: PersonRef| {
        let guesser = guesser.clone();
        async move {
            c.t.send::<ep::RetrievePrescription>(Some(&guesser), &[&code], &who, &())
                .await
        }
    };
    for n in 0..5 {
        let ex = retrieve(other_code(&code, n), p.by_number()).await?;
        error(&ex, 404, "prescription_not_found")?;
    }
    let ex = retrieve(code.clone(), p.by_number()).await?;
    error(&ex, 403, "retrieval_locked")?;
    let log = c.t.token(&p.principal()).await?;
    let latest = AccessLogQuery {
        before: None,
        limit: Some(100),
    };
    let entries =
        c.t.send::<ep::AccessLog>(Some(&log), &[], &latest, &())
            .await?;
    let failures = entries
        .at("/entries")
        .and_then(serde_json::Value::as_array)
        .map_or(0, |e| {
            e.iter()
                .filter(|x| {
                    x["action"] == "prescription.retrieve"
                        && x["outcome"] == "prescription_not_found"
                })
                .count()
        });
    ensure(
        failures == 5,
        &entries,
        format!("the patient's access log shows the 5 wrong codes ({failures} shown)"),
    )?;
    let prescriber = c.facility(&c.fx.clinic).await?;
    status(
        &c.t.send::<ep::UnlockPrescription>(Some(&prescriber), &[&id], &(), &())
            .await?,
        200,
    )?;
    status(&retrieve(code.clone(), p.by_number()).await?, 200)?;
    // Wrong codes with identities that name nobody: 5 wrong codes and the locked attempt were
    // the pharmacy's first 6 failures this minute, these make 10, and the 11th is 429.
    let nobody = |serial: String| {
        let fx = &c.fx;
        async move { Ok::<_, Finding>(fx.present(&fx.pharmacy3, &serial, c.t.now().await?)) }
    };
    for n in 0..4 {
        let card = nobody(format!("C9{n:010}")).await?;
        error(
            &retrieve(other_code(&code, n), card).await?,
            404,
            "prescription_not_found",
        )?;
    }
    let card = nobody("C9000000099".into()).await?;
    let ex = retrieve(other_code(&code, 9), card).await?;
    error(&ex, 429, "too_many_attempts")?;
    retry_within_a_minute(&ex)
}

async fn uniform_not_found(c: &Ctx) -> Outcome {
    let p = c.fx.person(&c.t, 62, true).await?;
    let (id, code) = registered(c, &p).await?;
    let unknown = format!("{}-2000-99999999", c.fx.clinic);
    let other = c.facility(&c.fx.clinic2).await?;
    let same = |a: &Exchange, b: &Exchange, what: &str| {
        ensure(
            a.status == 404 && a.status == b.status && a.response == b.response,
            a,
            format!(
                "{what} answers as the unknown id {unknown} does: {} {}",
                b.status, b.response
            ),
        )
    };
    let real =
        c.t.send::<ep::CancelPrescription>(Some(&other), &[&id], &(), &())
            .await?;
    let none =
        c.t.send::<ep::CancelPrescription>(Some(&other), &[&unknown], &(), &())
            .await?;
    same(&real, &none, "cancelling another facility's prescription")?;
    let pharmacy = c.facility(&c.fx.pharmacy2).await?;
    let body =
        c.fx.dispensation(&c.t, &c.fx.pharmacy2, (&id, &code), amlodipine())
            .await?;
    let real =
        c.t.send::<ep::Dispense>(Some(&pharmacy), &[&id], &(), &body)
            .await?;
    let none =
        c.t.send::<ep::Dispense>(Some(&pharmacy), &[&unknown], &(), &body)
            .await?;
    same(&real, &none, "dispensing a prescription not retrieved")
}

/// The exchange's now: from its movable clock where it has one, else this machine's clock.
async fn exchange_now(c: &Ctx) -> Result<chrono::DateTime<chrono::Utc>, Finding> {
    let admin = c.t.admin().await?;
    let body = dx_protocol::wire::ClockRequest { advance_seconds: 0 };
    let ex = c.t.post::<ep::MoveClock>(&admin, &body).await?;
    Ok(ex
        .at("/now")
        .and_then(serde_json::Value::as_str)
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .map_or_else(chrono::Utc::now, |t| t.with_timezone(&chrono::Utc)))
}

async fn token_lifetime(c: &Ctx) -> Outcome {
    let p = c.fx.person(&c.t, 33, true).await?;
    let secret = secret_of(c, &p.principal()).await?;
    let now = exchange_now(c).await?;
    let ex = sign_in(c, &p.principal(), &secret).await?;
    status(&ex, 200)?;
    let expires = chrono::DateTime::parse_from_rfc3339(&ex.text("/expires_at"))
        .map(|t| t.with_timezone(&chrono::Utc))
        .map_err(|_| fail(&ex, "an RFC 3339 expires_at"))?;
    // A minute's slack for the clocks of the two machines.
    ensure(
        expires <= now + chrono::TimeDelta::minutes(61),
        &ex,
        format!("expires_at at most an hour after {now}"),
    )
}

/// The secret `POST /v1/admin/credentials` hands out for `principal` now.
async fn secret_of(c: &Ctx, principal: &str) -> Result<String, Finding> {
    let admin = c.t.admin().await?;
    let body = dx_protocol::wire::CredentialRequest {
        principal: principal.to_owned(),
    };
    let ex = c.t.post::<ep::Credentials>(&admin, &body).await?;
    status(&ex, 200)?;
    Ok(ex.text("/secret"))
}

async fn revocation(c: &Ctx) -> Outcome {
    let p = c.fx.person(&c.t, 34, false).await?;
    let principal = p.principal();
    let old_secret = secret_of(c, &principal).await?;
    let signed = sign_in(c, &principal, &old_secret).await?;
    status(&signed, 200)?;
    let old_token = signed.text("/token");
    status(&read_log(c, &old_token).await?, 200)?;
    let admin = c.t.admin().await?;
    let body = dx_protocol::wire::CredentialRequest {
        principal: principal.clone(),
    };
    status(
        &c.t.post::<ep::RevokeCredentials>(&admin, &body).await?,
        200,
    )?;
    error(&read_log(c, &old_token).await?, 401, "token_revoked")?;
    error(
        &sign_in(c, &principal, &old_secret).await?,
        401,
        "invalid_credentials",
    )?;
    let new_secret = secret_of(c, &principal).await?;
    let signed = sign_in(c, &principal, &new_secret).await?;
    status(&signed, 200)?;
    status(&read_log(c, &signed.text("/token")).await?, 200)
}

/// The caller's access log, one line.
async fn read_log(c: &Ctx, token: &str) -> Result<Exchange, Finding> {
    let log = AccessLogQuery {
        before: None,
        limit: Some(1),
    };
    c.t.send::<ep::AccessLog>(Some(token), &[], &log, &()).await
}

async fn secret_guessing(c: &Ctx) -> Outcome {
    let p = c.fx.person(&c.t, 35, true).await?;
    for _ in 0..5 {
        error(
            &sign_in(c, &p.principal(), "0000000000000000").await?,
            401,
            "invalid_credentials",
        )?;
    }
    let ex = sign_in(c, &p.principal(), "0000000000000000").await?;
    error(&ex, 429, "too_many_attempts")?;
    retry_within_a_minute(&ex)
}

/// Simultaneous requests of the overload check.
const BURST: usize = 400;

async fn overload(c: &Ctx) -> Outcome {
    let p = c.fx.person(&c.t, 36, true).await?;
    let clinic = c.facility(&c.fx.clinic).await?;
    let body = verifying(p.by_number());
    let (answers, health) = tokio::join!(c.t.burst::<ep::Verify>(&clinic, &body, BURST), async {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        c.t.call(Method::GET, ep::Healthz::PATH, None, Body::None)
            .await
    });
    status(&health?, 200)?;
    let shed = answers.iter().filter(|a| a.status == 503).count();
    let wrong = answers.iter().find(|a| match a.status {
        200 => false,
        503 => {
            a.code() != Some("overloaded")
                || a.retry_after
                    .as_deref()
                    .and_then(|r| r.parse::<u32>().ok())
                    .is_none_or(|r| r < 1)
        }
        _ => true,
    });
    if let Some(ex) = wrong {
        return Err(fail(
            ex,
            format!(
                "each of {BURST} simultaneous verifications answered 200, or 503 overloaded in the error body with Retry-After"
            ),
        ));
    }
    status(&c.t.post::<ep::Verify>(&clinic, &body).await?, 200)?;
    if shed == 0 {
        return Err(Finding::Skip(format!(
            "{BURST} simultaneous verifications were all served: the target's bound is higher than the burst"
        )));
    }
    Ok(())
}

/// A 429's Retry-After: seconds to wait, 1–60.
fn retry_within_a_minute(ex: &Exchange) -> Outcome {
    ensure(
        ex.retry_after
            .as_deref()
            .and_then(|v| v.parse::<u32>().ok())
            .is_some_and(|s| (1..=60).contains(&s)),
        ex,
        "Retry-After: seconds to wait, 1–60",
    )
}
