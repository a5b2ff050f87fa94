//! Municipalities, long-term care and the portal: each rule and its refusal, and that a refusal
//! stores nothing.

use crate::harness::*;
use chrono::{Months, NaiveDate, TimeDelta};
use dx_exchange::codes::{FacilityTable, facility_code, insurer_number};
use dx_exchange::municipal::rules::recipient_number;
use dx_exchange::refdata::sample;
use dx_exchange::wire::PersonRecord;
use reqwest::StatusCode;
use serde_json::{Value, json};

fn code(v: &(StatusCode, Value)) -> (StatusCode, Option<&str>) {
    (v.0, v.1["error"]["code"].as_str())
}

fn care_provider(n: u16) -> String {
    facility_code(13, FacilityTable::Care, 1, 1 + n)
}

/// Another sample municipality of the person's prefecture.
fn elsewhere(p: &PersonRecord) -> String {
    (0..7)
        .map(|k| sample::municipality(p.prefecture, k))
        .find(|m| *m != p.municipality)
        .unwrap()
}

fn age(h: &Harness, p: &PersonRecord) -> u32 {
    h.today().years_since(p.birth_date).unwrap_or(0)
}

fn days_ago(h: &Harness, n: i64) -> NaiveDate {
    h.today() - TimeDelta::days(n)
}

async fn municipalities_are_principals_that_see_and_record_only_their_residents() {
    let h = Harness::start().await;
    let p = h.find_person(|p| p.prefecture == 13);
    let own = h.token(&format!("municipality:{}", p.municipality)).await;
    let other = h.token(&format!("municipality:{}", elsewhere(&p))).await;

    // A well-formed code that is not an enrolled municipality is no principal.
    let admin = h.admin().await;
    let unknown = dx_exchange::codes::municipality_code(13, 990);
    let r = h
        .post(
            &admin,
            "/v1/admin/credentials",
            json!({"principal": format!("municipality:{unknown}")}),
        )
        .await;
    assert_eq!(code(&r), (StatusCode::NOT_FOUND, Some("unknown_principal")));

    let before = h.data_stats().await;
    let dose = json!({"person": {"person_id": p.id}, "vaccine": "influenza", "administered_on": days_ago(&h, 3)});
    let r = h.post(&other, "/v1/vaccinations", dose.clone()).await;
    assert_eq!(
        code(&r),
        (StatusCode::FORBIDDEN, Some("wrong_municipality"))
    );
    let r = h
        .get(&other, &format!("/v1/persons/{}/vaccinations", p.id))
        .await;
    assert_eq!(
        code(&r),
        (StatusCode::FORBIDDEN, Some("wrong_municipality"))
    );
    assert_eq!(h.data_stats().await, before);

    let r = h.post(&own, "/v1/vaccinations", dose).await;
    assert_eq!(r.0, StatusCode::CREATED, "{}", r.1);
    assert_eq!(
        r.1["recorded_by"],
        format!("municipality:{}", p.municipality)
    );
    let r = h
        .get(&own, &format!("/v1/persons/{}/vaccinations", p.id))
        .await;
    assert_eq!(r.0, StatusCode::OK, "{}", r.1);
    assert_eq!(r.1["vaccinations"].as_array().unwrap().len(), 1);
    // A municipality is not a facility: no eligibility verification.
    let r = h
        .post(
            &own,
            "/v1/eligibility/verify",
            json!({"person": {"card_serial": "C1"}}),
        )
        .await;
    assert_eq!(code(&r), (StatusCode::FORBIDDEN, Some("wrong_role")));
}

