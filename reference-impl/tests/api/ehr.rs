//! EHR sharing: the 6 items, the clinical summary, the 3 documents, retention, and the checks fed
//! by registered allergies and contraindicated drugs.

use crate::harness::*;
use dx_exchange::refdata::DrugMaster;
use dx_exchange::wire::clins::{
    DocumentKind, EHR_TAG_SYSTEM, FOOD_ALLERGEN_SYSTEM, Fact, ItemDraft, TAG_UNINFORMED,
};
use dx_exchange::wire::fhir::YJ_SYSTEM;
use reqwest::StatusCode;
use serde_json::{Value, json};

const HBA1C: &str = "3D046000002327101";
const HBS: &str = "5F016141002305401";

fn day(h: &Harness, back: i64) -> chrono::NaiveDate {
    h.today() - chrono::TimeDelta::days(back)
}

fn visit_items(h: &Harness) -> Vec<ItemDraft> {
    vec![
        ItemDraft::new(
            Fact::Diagnosis {
                code: "E11.9".into(),
            },
            day(h, 30),
        ),
        ItemDraft::new(
            Fact::LabResult {
                code: HBA1C.into(),
                value: 7.1,
            },
            day(h, 2),
        ),
        ItemDraft::new(
            Fact::Infection {
                code: HBS.into(),
                positive: false,
            },
            day(h, 10),
        ),
        ItemDraft::new(
            Fact::Allergy {
                system: FOOD_ALLERGEN_SYSTEM.into(),
                code: "J9FA19140000".into(),
            },
            day(h, 400),
        ),
        ItemDraft {
            long_term: true,
            ..ItemDraft::new(
                Fact::ContraindicatedDrug {
                    system: YJ_SYSTEM.into(),
                    code: yj("warfarin"),
                },
                day(h, 5),
            )
        },
    ]
}

