use crate::harness::*;
use dx_exchange::codes::{FacilityTable, facility_code};
use dx_exchange::wire::PersonRecord;
use reqwest::StatusCode;
use serde_json::{Value, json};

fn code(v: &(StatusCode, Value)) -> (StatusCode, Option<&str>) {
    (v.0, v.1["error"]["code"].as_str())
}

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

/// An insurer reports a qualification it issued and the end of the one before: only insurers,
/// only for their own numbers; bad numbers, days out of range, a number already held, an
/// unknown person or qualification and a second end are refused with the field named and store
/// nothing; the counter then answers the new number `valid` with the same person and the ended
/// one `expired` after its last day.
async fn insurers_report_acquisitions_and_losses_that_the_counter_then_answers() {
    let h = Harness::start().await;
    let p =
        h.find_person(|p| p.qualifications.len() == 1 && p.qualifications[0].valid_to.is_none());
    let old = current(&p).clone();
    // Another insurer of the sample (a company society, say) issues the new number.
    let new_insurer = dx_exchange::refdata::sample::insurers()
        .into_iter()
        .map(|i| i.number)
        .find(|n| *n != old.insurer_number && n.len() == 8)
        .unwrap();
    let insurer = h.token(&format!("insurer:{new_insurer}")).await;
    let former = h.token(&format!("insurer:{}", old.insurer_number)).await;
    let clinic_token = h.facility_token(&clinic(0)).await;
    let muni = h.token(&format!("municipality:{}", p.municipality)).await;
    let today = h.today();
    let acquisition = json!({
        "person": {"person_id": p.id}, "symbol": "77", "number": "1234567", "branch": "00",
        "valid_from": today
    });
    let loss = json!({
        "symbol": old.symbol, "number": old.number, "branch": old.branch,
        "valid_to": today - chrono::TimeDelta::days(1)
    });
    let before = h.data_stats().await;
    let acquire = "/v1/eligibility/qualifications";
    let lose = "/v1/eligibility/qualifications/loss";
    // Only insurers report.
    for t in [&clinic_token, &muni] {
        assert_eq!(
            code(&h.post(t, acquire, acquisition.clone()).await),
            (StatusCode::FORBIDDEN, Some("wrong_role"))
        );
        assert_eq!(
            code(&h.post(t, lose, loss.clone()).await),
            (StatusCode::FORBIDDEN, Some("wrong_role"))
        );
    }
    // An insurer that does not exist has no principal; a malformed number is refused as such.
    let admin = h.admin().await;
    let unknown = h
        .post(
            &admin,
            "/v1/admin/credentials",
            json!({"principal": format!("insurer:{}", dx_exchange::codes::insurer_number(Some(6), 13, 999))}),
        )
        .await;
    assert_eq!(
        code(&unknown),
        (StatusCode::NOT_FOUND, Some("unknown_principal"))
    );
    let malformed = h
        .post(
            &admin,
            "/v1/admin/credentials",
            json!({"principal": "insurer:06130010"}),
        )
        .await;
    assert_eq!(
        code(&malformed),
        (StatusCode::BAD_REQUEST, Some("invalid_insurer_number"))
    );
    let mut bad = acquisition.clone();
    bad["branch"] = json!("0");
    assert_eq!(
        h.post(&insurer, acquire, bad).await.1["error"]["field"],
        "branch"
    );
    let mut bad = acquisition.clone();
    bad["valid_from"] = json!(today + chrono::TimeDelta::days(200));
    assert_eq!(
        code(&h.post(&insurer, acquire, bad).await),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_date"))
    );
    let mut bad = acquisition.clone();
    bad["person"] = json!({"person_id": "P-nobody"});
    assert_eq!(
        h.post(&insurer, acquire, bad).await.0,
        StatusCode::NOT_FOUND
    );
    let mut taken = acquisition.clone();
    taken["symbol"] = json!(old.symbol);
    taken["number"] = json!(old.number);
    taken["branch"] = json!(old.branch);
    assert_eq!(
        code(&h.post(&former, acquire, taken).await),
        (StatusCode::CONFLICT, Some("qualification_exists"))
    );
    // The loss of a number this insurer never issued: not found (another insurer's number).
    assert_eq!(
        code(&h.post(&insurer, lose, loss.clone()).await),
        (StatusCode::NOT_FOUND, Some("unknown_qualification"))
    );
    let mut early = loss.clone();
    early["valid_to"] = json!(old.valid_from - chrono::TimeDelta::days(1));
    if old.valid_from - chrono::TimeDelta::days(1) >= today - chrono::TimeDelta::days(5 * 366) {
        assert_eq!(
            code(&h.post(&former, lose, early).await),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_period"))
        );
    }
    assert_eq!(
        h.data_stats().await,
        before,
        "a refused report stores nothing"
    );

    let (s, v) = h.post(&insurer, acquire, acquisition.clone()).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(v["person_id"], p.id.as_str());
    assert_eq!(v["qualification"]["insurer_number"], new_insurer.as_str());
    let (s, v) = h.post(&former, lose, loss.clone()).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["qualification"]["valid_to"], loss["valid_to"]);
    assert_eq!(
        code(&h.post(&former, lose, loss).await),
        (StatusCode::CONFLICT, Some("qualification_ended"))
    );
    assert_eq!(
        code(&h.post(&insurer, acquire, acquisition).await),
        (StatusCode::CONFLICT, Some("qualification_exists"))
    );

    let new_ref =
        json!({"insurer_number": new_insurer, "symbol": "77", "number": "1234567", "branch": "00"});
    let (_, v) = h
        .post(
            &clinic_token,
            "/v1/eligibility/verify",
            json!({"person": new_ref}),
        )
        .await;
    assert_eq!(
        (v["status"].as_str(), v["person_id"].as_str()),
        (Some("valid"), Some(p.id.as_str())),
        "{v}"
    );
    let (_, v) = h
        .post(
            &clinic_token,
            "/v1/eligibility/verify",
            json!({"person": insurance_ref(&old)}),
        )
        .await;
    assert_eq!(v["status"], "expired", "{v}");
}

crate::harness::on_both_stores!(
    insurers_report_acquisitions_and_losses_that_the_counter_then_answers,
    verify_by_card_and_by_number_returns_coverage,
    a_changed_insurer_keeps_one_identity_and_the_old_number_answers_expired,
    public_expenses_and_child_copay_come_with_coverage,
    bad_check_digit_is_400_with_the_field_named_and_unknown_numbers_not_found,
    batch_verifies_up_to_a_thousand_with_per_item_errors,
    facility_principals_must_exist_and_have_valid_codes,
);