async fn a_dose_inside_its_minimum_interval_is_refused_with_the_reason() {
    let h = Harness::start().await;
    let child = h.find_person(|p| age(&h, p) < 10 && p.card_serial.is_some());
    let adult = h.adult_with_card(0);
    let t = h.facility_token(&clinic(0)).await;
    let dose = |p: &PersonRecord, vaccine: &str, on: NaiveDate| json!({"person": {"person_id": p.id}, "vaccine": vaccine, "administered_on": on, "lot": "AB-12"});

    let first = days_ago(&h, 60);
    let r = h
        .post(&t, "/v1/vaccinations", dose(&child, "hepb", first))
        .await;
    assert_eq!(r.0, StatusCode::CREATED, "{}", r.1);
    assert_eq!(r.1["dose_number"], 1);
    assert!(r.1["vaccination_id"].as_str().unwrap().starts_with('V'));

    let before = h.data_stats().await;
    let r = h
        .post(
            &t,
            "/v1/vaccinations",
            dose(&child, "hepb", first + TimeDelta::days(10)),
        )
        .await;
    assert_eq!(code(&r), (StatusCode::CONFLICT, Some("dose_too_soon")));
    let why = r.1["error"]["message"].as_str().unwrap();
    assert!(why.contains("27 days"), "{why}");
    assert!(
        why.contains(&(first + TimeDelta::days(27)).to_string()),
        "{why}"
    );

    // Adults get one influenza dose a season.
    let r = h
        .post(
            &t,
            "/v1/vaccinations",
            dose(&adult, "influenza", days_ago(&h, 20)),
        )
        .await;
    assert_eq!(r.0, StatusCode::CREATED, "{}", r.1);
    let before_flu = h.data_stats().await;
    let r = h
        .post(
            &t,
            "/v1/vaccinations",
            dose(&adult, "influenza", days_ago(&h, 1)),
        )
        .await;
    assert_eq!(code(&r), (StatusCode::CONFLICT, Some("dose_too_soon")));
    assert!(
        r.1["error"]["message"]
            .as_str()
            .unwrap()
            .contains("per season")
    );

    // Bad input: unknown vaccine, a future date, a bad lot, a pharmacy recording, bad JSON.
    let r = h
        .post(&t, "/v1/vaccinations", dose(&child, "smallpox", first))
        .await;
    assert_eq!(
        code(&r),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("unknown_vaccine"))
    );
    let r = h
        .post(
            &t,
            "/v1/vaccinations",
            dose(&child, "bcg", h.today() + TimeDelta::days(1)),
        )
        .await;
    assert_eq!(
        code(&r),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_date"))
    );
    let mut bad_lot = dose(&child, "bcg", first);
    bad_lot["lot"] = json!("'; DROP TABLE vaccinations; --");
    assert_eq!(
        code(&h.post(&t, "/v1/vaccinations", bad_lot).await),
        (StatusCode::BAD_REQUEST, Some("invalid_field"))
    );
    let ph = h.facility_token(&pharmacy(0)).await;
    let r = h
        .post(&ph, "/v1/vaccinations", dose(&child, "bcg", first))
        .await;
    assert_eq!(code(&r), (StatusCode::FORBIDDEN, Some("wrong_role")));
    let r = h.post(&t, "/v1/vaccinations", json!({"person": {}})).await;
    assert_eq!(code(&r), (StatusCode::BAD_REQUEST, Some("invalid_body")));
    assert_eq!(h.data_stats().await, before_flu);
    assert_eq!(
        before_flu["vaccinations"],
        before["vaccinations"].as_u64().unwrap() + 1
    );

    let r = h
        .post(
            &t,
            "/v1/vaccinations",
            dose(&child, "hepb", first + TimeDelta::days(27)),
        )
        .await;
    assert_eq!(
        (r.0, r.1["dose_number"].as_u64()),
        (StatusCode::CREATED, Some(2))
    );
}