fn resource_types(bundle: &Value) -> Vec<String> {
    bundle["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["resource"]["resourceType"].as_str().unwrap().to_owned())
        .collect()
}

/// Every page of a summary, following `next` links; returns the entries' resources. Links are
/// absolute URLs of this exchange, and every entry has a `urn:uuid:` fullUrl.
async fn all_pages(h: &Harness, token: &str, first: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut url = Some(first.to_owned());
    while let Some(u) = url {
        let (s, v) = h.get(token, &u).await;
        assert_eq!(s, StatusCode::OK, "{v}");
        assert_eq!(v["type"], "searchset");
        for e in v["entry"].as_array().unwrap() {
            assert!(
                e["fullUrl"].as_str().unwrap().starts_with("urn:uuid:"),
                "{e}"
            );
            out.push(e["resource"].clone());
        }
        for l in v["link"].as_array().unwrap() {
            assert!(l["url"].as_str().unwrap().starts_with(&h.url), "{l}");
        }
        url = v["link"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["relation"] == "next")
            .map(|l| l["url"].as_str().unwrap()[h.url.len()..].to_owned());
    }
    out
}

fn date_of(r: &Value) -> String {
    [
        "recordedDate",
        "effectiveDateTime",
        "authoredOn",
        "whenHandedOver",
    ]
    .iter()
    .find_map(|f| r[*f].as_str())
    .unwrap()
    .to_owned()
}

async fn items_are_read_newest_first_in_pages_with_ehr_consent_only() {
    let h = Harness::start().await;
    let p = h.adult_with_card(0);
    let author = h.facility_token(&clinic(0)).await;
    // A visit's items go as JP-CLINS sends them: one Bundle per resource category.
    let bundles = h.items_bundles(&clinic(0), "visit-1", &p, visit_items(&h));
    assert_eq!(bundles.len(), 3);
    let mut stored = Vec::new();
    for bundle in &bundles {
        let (s, v) = h.post(&author, "/v1/ehr/items", bundle.clone()).await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        assert_eq!(v["person_id"], p.id.as_str());
        stored.extend(v["items"].as_array().unwrap().iter().cloned());
    }
    let kinds: Vec<&str> = stored.iter().map(|i| i["kind"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        [
            "diagnosis",
            "lab_result",
            "infection",
            "allergy",
            "contraindicated_drug"
        ]
    );
    let five_years = h
        .today()
        .checked_add_months(chrono::Months::new(60))
        .unwrap();
    assert_eq!(stored[0]["retain_until"], five_years.to_string());
    assert!(stored[4]["retain_until"].is_null(), "long-term: no end");

    // The same submission again is refused and stores nothing.
    let before = h.data_stats().await;
    let (s, v) = h.post(&author, "/v1/ehr/items", bundles[2].clone()).await;
    assert_eq!(s, StatusCode::CONFLICT);
    assert_eq!(v["error"]["code"], "duplicate_submission");
    assert_eq!(h.data_stats().await, before);

    // Another facility needs the person's EHR consent; medication consent is not enough.
    let reader = h.facility_token(&hospital(0)).await;
    let path = format!("/v1/persons/{}/clinical-summary", p.id);
    let (s, v) = h.get(&reader, &path).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert_eq!(v["error"]["code"], "consent_required");
    h.consent(&reader, &p, json!({"medication": true})).await;
    let (s, _) = h.get(&reader, &path).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    h.consent(&reader, &p, json!({"ehr": true})).await;

    let (s, v) = h.get(&reader, &path).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["resourceType"], "Bundle");
    assert_eq!(v["total"], 5);
    let dates: Vec<String> = v["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| date_of(&e["resource"]))
        .collect();
    let mut sorted = dates.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(dates, sorted, "newest first");
    let first = &v["entry"][0]["resource"];
    assert_eq!(first["resourceType"], "Observation");
    assert_eq!(
        first["subject"]["identifier"]["system"],
        dx_exchange::wire::clins::INSURED_PERSON_SYSTEM
    );
    assert!(first["id"].as_str().unwrap().starts_with('I'));
    assert!(
        first["meta"]["source"]
            .as_str()
            .unwrap()
            .ends_with(&clinic(0))
    );

    // Pages of two cover the same five entries, each once.
    let paged = all_pages(&h, &reader, &format!("{path}?count=2")).await;
    let ids: Vec<&str> = paged.iter().map(|r| r["id"].as_str().unwrap()).collect();
    let whole: Vec<&str> = v["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["resource"]["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, whole);

    // A filter by kind.
    let (s, v) = h
        .get(
            &reader,
            &format!("{path}?kind=allergy,contraindicated_drug"),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(
        resource_types(&v),
        ["AllergyIntolerance", "AllergyIntolerance"]
    );

    // Bad paging parameters.
    for (q, code) in [
        ("count=0", "invalid_count"),
        ("count=201", "invalid_count"),
        ("kind=x-ray", "invalid_kind"),
        ("cursor=yesterday", "invalid_cursor"),
        ("sort=date", "invalid_query"),
    ] {
        let (s, v) = h.get(&reader, &format!("{path}?{q}")).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{q}");
        assert_eq!(v["error"]["code"], code, "{q}");
    }

    // Every read is in the person's access log, the refusals too.
    let me = h.token(&format!("person:{}", p.id)).await;
    let (_, log) = h.get(&me, "/v1/portal/access-log").await;
    let reads: Vec<&str> = log["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "ehr.summary.read")
        .map(|e| e["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(reads.iter().filter(|o| **o == "ok").count(), 5, "{reads:?}");
    assert_eq!(
        reads.iter().filter(|o| **o == "consent_required").count(),
        2
    );
}

async fn an_uninformed_diagnosis_is_hidden_from_the_portal_only() {
    let h = Harness::start().await;
    let p = h.adult_with_card(1);
    let author = h.facility_token(&hospital(1)).await;
    let items = vec![
        ItemDraft {
            uninformed: true,
            ..ItemDraft::new(
                Fact::Diagnosis {
                    code: "C16.9".into(),
                },
                h.today(),
            )
        },
        ItemDraft::new(Fact::Diagnosis { code: "I10".into() }, h.today()),
    ];
    let (s, v) = h
        .post(
            &author,
            "/v1/ehr/items",
            h.items_bundle(&hospital(1), "adm-1", &p, items),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");

    let me = h.token(&format!("person:{}", p.id)).await;
    let (s, v) = h.get(&me, "/v1/portal/clinical-summary").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["total"], 1);
    assert_eq!(
        v["entry"][0]["resource"]["code"]["coding"][0]["code"],
        "I10"
    );

    let doctor = h.facility_token(&clinic(2)).await;
    h.consent(&doctor, &p, json!({"ehr": true})).await;
    let (s, v) = h
        .get(&doctor, &format!("/v1/persons/{}/clinical-summary", p.id))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["total"], 2);
    let tagged = v["entry"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["resource"]["code"]["coding"][0]["code"] == "C16.9")
        .expect("the consenting facility sees it");
    assert_eq!(
        tagged["resource"]["meta"]["tag"][0],
        json!({"system": EHR_TAG_SYSTEM, "code": TAG_UNINFORMED, "display": "未告知"})
    );

    // The portal is the person's own: a facility cannot use it, a person cannot read another's.
    let (s, v) = h.get(&doctor, "/v1/portal/clinical-summary").await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert_eq!(v["error"]["code"], "wrong_role");
    let (s, v) = h
        .get(&me, &format!("/v1/persons/{}/clinical-summary", p.id))
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert_eq!(v["error"]["code"], "wrong_role");
}

async fn prescriptions_come_from_the_eprescription_service_not_stored_twice() {
    let h = Harness::start().await;
    let p = h.adult_with_card(2);
    let doctor = h.signer(&clinic(3), "DR-300").await;
    doctor
        .register(&h, "rx-1", &p, &[("amlodipine", 28)], 1)
        .await;
    let reader = h.facility_token(&hospital(2)).await;
    h.consent(&reader, &p, json!({"ehr": true})).await;
    let stored = h.data_stats().await;
    assert_eq!(stored["ehr_items"], 0);
    let (s, v) = h
        .get(
            &reader,
            &format!("/v1/persons/{}/clinical-summary?kind=prescription", p.id),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(resource_types(&v), ["MedicationRequest"]);
    let mr = &v["entry"][0]["resource"];
    assert_eq!(
        mr["medicationCodeableConcept"]["coding"][0]["code"],
        yj("amlodipine")
    );
    assert_eq!(mr["authoredOn"], h.today().to_string());
    // Named as the items name the patient: by the insured-person identifier.
    assert_eq!(
        mr["subject"]["identifier"],
        json!({"system": dx_exchange::wire::clins::INSURED_PERSON_SYSTEM, "value": ehr_patient(&p).member_id()})
    );
    assert_eq!(h.data_stats().await, stored, "reading stores nothing");
}

async fn registered_contraindications_and_allergies_warn_in_prescription_checks() {
    let h = Harness::start().await;
    let p = h.adult_with_card(3);
    let author = h.facility_token(&hospital(3)).await;
    let items = vec![
        ItemDraft::new(
            Fact::ContraindicatedDrug {
                system: YJ_SYSTEM.into(),
                code: yj("warfarin"),
            },
            h.today(),
        ),
        ItemDraft::new(
            Fact::Allergy {
                system: dx_exchange::wire::fhir::HOT9_SYSTEM.into(),
                code: DrugMaster::get()
                    .by_code(&yj("amoxicillin"))
                    .unwrap()
                    .hot9
                    .clone(),
            },
            h.today(),
        ),
    ];
    let (s, v) = h
        .post(
            &author,
            "/v1/ehr/items",
            h.items_bundle(&hospital(3), "flags-1", &p, items),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");

    // A clinic with no consent of any kind still gets the warnings, without the details.
    let clinic_token = h.facility_token(&clinic(4)).await;
    let check = |ingredient: &str| json!({"person": {"card_serial": p.card_serial}, "items": [{"code": yj(ingredient), "days": 7}]});
    let (s, v) = h
        .post(&clinic_token, "/v1/prescriptions/check", check("warfarin"))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["warnings"][0]["kind"], "registered_contraindication");
    assert!(v["warnings"][0].get("other").is_none());
    let (s, v) = h
        .post(
            &clinic_token,
            "/v1/prescriptions/check",
            check("amoxicillin"),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["warnings"][0]["kind"], "allergy");
    let (_, v) = h
        .post(
            &clinic_token,
            "/v1/prescriptions/check",
            check("amlodipine"),
        )
        .await;
    assert_eq!(v["warnings"], json!([]));

    // With medication consent the warning says who registered it; registration warns too.
    h.consent(&clinic_token, &p, json!({"medication": true}))
        .await;
    let (_, v) = h
        .post(&clinic_token, "/v1/prescriptions/check", check("warfarin"))
        .await;
    assert_eq!(v["warnings"][0]["other"]["facility_code"], hospital(3));
    assert_eq!(v["warnings"][0]["other"]["source"], "ehr_record");
    let doctor = h.signer(&clinic(4), "DR-400").await;
    let rx = doctor
        .register(&h, "rx-w", &p, &[("warfarin", 14)], 1)
        .await;
    assert_eq!(rx["warnings"][0]["kind"], "registered_contraindication");
}

async fn bad_item_submissions_are_refused_and_store_nothing() {
    let h = Harness::start().await;
    let p = h.adult_with_card(4);
    let fac = clinic(5);
    let t = h.facility_token(&fac).await;
    let stored = h.data_stats().await;
    let one = |fact: Fact| vec![ItemDraft::new(fact, h.today())];
    let good = || {
        h.items_bundle(
            &fac,
            "bad-1",
            &p,
            one(Fact::Diagnosis { code: "I10".into() }),
        )
    };

    let mut cases: Vec<(Value, StatusCode, &str)> = Vec::new();
    let mut b = good();
    b["type"] = json!("document");
    cases.push((b, StatusCode::BAD_REQUEST, "invalid_fhir"));
    let mut b = good();
    b["entry"][2]["resource"]["code"]["coding"][0]["system"] = json!("http://snomed.info/sct");
    cases.push((b, StatusCode::UNPROCESSABLE_ENTITY, "unknown_code_system"));
    let mut b = good();
    b["entry"][2]["resource"]["subject"] = json!({"reference": "urn:uuid:nobody"});
    cases.push((b, StatusCode::BAD_REQUEST, "invalid_fhir"));
    // An item naming another insured person than the Bundle's Patient.
    let mut b = good();
    b["entry"][2]["resource"]["subject"]["identifier"]["value"] = json!("06139996:1:2:00");
    cases.push((b, StatusCode::BAD_REQUEST, "invalid_fhir"));
    let mut b = good();
    b["entry"][2]["resource"]["resourceType"] = json!("Procedure");
    cases.push((b, StatusCode::BAD_REQUEST, "invalid_fhir"));
    let mut b = good();
    b["entry"][2]["resource"]["recordedDate"] = json!("2026-11");
    cases.push((b, StatusCode::BAD_REQUEST, "invalid_fhir"));
    cases.push((
        h.items_bundle(
            &fac,
            "b",
            &p,
            one(Fact::Diagnosis {
                code: "hypertension".into(),
            }),
        ),
        StatusCode::UNPROCESSABLE_ENTITY,
        "unknown_code",
    ));
    cases.push((
        h.items_bundle(
            &fac,
            "b",
            &p,
            one(Fact::LabResult {
                code: "3D046000000000000".into(),
                value: 6.0,
            }),
        ),
        StatusCode::UNPROCESSABLE_ENTITY,
        "unknown_code",
    ));
    cases.push((
        h.items_bundle(
            &fac,
            "b",
            &p,
            one(Fact::ContraindicatedDrug {
                system: YJ_SYSTEM.into(),
                code: "2171000F0000".into(),
            }),
        ),
        StatusCode::UNPROCESSABLE_ENTITY,
        "unknown_drug_code",
    ));
    cases.push((
        h.items_bundle(
            &fac,
            "b",
            &p,
            one(Fact::Allergy {
                system: FOOD_ALLERGEN_SYSTEM.into(),
                code: "durian".into(),
            }),
        ),
        StatusCode::UNPROCESSABLE_ENTITY,
        "unknown_code",
    ));
    let mut b = h.items_bundle(
        &fac,
        "b",
        &p,
        one(Fact::Infection {
            code: HBS.into(),
            positive: true,
        }),
    );
    b["entry"][2]["resource"]["valueCodeableConcept"]["coding"][0]["code"] = json!("MAYBE");
    cases.push((b, StatusCode::BAD_REQUEST, "invalid_fhir"));
    let uninformed_lab = vec![ItemDraft {
        uninformed: true,
        ..ItemDraft::new(
            Fact::LabResult {
                code: HBA1C.into(),
                value: 5.5,
            },
            h.today(),
        )
    }];
    cases.push((
        h.items_bundle(&fac, "b", &p, uninformed_lab),
        StatusCode::UNPROCESSABLE_ENTITY,
        "uninformed_not_allowed",
    ));
    let tomorrow = vec![ItemDraft::new(
        Fact::Diagnosis { code: "I10".into() },
        h.today() + chrono::TimeDelta::days(1),
    )];
    cases.push((
        h.items_bundle(&fac, "b", &p, tomorrow),
        StatusCode::UNPROCESSABLE_ENTITY,
        "date_in_future",
    ));
    cases.push((
        h.items_bundle(
            &clinic(6),
            "b",
            &p,
            one(Fact::Diagnosis { code: "I10".into() }),
        ),
        StatusCode::FORBIDDEN,
        "facility_mismatch",
    ));
    // A well-formed insurance number nobody holds, and a wrong birth date.
    let mut b = good();
    let id = b["entry"][0]["resource"]["identifier"][0]["value"]
        .as_str()
        .unwrap()
        .to_owned();
    let (head, branch) = id.rsplit_once(':').unwrap();
    let nobody = json!(format!("{head}9:{branch}"));
    b["entry"][0]["resource"]["identifier"][0]["value"] = nobody.clone();
    b["entry"][2]["resource"]["subject"]["identifier"]["value"] = nobody;
    cases.push((b, StatusCode::UNPROCESSABLE_ENTITY, "unknown_patient"));
    let mut b = good();
    b["entry"][0]["resource"]["birthDate"] = json!("1900-01-01");
    cases.push((b, StatusCode::UNPROCESSABLE_ENTITY, "patient_mismatch"));

    for (i, (body, status, code)) in cases.into_iter().enumerate() {
        let (s, v) = h.post(&t, "/v1/ehr/items", body).await;
        assert_eq!(
            (s, v["error"]["code"].as_str()),
            (status, Some(code)),
            "case {i}: {v}"
        );
        assert!(
            v["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty())
        );
    }

    // Malformed JSON, and a pharmacy (which does not author the 6 items).
    let resp = h
        .http
        .post(format!("{}/v1/ehr/items", h.url))
        .bearer_auth(&t)
        .header("content-type", "application/fhir+json")
        .body("{\"resourceType\": \"Bundle\",")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["code"], "malformed_json");
    let ph = h.facility_token(&pharmacy(0)).await;
    let (s, v) = h.post(&ph, "/v1/ehr/items", good()).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert_eq!(v["error"]["code"], "wrong_role");

    assert_eq!(h.data_stats().await, stored, "nothing was stored");
}

async fn items_are_kept_five_years_unless_long_term_then_purged() {
    let h = Harness::start().await;
    let p = h.adult_with_card(5);
    let fac = clinic(7);
    let t = h.facility_token(&fac).await;
    let items = vec![
        ItemDraft::new(
            Fact::Diagnosis {
                code: "J45.9".into(),
            },
            h.today(),
        ),
        ItemDraft {
            long_term: true,
            ..ItemDraft::new(
                Fact::Diagnosis {
                    code: "E11.9".into(),
                },
                h.today(),
            )
        },
    ];
    let (s, v) = h
        .post(
            &t,
            "/v1/ehr/items",
            h.items_bundle(&fac, "keep-1", &p, items),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let total = |v: &Value| v["total"].as_u64().unwrap();

    // On the last day of the five years both are there; the day after, only the long-term one.
    let until = h
        .today()
        .checked_add_months(chrono::Months::new(60))
        .unwrap();
    h.advance_days((until - h.today()).num_days());
    let me = h.token(&format!("person:{}", p.id)).await;
    let (_, v) = h.get(&me, "/v1/portal/clinical-summary").await;
    assert_eq!(total(&v), 2);
    h.advance_days(1);
    let me = h.token(&format!("person:{}", p.id)).await;
    let (_, v) = h.get(&me, "/v1/portal/clinical-summary").await;
    assert_eq!(total(&v), 1);
    assert_eq!(
        v["entry"][0]["resource"]["code"]["coding"][0]["code"],
        "E11.9"
    );

    let admin = h.admin().await;
    let (s, v) = h.post(&admin, "/v1/admin/ehr/purge", json!({})).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v, json!({"documents_removed": 0, "items_removed": 1}));
    assert_eq!(h.stats().await["ehr_items"], 1);
    let (s, v) = h.post(&me, "/v1/admin/ehr/purge", json!({})).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
}

async fn a_referral_reaches_its_addressee_with_its_discharge_summary_and_expires_after_receipt() {
    let h = Harness::start().await;
    let p = h.adult_with_card(6);
    let (hosp, gp, other) = (hospital(0), clinic(8), clinic(9));
    let ht = h.facility_token(&hosp).await;
    let (s, ds) = h
        .post(
            &ht,
            "/v1/ehr/documents",
            h.document_bundle(&hosp, "ds-1", DocumentKind::DischargeSummary, &p, None, &[]),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{ds}");
    assert_eq!(ds["kind"], "discharge_summary");
    let ds_id = ds["document_id"].as_str().unwrap().to_owned();
    let (s, rf) = h
        .post(
            &ht,
            "/v1/ehr/documents",
            h.document_bundle(
                &hosp,
                "ref-1",
                DocumentKind::Referral,
                &p,
                Some(&gp),
                &[&ds_id],
            ),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{rf}");
    assert_eq!(rf["addressee"], gp.as_str());
    assert_eq!(rf["attachments"], json!([ds_id]));
    assert!(rf["retain_until"].is_null(), "kept until received");
    let rf_id = rf["document_id"].as_str().unwrap().to_owned();

    // The addressee's inbox lists it; it reads the letter and the attachment without consent.
    let gt = h.facility_token(&gp).await;
    let (s, inbox) = h.get(&gt, "/v1/ehr/referrals").await;
    assert_eq!(s, StatusCode::OK, "{inbox}");
    assert_eq!(inbox["referrals"][0]["document_id"], rf_id.as_str());
    let (s, doc) = h.get(&gt, &format!("/v1/ehr/documents/{rf_id}")).await;
    assert_eq!(s, StatusCode::OK, "{doc}");
    assert_eq!(doc["bundle"]["type"], "document");
    assert_eq!(
        doc["bundle"]["entry"][0]["resource"]["type"]["coding"][0]["code"],
        "57133-1"
    );
    let (s, _) = h.get(&gt, &format!("/v1/ehr/documents/{ds_id}")).await;
    assert_eq!(s, StatusCode::OK);

    // Another facility: not the addressee; the discharge summary needs EHR consent.
    let ot = h.facility_token(&other).await;
    let (s, v) = h.get(&ot, &format!("/v1/ehr/documents/{rf_id}")).await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("document_not_found"))
    );
    let (s, v) = h.get(&ot, &format!("/v1/ehr/documents/{ds_id}")).await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("document_not_found"))
    );
    h.consent(&ot, &p, json!({"ehr": true})).await;
    let (s, _) = h.get(&ot, &format!("/v1/ehr/documents/{ds_id}")).await;
    assert_eq!(s, StatusCode::OK);
    let (s, v) = h
        .post(
            &ot,
            &format!("/v1/ehr/documents/{rf_id}/receipt"),
            json!({}),
        )
        .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("document_not_found"))
    );
    // The person reads their discharge summary, not the letter between doctors.
    let me = h.token(&format!("person:{}", p.id)).await;
    let (s, _) = h.get(&me, &format!("/v1/ehr/documents/{ds_id}")).await;
    assert_eq!(s, StatusCode::OK);
    let (s, v) = h.get(&me, &format!("/v1/ehr/documents/{rf_id}")).await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("document_not_found"))
    );

    // Receipt starts the grace period; a second receipt is refused.
    let (s, v) = h
        .post(
            &gt,
            &format!("/v1/ehr/documents/{rf_id}/receipt"),
            json!({}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let grace_end = h.today() + chrono::TimeDelta::days(180);
    assert_eq!(v["retain_until"], grace_end.to_string());
    let (s, v) = h
        .post(
            &gt,
            &format!("/v1/ehr/documents/{rf_id}/receipt"),
            json!({}),
        )
        .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (StatusCode::CONFLICT, Some("already_received"))
    );
    let (s, v) = h
        .post(
            &gt,
            &format!("/v1/ehr/documents/{ds_id}/receipt"),
            json!({}),
        )
        .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("not_a_referral"))
    );
    let (_, inbox) = h.get(&gt, "/v1/ehr/referrals").await;
    assert_eq!(inbox["referrals"], json!([]));
    let (_, inbox) = h.get(&gt, "/v1/ehr/referrals?status=received").await;
    assert_eq!(inbox["referrals"][0]["document_id"], rf_id.as_str());
    let (s, v) = h.get(&gt, "/v1/ehr/referrals?status=lost").await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_status"))
    );

    // After the grace period the letter is gone; the discharge summary stays (5 years).
    h.advance_days(181);
    let gt = h.facility_token(&gp).await;
    let (s, v) = h.get(&gt, &format!("/v1/ehr/documents/{rf_id}")).await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("document_not_found"))
    );
    let ht = h.facility_token(&hosp).await;
    let (s, _) = h.get(&ht, &format!("/v1/ehr/documents/{ds_id}")).await;
    assert_eq!(s, StatusCode::OK);
    let admin = h.admin().await;
    let (_, v) = h.post(&admin, "/v1/admin/ehr/purge", json!({})).await;
    assert_eq!(v["documents_removed"], 1);
}

