//! The attacks on prescriptions and documents of issue 18, over real HTTP: each now fails, and
//! the refused request stores nothing but its audit line.

use crate::harness::*;
use chrono::TimeDelta;
use reqwest::StatusCode;
use serde_json::{Value, json};

/// The patient's access log as (actor, action, outcome), newest first.
async fn access_log(h: &Harness, person_id: &str) -> Vec<(String, String, String)> {
    let me = h.token(&format!("person:{person_id}")).await;
    let (s, v) = h.get(&me, "/v1/portal/access-log?limit=500").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    v["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let f = |k: &str| e[k].as_str().unwrap().to_owned();
            (f("actor"), f("action"), f("outcome"))
        })
        .collect()
}

/// Retrieval by `code` with the patient's insurance number.
async fn retrieve(
    h: &Harness,
    token: &str,
    code: &str,
    p: &dx_exchange::wire::PersonRecord,
) -> (StatusCode, Value) {
    let resp = h
        .http
        .get(format!(
            "{}/v1/prescriptions/{code}?{}",
            h.url,
            insurance_query(p)
        ))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = resp.status();
    let retry = resp
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned());
    let mut body: Value = resp.json().await.unwrap();
    if let Some(r) = retry {
        body["retry_after"] = json!(r);
    }
    (status, body)
}

/// A code of six digits that is not `code`.
fn wrong(code: &str, n: u32) -> String {
    let c: u32 = code.parse().unwrap();
    format!("{:06}", (c + 1 + n) % 1_000_000)
}

async fn a_pharmacy_that_did_not_retrieve_cannot_dispense() {
    let h = Harness::start().await;
    let p = h.adult_with_card(6);
    let doctor = h.signer(&clinic(3), "DR-3").await;
    let rx = doctor.register(&h, "d-1", &p, &[("losartan", 28)], 1).await;
    let id = rx["prescription_id"].as_str().unwrap();
    // A pharmacy that knows the id and even the code, but never retrieved it with the patient.
    let stranger = h.signer(&pharmacy(5), "PH-5").await;
    let before = h.data_stats().await;
    let body = stranger.dispensation(
        &h,
        &rx,
        rx["access_code"].as_str().unwrap(),
        &[("losartan", 28)],
    );
    let (s, v) = h
        .post(
            &stranger.token,
            &format!("/v1/prescriptions/{id}/dispensations"),
            body.clone(),
        )
        .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("prescription_not_found"))
    );
    // It answers exactly as an id that does not exist.
    let (s2, v2) = h
        .post(
            &stranger.token,
            "/v1/prescriptions/1311001019-2026-99999999/dispensations",
            body,
        )
        .await;
    assert_eq!((s, &v), (s2, &v2));
    assert_eq!(
        h.data_stats().await,
        before,
        "the refused dispensing stored nothing"
    );
    // The patient sees the attempt.
    let log = access_log(&h, &p.id).await;
    assert_eq!(
        log[0],
        (
            format!("facility:{}", pharmacy(5)),
            "prescription.dispense".into(),
            "prescription_not_found".into()
        )
    );
    // The patient's own pharmacy retrieves, then dispenses.
    let pharmacist = h.signer(&pharmacy(4), "PH-4").await;
    let (s, v) = pharmacist.dispense(&h, &rx, &[("losartan", 28)]).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    // A retrieval lets its pharmacy dispense for 24 hours, not longer.
    let rx2 = doctor
        .register(&h, "d-2", &p, &[("famotidine", 14)], 1)
        .await;
    assert_eq!(pharmacist.retrieve(&h, &rx2).await.0, StatusCode::OK);
    h.clock.advance(TimeDelta::hours(25));
    let pharmacist = h.signer(&pharmacy(4), "PH-4b").await;
    let body = pharmacist.dispensation(
        &h,
        &rx2,
        rx2["access_code"].as_str().unwrap(),
        &[("famotidine", 14)],
    );
    let path = format!(
        "/v1/prescriptions/{}/dispensations",
        rx2["prescription_id"].as_str().unwrap()
    );
    let (s, _) = h.post(&pharmacist.token, &path, body).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

