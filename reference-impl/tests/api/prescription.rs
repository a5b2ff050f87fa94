use crate::harness::*;
use dx_exchange::clock::Clock as _;
use dx_exchange::refdata::DrugMaster;
use dx_exchange::wire::hpki::sign_bundle;
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn give_medication_consent(h: &Harness, token: &str, p: &dx_exchange::wire::PersonRecord) {
    let body = json!({"person": h.card_at(token, p), "consent": {"medication": true}});
    let (s, v) = h.post(token, "/v1/eligibility/verify", body).await;
    assert_eq!(s, StatusCode::OK, "{v}");
}

async fn register_retrieve_dispense_then_no_cancel() {
    let h = Harness::start().await;
    let p = h.adult_with_card(0);
    let doctor = h.signer(&clinic(0), "DR-100").await;
    let pharmacist = h.signer(&pharmacy(0), "PH-100").await;

    let rx = doctor
        .register(
            &h,
            "doc-1",
            &p,
            &[("amlodipine", 28), ("atorvastatin", 28)],
            1,
        )
        .await;
    let id = rx["prescription_id"].as_str().unwrap();
    assert!(
        id.starts_with(&format!("{}-2026-", clinic(0))) && id.len() == 10 + 1 + 4 + 1 + 8,
        "{id}"
    );
    let code = rx["access_code"].as_str().unwrap();
    assert!(code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit()));
    assert_eq!(rx["uses_allowed"], 1);

    // Retrieval needs the code and the same person.
    let (s, v) = h
        .get(
            &pharmacist.token,
            &format!(
                "/v1/prescriptions/{code}?{}",
                h.card_query(&pharmacist.facility, p.card_serial.as_ref().unwrap())
            ),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["prescription_id"], id);
    assert_eq!(v["bundle"]["type"], "document");
    let other = h.adult_with_card(1);
    let (s, v) = h
        .get(
            &pharmacist.token,
            &format!(
                "/v1/prescriptions/{code}?{}",
                h.card_query(&pharmacist.facility, other.card_serial.as_ref().unwrap())
            ),
        )
        .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("prescription_not_found"))
    );

    let (s, v) = pharmacist
        .dispense(&h, &rx, &[("amlodipine", 28), ("atorvastatin", 28)])
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(
        (v["use_number"].as_u64(), v["status"].as_str()),
        (Some(1), Some("completed"))
    );

    let before = h.data_stats().await;
    let (s, v) = h
        .post(
            &doctor.token,
            &format!("/v1/prescriptions/{id}/cancel"),
            json!({}),
        )
        .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (StatusCode::CONFLICT, Some("already_dispensed"))
    );
    // A completed prescription's code no longer retrieves it.
    let (s, _) = h
        .get(
            &pharmacist.token,
            &format!(
                "/v1/prescriptions/{code}?{}",
                h.card_query(&pharmacist.facility, p.card_serial.as_ref().unwrap())
            ),
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(h.data_stats().await, before);
}

async fn cancel_before_dispensing_frees_the_code() {
    let h = Harness::start().await;
    let p = h.adult_with_card(1);
    let doctor = h.signer(&clinic(1), "DR-1").await;
    let pharmacist = h.signer(&pharmacy(1), "PH-1").await;
    let rx = doctor
        .register(&h, "doc-c", &p, &[("famotidine", 14)], 1)
        .await;
    let id = rx["prescription_id"].as_str().unwrap();

    let other_doctor = h.facility_token(&clinic(2)).await;
    let (s, v) = h
        .post(
            &other_doctor,
            &format!("/v1/prescriptions/{id}/cancel"),
            json!({}),
        )
        .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("prescription_not_found"))
    );

    // The pharmacy had retrieved it when the prescriber cancels.
    assert_eq!(pharmacist.retrieve(&h, &rx).await.0, StatusCode::OK);
    let (s, v) = h
        .post(
            &doctor.token,
            &format!("/v1/prescriptions/{id}/cancel"),
            json!({}),
        )
        .await;
    assert_eq!(
        (s, v["status"].as_str()),
        (StatusCode::OK, Some("cancelled"))
    );
    let (s, _) = pharmacist.dispense(&h, &rx, &[("famotidine", 14)]).await;
    assert_eq!(s, StatusCode::CONFLICT);
    let (s, v) = h
        .post(
            &doctor.token,
            &format!("/v1/prescriptions/{id}/cancel"),
            json!({}),
        )
        .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (StatusCode::CONFLICT, Some("already_cancelled"))
    );
}