async fn checkup_reports_need_checkup_consent() {
    let h = Harness::start().await;
    let p = h.adult_with_card(7);
    let fac = clinic(10);
    let t = h.facility_token(&fac).await;
    let (s, v) = h
        .post(
            &t,
            "/v1/ehr/documents",
            h.document_bundle(&fac, "hc-1", DocumentKind::CheckupReport, &p, None, &[]),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let id = v["document_id"].as_str().unwrap().to_owned();
    let five_years = h
        .today()
        .checked_add_months(chrono::Months::new(60))
        .unwrap();
    assert_eq!(v["retain_until"], five_years.to_string());

    let reader = h.facility_token(&hospital(1)).await;
    h.consent(&reader, &p, json!({"ehr": true})).await;
    let (s, v) = h.get(&reader, &format!("/v1/ehr/documents/{id}")).await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("document_not_found"))
    );
    h.consent(&reader, &p, json!({"checkup": true})).await;
    let (s, _) = h.get(&reader, &format!("/v1/ehr/documents/{id}")).await;
    assert_eq!(s, StatusCode::OK);
    let someone_else = h.adult_with_card(8);
    let them = h.token(&format!("person:{}", someone_else.id)).await;
    let (s, v) = h.get(&them, &format!("/v1/ehr/documents/{id}")).await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("document_not_found"))
    );
    let (s, v) = h.get(&them, "/v1/ehr/documents/D999999999999").await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("document_not_found"))
    );
}