async fn five_wrong_codes_lock_retrieval_for_the_patient_until_unlocked() {
    let h = Harness::start().await;
    let p = h.adult_with_card(7);
    let doctor = h.signer(&clinic(4), "DR-4").await;
    let rx = doctor.register(&h, "l-1", &p, &[("losartan", 28)], 1).await;
    let code = rx["access_code"].as_str().unwrap();
    let t = h.facility_token(&pharmacy(6)).await;
    let before = h.data_stats().await;
    for n in 0..5 {
        let (s, v) = retrieve(&h, &t, &wrong(code, n), &p).await;
        assert_eq!(
            (s, v["error"]["code"].as_str()),
            (StatusCode::NOT_FOUND, Some("prescription_not_found"))
        );
    }
    // Now even the right code is refused, from any pharmacy.
    let other = h.facility_token(&pharmacy(7)).await;
    for token in [&t, &other] {
        let (s, v) = retrieve(&h, token, code, &p).await;
        assert_eq!(
            (s, v["error"]["code"].as_str()),
            (StatusCode::FORBIDDEN, Some("retrieval_locked")),
            "{v}"
        );
    }
    assert_eq!(
        h.data_stats().await,
        before,
        "failed attempts store nothing but audit lines"
    );
    // The patient sees every attempt.
    let log = access_log(&h, &p.id).await;
    let failures = log
        .iter()
        .filter(|(_, a, o)| a == "prescription.retrieve" && o == "prescription_not_found")
        .count();
    assert_eq!(failures, 5);
    // Another facility cannot unlock; the prescriber can.
    let id = rx["prescription_id"].as_str().unwrap();
    let elsewhere = h.facility_token(&clinic(5)).await;
    let (s, v) = h
        .post(
            &elsewhere,
            &format!("/v1/prescriptions/{id}/unlock"),
            json!({}),
        )
        .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("prescription_not_found"))
    );
    let (s, v) = h
        .post(
            &doctor.token,
            &format!("/v1/prescriptions/{id}/unlock"),
            json!({}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["person_id"], p.id.as_str());
    let (s, v) = retrieve(&h, &t, code, &p).await;
    assert_eq!(s, StatusCode::OK, "{v}");

    // Locked again; the patient unlocks at the portal.
    for n in 0..5 {
        retrieve(&h, &other, &wrong(code, n), &p).await;
    }
    assert_eq!(retrieve(&h, &t, code, &p).await.0, StatusCode::FORBIDDEN);
    let me = h.token(&format!("person:{}", p.id)).await;
    let (s, _) = h
        .post(&me, "/v1/portal/prescriptions/unlock", json!({}))
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(retrieve(&h, &t, code, &p).await.0, StatusCode::OK);
}

async fn parallel_guesses_cannot_pass_the_lock() {
    let h = Harness::start().await;
    let p = h.adult_with_card(8);
    let doctor = h.signer(&clinic(6), "DR-6").await;
    let rx = doctor.register(&h, "g-1", &p, &[("losartan", 28)], 1).await;
    let code = rx["access_code"].as_str().unwrap().to_owned();
    let mut tokens = Vec::new();
    for i in 0..5 {
        tokens.push(h.facility_token(&pharmacy(10 + i)).await);
    }
    // 40 guesses at once from four pharmacies: at most 5 are judged as wrong codes.
    let query = insurance_query(&p);
    let guesses: Vec<_> = (0..40u32)
        .map(|n| {
            let (http, url, t) = (
                h.http.clone(),
                h.url.clone(),
                tokens[n as usize % 4].clone(),
            );
            let path = format!("/v1/prescriptions/{}?{query}", wrong(&code, n));
            tokio::spawn(async move {
                let r = http.get(format!("{url}{path}")).bearer_auth(t).send().await;
                r.unwrap().status()
            })
        })
        .collect();
    let mut judged = 0;
    for g in guesses {
        judged += usize::from(g.await.unwrap() == StatusCode::NOT_FOUND);
    }
    assert!(judged <= 5, "{judged} wrong codes were judged");
    // A fifth pharmacy, under its own limit, finds the patient locked.
    assert_eq!(
        retrieve(&h, &tokens[4], &code, &p).await.0,
        StatusCode::FORBIDDEN
    );
}

