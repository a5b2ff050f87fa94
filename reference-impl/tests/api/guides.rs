//! The published guides as written: each element where dxsim once spoke a dialect of its own
//! (ePrescriptionData 1.0.0, JP-CLINS 1.3.0-rc1, JP Core 1.2.0) — the guide's form is accepted
//! and returned, the old form is refused with the element's path, and a refusal stores nothing.

use crate::harness::*;
use dx_exchange::clock::Clock as _;
use dx_exchange::wire::clins::{
    BUNDLE_ID_SYSTEM as CLINS_BUNDLE_ID, DocumentKind, EHR_TAG_SYSTEM, FOOD_ALLERGEN_SYSTEM, Fact,
    INSURED_PERSON_SYSTEM, ItemDraft, SECTION_SYSTEM,
};
use dx_exchange::wire::fhir::{
    BUNDLE_ID_SYSTEM, BUNDLE_PROFILE, FACILITY_SYSTEM, INSURER_SYSTEM, PRESCRIPTION_NUMBER_SYSTEM,
    SUB_NUMBER_EXTENSION, practitioner_system,
};
use dx_exchange::wire::guides::{
    BUNDLE_RESOURCE_TYPE, DOC_TYPE, HOT9, ICD10, INSURANCE_CATEGORY, INSURED_RELATIONSHIP,
    INSURER_NUMBER, JAMI_USAGE, MEDIS_DISEASE, ORDER_IN_RP, RESOURCE_ID, RP_NUMBER,
};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// Posts `body` and checks it is refused with `status`, `code` and the element `field`, and that
/// nothing was stored.
async fn refused(
    h: &Harness,
    token: &str,
    path: &str,
    body: Value,
    expected: (StatusCode, &str, &str),
) -> Value {
    let stored = h.data_stats().await;
    let (s, v) = h.post(token, path, body).await;
    assert_eq!(
        (s, v["error"]["code"].as_str(), v["error"]["field"].as_str()),
        (expected.0, Some(expected.1), Some(expected.2)),
        "{v}"
    );
    assert_eq!(h.data_stats().await, stored, "a refusal stores nothing");
    v
}

