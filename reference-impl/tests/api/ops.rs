use crate::harness::*;
use reqwest::StatusCode;
use serde_json::json;

async fn healthz_and_metrics_per_route() {
    let h = Harness::start().await;
    let (s, v) = h.send(reqwest::Method::GET, None, "/healthz", None).await;
    assert_eq!((s, v.as_str()), (StatusCode::OK, Some("ok")));
    let t = h.facility_token(&clinic(0)).await;
    h.post(
        &t,
        "/v1/eligibility/verify",
        json!({"person": {"card_serial": "NOPE", "card_proof": h.card_proof(&clinic(0), "NOPE")}}),
    )
    .await;
    let text = h
        .http
        .get(format!("{}/metrics", h.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.contains(
            r#"dx_http_requests_total{method="POST",route="/v1/eligibility/verify",status="200"} 1"#
        ),
        "{text}"
    );
    assert!(text.contains(
        r#"dx_http_request_duration_seconds_count{method="POST",route="/v1/eligibility/verify"} 1"#
    ));
}

async fn malformed_oversized_and_misshapen_bodies_get_structured_errors_and_store_nothing() {
    let h = Harness::start().await;
    let t = h.facility_token(&clinic(0)).await;
    let before = h.data_stats().await;
    let url = format!("{}/v1/prescriptions", h.url);

    let r = h
        .http
        .post(&url)
        .bearer_auth(&t)
        .header("content-type", "application/json")
        .body("{\"kind\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "malformed_json");

    let big = format!("{{\"bundle\": \"{}\"}}", "x".repeat(2 * 1024 * 1024));
    let r = h
        .http
        .post(&url)
        .bearer_auth(&t)
        .header("content-type", "application/json")
        .body(big)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "body_too_large");

    let (s, v) = h.post(&t, "/v1/consents", json!({"person": {"person_id": "P0000000001"}, "kind": "medication", "method": "verbal", "extra": 1})).await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_body"))
    );

    let r = h
        .http
        .post(&url)
        .bearer_auth(&t)
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);

    let (s, v) = h.get(&t, "/v1/nothing-here").await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("no_route"))
    );
    let (s, v) = h
        .send(reqwest::Method::DELETE, Some(&t), "/v1/consents", None)
        .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (StatusCode::METHOD_NOT_ALLOWED, Some("method_not_allowed"))
    );

    // NUL is in no text: escaped in a body, or percent-encoded in a path or query.
    let (s, v) = h
        .post(
            &t,
            "/v1/consents",
            json!({"person": {"person_id": "P0\u{0}1"}, "kind": "medication", "method": "verbal"}),
        )
        .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_text"))
    );
    for path in [
        "/v1/prescriptions/A%00B",
        "/v1/persons/P1/clinical-summary?cursor=%00",
    ] {
        let (s, v) = h.get(&t, path).await;
        assert_eq!(
            (s, v["error"]["code"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalid_text")),
            "{path}"
        );
    }

    assert_eq!(h.data_stats().await, before);
}

async fn bulk_import_is_all_or_nothing() {
    let h = Harness::start().await;
    let admin = h.admin().await;
    let today = h.today();
    let good: Vec<String> = (1000..1003)
        .map(|i| serde_json::to_string(&dx_exchange::refdata::sample::person(7, i, today)).unwrap())
        .collect();
    let url = format!("{}/v1/admin/persons", h.url);
    let mut bad = good.clone();
    bad.push(r#"{"id":"X","sex":"M","birth_date":"2000-01-01","prefecture":13,"municipality":"131017","qualifications":[]}"#.into());
    let r = h
        .http
        .post(&url)
        .bearer_auth(&admin)
        .body(bad.join("\n"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["error"]["field"], "line 4");
    assert_eq!(h.stats().await["persons"], PERSONS);

    let r = h
        .http
        .post(&url)
        .bearer_auth(&admin)
        .body(good.join("\n"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(h.stats().await["persons"], PERSONS + 3);
    // The same persons again: duplicates, nothing added.
    let r = h
        .http
        .post(&url)
        .bearer_auth(&admin)
        .body(good.join("\n"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CONFLICT);
    assert_eq!(h.stats().await["persons"], PERSONS + 3);
}

/// Every endpoint of `wire::endpoints` is routed with its method: none answers `no_route` or
/// `method_not_allowed` (whatever else it refuses for a placeholder id).
async fn every_endpoint_of_the_table_is_served() {
    use dx_exchange::wire::endpoints::{ALL, Method, fill};
    let h = Harness::start().await;
    let admin = h.admin().await;
    for e in ALL {
        let params: Vec<&str> = vec!["x"; e.path.matches('{').count()];
        let method = match e.method {
            Method::Get => reqwest::Method::GET,
            Method::Post => reqwest::Method::POST,
        };
        let (status, body) = h
            .send(method, Some(&admin), &fill(e.path, &params), None)
            .await;
        let code = body["error"]["code"].as_str().unwrap_or_default();
        assert!(
            !matches!(code, "no_route" | "method_not_allowed"),
            "{} {}: {status} {code}",
            e.method.as_str(),
            e.path
        );
    }
}

/// docs/api.md documents every endpoint of the table (path parameters by any name).
#[test]
fn docs_api_md_documents_every_endpoint() {
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/api.md")).unwrap();
    let normal = |p: &str| {
        let mut out = String::new();
        let mut depth = 0;
        for c in p.chars() {
            match c {
                '{' => {
                    depth += 1;
                    out.push_str("{}");
                }
                '}' => depth -= 1,
                '?' if depth == 0 => break,
                _ if depth == 0 => out.push(c),
                _ => {}
            }
        }
        out
    };
    let documented: std::collections::BTreeSet<String> = text
        .split('`')
        .skip(1)
        .step_by(2)
        .filter_map(|code| {
            let (method, path) = code.split_once(' ')?;
            matches!(method, "GET" | "POST").then(|| format!("{method} {}", normal(path)))
        })
        .collect();
    let missing: Vec<String> = dx_exchange::wire::endpoints::ALL
        .iter()
        .map(|e| format!("{} {}", e.method.as_str(), normal(e.path)))
        .filter(|e| !documented.contains(e))
        .collect();
    assert!(missing.is_empty(), "not in docs/api.md: {missing:?}");
}

crate::harness::on_both_stores!(
    healthz_and_metrics_per_route,
    malformed_oversized_and_misshapen_bodies_get_structured_errors_and_store_nothing,
    bulk_import_is_all_or_nothing,
    every_endpoint_of_the_table_is_served,
);