async fn a_pharmacy_guessing_codes_is_limited_per_minute() {
    let h = Harness::start().await;
    let t = h.facility_token(&pharmacy(8)).await;
    let unknown_at = |at: &str, n: u32| {
        let query = h.card_query(at, &format!("C9{n:010}"));
        format!("/v1/prescriptions/123456?{query}")
    };
    let unknown = |n: u32| unknown_at(&pharmacy(8), n);
    for n in 0..10 {
        let (s, _) = h.get(&t, &unknown(n)).await;
        assert_eq!(s, StatusCode::NOT_FOUND);
    }
    let resp = h
        .http
        .get(format!("{}{}", h.url, unknown(10)))
        .bearer_auth(&t)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u32 = resp.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["code"], "too_many_attempts");
    // Another pharmacy is not limited; the next minute this one is not either.
    let other = h.facility_token(&pharmacy(9)).await;
    assert_eq!(
        h.get(&other, &unknown_at(&pharmacy(9), 11)).await.0,
        StatusCode::NOT_FOUND
    );
    h.clock.advance(TimeDelta::seconds(i64::from(retry)));
    assert_eq!(h.get(&t, &unknown(12)).await.0, StatusCode::NOT_FOUND);
}

async fn retrieval_and_paper_dispensing_need_the_patients_identity_not_an_id() {
    let h = Harness::start().await;
    let p = h.adult_with_card(9);
    let t = h.facility_token(&pharmacy(2)).await;
    let (s, v) = h
        .get(&t, &format!("/v1/prescriptions/123456?person_id={}", p.id))
        .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_person_reference"))
    );
    let before = h.data_stats().await;
    let paper = json!({"person": {"person_id": p.id}, "prescriber_facility": clinic(1), "items": [{"code": yj("losartan"), "days": 28}]});
    let (s, v) = h.post(&t, "/v1/dispensations", paper).await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_person_reference"))
    );
    assert_eq!(h.data_stats().await, before);
    let paper = json!({"person": insurance_ref(current(&p)), "prescriber_facility": clinic(1), "items": [{"code": yj("losartan"), "days": 28}]});
    assert_eq!(
        h.post(&t, "/v1/dispensations", paper).await.0,
        StatusCode::CREATED
    );
}

async fn what_the_caller_may_not_see_answers_as_what_does_not_exist() {
    let h = Harness::start().await;
    let p = h.adult_with_card(10);
    let doctor = h.signer(&clinic(7), "DR-7").await;
    let rx = doctor.register(&h, "u-1", &p, &[("losartan", 28)], 1).await;
    let id = rx["prescription_id"].as_str().unwrap();
    let other = h.facility_token(&clinic(8)).await;
    let before = h.data_stats().await;
    let real = h
        .post(&other, &format!("/v1/prescriptions/{id}/cancel"), json!({}))
        .await;
    let none = h
        .post(
            &other,
            "/v1/prescriptions/1311001019-2026-99999999/cancel",
            json!({}),
        )
        .await;
    assert_eq!(real.0, StatusCode::NOT_FOUND);
    assert_eq!(real, none);
    assert_eq!(h.data_stats().await, before);

    // A checkup report, read by a facility without the person's consent.
    let author = hospital(2);
    let at = h.facility_token(&author).await;
    let doc = h.document_bundle(
        &author,
        "ck-1",
        dx_exchange::wire::clins::DocumentKind::CheckupReport,
        &p,
        None,
        &[],
    );
    let (s, v) = h.post(&at, "/v1/ehr/documents", doc).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let doc_id = v["document_id"].as_str().unwrap().to_owned();
    let real = h.get(&other, &format!("/v1/ehr/documents/{doc_id}")).await;
    let fake: String = doc_id
        .chars()
        .map(|c| if c.is_ascii_digit() { '9' } else { c })
        .collect();
    let mut none = h.get(&other, &format!("/v1/ehr/documents/{fake}")).await;
    assert_eq!(real.0, StatusCode::NOT_FOUND);
    // The message names the id asked for; everything else is the same.
    none.1["error"]["message"] = Value::String(
        none.1["error"]["message"]
            .as_str()
            .unwrap()
            .replace(&fake, &doc_id),
    );
    assert_eq!(real, none);
}

crate::harness::on_both_stores!(
    a_pharmacy_that_did_not_retrieve_cannot_dispense,
    five_wrong_codes_lock_retrieval_for_the_patient_until_unlocked,
    parallel_guesses_cannot_pass_the_lock,
    a_pharmacy_guessing_codes_is_limited_per_minute,
    retrieval_and_paper_dispensing_need_the_patients_identity_not_an_id,
    what_the_caller_may_not_see_answers_as_what_does_not_exist,
);
