//! Strict bodies and tokens (issue 18, point 7), over real HTTP: arrays are not objects, only
//! UTF-8 JSON is read, every error has the JSON error body, tokens last at most an hour,
//! credentials can be revoked, and wrong secrets are limited per principal.

use crate::harness::*;
use chrono::TimeDelta;
use dx_exchange::clock::Clock as _;
use reqwest::StatusCode;
use serde_json::{Value, json};

/// Posts raw bytes with a content type: (status, content type, body).
async fn raw(
    h: &Harness,
    token: &str,
    path: &str,
    content_type: &str,
    body: Vec<u8>,
) -> (StatusCode, String, Value) {
    let r = h
        .http
        .post(format!("{}{path}", h.url))
        .bearer_auth(token)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    let status = r.status();
    let ct = r
        .headers()
        .get("content-type")
        .map_or(String::new(), |v| v.to_str().unwrap().to_owned());
    (status, ct, r.json().await.unwrap_or(Value::Null))
}

async fn sign_in(h: &Harness, principal: &str, secret: &str) -> (StatusCode, Value) {
    let body = json!({"principal": principal, "secret": secret});
    h.send(reqwest::Method::POST, None, "/v1/auth/token", Some(&body))
        .await
}

async fn arrays_are_not_objects_and_store_nothing() {
    let h = Harness::start().await;
    let p = h.adult_with_card(11);
    let t = h.facility_token(&clinic(1)).await;
    let before = h.data_stats().await;
    let positional =
        json!({"person": {"card_serial": p.card_serial}, "consent": [true, true, true, true]});
    let (s, v) = h.post(&t, "/v1/eligibility/verify", positional).await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_body")),
        "{v}"
    );
    let (s, v) = h
        .post(
            &t,
            "/v1/eligibility/verify",
            json!([{"card_serial": p.card_serial}, null, null]),
        )
        .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_body")),
        "{v}"
    );
    assert_eq!(
        h.data_stats().await,
        before,
        "nothing stored, no consent given"
    );
}

async fn only_utf8_json_is_read() {
    let h = Harness::start().await;
    let t = h.facility_token(&clinic(1)).await;
    let body = br#"{"person": {"card_serial": "C1"}}"#.to_vec();
    let utf16: Vec<u8> = String::from_utf8(body.clone())
        .unwrap()
        .encode_utf16()
        .flat_map(u16::to_le_bytes)
        .collect();
    for (ct, bytes) in [
        ("application/json; charset=utf-16", utf16.clone()),
        ("application/json; charset=utf-16", body.clone()),
        ("application/json", utf16),
        (
            "application/json",
            b"{\"person\": {\"card_serial\": \"C\xff\"}}".to_vec(),
        ),
        ("text/plain", body.clone()),
    ] {
        let (s, _, v) = raw(&h, &t, "/v1/eligibility/verify", ct, bytes).await;
        assert_eq!(
            (s, v["error"]["code"].as_str()),
            (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                Some("unsupported_media_type")
            ),
            "{ct}: {v}"
        );
    }
    for ct in ["application/json; charset=UTF-8", "application/fhir+json"] {
        let card =
            json!({"person": {"card_serial": "C1", "card_proof": h.card_proof(&clinic(1), "C1")}});
        let body = serde_json::to_vec(&card).unwrap();
        let (s, _, v) = raw(&h, &t, "/v1/eligibility/verify", ct, body).await;
        assert_eq!(s, StatusCode::OK, "{ct}: {v}");
    }
}

async fn errors_of_the_http_layer_have_the_json_error_body() {
    let h = Harness::start().await;
    let t = h.facility_token(&clinic(1)).await;
    // A path segment that is not UTF-8 once decoded.
    let r = h
        .http
        .get(format!("{}/v1/persons/%FF%FE/medications", h.url))
        .bearer_auth(&t)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "invalid_request", "{v}");
    assert!(!v["error"]["message"].as_str().unwrap().is_empty());
    // A request target over 8 KiB, and a header section over 32 KiB.
    let long = "a".repeat(10 * 1024);
    let r = h
        .http
        .get(format!("{}/v1/persons/{long}/medications", h.url))
        .bearer_auth(&t)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::URI_TOO_LONG);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "uri_too_long");
    let r = h
        .http
        .get(format!("{}/healthz", h.url))
        .header("x-filler", "b".repeat(40 * 1024))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "headers_too_large");
}

async fn tokens_last_an_hour_at_most_and_revoked_credentials_stop_working() {
    let h = Harness::start().await;
    let admin = h.admin().await;
    let principal = format!("facility:{}", clinic(3));
    let (_, cred) = h
        .post(
            &admin,
            "/v1/admin/credentials",
            json!({"principal": principal}),
        )
        .await;
    let old_secret = cred["secret"].as_str().unwrap().to_owned();
    let (s, v) = sign_in(&h, &principal, &old_secret).await;
    assert_eq!(s, StatusCode::OK);
    let expires: chrono::DateTime<chrono::Utc> = v["expires_at"].as_str().unwrap().parse().unwrap();
    assert!(expires <= h.clock.now() + TimeDelta::hours(1), "{expires}");
    let old_token = v["token"].as_str().unwrap().to_owned();
    assert_eq!(
        h.get(&old_token, "/v1/ehr/referrals").await.0,
        StatusCode::OK
    );

    // Only the admin revokes.
    let (s, _) = h
        .post(
            &old_token,
            "/v1/admin/credentials/revoke",
            json!({"principal": principal}),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, v) = h
        .post(
            &admin,
            "/v1/admin/credentials/revoke",
            json!({"principal": principal}),
        )
        .await;
    assert_eq!(
        (s, v["generation"].as_u64()),
        (StatusCode::OK, Some(1)),
        "{v}"
    );

    let (s, v) = h.get(&old_token, "/v1/ehr/referrals").await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("token_revoked"))
    );
    let (s, v) = sign_in(&h, &principal, &old_secret).await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_credentials"))
    );
    // The new secret works; other principals are untouched.
    let (_, cred) = h
        .post(
            &admin,
            "/v1/admin/credentials",
            json!({"principal": principal}),
        )
        .await;
    let (s, v) = sign_in(&h, &principal, cred["secret"].as_str().unwrap()).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(
        h.get(v["token"].as_str().unwrap(), "/v1/ehr/referrals")
            .await
            .0,
        StatusCode::OK
    );
    let other = h.facility_token(&clinic(4)).await;
    assert_eq!(h.get(&other, "/v1/ehr/referrals").await.0, StatusCode::OK);
}

async fn wrong_secrets_are_limited_per_principal() {
    let h = Harness::start().await;
    let principal = format!("facility:{}", clinic(5));
    for _ in 0..5 {
        let (s, v) = sign_in(&h, &principal, "wrong-secret-0000").await;
        assert_eq!(
            (s, v["error"]["code"].as_str()),
            (StatusCode::UNAUTHORIZED, Some("invalid_credentials"))
        );
    }
    let (s, v) = sign_in(&h, &principal, "wrong-secret-0000").await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (StatusCode::TOO_MANY_REQUESTS, Some("too_many_attempts"))
    );
    // Another principal signs in; this one can again in the next minute.
    h.facility_token(&clinic(6)).await;
    h.clock.advance(TimeDelta::seconds(60));
    h.facility_token(&clinic(5)).await;
}

crate::harness::on_both_stores!(
    arrays_are_not_objects_and_store_nothing,
    only_utf8_json_is_read,
    errors_of_the_http_layer_have_the_json_error_body,
    tokens_last_an_hour_at_most_and_revoked_credentials_stop_working,
    wrong_secrets_are_limited_per_principal,
);
