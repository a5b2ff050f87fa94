use crate::harness::*;
use reqwest::StatusCode;
use serde_json::json;

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

crate::harness::on_both_stores!(a_person_sees_who_read_and_wrote_their_records,);