async fn eprescriptions_are_eprescription_data_documents_both_ways() {
    let h = Harness::start().await;
    let p = h.adult_with_card(0);
    let doctor = h.signer(&clinic(0), "DR-100").await;
    let draft = doctor.draft("rx-g1", &p, &[("amlodipine", 28)], 1, h.clock.now());
    let bundle = draft.to_bundle();

    // What the guide writes.
    assert_eq!(bundle["meta"]["profile"][0], BUNDLE_PROFILE);
    assert!(BUNDLE_PROFILE.contains("/ePrescription/StructureDefinition/"));
    assert_eq!(bundle["identifier"]["system"], "urn:ietf:rfc:3986");
    assert!(
        bundle["identifier"]["value"]
            .as_str()
            .unwrap()
            .starts_with("urn:uuid:")
    );
    let composition = &bundle["entry"][0]["resource"];
    assert_eq!(
        composition["type"]["coding"][0],
        json!({"system": DOC_TYPE.written, "code": "57833-6", "display": "処方箋"})
    );
    assert_eq!(
        composition["identifier"][0],
        json!({"system": PRESCRIPTION_NUMBER_SYSTEM, "value": "rx-g1"})
    );
    let coverage = &bundle["entry"][2]["resource"];
    let payer_url = coverage["payor"][0]["reference"].as_str().unwrap();
    let payer = bundle["entry"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["fullUrl"] == payer_url)
        .expect("the payor is an entry");
    assert_eq!(payer["resource"]["resourceType"], "Organization");
    assert_eq!(payer["resource"]["identifier"][0]["system"], INSURER_SYSTEM);
    assert!(
        coverage["extension"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["url"] == SUB_NUMBER_EXTENSION && e["valueString"] == current(&p).branch)
    );
    assert_eq!(
        bundle["entry"][5]["resource"]["identifier"][0]["system"],
        practitioner_system(&clinic(0))
    );
    assert!(
        practitioner_system(&clinic(0)).starts_with("urn:oid:1.2.392.100495.20.3.41.1"),
        "a doctor's id of the issuing facility"
    );

    // The issuing facility: its code split into JP Core's three extensions, a phone, an address.
    let issuer = bundle["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["resource"])
        .find(|r| r["identifier"][0]["system"] == FACILITY_SYSTEM)
        .unwrap();
    let split: Vec<&str> = issuer["extension"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["valueIdentifier"]["value"].as_str().unwrap())
        .collect();
    assert_eq!(split.concat(), clinic(0));
    assert_eq!(issuer["address"][0]["text"], "東京都");
    assert_eq!(issuer["telecom"][0]["system"], "phone");
    // The patient as the guide's example writes one: the facility's patient number (JP Core
    // requires an identifier) and the name in kanji and katakana.
    let patient = &bundle["entry"][1]["resource"];
    assert_eq!(
        patient["identifier"][0]["system"],
        format!("urn:oid:1.2.392.100495.20.3.51.1{}", clinic(0))
    );
    assert_eq!(patient["identifier"][0]["value"].as_str().unwrap().len(), 8);
    assert_eq!(patient["name"][1]["extension"][0]["valueCode"], "SYL");

    // Each drug: its Rp number and order, its name as text, a JAMI usage code and its days.
    let mr = &bundle["entry"][6]["resource"];
    assert_eq!(
        mr["identifier"],
        json!([
            {"system": RP_NUMBER.written, "value": "1"},
            {"system": ORDER_IN_RP.written, "value": "1"}
        ])
    );
    assert_eq!(
        mr["medicationCodeableConcept"]["text"],
        mr["medicationCodeableConcept"]["coding"][0]["display"]
    );
    let usage = &mr["dosageInstruction"][0]["timing"];
    assert_eq!(
        usage["code"]["coding"][0],
        json!({"system": JAMI_USAGE.written, "code": "1011000400000000", "display": "内服・経口・１日１回朝食後"})
    );
    assert_eq!(usage["repeat"]["boundsDuration"]["value"], 28);

    // Accepted, and returned to the pharmacy as registered, with the prescriber's signature.
    let signed = doctor.signed(&draft);
    let (s, rx) = h
        .post(&doctor.token, "/v1/prescriptions", signed.clone())
        .await;
    assert_eq!(s, StatusCode::CREATED, "{rx}");
    let pharmacist = h.signer(&pharmacy(0), "PH-100").await;
    let (s, got) = pharmacist.retrieve(&h, &rx).await;
    assert_eq!(s, StatusCode::OK, "{got}");
    assert_eq!(got["bundle"], signed["bundle"]);
    let mut unsigned = got["bundle"].clone();
    unsigned.as_object_mut().unwrap().remove("signature");
    assert_eq!(unsigned, bundle);
    assert_eq!(got["bundle"]["signature"]["sigFormat"], "application/jose");

    // The same drug coded with JP Core's URL for HOT9 is accepted too.
    let mut b = doctor
        .draft("rx-g2", &p, &[("amlodipine", 28)], 1, h.clock.now())
        .to_bundle();
    let hot9 = dx_exchange::refdata::DrugMaster::get()
        .by_code(&yj("amlodipine"))
        .unwrap()
        .hot9
        .clone();
    b["entry"][6]["resource"]["medicationCodeableConcept"]["coding"][0] =
        json!({"system": HOT9.accepted[2], "code": hot9});
    let (s, v) = h
        .post(&doctor.token, "/v1/prescriptions", doctor.signed_bundle(b))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");

    // So is the insurer number, the insurance category and the insured's category under JP
    // Core's URLs instead of the MHLW OIDs.
    let mut b = doctor
        .draft("rx-g3", &p, &[("amlodipine", 28)], 1, h.clock.now())
        .to_bundle();
    b["entry"][3]["resource"]["identifier"][0]["system"] = json!(INSURER_NUMBER.accepted[1]);
    b["entry"][2]["resource"]["type"]["coding"][0]["system"] =
        json!(INSURANCE_CATEGORY.accepted[1]);
    b["entry"][2]["resource"]["relationship"]["coding"][0]["system"] =
        json!(INSURED_RELATIONSHIP.accepted[1]);
    let (s, v) = h
        .post(&doctor.token, "/v1/prescriptions", doctor.signed_bundle(b))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
}

async fn the_old_eprescription_dialect_is_refused_with_the_element_named() {
    let h = Harness::start().await;
    let p = h.adult_with_card(1);
    let doctor = h.signer(&clinic(1), "DR-101").await;
    let good = || {
        doctor
            .draft("rx-old", &p, &[("amlodipine", 28)], 1, h.clock.now())
            .to_bundle()
    };
    let post = |b: Value| doctor.signed_bundle(b);
    let rx = "/v1/prescriptions";
    let t = &doctor.token;

    let mut b = good();
    b["meta"]["profile"] = json!([
        "http://jpfhir.jp/fhir/ePrescriptionData/StructureDefinition/JP_Bundle_ePrescriptionData"
    ]);
    let bad = StatusCode::BAD_REQUEST;
    refused(
        &h,
        t,
        rx,
        post(b),
        (bad, "invalid_fhir", "bundle.meta.profile"),
    )
    .await;

    let mut b = good();
    b["entry"][0]["resource"]["type"]["coding"][0] = json!({
        "system": "http://jpfhir.jp/fhir/ePrescription/CodeSystem/doc-typecodes", "code": "1"
    });
    let field = "bundle.entry[0].resource.type";
    let v = refused(&h, t, rx, post(b), (bad, "invalid_fhir", field)).await;
    assert!(v["error"]["message"].as_str().unwrap().contains("57833-6"));

    let mut b = good();
    b["identifier"] = json!({
        "system": "http://jpfhir.jp/fhir/core/IdSystem/resourceInstance-identifier", "value": "rx-old"
    });
    let v = refused(
        &h,
        t,
        rx,
        post(b),
        (bad, "invalid_fhir", "bundle.identifier"),
    )
    .await;
    let message = v["error"]["message"].as_str().unwrap();
    assert!(message.contains(BUNDLE_ID_SYSTEM) && message.contains("JAMI ePrescriptionData 1.0.0"));

    let mut b = good();
    b["identifier"]["value"] = json!("rx-old");
    let field = "bundle.identifier.value";
    refused(&h, t, rx, post(b), (bad, "invalid_fhir", field)).await;

    let mut b = good();
    b["entry"][2]["resource"]["payor"] =
        json!([{"identifier": {"system": INSURER_SYSTEM, "value": current(&p).insurer_number}}]);
    let field = "bundle.entry[2].resource.payor[0]";
    refused(&h, t, rx, post(b), (bad, "invalid_fhir", field)).await;

    let mut b = good();
    let ext = b["entry"][2]["resource"]["extension"]
        .as_array_mut()
        .unwrap();
    ext.retain(|e| e["url"] != SUB_NUMBER_EXTENSION);
    b["entry"][2]["resource"]["dependent"] = json!(current(&p).branch);
    let field = "bundle.entry[2].resource.extension";
    refused(&h, t, rx, post(b), (bad, "invalid_fhir", field)).await;

    let mut b = good();
    b["entry"][5]["resource"]["identifier"][0]["system"] =
        json!("http://jpfhir.jp/fhir/core/IdSystem/practitioner-hpki-id");
    let field = "bundle.entry[5].resource.identifier";
    refused(&h, t, rx, post(b), (bad, "invalid_fhir", field)).await;

    // The prescription number is the prescriber's document id.
    let mut b = good();
    b["entry"][0]["resource"]
        .as_object_mut()
        .unwrap()
        .remove("identifier");
    let field = "bundle.entry[0].resource.identifier";
    refused(&h, t, rx, post(b), (bad, "invalid_fhir", field)).await;

    // A MedicationRequest as dxsim wrote it before: no Rp number, no text, no usage code.
    let mut b = good();
    let mr = &mut b["entry"][6]["resource"];
    mr.as_object_mut().unwrap().remove("identifier");
    let field = "bundle.entry[6].resource.identifier.system";
    let v = refused(&h, t, rx, post(b), (bad, "invalid_fhir", field)).await;
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("JP_MedicationRequest_ePrescriptionData.identifier.system"),
        "{v}"
    );
    let mut b = good();
    b["entry"][6]["resource"]["dosageInstruction"][0]["timing"]
        .as_object_mut()
        .unwrap()
        .remove("code");
    let field = "bundle.entry[6].resource.dosageInstruction[0].timing.code";
    refused(&h, t, rx, post(b), (bad, "invalid_fhir", field)).await;
    // A usage code of another system.
    let mut b = good();
    b["entry"][6]["resource"]["dosageInstruction"][0]["timing"]["code"]["coding"][0]["system"] =
        json!("urn:oid:1.2.392.200250.2.2.20");
    let unknown = StatusCode::UNPROCESSABLE_ENTITY;
    let field = "bundle.entry[6].resource.dosageInstruction[0].timing.code.coding[0].system";
    refused(&h, t, rx, post(b), (unknown, "unknown_code_system", field)).await;
    // JP Core's URL for the usage codes is accepted.
    let mut b = good();
    b["entry"][6]["resource"]["dosageInstruction"][0]["timing"]["code"]["coding"][0]["system"] =
        json!(JAMI_USAGE.accepted[1]);
    b["entry"][0]["resource"]["identifier"][0]["value"] = json!("rx-old-url");
    let (s, v) = h.post(t, rx, post(b)).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
}