async fn history_and_schedule_need_vaccination_consent_and_answer_what_is_due() {
    let h = Harness::start().await;
    let child = h.find_person(|p| age(&h, p) < 10 && p.card_serial.is_some());
    let fac = clinic(1);
    let t = h.facility_token(&fac).await;
    let history = format!("/v1/persons/{}/vaccinations", child.id);
    let schedule = format!("/v1/persons/{}/vaccination-schedule", child.id);
    let on = child.birth_date + TimeDelta::days(70);
    let r = h
        .post(&t, "/v1/vaccinations", json!({"person": {"person_id": child.id}, "vaccine": "hepb", "administered_on": on.min(h.today())}))
        .await;
    assert_eq!(r.0, StatusCode::CREATED, "{}", r.1);

    for path in [&history, &schedule] {
        let r = h.get(&t, path).await;
        assert_eq!(code(&r), (StatusCode::FORBIDDEN, Some("consent_required")));
    }
    // EHR consent is not vaccination consent.
    h.consent(&t, &child, json!({"ehr": true})).await;
    assert_eq!(h.get(&t, &history).await.0, StatusCode::FORBIDDEN);
    h.consent(&t, &child, json!({"vaccination": true})).await;
    let r = h.get(&t, &history).await;
    assert_eq!(r.0, StatusCode::OK, "{}", r.1);
    assert_eq!(r.1["vaccinations"][0]["vaccine"], "hepb");

    // The schedule the day the child turned 8 months.
    let at = child.birth_date + TimeDelta::days(245);
    let r = h.get(&t, &format!("{schedule}?on={at}")).await;
    assert_eq!(r.0, StatusCode::OK, "{}", r.1);
    let entry = |c: &str| {
        r.1["entries"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["vaccine"] == c)
            .cloned()
            .unwrap()
    };
    assert_eq!(entry("hepb")["doses_given"], 1);
    assert_eq!(entry("hepb")["next_dose"], 2);
    assert_eq!(entry("dpt_ipv_hib")["status"], "overdue");
    assert_eq!(entry("rota")["status"], "missed");
    assert_eq!(entry("mr")["status"], "not_yet");
    assert_eq!(
        code(&h.get(&t, &format!("{schedule}?when=now")).await),
        (StatusCode::BAD_REQUEST, Some("invalid_query"))
    );

    // The person reads their own on the portal, not someone else's; the read is in their log.
    let me = h.token(&format!("person:{}", child.id)).await;
    let r = h.get(&me, "/v1/portal/vaccinations").await;
    assert_eq!(r.1["vaccinations"].as_array().unwrap().len(), 1);
    let stranger = h
        .token(&format!("person:{}", h.adult_with_card(1).id))
        .await;
    assert_eq!(
        code(&h.get(&stranger, &history).await),
        (StatusCode::FORBIDDEN, Some("not_your_record"))
    );
    let log = h.get(&me, "/v1/portal/access-log").await.1;
    assert!(
        log["entries"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["action"] == "vaccination.read" && e["actor"] == format!("facility:{fac}"))
    );
}

