//! Admission control over real HTTP: a surge on one service is answered `503 overloaded` with
//! `Retry-After` beyond its bound and counted in `/metrics`, while other services and `/healthz`
//! are served.

use crate::harness::*;
use dx_exchange::admission::Limits;
use dx_exchange::clock::Clock as _;
use reqwest::StatusCode;
use serde_json::json;
use std::time::Duration;

async fn a_portal_surge_is_shed_while_pharmacies_are_served() {
    let h = Harness::start_with(Limits {
        in_flight: 1,
        queued: 0,
        deadline: Duration::ZERO,
    })
    .await;
    let p = h.adult_with_card(12);
    let me = h.token(&format!("person:{}", p.id)).await;
    let pharmacy = h.facility_token(&pharmacy(3)).await;
    let before = h.data_stats().await;
    let surge: Vec<_> = (0..40)
        .map(|_| {
            let (http, url, me) = (h.http.clone(), h.url.clone(), me.clone());
            tokio::spawn(async move {
                let r = http
                    .get(format!("{url}/v1/portal/clinical-summary"))
                    .bearer_auth(me)
                    .send()
                    .await
                    .unwrap();
                let retry = r
                    .headers()
                    .get("retry-after")
                    .map(|v| v.to_str().unwrap().to_owned());
                let status = r.status();
                let body: serde_json::Value = r.json().await.unwrap();
                (status, retry, body)
            })
        })
        .collect();
    // The pharmacy's checks, one after another, and /healthz, during the surge.
    let verify = json!({"person": insurance_ref(current(&p))});
    for _ in 0..10 {
        let (s, v) = h
            .post(&pharmacy, "/v1/eligibility/verify", verify.clone())
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        let r = h
            .http
            .get(format!("{}/healthz", h.url))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
    }
    let mut shed = 0;
    for answer in surge {
        let (status, retry, body) = answer.await.unwrap();
        match status {
            StatusCode::OK => {}
            StatusCode::SERVICE_UNAVAILABLE => {
                assert_eq!(body["error"]["code"], "overloaded", "{body}");
                assert_eq!(retry.as_deref(), Some("1"));
                shed += 1;
            }
            s => panic!("the portal answered {s}: {body}"),
        }
    }
    assert!(shed > 0, "40 concurrent requests on a bound of 1 shed none");
    assert_eq!(h.data_stats().await, before);
    let (_, metrics) = h.send(reqwest::Method::GET, None, "/metrics", None).await;
    let metrics = metrics.as_str().unwrap().to_owned();
    assert!(
        metrics.contains(&format!("dx_overloaded_total{{service=\"portal\"}} {shed}")),
        "{metrics}"
    );
    assert!(metrics.contains("dx_overloaded_total{service=\"eligibility\"} 0"));
}

/// E-prescription issuing suspended by the operator: registrations answer `503 suspended` with
/// the reason and store nothing, while checks and the pharmacies' paper dispensings go on; only
/// the admin may switch it, with a reason; resumed, registration works again.
async fn a_suspended_service_refuses_its_requests_until_resumed() {
    let h = Harness::start().await;
    let admin = h.admin().await;
    let p = h.adult_with_card(5);
    let doctor = h.signer(&clinic(1), "DR-1").await;
    let body = doctor.signed(&doctor.draft("s-1", &p, &[("losartan", 28)], 1, h.clock.now()));
    let suspend = json!({"target": "eprescription_issuing", "suspended": true,
        "reason": "dummy drug codes in registrations"});
    // Not the admin's to a clinic; no reason; an unknown target; unknown fields.
    let (s, v) = h
        .post(&doctor.token, "/v1/admin/suspensions", suspend.clone())
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
    for (bad, code) in [
        (
            json!({"target": "eprescription_issuing", "suspended": true}),
            "missing_field",
        ),
        (
            json!({"target": "eprescription_issuing", "suspended": true, "reason": " "}),
            "missing_field",
        ),
        (
            json!({"target": "eprescription_issuing", "suspended": true, "reason": "x".repeat(201)}),
            "invalid_field",
        ),
    ] {
        let (s, v) = h.post(&admin, "/v1/admin/suspensions", bad).await;
        assert_eq!(
            (s, v["error"]["code"].as_str()),
            (StatusCode::BAD_REQUEST, Some(code)),
            "{v}"
        );
    }
    for bad in [
        json!({"target": "billing", "suspended": true, "reason": "r"}),
        json!({"target": "ehr", "suspended": true, "reason": "r", "until": "never"}),
    ] {
        let (s, v) = h.post(&admin, "/v1/admin/suspensions", bad).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    }
    let (s, v) = h.get(&admin, "/v1/admin/suspensions").await;
    assert_eq!(
        (s, v["suspensions"].as_array().map(Vec::len)),
        (StatusCode::OK, Some(0)),
        "{v}"
    );

    let (s, v) = h.post(&admin, "/v1/admin/suspensions", suspend).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(
        v["suspensions"][0]["target"], "eprescription_issuing",
        "{v}"
    );
    assert_eq!(
        v["suspensions"][0]["reason"],
        "dummy drug codes in registrations"
    );
    let before = h.data_stats().await;
    let (s, v) = h
        .post(&doctor.token, "/v1/prescriptions", body.clone())
        .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (StatusCode::SERVICE_UNAVAILABLE, Some("suspended")),
        "{v}"
    );
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("dummy drug codes"),
        "{v}"
    );
    assert_eq!(h.data_stats().await, before);
    // The rest of e-prescription is served: the duplicate check, and a paper dispensing.
    let (s, v) = h
        .post(
            &doctor.token,
            "/v1/prescriptions/check",
            json!({"person": {"person_id": p.id}, "items": [{"code": yj("losartan"), "days": 28}]}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let pharmacy = h.facility_token(&pharmacy(3)).await;
    let (s, v) = h
        .post(
            &pharmacy,
            "/v1/dispensations",
            json!({
        "person": {"card_serial": p.card_serial}, "prescriber_facility": clinic(1),
        "items": [{"code": yj("losartan"), "days": 28}]}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let (_, metrics) = h.send(reqwest::Method::GET, None, "/metrics", None).await;
    assert!(
        metrics
            .as_str()
            .unwrap()
            .contains("dx_suspended_total{target=\"eprescription_issuing\"} 1")
    );

    let (s, v) = h
        .post(
            &admin,
            "/v1/admin/suspensions",
            json!({"target": "eprescription_issuing", "suspended": false}),
        )
        .await;
    assert_eq!(
        (s, v["suspensions"].as_array().map(Vec::len)),
        (StatusCode::OK, Some(0)),
        "{v}"
    );
    let (s, v) = h.post(&doctor.token, "/v1/prescriptions", body).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
}

crate::harness::on_both_stores!(
    a_portal_surge_is_shed_while_pharmacies_are_served,
    a_suspended_service_refuses_its_requests_until_resumed,
);