async fn ehr_items_are_jp_clins_items_both_ways() {
    let h = Harness::start().await;
    let p = h.adult_with_card(2);
    let fac = hospital(1);
    let t = h.facility_token(&fac).await;
    let items = vec![
        ItemDraft {
            uninformed: true,
            long_term: true,
            ..ItemDraft::new(
                Fact::Diagnosis {
                    code: "C16.9".into(),
                },
                h.today(),
            )
        },
        ItemDraft::new(
            Fact::Allergy {
                system: FOOD_ALLERGEN_SYSTEM.into(),
                code: "J9FB13110000".into(),
            },
            h.today(),
        ),
    ];
    // A Bundle of two categories is refused at the first item of the other one, storing
    // nothing: JP-CLINS sends one Bundle per resource category.
    let before = h.data_stats().await;
    let mixed = h.items_bundle(&fac, "g-items-0", &p, items.clone());
    let (s, v) = h.post(&t, "/v1/ehr/items", mixed).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    assert_eq!(v["error"]["code"], "invalid_fhir");
    assert_eq!(v["error"]["field"], "bundle.entry[3].resource.resourceType");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("JP_Bundle_CLINS.meta.tag"),
        "{v}"
    );
    assert_eq!(h.data_stats().await, before);
    let bundles = h.items_bundles(&fac, "g-items-1", &p, items);
    let [b, allergies] = [bundles[0].clone(), bundles[1].clone()];
    // What JP-CLINS writes.
    assert_eq!(
        b["meta"]["tag"],
        json!([{"system": BUNDLE_RESOURCE_TYPE.written, "code": "Condition"}])
    );
    assert_eq!(allergies["meta"]["tag"][0]["code"], "AllergyIntolerance");
    assert_eq!(b["identifier"]["system"], CLINS_BUNDLE_ID);
    assert!(
        b["identifier"]["value"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{fac}^20"))
    );
    // The patient with a name, in kanji and katakana, and an address (both synthetic).
    let patient = &b["entry"][0]["resource"];
    assert_eq!(patient["name"][0]["extension"][0]["valueCode"], "IDE");
    assert_eq!(patient["name"][1]["extension"][0]["valueCode"], "SYL");
    assert!(
        patient["name"][0]["text"]
            .as_str()
            .unwrap()
            .contains('\u{3000}')
    );
    assert!(patient["address"][0]["text"].is_string(), "{patient}");
    let diagnosis = &b["entry"][2]["resource"];
    // Every item: when it was written, and its resource identifier.
    assert_eq!(b["meta"]["lastUpdated"], diagnosis["meta"]["lastUpdated"]);
    assert_eq!(
        diagnosis["identifier"][0],
        json!({"system": RESOURCE_ID.written, "value": "g-items-1-c-1"})
    );
    assert_eq!(
        allergies["entry"][2]["resource"]["code"]["text"],
        allergies["entry"][2]["resource"]["code"]["coding"][0]["display"]
    );
    assert_eq!(diagnosis["code"]["coding"][0]["system"], ICD10.written);
    assert_eq!(
        diagnosis["subject"]["identifier"]["system"],
        INSURED_PERSON_SYSTEM
    );
    let tags: Vec<&str> = diagnosis["meta"]["tag"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["code"].as_str().unwrap())
        .collect();
    assert_eq!(tags, ["LTS", "UNINFORMED"]);
    let (s, v) = h.post(&t, "/v1/ehr/items", b).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(v["items"][0]["retain_until"], Value::Null, "LTS: kept");
    let (s, v) = h.post(&t, "/v1/ehr/items", allergies).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert!(v["items"][0]["retain_until"].is_string(), "5 years");

    // Read back by a consenting facility: the guide's codes and the patient by identifier.
    h.consent(&t, &p, json!({"ehr": true})).await;
    let (s, v) = h
        .get(&t, &format!("/v1/persons/{}/clinical-summary", p.id))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let entries = v["entry"].as_array().unwrap();
    assert_eq!(entries.len(), 2);
    for e in entries {
        assert!(e["fullUrl"].as_str().unwrap().starts_with("urn:uuid:"));
        let r = &e["resource"];
        let subject = if r["resourceType"] == "AllergyIntolerance" {
            &r["patient"]
        } else {
            &r["subject"]
        };
        assert_eq!(
            subject["identifier"]["system"], INSURED_PERSON_SYSTEM,
            "{r}"
        );
        assert!(
            r["meta"]["profile"][0]
                .as_str()
                .unwrap()
                .starts_with("http://jpfhir.jp/fhir/eCS/StructureDefinition/")
        );
    }
    assert!(v["link"][0]["url"].as_str().unwrap().starts_with("http://"));
    // The UNINFORMED diagnosis never reaches the person's own portal.
    let me = h.token(&format!("person:{}", p.id)).await;
    let (s, own) = h.get(&me, "/v1/portal/clinical-summary").await;
    assert_eq!(s, StatusCode::OK, "{own}");
    assert_eq!(own["total"], 1);
    assert!(!own.to_string().contains("C16.9"));

    // The MEDIS number first and ICD-10 second, as the guide's example orders them: read by the
    // ICD-10 coding, stored as sent.
    let mut b = h.items_bundle(
        &fac,
        "g-items-3",
        &p,
        vec![ItemDraft::new(
            Fact::Diagnosis {
                code: "E11.9".into(),
            },
            h.today(),
        )],
    );
    b["entry"][2]["resource"]["code"]["coding"]
        .as_array_mut()
        .unwrap()
        .reverse();
    let (s, v) = h.post(&t, "/v1/ehr/items", b).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(v["items"][0]["kind"], "diagnosis", "{v}");

    // A subject given as a reference to the Patient entry is accepted and kept as the identifier.
    let mut b = h.items_bundle(
        &fac,
        "g-items-2",
        &p,
        vec![ItemDraft::new(
            Fact::Diagnosis { code: "I10".into() },
            h.today(),
        )],
    );
    let patient_url = b["entry"][0]["fullUrl"].clone();
    b["entry"][2]["resource"]["subject"] = json!({ "reference": patient_url });
    let (s, v) = h.post(&t, "/v1/ehr/items", b).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let (_, v) = h
        .get(&t, &format!("/v1/persons/{}/clinical-summary", p.id))
        .await;
    let i10 = v["entry"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["resource"]["code"]["coding"][0]["code"] == "I10")
        .unwrap();
    assert_eq!(
        i10["resource"]["subject"]["identifier"]["system"],
        INSURED_PERSON_SYSTEM
    );
}

