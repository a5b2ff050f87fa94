//! Security (tokens, roles, injection, refusals storing nothing) and errors (malformed and
//! oversized bodies, media types, routes and methods).

use super::check;
use crate::target::Body;
use crate::{Check, Ctx, Finding, Outcome, ensure, error, fail, status};
use reqwest::Method;
use serde_json::{Value, json};

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
            "SQL, script, path and control-character strings in the text fields of token requests, verification, consent, keys, checks, paper dispensing, vaccination, entitlements, applications and decisions, and in path segments and query values, get a structured answer (success or a 4xx error body), never a 5xx; accepted text comes back verbatim, and the exchange keeps serving",
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

async fn no_token(c: &Ctx) -> Outcome {
    let ex =
        c.t.call(
            Method::POST,
            "/v1/eligibility/verify",
            None,
            Body::Json(json!({"person": {"card_serial": "C1"}})),
        )
        .await?;
    error(&ex, 401, "unauthenticated")
}

async fn forged_token(c: &Ctx) -> Outcome {
    let tok = c.facility(&c.fx.clinic).await?;
    // The last character changed: the same claims, a signature that does not verify.
    let mut forged = tok.clone();
    let last = forged.pop().unwrap_or('A');
    forged.push(if last == 'A' { 'B' } else { 'A' });
    for bad in [forged.as_str(), "not-a-token"] {
        let ex = c.t.get("/v1/ehr/referrals", bad).await?;
        error(&ex, 401, "invalid_token")?;
    }
    Ok(())
}

async fn expired_token(c: &Ctx) -> Outcome {
    let tok = c.facility(&c.fx.clinic).await?;
    status(&c.t.get("/v1/ehr/referrals", &tok).await?, 200)?;
    c.t.advance(chrono::TimeDelta::seconds(3_601)).await?;
    error(
        &c.t.get("/v1/ehr/referrals", &tok).await?,
        401,
        "token_expired",
    )
}

async fn wrong_role(c: &Ctx) -> Outcome {
    let p = c.fx.person(&c.t, 40, true).await?;
    let body =
        c.fx.prescription(&c.t, &c.fx.clinic, &p, &[("amlodipine", 28, 28)], 1, |_| {})
            .await?;
    let pharmacy = c.facility(&c.fx.pharmacy).await?;
    error(
        &c.t.post("/v1/prescriptions", &pharmacy, body).await?,
        403,
        "wrong_role",
    )?;
    let clinic = c.facility(&c.fx.clinic).await?;
    error(
        &c.t.get(
            &format!("/v1/prescriptions/123456?card_serial={}", p.card),
            &clinic,
        )
        .await?,
        403,
        "wrong_role",
    )?;
    let person = c.t.token(&p.principal()).await?;
    error(
        &c.t.post(
            "/v1/eligibility/verify",
            &person,
            json!({"person": p.by_card()}),
        )
        .await?,
        403,
        "wrong_role",
    )
}

