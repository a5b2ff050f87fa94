use crate::harness::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn a_person_sees_who_read_and_wrote_their_records() {
    let h = Harness::start().await;
    let p = h.adult_with_card(0);
    let fac = clinic(6);
    let t = h.facility_token(&fac).await;
    h.post(
        &t,
        "/v1/eligibility/verify",
        json!({"person": h.card(&fac, &p), "consent": {"medication": true}}),
    )
    .await;
    h.get(&t, &format!("/v1/persons/{}/medications", p.id))
        .await;
    let stranger = h.facility_token(&clinic(7)).await;
    let (s, _) = h
        .get(&stranger, &format!("/v1/persons/{}/medications", p.id))
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);

    let me = h.token(&format!("person:{}", p.id)).await;
    let (s, v) = h.get(&me, "/v1/portal/access-log").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let lines: Vec<(String, String, String)> = v["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["actor"].as_str().unwrap().into(),
                e["action"].as_str().unwrap().into(),
                e["outcome"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(
        lines,
        vec![
            (
                format!("facility:{}", clinic(7)),
                "medications.read".into(),
                "consent_required".into()
            ),
            (
                format!("facility:{fac}"),
                "medications.read".into(),
                "ok".into()
            ),
            (
                format!("facility:{fac}"),
                "eligibility.verify".into(),
                "ok".into()
            ),
        ]
    );

    // Paging.
    let (_, v) = h.get(&me, "/v1/portal/access-log?limit=2").await;
    let next = v["next_before"].as_i64().unwrap();
    let (_, v) = h
        .get(&me, &format!("/v1/portal/access-log?limit=2&before={next}"))
        .await;
    assert_eq!(v["entries"].as_array().unwrap().len(), 1);

    // Only persons read access logs.
    let (s, _) = h.get(&t, "/v1/portal/access-log").await;
    assert_eq!(s, StatusCode::FORBIDDEN);
}

/// A request named by `x-request-id` leaves its name on its audit line: the admin asks which
/// acknowledged requests left none (a lost write), and a malformed name is refused unstored.
async fn acknowledged_requests_are_found_by_their_request_id() {
    let h = Harness::start().await;
    let admin = h.admin().await;
    let clinic = h.facility_token(&clinic(2)).await;
    let p = h.adult_with_card(7);
    let verify = |id: &str| {
        h.http
            .post(format!("{}/v1/eligibility/verify", h.url))
            .bearer_auth(&clinic)
            .header("x-request-id", id)
            .json(&serde_json::json!({"person": insurance_ref(current(&p))}))
            .send()
    };
    assert_eq!(verify("run-1.17.1").await.unwrap().status(), StatusCode::OK);
    let before = h.data_stats().await;
    for bad in ["", "a b", &"x".repeat(65), "é"] {
        let r = verify(bad).await.unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{bad:?}");
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["error"]["code"], "invalid_request_id", "{v}");
    }
    assert_eq!(h.data_stats().await, before);
    let ask = |ids: Value| {
        h.post(
            &admin,
            "/v1/admin/writes",
            serde_json::json!({"request_ids": ids}),
        )
    };
    let (s, v) = ask(serde_json::json!(["run-1.17.1", "run-1.18.1"])).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(
        v,
        serde_json::json!({"checked": 2, "missing": ["run-1.18.1"]})
    );
    let (s, v) = ask(serde_json::json!(["ok", "not ok"])).await;
    assert_eq!(
        (s, v["error"]["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("request_ids[1]")),
        "{v}"
    );
    let many: Vec<String> = (0..10_001).map(|i| format!("r{i}")).collect();
    let (s, _) = ask(serde_json::json!(many)).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, _) = h
        .post(
            &clinic,
            "/v1/admin/writes",
            serde_json::json!({"request_ids": []}),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
}

crate::harness::on_both_stores!(
    a_person_sees_who_read_and_wrote_their_records,
    acknowledged_requests_are_found_by_their_request_id,
);