async fn a_municipal_batch_upload_is_stored_all_or_nothing() {
    let h = Harness::start().await;
    let residents: Vec<PersonRecord> = (0..PERSONS)
        .map(|i| sample::person(SEED, i, h.today()))
        .filter(|p| p.municipality == sample::municipality(13, 0) && age(&h, p) >= 13)
        .take(3)
        .collect();
    assert_eq!(residents.len(), 3);
    let outsider = h.find_person(|p| p.municipality != residents[0].municipality);
    let t = h
        .token(&format!("municipality:{}", residents[0].municipality))
        .await;
    let item = |p: &PersonRecord| json!({"person": {"person_id": p.id}, "vaccine": "influenza", "administered_on": days_ago(&h, 7)});
    let before = h.data_stats().await;

    let mut items: Vec<Value> = residents.iter().map(item).collect();
    items.push(item(&outsider));
    let r = h
        .post(
            &t,
            "/v1/municipal/vaccinations/batch",
            json!({"items": items}),
        )
        .await;
    assert_eq!(
        code(&r),
        (StatusCode::FORBIDDEN, Some("wrong_municipality"))
    );
    assert_eq!(r.1["error"]["field"], "items[3].person");
    // The same person twice in one batch: the second dose is refused, and so the batch.
    let twice = json!({"items": [item(&residents[0]), item(&residents[1]), item(&residents[0])]});
    let r = h.post(&t, "/v1/municipal/vaccinations/batch", twice).await;
    assert_eq!(code(&r), (StatusCode::CONFLICT, Some("dose_too_soon")));
    assert_eq!(r.1["error"]["field"], "items[2].administered_on");
    let many: Vec<Value> = (0..1001).map(|_| item(&residents[0])).collect();
    let r = h
        .post(
            &t,
            "/v1/municipal/vaccinations/batch",
            json!({"items": many}),
        )
        .await;
    assert_eq!(
        code(&r),
        (StatusCode::BAD_REQUEST, Some("invalid_batch_size"))
    );
    let clinic_t = h.facility_token(&clinic(0)).await;
    let r = h
        .post(
            &clinic_t,
            "/v1/municipal/vaccinations/batch",
            json!({"items": [item(&residents[0])]}),
        )
        .await;
    assert_eq!(code(&r), (StatusCode::FORBIDDEN, Some("wrong_role")));
    assert_eq!(h.data_stats().await, before);

    let items: Vec<Value> = residents.iter().map(item).collect();
    let r = h
        .post(
            &t,
            "/v1/municipal/vaccinations/batch",
            json!({"items": items}),
        )
        .await;
    assert_eq!(r.0, StatusCode::CREATED, "{}", r.1);
    assert_eq!(r.1["recorded"].as_array().unwrap().len(), 3);
    assert_eq!(
        h.data_stats().await["vaccinations"],
        before["vaccinations"].as_u64().unwrap() + 3
    );
}

async fn maternal_records_follow_a_registered_pregnancy_and_reach_the_municipality_and_person() {
    let h = Harness::start().await;
    let woman = h.find_person(|p| {
        p.sex == dx_exchange::wire::Sex::Female
            && (20..45).contains(&age(&h, p))
            && p.pregnancy.is_none()
    });
    let man = h.find_person(|p| p.sex == dx_exchange::wire::Sex::Male && age(&h, p) >= 20);
    let baby = h.find_person(|p| age(&h, p) < 3);
    let t = h.facility_token(&hospital(0)).await;
    let before = h.data_stats().await;

    let checkup = json!({"person": {"person_id": woman.id}, "on": days_ago(&h, 1), "gestational_weeks": 12, "weight_kg": 55.5, "systolic_mmhg": 112, "diastolic_mmhg": 70});
    let r = h
        .post(&t, "/v1/maternal/prenatal-checkups", checkup.clone())
        .await;
    assert_eq!(
        code(&r),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("no_registered_pregnancy")
        )
    );
    let preg = |p: &PersonRecord| json!({"person": {"person_id": p.id}, "confirmed_on": days_ago(&h, 30), "expected_delivery": days_ago(&h, 30) + TimeDelta::days(240)});
    let r = h.post(&t, "/v1/maternal/pregnancies", preg(&man)).await;
    assert_eq!(
        code(&r),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("not_applicable"))
    );
    let mut implausible = checkup.clone();
    implausible["gestational_weeks"] = json!(60);
    assert_eq!(
        code(
            &h.post(&t, "/v1/maternal/prenatal-checkups", implausible)
                .await
        ),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("implausible_value"))
    );
    assert_eq!(h.data_stats().await, before);

    let r = h.post(&t, "/v1/maternal/pregnancies", preg(&woman)).await;
    assert_eq!(r.0, StatusCode::CREATED, "{}", r.1);
    let pregnancy_id = r.1["record_id"].clone();
    let r = h.post(&t, "/v1/maternal/pregnancies", preg(&woman)).await;
    assert_eq!(
        code(&r),
        (StatusCode::CONFLICT, Some("pregnancy_already_registered"))
    );
    let r = h.post(&t, "/v1/maternal/prenatal-checkups", checkup).await;
    assert_eq!(r.0, StatusCode::CREATED, "{}", r.1);
    assert_eq!(r.1["pregnancy_id"], pregnancy_id);

    let infant = |p: &PersonRecord| json!({"person": {"person_id": p.id}, "on": h.today(), "height_cm": 75.0, "weight_kg": 9.5, "development": "normal"});
    let r = h
        .post(&t, "/v1/maternal/infant-checkups", infant(&man))
        .await;
    assert_eq!(
        code(&r),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("not_applicable"))
    );
    // A group checkup held by the child's municipality.
    let muni = h
        .token(&format!("municipality:{}", baby.municipality))
        .await;
    let r = h
        .post(&muni, "/v1/maternal/infant-checkups", infant(&baby))
        .await;
    assert_eq!(r.0, StatusCode::CREATED, "{}", r.1);
    assert!(r.1["details"]["age_months"].as_i64().unwrap() < 36);

    // Visible to the municipality of residence and the person; not to another municipality
    // or a facility.
    let path = format!("/v1/persons/{}/maternal", woman.id);
    let home = h
        .token(&format!("municipality:{}", woman.municipality))
        .await;
    let r = h.get(&home, &path).await;
    assert_eq!(r.1["records"].as_array().unwrap().len(), 2, "{}", r.1);
    let away = h
        .token(&format!("municipality:{}", elsewhere(&woman)))
        .await;
    assert_eq!(
        code(&h.get(&away, &path).await),
        (StatusCode::FORBIDDEN, Some("wrong_municipality"))
    );
    assert_eq!(
        code(&h.get(&t, &path).await),
        (StatusCode::FORBIDDEN, Some("wrong_role"))
    );
    let me = h.token(&format!("person:{}", woman.id)).await;
    let r = h.get(&me, "/v1/portal/maternal").await;
    assert_eq!(r.1["records"][0]["kind"], "pregnancy");
}

