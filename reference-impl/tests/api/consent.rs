use crate::harness::*;
use chrono::TimeDelta;
use reqwest::StatusCode;
use serde_json::json;

async fn card_consent_at_verification_opens_medication_reads_for_24_hours() {
    let h = Harness::start().await;
    let fac = clinic(2);
    let p = h.adult_with_card(2);
    let t = h.facility_token(&fac).await;
    let meds = format!("/v1/persons/{}/medications", p.id);

    let (s, v) = h.get(&t, &meds).await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("consent_required"))
    );

    let body = json!({"person": h.card_at(&t, &p), "consent": {"medication": true, "ehr": true}});
    let (s, v) = h.post(&t, "/v1/eligibility/verify", body).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["consents"], json!(["medication", "ehr"]));
    assert_eq!(h.stats().await["consents"], 2);

    let (s, v) = h.get(&t, &meds).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    // Another facility has no consent.
    let other = h.facility_token(&clinic(3)).await;
    assert_eq!(h.get(&other, &meds).await.0, StatusCode::FORBIDDEN);

    h.clock
        .advance(TimeDelta::hours(23) + TimeDelta::minutes(59));
    let t = h.facility_token(&fac).await;
    assert_eq!(h.get(&t, &meds).await.0, StatusCode::OK);
    h.clock.advance(TimeDelta::minutes(1));
    let t = h.facility_token(&fac).await;
    let (s, v) = h.get(&t, &meds).await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("consent_expired"))
    );
}

async fn consent_needs_the_card_and_verbal_consent_covers_medication_only() {
    let h = Harness::start().await;
    let p = h.adult_with_card(3);
    let t = h.facility_token(&pharmacy(1)).await;
    let before = h.data_stats().await;

    let body = json!({"person": insurance_ref(current(&p)), "consent": {"medication": true}});
    let (s, v) = h.post(&t, "/v1/eligibility/verify", body).await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("consent_needs_card"))
    );

    let body = json!({"person": {"person_id": p.id}, "kind": "ehr", "method": "verbal"});
    let (s, v) = h.post(&t, "/v1/consents", body).await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("verbal_consent_not_allowed")
        )
    );

    let body = json!({"person": {"person_id": p.id}, "kind": "medication", "method": "card"});
    let (s, v) = h.post(&t, "/v1/consents", body).await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("consent_needs_card"))
    );
    assert_eq!(
        h.data_stats().await,
        before,
        "refused consents stored nothing"
    );

    let body =
        json!({"person": insurance_ref(current(&p)), "kind": "medication", "method": "verbal"});
    h.visit(&t, &p).await;
    let (s, v) = h.post(&t, "/v1/consents", body).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(
        h.get(&t, &format!("/v1/persons/{}/medications", p.id))
            .await
            .0,
        StatusCode::OK
    );
}

/// The attack: a clinic posts verbal consent for persons it never saw and reads their
/// medication histories.
async fn verbal_consent_needs_a_verification_at_this_facility_today() {
    let h = Harness::start().await;
    let p = h.adult_with_card(4);
    let (clinic_a, clinic_b) = (
        h.facility_token(&clinic(1)).await,
        h.facility_token(&clinic(2)).await,
    );
    let verbal = json!({"person": {"person_id": p.id}, "kind": "medication", "method": "verbal"});
    let medications = format!("/v1/persons/{}/medications", p.id);
    let before = h.data_stats().await;

    let (s, v) = h.post(&clinic_a, "/v1/consents", verbal.clone()).await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("no_visit"))
    );
    assert_eq!(
        h.get(&clinic_a, &medications).await.0,
        StatusCode::FORBIDDEN
    );
    let after = h.data_stats().await;
    assert_eq!(
        after["consents"], before["consents"],
        "the refused consent stored nothing"
    );

    // Clinic B's visit does not let clinic A consent.
    h.visit(&clinic_b, &p).await;
    let (s, _) = h.post(&clinic_a, "/v1/consents", verbal.clone()).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    // Clinic A's own verification today does.
    h.visit(&clinic_a, &p).await;
    let (s, v) = h.post(&clinic_a, "/v1/consents", verbal.clone()).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(h.get(&clinic_a, &medications).await.0, StatusCode::OK);

    // The next day the visit is over: a new verification is needed.
    h.advance_days(1);
    let clinic_a = h.facility_token(&clinic(1)).await;
    let (s, v) = h.post(&clinic_a, "/v1/consents", verbal).await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("no_visit"))
    );
}

crate::harness::on_both_stores!(
    card_consent_at_verification_opens_medication_reads_for_24_hours,
    consent_needs_the_card_and_verbal_consent_covers_medication_only,
    verbal_consent_needs_a_verification_at_this_facility_today,
);