async fn wrong_secret(c: &Ctx) -> Outcome {
    let ex = c
        .t
        .call(
            Method::POST,
            "/v1/auth/token",
            None,
            Body::Json(json!({"principal": format!("facility:{}", c.fx.clinic), "secret": "0000000000000000"})),
        )
        .await?;
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

async fn injection_strings(c: &Ctx) -> Outcome {
    let p = c.fx.person(&c.t, 50, false).await?;
    let clinic = c.facility(&c.fx.clinic).await?;
    let person = c.t.token(&p.principal()).await?;
    let pharmacy = c.facility(&c.fx.pharmacy).await?;
    let town =
        c.t.token(&format!("municipality:{}", c.fx.municipality))
            .await?;
    let today = c.t.today().await?;
    for s in INJECTIONS {
        let ex =
            c.t.call(
                Method::POST,
                "/v1/auth/token",
                None,
                Body::Json(json!({"principal": s, "secret": s})),
            )
            .await?;
        ensure(
            (400..500).contains(&ex.status) && ex.code().is_some(),
            &ex,
            "a 4xx error body for a principal that is no principal",
        )?;
        let calls: Vec<(&str, &String, Value)> = vec![
            (
                "/v1/eligibility/verify",
                &clinic,
                json!({"person": {"card_serial": s}}),
            ),
            (
                "/v1/eligibility/verify",
                &clinic,
                json!({"person": {"insurer_number": p.insurer_number, "symbol": s, "number": s, "branch": "00"}}),
            ),
            (
                "/v1/consents",
                &clinic,
                json!({"person": {"person_id": s}, "kind": "medication", "method": "verbal"}),
            ),
            (
                "/v1/practitioners/keys",
                &clinic,
                json!({"practitioner_id": s, "public_key": s}),
            ),
            (
                "/v1/vaccinations",
                &clinic,
                json!({"person": p.by_id(), "vaccine": s, "administered_on": today, "lot": s}),
            ),
            (
                "/v1/portal/applications",
                &person,
                json!({"person_id": p.id, "kind": "medical_subsidy", "note": s}),
            ),
            (
                "/v1/prescriptions/check",
                &clinic,
                json!({"person": p.by_id(), "items": [{"code": s, "days": 7, "quantity": 7}]}),
            ),
            (
                "/v1/dispensations",
                &pharmacy,
                json!({"person": p.by_id(), "prescriber_facility": s, "items": [{"code": s, "days": 7, "quantity": 7}]}),
            ),
            (
                "/v1/municipal/entitlements",
                &town,
                json!({"person": p.by_id(), "law_code": s, "payer_number": s, "recipient_number": s, "valid_from": today}),
            ),
        ];
        let mut answers = Vec::new();
        for (path, tok, body) in calls {
            answers.push(c.t.post(path, tok, body).await?);
        }
        // In paths and queries too, percent-encoded.
        let e = pct(s);
        answers.push(
            c.t.get(&format!("/v1/prescriptions/{e}?card_serial={e}"), &pharmacy)
                .await?,
        );
        answers.push(
            c.t.get(
                &format!("/v1/persons/{e}/clinical-summary?cursor={e}&kind={e}"),
                &clinic,
            )
            .await?,
        );
        answers.push(
            c.t.post(
                &format!("/v1/municipal/applications/{e}/decision"),
                &town,
                json!({"decision": "rejected", "reason": s}),
            )
            .await?,
        );
        for ex in &answers {
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
    let mine = c.t.get("/v1/portal/applications", &person).await?;
    status(&mine, 200)?;
    ensure(
        mine.response
            .contains(&serde_json::to_string(INJECTIONS[0]).expect("JSON")),
        &mine,
        format!("the application's note {:?} as it was sent", INJECTIONS[0]),
    )?;
    // Still serving, the person still there.
    let ex =
        c.t.post(
            "/v1/eligibility/verify",
            &clinic,
            json!({"person": p.by_card()}),
        )
        .await?;
    status(&ex, 200)?;
    ensure(
        ex.text("/person_id") == p.id,
        &ex,
        "the exchange still verifies the person",
    )
}

/// Percent-encodes every byte but letters and digits, for a path segment or query value.
fn pct(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// Row counts of the store, less the audit trail (refusals are audited).
async fn counts(c: &Ctx) -> Result<Vec<(String, u64)>, Finding> {
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

async fn refused_stores_nothing(c: &Ctx) -> Outcome {
    let p = c.fx.person(&c.t, 44, false).await?;
    let stranger =
        c.fx.person_in(&c.t, 44, true, &c.fx.municipality2.clone())
            .await?;
    let before = counts(c).await?;
    let clinic = c.facility(&c.fx.clinic).await?;
    let pharmacy = c.facility(&c.fx.pharmacy).await?;
    let town =
        c.t.token(&format!("municipality:{}", c.fx.municipality))
            .await?;
    let mut unsigned =
        c.fx.prescription(&c.t, &c.fx.clinic, &p, &[("amlodipine", 28, 28)], 1, |_| {})
            .await?;
    unsigned.as_object_mut().map(|o| o.remove("signature"));
    let today = c.t.today().await?;
    let refused: Vec<(&str, &String, Value)> = vec![
        (
            "/v1/consents",
            &clinic,
            json!({"person": p.by_id(), "kind": "ehr", "method": "verbal"}),
        ),
        ("/v1/prescriptions", &clinic, unsigned),
        (
            "/v1/dispensations",
            &pharmacy,
            json!({"person": p.by_id(), "prescriber_facility": c.fx.clinic, "items": [{"code": "9999999X9999", "days": 7, "quantity": 7}]}),
        ),
        (
            "/v1/vaccinations",
            &town,
            json!({"person": stranger.by_id(), "vaccine": "influenza", "administered_on": today}),
        ),
    ];
    let mut last = None;
    for (path, tok, body) in refused {
        let ex = c.t.post(path, tok, body).await?;
        if !(400..500).contains(&ex.status) {
            return Err(fail(&ex, format!("{path}: refused with a 4xx")));
        }
        last = Some(ex);
    }
    let after = counts(c).await?;
    let changed: Vec<String> = before
        .iter()
        .zip(&after)
        .filter(|(a, b)| a != b)
        .map(|((k, a), (_, b))| format!("{k} {a} → {b}"))
        .collect();
    match (changed.is_empty(), last) {
        (true, _) => Ok(()),
        (false, Some(ex)) => Err(fail(
            &ex,
            format!("no row count to change; changed: {}", changed.join(", ")),
        )),
        (false, None) => Err(Finding::Error("no request was sent".into())),
    }
}

async fn raw(
    c: &Ctx,
    bytes: Vec<u8>,
    content_type: &'static str,
) -> Result<crate::target::Exchange, Finding> {
    let tok = c.facility(&c.fx.clinic).await?;
    c.t.call(
        Method::POST,
        "/v1/eligibility/verify",
        Some(&tok),
        Body::Raw(bytes, content_type),
    )
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
    let body = serde_json::to_vec(&json!({"person": {"card_serial": "C1"}})).expect("JSON");
    error(
        &raw(c, body, "text/plain").await?,
        415,
        "unsupported_media_type",
    )
}

async fn no_route(c: &Ctx) -> Outcome {
    let tok = c.facility(&c.fx.clinic).await?;
    error(&c.t.get("/v1/no-such-route", &tok).await?, 404, "no_route")
}

async fn method_not_allowed(c: &Ctx) -> Outcome {
    let tok = c.facility(&c.fx.clinic).await?;
    error(
        &c.t.get("/v1/eligibility/verify", &tok).await?,
        405,
        "method_not_allowed",
    )
}