async fn care_certifications_need_consent_expire_and_come_with_eligibility() {
    let h = Harness::start().await;
    let elder = h.find_person(|p| {
        age(&h, p) >= 65
            && p.card_serial.is_some()
            && p.care_certification.is_none()
            && p.prefecture == 13
    });
    let young = h.find_person(|p| age(&h, p) < 40 && p.prefecture == 13);
    let muni = h
        .token(&format!("municipality:{}", elder.municipality))
        .await;
    let cert = |p: &PersonRecord, from: NaiveDate, months: u32| json!({"person": {"person_id": p.id}, "level": "care_2", "valid_from": from, "valid_to": from + Months::new(months) - TimeDelta::days(1)});
    let from = days_ago(&h, 10);
    let before = h.data_stats().await;

    let ymuni = h
        .token(&format!("municipality:{}", young.municipality))
        .await;
    let r = h
        .post(&ymuni, "/v1/care/certifications", cert(&young, from, 12))
        .await;
    assert_eq!(
        code(&r),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("not_insured_for_care")
        )
    );
    let r = h
        .post(&muni, "/v1/care/certifications", cert(&elder, from, 49))
        .await;
    assert_eq!(
        code(&r),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_period"))
    );
    let away = h
        .token(&format!("municipality:{}", elsewhere(&elder)))
        .await;
    let r = h
        .post(&away, "/v1/care/certifications", cert(&elder, from, 12))
        .await;
    assert_eq!(
        code(&r),
        (StatusCode::FORBIDDEN, Some("wrong_municipality"))
    );
    assert_eq!(h.data_stats().await, before);

    let r = h
        .post(&muni, "/v1/care/certifications", cert(&elder, from, 6))
        .await;
    assert_eq!(r.0, StatusCode::CREATED, "{}", r.1);
    let valid_to = r.1["certification"]["valid_to"].clone();

    // A care provider needs the person's care consent, given on the portal.
    let provider = care_provider(0);
    let pt = h.facility_token(&provider).await;
    let path = format!("/v1/persons/{}/care-certification", elder.id);
    assert_eq!(
        code(&h.get(&pt, &path).await),
        (StatusCode::FORBIDDEN, Some("consent_required"))
    );
    let me = h.token(&format!("person:{}", elder.id)).await;
    let r = h
        .post(
            &me,
            "/v1/portal/consents",
            json!({"provider": clinic(0), "kind": "care"}),
        )
        .await;
    assert_eq!(
        code(&r),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("not_a_care_provider")
        )
    );
    let r = h
        .post(
            &me,
            "/v1/portal/consents",
            json!({"provider": provider, "kind": "medication"}),
        )
        .await;
    assert_eq!(
        code(&r),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_kind"))
    );
    let r = h
        .post(
            &me,
            "/v1/portal/consents",
            json!({"provider": provider, "kind": "care"}),
        )
        .await;
    assert_eq!(r.0, StatusCode::CREATED, "{}", r.1);
    assert_eq!(r.1["method"], "portal");
    let r = h.get(&pt, &path).await;
    assert_eq!(r.0, StatusCode::OK, "{}", r.1);
    assert_eq!(r.1["certifications"][0]["level"], "care_2");
    // A medical facility is not a care provider, but sees it with eligibility.
    let ct = h.facility_token(&clinic(0)).await;
    assert_eq!(
        code(&h.get(&ct, &path).await),
        (StatusCode::FORBIDDEN, Some("wrong_role"))
    );
    let r = h
        .post(
            &ct,
            "/v1/eligibility/verify",
            json!({"person": h.card_at(&ct, &elder)}),
        )
        .await;
    assert_eq!(r.1["care_certification"]["level"], "care_2", "{}", r.1);

    // A level change supersedes it; one starting no later is refused.
    let change = from + TimeDelta::days(5);
    let mut upgrade = cert(&elder, change, 6);
    upgrade["level"] = json!("care_4");
    let r = h.post(&muni, "/v1/care/certifications", upgrade).await;
    assert_eq!(r.0, StatusCode::CREATED, "{}", r.1);
    assert_eq!(
        r.1["superseded"]["valid_to"],
        json!(change - TimeDelta::days(1))
    );
    let r = h
        .post(&muni, "/v1/care/certifications", cert(&elder, from, 6))
        .await;
    assert_eq!(
        code(&r),
        (StatusCode::CONFLICT, Some("overlapping_certification"))
    );
    let r = h.get(&me, "/v1/portal/care-certification").await;
    assert_eq!(r.1["certifications"].as_array().unwrap().len(), 2);

    // After it lapses without renewal the provider is told so.
    assert_ne!(valid_to, Value::Null);
    h.advance_days(200);
    let pt = h.facility_token(&provider).await;
    let r = h.get(&pt, &path).await;
    assert_eq!(code(&r), (StatusCode::GONE, Some("certification_expired")));
}