async fn bad_signatures_and_bad_bundles_are_refused_and_store_nothing() {
    let h = Harness::start().await;
    let p = h.adult_with_card(0);
    let doctor = h.signer(&clinic(0), "DR-2").await;
    let before = h.data_stats().await;
    let draft = doctor.draft("doc-sig", &p, &[("amlodipine", 28)], 1, h.clock.now());

    // Signed, then the days changed: the signature no longer matches.
    let mut body = doctor.signed(&draft);
    body["bundle"]["entry"][5]["resource"]["dispenseRequest"]["expectedSupplyDuration"]["value"] =
        json!(90);
    let (s, v) = h.post(&doctor.token, "/v1/prescriptions", body).await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_signature"))
    );

    // Signed by another practitioner's certificate.
    let mut bundle = draft.to_bundle();
    let other = crate::harness::certificate(crate::harness::SEED, &clinic(0), "DR-OTHER");
    sign_bundle(&mut bundle, &other, draft.issued_at.fixed_offset());
    let (s, v) = h
        .post(
            &doctor.token,
            "/v1/prescriptions",
            json!({"kind": "electronic", "bundle": bundle}),
        )
        .await;
    assert_eq!(
        (s, v["error"]["code"].as_str(), v["error"]["field"].as_str()),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("practitioner_mismatch"),
            Some("bundle.signature.data")
        )
    );

    // Unsigned, and the old form (a signature beside the Bundle) is no longer a field.
    let mut body = doctor.signed(&draft);
    let old = body["bundle"].as_object_mut().unwrap().remove("signature");
    let (s, v) = h
        .post(&doctor.token, "/v1/prescriptions", body.clone())
        .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("missing_signature"))
    );
    body["signature"] = old.unwrap();
    let (s, v) = h.post(&doctor.token, "/v1/prescriptions", body).await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_body"))
    );

    // Unknown drug code.
    let mut bad = draft.clone();
    bad.items[0].code = "9999999F9999".into();
    let (s, v) = h
        .post(&doctor.token, "/v1/prescriptions", doctor.signed(&bad))
        .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("unknown_drug_code"))
    );
    assert!(
        v["error"]["field"]
            .as_str()
            .unwrap()
            .contains("medicationCodeableConcept")
    );

    // Not a document bundle.
    let mut body = doctor.signed(&draft);
    body["bundle"]["type"] = json!("collection");
    let (s, v) = h.post(&doctor.token, "/v1/prescriptions", body).await;
    assert_eq!(
        (s, v["error"]["code"].as_str(), v["error"]["field"].as_str()),
        (
            StatusCode::BAD_REQUEST,
            Some("invalid_fhir"),
            Some("bundle.type")
        )
    );

    // Another facility's Organization.
    let mut other = draft.clone();
    other.facility_code = clinic(5);
    let (s, v) = h
        .post(&doctor.token, "/v1/prescriptions", doctor.signed(&other))
        .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("facility_mismatch"))
    );

    // Wrong birth date for the insured person.
    let mut wrong = draft.clone();
    wrong.patient_birth_date = wrong.patient_birth_date.pred_opt().unwrap();
    let (s, v) = h
        .post(&doctor.token, "/v1/prescriptions", doctor.signed(&wrong))
        .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("patient_mismatch"))
    );

    // Days beyond a new drug's 14-day limit.
    let long = doctor.draft("doc-new", &p, &[("daridorexant", 28)], 1, h.clock.now());
    let (s, v) = h
        .post(&doctor.token, "/v1/prescriptions", doctor.signed(&long))
        .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("days_limit_exceeded")
        )
    );

    assert_eq!(h.data_stats().await, before);
    // The same document twice: the second is a duplicate.
    doctor
        .register(&h, "doc-sig", &p, &[("amlodipine", 28)], 1)
        .await;
    let (s, v) = h
        .post(&doctor.token, "/v1/prescriptions", doctor.signed(&draft))
        .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (StatusCode::CONFLICT, Some("duplicate"))
    );
}