async fn the_old_ehr_dialect_is_refused_with_the_element_named() {
    let h = Harness::start().await;
    let p = h.adult_with_card(3);
    let fac = clinic(3);
    let t = h.facility_token(&fac).await;
    let one = |fact: Fact| h.items_bundle(&fac, "g-old", &p, vec![ItemDraft::new(fact, h.today())]);
    let items = "/v1/ehr/items";
    let (bad, rule) = (StatusCode::BAD_REQUEST, StatusCode::UNPROCESSABLE_ENTITY);

    // The old flags: the guide's tag slicing is closed.
    for old in ["undisclosed", "long-term"] {
        let mut b = one(Fact::Diagnosis { code: "I10".into() });
        b["entry"][2]["resource"]["meta"]["tag"] = json!([{"system": EHR_TAG_SYSTEM, "code": old}]);
        let field = "bundle.entry[2].resource.meta.tag[0].code";
        refused(&h, &t, items, b, (rule, "unknown_code", field)).await;
    }
    // Items as dxsim wrote them before: no meta.lastUpdated, no resource identifier.
    let mut b = one(Fact::Diagnosis { code: "I10".into() });
    b["entry"][2]["resource"]["meta"]
        .as_object_mut()
        .unwrap()
        .remove("lastUpdated");
    let field = "bundle.entry[2].resource.meta.lastUpdated";
    refused(&h, &t, items, b, (bad, "invalid_fhir", field)).await;
    let mut b = one(Fact::LabResult {
        code: "3D010000002327101".into(),
        value: 92.0,
    });
    b["entry"][2]["resource"]
        .as_object_mut()
        .unwrap()
        .remove("identifier");
    let field = "bundle.entry[2].resource.identifier";
    refused(&h, &t, items, b, (bad, "invalid_fhir", field)).await;
    // An identifier, but not the resource identifier JP-CLINS slices in.
    let mut b = one(Fact::LabResult {
        code: "3D010000002327101".into(),
        value: 92.0,
    });
    b["entry"][2]["resource"]["identifier"][0]["system"] = json!("urn:example:other");
    let field = "bundle.entry[2].resource.identifier.system";
    refused(&h, &t, items, b, (bad, "invalid_fhir", field)).await;
    // A diagnosis without its MEDIS disease number.
    let mut b = one(Fact::Diagnosis { code: "I10".into() });
    let codings = b["entry"][2]["resource"]["code"]["coding"]
        .as_array_mut()
        .unwrap();
    codings.retain(|c| c["system"] != MEDIS_DISEASE.written);
    let field = "bundle.entry[2].resource.code.coding.system";
    let v = refused(&h, &t, items, b, (bad, "invalid_fhir", field)).await;
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("JP_Condition_eCS")
    );
    // ICD-10 under HL7's URL instead of MHLW's.
    let mut b = one(Fact::Diagnosis { code: "I10".into() });
    b["entry"][2]["resource"]["code"]["coding"][0]["system"] =
        json!("http://hl7.org/fhir/sid/icd-10");
    let field = "bundle.entry[2].resource.code.coding[0].system";
    let v = refused(&h, &t, items, b, (rule, "unknown_code_system", field)).await;
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains(ICD10.written)
    );
    // A food allergen in the old code system, and an old code in JFAGY's.
    let mut b = one(Fact::Allergy {
        system: FOOD_ALLERGEN_SYSTEM.into(),
        code: "J9FA19140000".into(),
    });
    b["entry"][2]["resource"]["code"]["coding"][0] = json!({"system": "http://jpfhir.jp/fhir/clins/CodeSystem/JP_FoodAllergen", "code": "buckwheat"});
    let field = "bundle.entry[2].resource.code.coding[0].system";
    refused(&h, &t, items, b, (rule, "unknown_code_system", field)).await;
    let b = one(Fact::Allergy {
        system: FOOD_ALLERGEN_SYSTEM.into(),
        code: "buckwheat".into(),
    });
    let field = "bundle.entry[2].resource.code.coding[0].code";
    refused(&h, &t, items, b, (rule, "unknown_code", field)).await;
    // The old Bundle identifier.
    let mut b = one(Fact::Diagnosis { code: "I10".into() });
    b["identifier"] = json!({
        "system": "http://jpfhir.jp/fhir/core/IdSystem/resourceInstance-identifier", "value": "g-old"
    });
    refused(&h, &t, items, b, (bad, "invalid_fhir", "bundle.identifier")).await;
    // An identifier naming another facility.
    let mut b = one(Fact::Diagnosis { code: "I10".into() });
    b["identifier"]["value"] = json!(format!("{}^2026^g-old", clinic(4)));
    let field = "bundle.identifier.value";
    refused(&h, &t, items, b, (bad, "invalid_fhir", field)).await;

    // Documents: LOINC as the type system, and the addressee as an extension.
    let docs = "/v1/ehr/documents";
    let mut b = h.document_bundle(&fac, "g-doc", DocumentKind::DischargeSummary, &p, None, &[]);
    b["entry"][0]["resource"]["type"]["coding"][0]["system"] = json!("http://loinc.org");
    let field = "bundle.entry[0].resource.type.coding[0].system";
    refused(&h, &t, docs, b, (rule, "unknown_code_system", field)).await;
    let referral = || {
        h.document_bundle(
            &fac,
            "g-ref",
            DocumentKind::Referral,
            &p,
            Some(&hospital(2)),
            &[],
        )
    };
    let mut b = referral();
    let sections = b["entry"][0]["resource"]["section"].as_array_mut().unwrap();
    let to = sections
        .iter()
        .position(|s| s["code"]["coding"][0]["system"] == SECTION_SYSTEM)
        .expect("a referral-to section");
    let addressee = sections.remove(to)["entry"][0].clone();
    b["entry"][0]["resource"]["extension"] = json!([{
        "url": "http://jpfhir.jp/fhir/clins/Extension/StructureDefinition/JP_eReferral_Destination",
        "valueReference": addressee
    }]);
    let field = "bundle.entry[0].resource.extension";
    refused(&h, &t, docs, b, (bad, "invalid_fhir", field)).await;

    // The guide's referral is accepted and reaches its addressee.
    let b = referral();
    assert_eq!(
        b["entry"][0]["resource"]["type"]["coding"][0]["system"],
        DOC_TYPE.written
    );
    let (s, v) = h.post(&t, docs, b).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(v["addressee"], hospital(2), "{v}");
}

