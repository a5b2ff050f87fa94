use crate::harness::*;
use dx_exchange::clock::Clock as _;
use reqwest::{Method, StatusCode};
use serde_json::json;

async fn no_token_forged_token_and_expired_token_are_401() {
    let h = Harness::start().await;
    let body = json!({"person": {"card_serial": "C1"}});
    let (s, v) = h
        .send(Method::POST, None, "/v1/eligibility/verify", Some(&body))
        .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("unauthenticated"))
    );

    let token = h.facility_token(&clinic(0)).await;
    let forged = format!("{}x", &token[..token.len() - 1]);
    let (s, v) = h
        .post(&forged, "/v1/eligibility/verify", body.clone())
        .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_token"))
    );

    h.clock.advance(chrono::TimeDelta::minutes(61));
    let (s, v) = h.post(&token, "/v1/eligibility/verify", body).await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("token_expired"))
    );
}

async fn a_wrong_secret_gets_no_token() {
    let h = Harness::start().await;
    let (s, v) = h
        .send(
            Method::POST,
            None,
            "/v1/auth/token",
            Some(&json!({"principal": format!("facility:{}", clinic(0)), "secret": "guess"})),
        )
        .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_credentials"))
    );
}

async fn roles_are_enforced() {
    let h = Harness::start().await;
    let person = h.adult_with_card(0);
    let before = h.data_stats().await;

    // A pharmacy cannot register prescriptions.
    let pharmacist = h.signer(&pharmacy(0), "PH-1").await;
    let before_keys = h.data_stats().await;
    let body = pharmacist.signed(&pharmacist.draft(
        "doc-1",
        &person,
        &[("amlodipine", 28)],
        1,
        h.clock.now(),
    ));
    let (s, v) = h.post(&pharmacist.token, "/v1/prescriptions", body).await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("wrong_role"))
    );

    // A clinic cannot register dispensing results.
    let doctor = h.signer(&clinic(0), "DR-1").await;
    let rx = doctor
        .register(&h, "doc-2", &person, &[("amlodipine", 28)], 1)
        .await;
    let (s, v) = doctor.dispense(&h, &rx, &[("amlodipine", 28)]).await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("wrong_role"))
    );

    // A person cannot verify eligibility or issue credentials.
    let me = h.token(&format!("person:{}", person.id)).await;
    let (s, _) = h
        .post(
            &me,
            "/v1/eligibility/verify",
            json!({"person": {"card_serial": person.card_serial}}),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = h
        .post(&me, "/v1/admin/credentials", json!({"principal": "admin"}))
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);

    // The refused pharmacy registration stored nothing (the pharmacist's key is its own write).
    assert_eq!(before_keys["prescriptions"], before["prescriptions"]);
    assert_eq!(h.data_stats().await["dispensations"], 0);
}

crate::harness::on_both_stores!(
    no_token_forged_token_and_expired_token_are_401,
    a_wrong_secret_gets_no_token,
    roles_are_enforced,
);
