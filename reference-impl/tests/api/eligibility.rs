use crate::harness::*;
use dx_exchange::codes::{FacilityTable, facility_code};
use dx_exchange::wire::PersonRecord;
use reqwest::StatusCode;
use serde_json::json;

async fn verify_by_card_and_by_number_returns_coverage() {
    let h = Harness::start().await;
    let t = h.facility_token(&clinic(0)).await;
    let p = h.adult_with_card(0);
    let (s, v) = h
        .post(
            &t,
            "/v1/eligibility/verify",
            json!({"person": h.card_at(&t, &p)}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["status"], "valid");
    assert_eq!(v["person_id"], p.id.as_str());
    assert_eq!(v["coverage"]["copay_percent"], 30);
    assert_eq!(
        v["coverage"]["insurer_number"],
        current(&p).insurer_number.as_str()
    );

    let (s, v) = h
        .post(
            &t,
            "/v1/eligibility/verify",
            json!({"person": insurance_ref(current(&p))}),
        )
        .await;
    assert_eq!(
        (s, v["status"].as_str(), v["person_id"].as_str()),
        (StatusCode::OK, Some("valid"), Some(p.id.as_str()))
    );
}

async fn a_changed_insurer_keeps_one_identity_and_the_old_number_answers_expired() {
    let h = Harness::start().await;
    let t = h.facility_token(&hospital(0)).await;
    let p = h.find_person(|p| p.qualifications.len() == 2);
    let old = p
        .qualifications
        .iter()
        .find(|q| q.valid_to.is_some())
        .unwrap();
    let (s, v) = h
        .post(
            &t,
            "/v1/eligibility/verify",
            json!({"person": insurance_ref(old)}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["status"], "expired");
    assert_eq!(v["coverage"]["valid_to"], old.valid_to.unwrap().to_string());
    assert!(
        v.get("person_id").is_none(),
        "a lapsed number must not reveal the person: {v}"
    );

    let (_, v) = h
        .post(
            &t,
            "/v1/eligibility/verify",
            json!({"person": insurance_ref(current(&p))}),
        )
        .await;
    assert_eq!(
        (v["status"].as_str(), v["person_id"].as_str()),
        (Some("valid"), Some(p.id.as_str()))
    );

    // On a date before the change, the old number was the valid one.
    let before = old.valid_to.unwrap();
    let (_, v) = h
        .post(
            &t,
            "/v1/eligibility/verify",
            json!({"person": insurance_ref(old), "service_date": before}),
        )
        .await;
    assert_eq!(
        (v["status"].as_str(), v["person_id"].as_str()),
        (Some("valid"), Some(p.id.as_str()))
    );
}

async fn public_expenses_and_child_copay_come_with_coverage() {
    let h = Harness::start().await;
    let t = h.facility_token(&clinic(1)).await;
    let today = h.today();
    let child = h.find_person(|p| today.years_since(p.birth_date).unwrap_or(99) < 5);
    let (_, v) = h
        .post(
            &t,
            "/v1/eligibility/verify",
            json!({"person": insurance_ref(current(&child))}),
        )
        .await;
    assert_eq!(v["coverage"]["copay_percent"], 20);
    assert_eq!(v["public_expenses"][0]["law_code"], "88");
}

async fn bad_check_digit_is_400_with_the_field_named_and_unknown_numbers_not_found() {
    let h = Harness::start().await;
    let t = h.facility_token(&clinic(0)).await;
    let before = h.data_stats().await;
    let body = json!({"person": {"insurer_number": "06130013", "symbol": "1", "number": "2", "branch": "00"}});
    let (s, v) = h.post(&t, "/v1/eligibility/verify", body).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(v["error"]["code"], "invalid_check_digit");
    assert_eq!(v["error"]["field"], "person.insurer_number");

    let body = json!({"person": {"insurer_number": "33120015", "symbol": "1", "number": "2", "branch": "00"}});
    let (s, v) = h.post(&t, "/v1/eligibility/verify", body).await;
    assert_eq!(
        (s, v["status"].as_str()),
        (StatusCode::OK, Some("not_found"))
    );

    let body = json!({"person": {"card_serial": "C1", "person_id": "P1"}});
    let (s, v) = h.post(&t, "/v1/eligibility/verify", body).await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_person_reference"))
    );
    assert_eq!(h.data_stats().await, before);
}

async fn batch_verifies_up_to_a_thousand_with_per_item_errors() {
    let h = Harness::start().await;
    let t = h.facility_token(&pharmacy(2)).await;
    let a = h.adult_with_card(0);
    let b = h.adult_with_card(1);
    let items = json!([
        h.card_at(&t, &a),
        insurance_ref(current(&b)),
        {"insurer_number": "06130013", "symbol": "1", "number": "2", "branch": "00"},
        h.card_at(&t, &PersonRecord { card_serial: Some("NOSUCHCARD".into()), ..a.clone() }),
        {"card_serial": a.card_serial}
    ]);
    let (s, v) = h
        .post(&t, "/v1/eligibility/batch", json!({"items": items}))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let r = v["results"].as_array().unwrap();
    assert_eq!(r.len(), 5);
    assert_eq!(r[0]["person_id"], a.id.as_str());
    assert_eq!(r[1]["person_id"], b.id.as_str());
    assert_eq!(r[2]["error"]["field"], "items[2].insurer_number");
    assert_eq!(r[3]["status"], "not_found");
    // A card serial without the card: the item is refused, the others answered.
    assert_eq!(r[4]["error"]["code"], "card_proof_missing");

    let many: Vec<_> = (0..1001).map(|_| insurance_ref(current(&a))).collect();
    let (s, v) = h
        .post(&t, "/v1/eligibility/batch", json!({"items": many}))
        .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_batch_size"))
    );
    let thousand: Vec<_> = (0..1000).map(|_| insurance_ref(current(&a))).collect();
    let (s, v) = h
        .post(&t, "/v1/eligibility/batch", json!({"items": thousand}))
        .await;
    assert_eq!(
        (s, v["results"].as_array().map(Vec::len)),
        (StatusCode::OK, Some(1000))
    );
}

async fn facility_principals_must_exist_and_have_valid_codes() {
    let h = Harness::start().await;
    let admin = h.admin().await;
    let unknown = facility_code(13, FacilityTable::Medical, 9, 9999);
    let (s, v) = h
        .post(
            &admin,
            "/v1/admin/credentials",
            json!({"principal": format!("facility:{unknown}")}),
        )
        .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("unknown_principal"))
    );
    let (s, v) = h
        .post(
            &admin,
            "/v1/admin/credentials",
            json!({"principal": "facility:1311001010"}),
        )
        .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_facility_code"))
    );
}

crate::harness::on_both_stores!(
    verify_by_card_and_by_number_returns_coverage,
    a_changed_insurer_keeps_one_identity_and_the_old_number_answers_expired,
    public_expenses_and_child_copay_come_with_coverage,
    bad_check_digit_is_400_with_the_field_named_and_unknown_numbers_not_found,
    batch_verifies_up_to_a_thousand_with_per_item_errors,
    facility_principals_must_exist_and_have_valid_codes,
);