async fn bad_documents_are_refused_and_store_nothing() {
    let h = Harness::start().await;
    let p = h.adult_with_card(9);
    let other = h.adult_with_card(10);
    let (hosp, gp) = (hospital(2), clinic(11));
    let t = h.facility_token(&hosp).await;
    // Another patient's discharge summary, to attach wrongly.
    let (s, theirs) = h
        .post(
            &t,
            "/v1/ehr/documents",
            h.document_bundle(
                &hosp,
                "ds-x",
                DocumentKind::DischargeSummary,
                &other,
                None,
                &[],
            ),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let theirs = theirs["document_id"].as_str().unwrap().to_owned();
    let stored = h.data_stats().await;

    let doc = |id: &str, kind, to: Option<&str>, att: &[&str]| {
        h.document_bundle(&hosp, id, kind, &p, to, att)
    };
    let unknown_facility =
        dx_exchange::codes::facility_code(13, dx_exchange::codes::FacilityTable::Medical, 1, 9876);
    let mut unknown_type = doc("d", DocumentKind::CheckupReport, None, &[]);
    unknown_type["entry"][0]["resource"]["type"]["coding"][0]["code"] = json!("11488-4");
    let mut not_final = doc("d", DocumentKind::CheckupReport, None, &[]);
    not_final["entry"][0]["resource"]["status"] = json!("preliminary");
    let mut dangling = doc("d", DocumentKind::CheckupReport, None, &[]);
    dangling["entry"][0]["resource"]["section"][1]["entry"][0]["reference"] =
        json!("urn:uuid:missing");
    let mut bad_code = doc("d", DocumentKind::DischargeSummary, None, &[]);
    let last = bad_code["entry"].as_array().unwrap().len() - 1;
    bad_code["entry"][last]["resource"]["code"]["coding"][0]["system"] = json!("urn:oid:9.9.9");
    let mut bad_addressee = doc("d", DocumentKind::Referral, Some(&gp), &[]);
    bad_addressee["entry"][3]["resource"]["identifier"][0]["value"] = json!("1311001012");
    let cases: Vec<(Value, StatusCode, &str)> = vec![
        (
            doc("d", DocumentKind::Referral, None, &[]),
            StatusCode::UNPROCESSABLE_ENTITY,
            "addressee_required",
        ),
        (
            doc("d", DocumentKind::CheckupReport, Some(&gp), &[]),
            StatusCode::UNPROCESSABLE_ENTITY,
            "addressee_not_allowed",
        ),
        (
            doc("d", DocumentKind::Referral, Some(&unknown_facility), &[]),
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown_facility",
        ),
        (
            doc("d", DocumentKind::Referral, Some(&hosp), &[]),
            StatusCode::UNPROCESSABLE_ENTITY,
            "referral_to_self",
        ),
        (
            doc("d", DocumentKind::Referral, Some(&gp), &[&theirs]),
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown_attachment",
        ),
        (
            doc("d", DocumentKind::Referral, Some(&gp), &["D000000000777"]),
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown_attachment",
        ),
        (
            doc("d", DocumentKind::CheckupReport, None, &["D000000000001"]),
            StatusCode::UNPROCESSABLE_ENTITY,
            "attachment_not_allowed",
        ),
        (
            doc("ds-x", DocumentKind::DischargeSummary, None, &[]),
            StatusCode::CONFLICT,
            "duplicate_document",
        ),
        (
            unknown_type,
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown_document_type",
        ),
        (not_final, StatusCode::BAD_REQUEST, "invalid_fhir"),
        (dangling, StatusCode::BAD_REQUEST, "invalid_fhir"),
        (
            bad_code,
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown_code_system",
        ),
        (
            bad_addressee,
            StatusCode::BAD_REQUEST,
            "invalid_facility_code",
        ),
        (
            h.document_bundle(&gp, "d", DocumentKind::CheckupReport, &p, None, &[]),
            StatusCode::FORBIDDEN,
            "facility_mismatch",
        ),
    ];
    for (i, (body, status, code)) in cases.into_iter().enumerate() {
        let (s, v) = h.post(&t, "/v1/ehr/documents", body).await;
        assert_eq!(
            (s, v["error"]["code"].as_str()),
            (status, Some(code)),
            "case {i}: {v}"
        );
    }
    let ph = h.facility_token(&pharmacy(1)).await;
    let (s, v) = h
        .post(
            &ph,
            "/v1/ehr/documents",
            h.document_bundle(
                &pharmacy(1),
                "d",
                DocumentKind::CheckupReport,
                &p,
                None,
                &[],
            ),
        )
        .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("wrong_role"))
    );
    assert_eq!(h.data_stats().await, stored, "nothing was stored");
}

crate::harness::on_both_stores!(
    items_are_read_newest_first_in_pages_with_ehr_consent_only,
    an_uninformed_diagnosis_is_hidden_from_the_portal_only,
    prescriptions_come_from_the_eprescription_service_not_stored_twice,
    registered_contraindications_and_allergies_warn_in_prescription_checks,
    bad_item_submissions_are_refused_and_store_nothing,
    items_are_kept_five_years_unless_long_term_then_purged,
    a_referral_reaches_its_addressee_with_its_discharge_summary_and_expires_after_receipt,
    checkup_reports_need_checkup_consent,
    bad_documents_are_refused_and_store_nothing,
);