/// A submission shaped as JP-CLINS's example Bundles: the Patient and the items only (the facility
/// named by each item's institution number), profiles declared with their version.
async fn an_items_bundle_as_the_guides_example_writes_it_is_stored() {
    let h = Harness::start().await;
    let p = h.adult_with_card(4);
    let fac = clinic(4);
    let t = h.facility_token(&fac).await;
    let items = "/v1/ehr/items";
    let labs = |id: &str| {
        let facts = [("3D046000002327101", 6.4), ("3F015000002327101", 120.0)];
        let drafts = facts
            .iter()
            .map(|(code, value)| {
                ItemDraft::new(
                    Fact::LabResult {
                        code: (*code).into(),
                        value: *value,
                    },
                    h.today(),
                )
            })
            .collect();
        let mut b = h.items_bundle(&fac, id, &p, drafts);
        b["entry"].as_array_mut().unwrap().remove(1);
        let versioned = |v: &mut Value| {
            let url = v[0].as_str().unwrap().to_owned();
            *v = json!([format!("{url}|1")]);
        };
        versioned(&mut b["meta"]["profile"]);
        for e in b["entry"].as_array_mut().unwrap() {
            versioned(&mut e["resource"]["meta"]["profile"]);
        }
        b
    };
    let b = labs("g-example-1");
    assert!(
        b["entry"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["resource"]["resourceType"] != "Organization")
    );
    let (s, v) = h.post(&t, items, b).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(v["items"].as_array().unwrap().len(), 2, "{v}");

    // Items of two facilities in one Bundle, or an item naming none, are refused.
    let mut b = labs("g-example-2");
    b["entry"][2]["resource"]["extension"][0]["valueIdentifier"]["value"] = json!(clinic(5));
    let field = "bundle.entry[2].resource.extension";
    let v = refused(
        &h,
        &t,
        items,
        b,
        (StatusCode::BAD_REQUEST, "invalid_fhir", field),
    )
    .await;
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("one facility"),
        "{v}"
    );
    let mut b = labs("g-example-3");
    b["entry"][1]["resource"]
        .as_object_mut()
        .unwrap()
        .remove("extension");
    let field = "bundle.entry[1].resource.extension";
    refused(
        &h,
        &t,
        items,
        b,
        (StatusCode::BAD_REQUEST, "invalid_fhir", field),
    )
    .await;
    // Another facility's Bundle, sent by this one.
    let mut b = labs("g-example-4");
    for i in [1, 2] {
        b["entry"][i]["resource"]["extension"][0]["valueIdentifier"]["value"] = json!(clinic(5));
    }
    let id = b["identifier"]["value"]
        .as_str()
        .unwrap()
        .replace(&fac, &clinic(5));
    b["identifier"]["value"] = json!(id);
    let (s, v) = h.post(&t, items, b).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
    assert_eq!(v["error"]["code"], "facility_mismatch", "{v}");
}

crate::harness::on_both_stores!(
    an_items_bundle_as_the_guides_example_writes_it_is_stored,
    eprescriptions_are_eprescription_data_documents_both_ways,
    the_old_eprescription_dialect_is_refused_with_the_element_named,
    ehr_items_are_jp_clins_items_both_ways,
    the_old_ehr_dialect_is_refused_with_the_element_named,
);