async fn registered_entitlements_come_back_with_eligibility() {
    let h = Harness::start().await;
    let p = h.find_person(|p| {
        p.card_serial.is_some()
            && p.prefecture == 13
            && p.public_expenses.is_empty()
            && age(&h, p) >= 20
    });
    let muni = h.token(&format!("municipality:{}", p.municipality)).await;
    let ent = |law: u8, pref: u8, recipient: String, from: NaiveDate| {
        json!({
            "person": {"person_id": p.id}, "law_code": format!("{law:02}"),
            "payer_number": insurer_number(Some(law), pref, 101), "recipient_number": recipient,
            "valid_from": from
        })
    };
    let from = days_ago(&h, 30);
    let good = ent(54, 13, recipient_number(123_456), from);
    let before = h.data_stats().await;

    let mut bad = good.clone();
    let r = recipient_number(123_456);
    let wrong = (r.as_bytes()[6] - b'0' + 1) % 10;
    bad["recipient_number"] = json!(format!("{}{wrong}", &r[..6]));
    assert_eq!(
        code(&h.post(&muni, "/v1/municipal/entitlements", bad).await),
        (StatusCode::BAD_REQUEST, Some("invalid_check_digit"))
    );
    let mut unknown = good.clone();
    unknown["law_code"] = json!("99");
    assert_eq!(
        code(&h.post(&muni, "/v1/municipal/entitlements", unknown).await),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("unknown_law_code"))
    );
    assert_eq!(
        code(
            &h.post(
                &muni,
                "/v1/municipal/entitlements",
                ent(54, 31, recipient_number(1), from)
            )
            .await
        ),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("wrong_prefecture"))
    );
    let away = h.token(&format!("municipality:{}", elsewhere(&p))).await;
    assert_eq!(
        code(
            &h.post(&away, "/v1/municipal/entitlements", good.clone())
                .await
        ),
        (StatusCode::FORBIDDEN, Some("wrong_municipality"))
    );
    assert_eq!(h.data_stats().await, before);

    let r = h
        .post(&muni, "/v1/municipal/entitlements", good.clone())
        .await;
    assert_eq!(r.0, StatusCode::CREATED, "{}", r.1);
    let t = h.facility_token(&clinic(0)).await;
    let r = h
        .post(
            &t,
            "/v1/eligibility/verify",
            json!({"person": h.card_at(&t, &p)}),
        )
        .await;
    assert_eq!(r.1["public_expenses"][0]["law_code"], "54", "{}", r.1);
    assert_eq!(
        r.1["public_expenses"][0]["recipient_number"],
        recipient_number(123_456)
    );

    assert_eq!(
        code(&h.post(&muni, "/v1/municipal/entitlements", good).await),
        (StatusCode::CONFLICT, Some("overlapping_entitlement"))
    );
    let renewal = ent(54, 13, recipient_number(123_456), h.today());
    let r = h.post(&muni, "/v1/municipal/entitlements", renewal).await;
    assert_eq!(r.1["previous_ends"], json!(days_ago(&h, 1)), "{}", r.1);
}