async fn duplicate_and_contraindication_checks_see_other_facilities() {
    let h = Harness::start().await;
    let p = h.adult_with_card(4);
    let a = h.signer(&clinic(0), "DR-A").await;
    let b = h.signer(&hospital(0), "DR-B").await;
    let pharmacist = h.signer(&pharmacy(0), "PH-A").await;

    let rx = a
        .register(
            &h,
            "a-1",
            &p,
            &[("amlodipine", 28), ("nitroglycerin", 10)],
            1,
        )
        .await;
    assert_eq!(rx["warnings"], json!([]));
    let (s, _) = pharmacist
        .dispense(&h, &rx, &[("amlodipine", 28), ("nitroglycerin", 10)])
        .await;
    assert_eq!(s, StatusCode::CREATED);

    // Hospital B, without medication consent: the warning says what, not where.
    let check = json!({"person": {"person_id": p.id}, "items": [{"code": yj("amlodipine"), "days": 28}, {"code": yj("sildenafil"), "days": 28}]});
    let (s, v) = h
        .post(&b.token, "/v1/prescriptions/check", check.clone())
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let kinds: Vec<&str> = v["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["duplicate", "contraindication"]);
    assert_eq!(v["details_disclosed"], false);
    assert!(v["warnings"][0].get("other").is_none());

    // With consent, the details.
    give_medication_consent(&h, &b.token, &p).await;
    let (_, v) = h.post(&b.token, "/v1/prescriptions/check", check).await;
    assert_eq!(v["details_disclosed"], true);
    assert_eq!(v["warnings"][0]["other"]["facility_code"], pharmacy(0));
    assert_eq!(v["warnings"][1]["other_ingredient"], "nitroglycerin");

    // Registration returns the same warnings, and still registers.
    let rx = b.register(&h, "b-1", &p, &[("sildenafil", 28)], 1).await;
    assert_eq!(rx["warnings"][0]["kind"], "contraindication");
    // Clinic A's own check excludes its own prescriptions by default.
    let own =
        json!({"person": {"person_id": p.id}, "items": [{"code": yj("amlodipine"), "days": 28}]});
    let (_, v) = h.post(&a.token, "/v1/prescriptions/check", own).await;
    assert_eq!(v["warnings"], json!([]));
}

async fn in_hospital_and_paper_dispensings_count_in_the_checks() {
    let h = Harness::start().await;
    let p = h.adult_with_card(5);
    let hosp = h.signer(&hospital(1), "DR-H").await;
    let draft = hosp.draft("ih-1", &p, &[("warfarin", 28)], 1, h.clock.now());
    let (s, v) = h
        .post(
            &hosp.token,
            "/v1/prescriptions",
            json!({"kind": "in_hospital", "bundle": draft.to_bundle()}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(v["access_code"], Value::Null);

    let pharmacy_token = h.facility_token(&pharmacy(3)).await;
    let paper = json!({"person": {"card_serial": p.card_serial}, "prescriber_facility": clinic(7), "items": [{"code": yj("clarithromycin"), "days": 7}]});
    let (s, v) = h.post(&pharmacy_token, "/v1/dispensations", paper).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");

    let t = h.facility_token(&clinic(0)).await;
    let check = json!({"person": {"person_id": p.id}, "items": [{"code": yj("miconazole"), "days": 7}, {"code": yj("pimozide"), "days": 7}]});
    let (_, v) = h.post(&t, "/v1/prescriptions/check", check).await;
    let others: Vec<&str> = v["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["other_ingredient"].as_str().unwrap())
        .collect();
    assert!(others.contains(&"warfarin"), "{v}");
    assert!(others.contains(&"clarithromycin"), "{v}");
    assert!(
        others.contains(&"miconazole") || others.contains(&"pimozide"),
        "new-vs-new pair: {v}"
    );
}

async fn dispensing_needs_the_right_code_a_registered_pharmacist_and_prescribed_drugs() {
    let h = Harness::start().await;
    let p = h.adult_with_card(6);
    let doctor = h.signer(&clinic(3), "DR-3").await;
    let pharmacist = h.signer(&pharmacy(4), "PH-4").await;
    let rx = doctor.register(&h, "d-1", &p, &[("losartan", 28)], 1).await;
    let before = h.data_stats().await;
    let path = format!(
        "/v1/prescriptions/{}/dispensations",
        rx["prescription_id"].as_str().unwrap()
    );
    assert_eq!(pharmacist.retrieve(&h, &rx).await.0, StatusCode::OK);

    let wrong_code = if rx["access_code"] == "000000" {
        "000001"
    } else {
        "000000"
    };
    let (s, v) = h
        .post(
            &pharmacist.token,
            &path,
            pharmacist.dispensation(&h, &rx, wrong_code, &[("losartan", 28)]),
        )
        .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("access_code_mismatch"))
    );

    let (s, v) = pharmacist.dispense(&h, &rx, &[("valsartan", 28)]).await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("item_not_prescribed")
        )
    );

    // A result signed for another pharmacy does not sign this one's.
    let elsewhere = crate::harness::Signer {
        facility: pharmacy(5),
        token: String::new(),
        practitioner_id: "PH-4".into(),
        cert: crate::harness::certificate(crate::harness::SEED, &pharmacy(4), "PH-4"),
    };
    let body = elsewhere.dispensation(
        &h,
        &rx,
        rx["access_code"].as_str().unwrap(),
        &[("losartan", 28)],
    );
    let (s, v) = h.post(&pharmacist.token, &path, body).await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_signature"))
    );
    assert_eq!(h.data_stats().await, before);

    // Generic substitution (same ingredient, another strength) is fine.
    let other_strength = DrugMaster::get()
        .all()
        .iter()
        .filter(|d| d.ingredient == "losartan")
        .nth(1)
        .unwrap()
        .yj
        .clone();
    let d = dx_exchange::wire::Dispensation {
        access_code: rx["access_code"].as_str().unwrap().into(),
        items: vec![dx_exchange::wire::DrugLine {
            code: other_strength,
            days: 28,
            quantity: Some(28),
        }],
    };
    let id = rx["prescription_id"].as_str().unwrap();
    let sig = pharmacist
        .cert
        .sign(&d.signed_bytes(id, &pharmacist.facility), h.clock.now());
    let body = json!({"dispensation": d, "signature": sig});
    let (s, v) = h.post(&pharmacist.token, &path, body).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
}

crate::harness::on_both_stores!(
    register_retrieve_dispense_then_no_cancel,
    cancel_before_dispensing_frees_the_code,
    bad_signatures_and_bad_bundles_are_refused_and_store_nothing,
    duplicate_and_contraindication_checks_see_other_facilities,
    in_hospital_and_paper_dispensings_count_in_the_checks,
    dispensing_needs_the_right_code_a_registered_pharmacist_and_prescribed_drugs,
);
