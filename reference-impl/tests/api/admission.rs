//! Admission control over real HTTP: a surge on one service is answered `503 overloaded` with
//! `Retry-After` beyond its bound and counted in `/metrics`, while other services and `/healthz`
//! are served.

use crate::harness::*;
use dx_exchange::admission::Limits;
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

crate::harness::on_both_stores!(a_portal_surge_is_shed_while_pharmacies_are_served,);