async fn applications_are_filed_by_the_person_and_decided_by_their_municipality() {
    let h = Harness::start().await;
    let p = h.find_person(|p| age(&h, p) >= 40 && p.prefecture == 13);
    let young = h.find_person(|p| age(&h, p) < 40 && age(&h, p) > 15);
    let me = h.token(&format!("person:{}", p.id)).await;
    let before = h.data_stats().await;

    let file = |who: &str, kind: &str| json!({"person_id": who, "kind": kind, "note": "介護認定をお願いします"});
    let r = h
        .post(
            &me,
            "/v1/portal/applications",
            file(&young.id, "medical_subsidy"),
        )
        .await;
    assert_eq!(
        code(&r),
        (StatusCode::FORBIDDEN, Some("application_for_someone_else"))
    );
    let yt = h.token(&format!("person:{}", young.id)).await;
    let r = h
        .post(
            &yt,
            "/v1/portal/applications",
            file(&young.id, "care_certification"),
        )
        .await;
    assert_eq!(
        code(&r),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("not_applicable"))
    );
    let ct = h.facility_token(&clinic(0)).await;
    let r = h
        .post(
            &ct,
            "/v1/portal/applications",
            file(&p.id, "medical_subsidy"),
        )
        .await;
    assert_eq!(code(&r), (StatusCode::FORBIDDEN, Some("wrong_role")));
    let mut long = file(&p.id, "medical_subsidy");
    long["note"] = json!("x".repeat(501));
    assert_eq!(
        code(&h.post(&me, "/v1/portal/applications", long).await),
        (StatusCode::BAD_REQUEST, Some("invalid_field"))
    );
    assert_eq!(h.data_stats().await, before);

    let r = h
        .post(
            &me,
            "/v1/portal/applications",
            file(&p.id, "care_certification"),
        )
        .await;
    assert_eq!(r.0, StatusCode::CREATED, "{}", r.1);
    assert_eq!(r.1["status"], "submitted");
    assert_eq!(r.1["municipality"], p.municipality);
    let id = r.1["application_id"].as_str().unwrap().to_owned();
    let r = h
        .post(
            &me,
            "/v1/portal/applications",
            file(&p.id, "care_certification"),
        )
        .await;
    assert_eq!(
        code(&r),
        (StatusCode::CONFLICT, Some("application_pending"))
    );

    let muni = h.token(&format!("municipality:{}", p.municipality)).await;
    let r = h
        .get(&muni, "/v1/municipal/applications?status=submitted")
        .await;
    assert_eq!(
        r.1["applications"][0]["application_id"],
        id.as_str(),
        "{}",
        r.1
    );
    let away = h.token(&format!("municipality:{}", elsewhere(&p))).await;
    let r = h.get(&away, "/v1/municipal/applications").await;
    assert!(r.1["applications"].as_array().unwrap().is_empty());
    let decide = format!("/v1/municipal/applications/{id}/decision");
    assert_eq!(
        code(
            &h.post(&away, &decide, json!({"decision": "approved"}))
                .await
        ),
        (StatusCode::FORBIDDEN, Some("wrong_municipality"))
    );
    assert_eq!(
        code(
            &h.post(&muni, &decide, json!({"decision": "rejected"}))
                .await
        ),
        (StatusCode::BAD_REQUEST, Some("reason_required"))
    );
    assert_eq!(
        code(
            &h.post(
                &muni,
                "/v1/municipal/applications/A999999999999/decision",
                json!({"decision": "approved"})
            )
            .await
        ),
        (StatusCode::NOT_FOUND, Some("application_not_found"))
    );
    let r = h
        .post(&muni, &decide, json!({"decision": "approved"}))
        .await;
    assert_eq!(r.0, StatusCode::OK, "{}", r.1);
    assert_eq!(
        code(
            &h.post(
                &muni,
                &decide,
                json!({"decision": "rejected", "reason": "late"})
            )
            .await
        ),
        (StatusCode::CONFLICT, Some("already_decided"))
    );
    let r = h.get(&me, "/v1/portal/applications").await;
    assert_eq!(r.1["applications"][0]["status"], "approved");
    assert!(r.1["applications"][0]["decided_at"].is_string());
}

async fn the_portal_lists_checkup_reports_and_refuses_other_roles() {
    let h = Harness::start().await;
    let p = h.adult_with_card(4);
    let me = h.token(&format!("person:{}", p.id)).await;
    let r = h.get(&me, "/v1/portal/checkups").await;
    assert_eq!(r.0, StatusCode::OK, "{}", r.1);
    assert_eq!(r.1["reports"], json!([]));
    let t = h.facility_token(&clinic(0)).await;
    for path in [
        "/v1/portal/checkups",
        "/v1/portal/vaccinations",
        "/v1/portal/care-certification",
        "/v1/portal/maternal",
        "/v1/portal/applications",
    ] {
        assert_eq!(
            code(&h.get(&t, path).await),
            (StatusCode::FORBIDDEN, Some("wrong_role")),
            "{path}"
        );
    }
    let r = h
        .send(reqwest::Method::GET, None, "/v1/vaccines", None)
        .await;
    assert!(r.1.as_array().unwrap().iter().any(|v| v["code"] == "mr"));
}

crate::harness::on_both_stores!(
    municipalities_are_principals_that_see_and_record_only_their_residents,
    a_dose_inside_its_minimum_interval_is_refused_with_the_reason,
    history_and_schedule_need_vaccination_consent_and_answer_what_is_due,
    a_municipal_batch_upload_is_stored_all_or_nothing,
    maternal_records_follow_a_registered_pregnancy_and_reach_the_municipality_and_person,
    care_certifications_need_consent_expire_and_come_with_eligibility,
    registered_entitlements_come_back_with_eligibility,
    applications_are_filed_by_the_person_and_decided_by_their_municipality,
    the_portal_lists_checkup_reports_and_refuses_other_roles,
);
