//! EHR sharing (電子カルテ情報共有サービス): the 3 documents and the 6 items.

use super::eligibility::consent_by_card;
use crate::check::check;
use crate::check::{Check, Ctx};
use crate::fhir;
use crate::finding::{Finding, Outcome, ensure, error, fail, status};
use crate::target::{Exchange, Person, jst, yj};
use dx_protocol::refdata::clinical::LAB_TESTS;
use dx_protocol::wire::clins::{
    DocumentDraft, DocumentKind, EhrPatient, Fact, ItemDraft, ItemsDraft,
};
use dx_protocol::wire::endpoints as ep;
use dx_protocol::wire::fhir::YJ_SYSTEM;
use dx_protocol::wire::{CheckRequest, DrugLine, InboxQuery, SummaryQuery};
use serde_json::Value;

pub fn checks() -> Vec<Check> {
    vec![
        check!(
            "ehr-documents.referral-to-its-addressee",
            "A referral letter reaches its addressee only, who marks it received once",
            "POST /v1/ehr/documents (57133-1) answers 201 naming the addressee; the addressee's inbox lists it; another facility reading it is 404 document_not_found, as an unknown id; receipt is 200, a second 409 already_received",
            "docs/api.md § EHR sharing; FACTS § EHR sharing",
            referral
        ),
        check!(
            "ehr-documents.duplicate",
            "The same document submitted twice is refused the second time",
            "A second document with the same identifier from the same facility is 409 duplicate_document",
            "docs/api.md § EHR sharing",
            duplicate_document
        ),
        check!(
            "ehr-documents.referral-needs-addressee",
            "A referral letter without an addressee is refused",
            "A referral letter names its addressee (JP_eReferral_Destination): without one, 422 addressee_required",
            "docs/api.md § EHR sharing; FACTS § EHR sharing",
            referral_needs_addressee
        ),
        check!(
            "ehr-documents.checkup-report-needs-consent",
            "A checkup report is read by another facility only with checkup consent",
            "GET /v1/ehr/documents/{id} of a checkup report: the author, or a facility with the person's checkup consent; to any other it is 404 document_not_found",
            "docs/api.md § EHR sharing",
            checkup_needs_consent
        ),
        check!(
            "ehr-items.submit",
            "A facility submits the 6 items of a visit",
            "POST /v1/ehr/items with a collection Bundle answers 201 with an id and a retention date per item",
            "docs/api.md § EHR sharing; FACTS § EHR sharing",
            submit
        ),
        check!(
            "ehr-items.as-the-guides-example",
            "A submission shaped as JP-CLINS's example Bundles is stored",
            "A JP_Bundle_CLINS of the Patient and the items only (no Organization entry: each item names its facility by JP_eCS_InstitutionNumber), its profiles declared with their version (|1), answers 201",
            "JP-CLINS 1.3.0-rc1 JP_Bundle_CLINS, its example Bundle-CLINS-Observations-Example-01; docs/api.md § EHR sharing",
            guide_example_shape
        ),
        check!(
            "ehr-items.summary-needs-consent",
            "The clinical summary is refused without EHR consent",
            "GET /v1/persons/{id}/clinical-summary without the person's EHR consent is 403 consent_required",
            "docs/api.md § EHR sharing; FACTS § Consent",
            summary_needs_consent
        ),
        check!(
            "ehr-items.summary-fhir-searchset",
            "The clinical summary is a FHIR searchset of the items",
            "With EHR consent the summary is a FHIR R4 searchset Bundle whose entries are the person's items, each with a fullUrl, id, meta.lastUpdated, the person as subject by the insured-person identifier and every element rule of JP-CLINS 1.3.0-rc1's item profiles, its links absolute (and, given --fhir-schema, HL7's FHIR R4 JSON schema)",
            "JP-CLINS 1.3.0-rc1 JP_Condition_eCS, JP_Observation_LabResult_eCS, JP_AllergyIntolerance_eCS; docs/api.md § EHR sharing",
            summary_searchset
        ),
        check!(
            "ehr-items.duplicate-submission",
            "The same submission twice is refused the second time",
            "A second submission with the same identifier is 409 duplicate_submission and stores no item",
            "docs/api.md § EHR sharing",
            duplicate_submission
        ),
        check!(
            "ehr-items.undisclosed-hidden-from-portal",
            "An UNINFORMED diagnosis is hidden from the person's portal",
            "A diagnosis tagged UNINFORMED (the JP-CLINS flag of a diagnosis not yet told) is in the facility's summary and not in the person's own",
            "docs/api.md § EHR sharing; FACTS § EHR sharing",
            undisclosed
        ),
        check!(
            "ehr-items.registered-allergy-warns",
            "A drug allergy registered through EHR sharing warns any prescriber",
            "After an allergy item of a drug, POST /v1/prescriptions/check of that drug at another facility warns allergy",
            "docs/api.md § E-prescription; FACTS § EHR sharing",
            allergy_warns
        ),
        check!(
            "ehr-items.unknown-code",
            "A lab result with an unknown code is refused",
            "Lab results are coded in JLAC10 from the table: an unknown code is 422 unknown_code",
            "docs/api.md § EHR sharing",
            unknown_code
        ),
    ]
}

fn patient(p: &Person) -> EhrPatient {
    EhrPatient {
        insurer_number: p.insurer_number.clone(),
        symbol: p.symbol.clone(),
        number: p.number.clone(),
        branch: p.branch.clone(),
        gender: if p.female { "female" } else { "male" },
        birth_date: p.birth_date,
    }
}

/// A 6-item submission's Bundle: its facts must be of one resource category (JP-CLINS sends
/// one Bundle per category; [`submit_visit`] sends several).
pub(super) async fn items_bundle(
    c: &Ctx,
    facility: &str,
    p: &Person,
    facts: Vec<(Fact, bool)>,
) -> Result<Value, Finding> {
    let draft = items_draft(c, facility, p, facts).await?;
    if draft.by_category().len() > 1 {
        return Err(Finding::Error(
            "the suite built an items Bundle of several categories".into(),
        ));
    }
    Ok(draft.to_bundle())
}

async fn items_draft(
    c: &Ctx,
    facility: &str,
    p: &Person,
    facts: Vec<(Fact, bool)>,
) -> Result<ItemsDraft, Finding> {
    let now = c.t.now().await?.with_timezone(&jst());
    Ok(ItemsDraft {
        submission_id: format!("CONF-ITEMS-{}", c.fx.next()),
        facility_code: facility.to_owned(),
        facility_name: format!("dxsim conformance {facility}"),
        at: now,
        patient: patient(p),
        items: facts
            .into_iter()
            .map(|(fact, uninformed)| ItemDraft {
                fact,
                on: now.date_naive(),
                uninformed,
                long_term: false,
            })
            .collect(),
    })
}

/// A visit's items as JP-CLINS sends them, one Bundle per resource category; each must be
/// stored (201).
async fn submit_visit(
    c: &Ctx,
    facility: &str,
    p: &Person,
    facts: Vec<(Fact, bool)>,
) -> Result<(), Finding> {
    let draft = items_draft(c, facility, p, facts).await?;
    for part in draft.by_category() {
        status(&submit_items(c, facility, part.to_bundle()).await?, 201)?;
    }
    Ok(())
}

pub(super) async fn submit_items(
    c: &Ctx,
    facility: &str,
    bundle: Value,
) -> Result<Exchange, Finding> {
    let tok = c.facility(facility).await?;
    c.t.post::<ep::SubmitItems>(&tok, &bundle).await
}

pub(super) fn diagnosis(code: &str) -> Fact {
    Fact::Diagnosis { code: code.into() }
}

pub(super) fn lab(code: &str, value: f64) -> Fact {
    Fact::LabResult {
        code: code.into(),
        value,
    }
}

async fn document(
    c: &Ctx,
    facility: &str,
    p: &Person,
    kind: DocumentKind,
    addressee: Option<String>,
) -> Result<Value, Finding> {
    let now = c.t.now().await?.with_timezone(&jst());
    Ok(DocumentDraft {
        document_id: format!("CONF-DOC-{}", c.fx.next()),
        kind,
        facility_code: facility.to_owned(),
        facility_name: format!("dxsim conformance {facility}"),
        at: now,
        patient: patient(p),
        addressee,
        attachments: Vec::new(),
        text: "dxsim conformance".into(),
        items: vec![ItemDraft {
            fact: diagnosis("I10"),
            on: now.date_naive(),
            uninformed: false,
            long_term: false,
        }],
    }
    .to_bundle())
}

async fn post_document(c: &Ctx, facility: &str, bundle: Value) -> Result<Exchange, Finding> {
    let tok = c.facility(facility).await?;
    c.t.post::<ep::SubmitDocument>(&tok, &bundle).await
}

async fn referral(c: &Ctx) -> Outcome {
    let p = c.fx.person(&c.t, 59, true).await?;
    let doc = document(
        c,
        &c.fx.clinic,
        &p,
        DocumentKind::Referral,
        Some(c.fx.hospital.clone()),
    )
    .await?;
    let ex = post_document(c, &c.fx.clinic, doc).await?;
    status(&ex, 201)?;
    let id = ex.text("/document_id");
    ensure(
        ex.text("/addressee") == c.fx.hospital,
        &ex,
        format!("addressee {}", c.fx.hospital),
    )?;
    let hospital = c.facility(&c.fx.hospital).await?;
    let unreceived = InboxQuery {
        status: Some("unreceived".into()),
        count: Some(200),
        cursor: None,
    };
    let inbox =
        c.t.send::<ep::ReferralInbox>(Some(&hospital), &[], &unreceived, &())
            .await?;
    status(&inbox, 200)?;
    ensure(
        inbox
            .at("/referrals")
            .and_then(Value::as_array)
            .is_some_and(|r| r.iter().any(|x| x["document_id"] == id.as_str())),
        &inbox,
        format!("the addressee's inbox lists {id}"),
    )?;
    let other = c.facility(&c.fx.clinic2).await?;
    error(
        &c.t.get::<ep::ReadDocument>(&other, &[&id]).await?,
        404,
        "document_not_found",
    )?;
    let params = [id.as_str()];
    let receipt = || {
        c.t.send::<ep::ReceiveReferral>(Some(&hospital), &params, &(), &())
    };
    status(&receipt().await?, 200)?;
    error(&receipt().await?, 409, "already_received")
}

async fn duplicate_document(c: &Ctx) -> Outcome {
    let p = c.fx.person(&c.t, 46, false).await?;
    let doc = document(c, &c.fx.clinic, &p, DocumentKind::CheckupReport, None).await?;
    status(&post_document(c, &c.fx.clinic, doc.clone()).await?, 201)?;
    error(
        &post_document(c, &c.fx.clinic, doc).await?,
        409,
        "duplicate_document",
    )
}

async fn referral_needs_addressee(c: &Ctx) -> Outcome {
    let p = c.fx.person(&c.t, 38, true).await?;
    let doc = document(c, &c.fx.clinic, &p, DocumentKind::Referral, None).await?;
    error(
        &post_document(c, &c.fx.clinic, doc).await?,
        422,
        "addressee_required",
    )
}

async fn checkup_needs_consent(c: &Ctx) -> Outcome {
    let p = c.fx.person(&c.t, 52, true).await?;
    let doc = document(c, &c.fx.clinic, &p, DocumentKind::CheckupReport, None).await?;
    let ex = post_document(c, &c.fx.clinic, doc).await?;
    status(&ex, 201)?;
    let id = ex.text("/document_id");
    let other = c.facility(&c.fx.clinic2).await?;
    let refused = c.t.get::<ep::ReadDocument>(&other, &[&id]).await?;
    error(&refused, 404, "document_not_found")?;
    consent_by_card(c, &c.fx.clinic2, &p, &["checkup"]).await?;
    status(&c.t.get::<ep::ReadDocument>(&other, &[&id]).await?, 200)
}

pub(super) fn hba1c() -> &'static str {
    LAB_TESTS.first().map_or("", |l| l.code)
}

async fn submit(c: &Ctx) -> Outcome {
    let p = c.fx.person(&c.t, 63, false).await?;
    let b = items_bundle(
        c,
        &c.fx.clinic,
        &p,
        vec![(diagnosis("E11.9"), false), (diagnosis("E78.5"), false)],
    )
    .await?;
    let ex = submit_items(c, &c.fx.clinic, b).await?;
    status(&ex, 201)?;
    ensure(
        ex.at("/items").and_then(Value::as_array).is_some_and(|i| {
            i.len() == 2
                && i.iter()
                    .all(|x| x["id"].is_string() && x["retain_until"].is_string())
        }) && ex.text("/person_id") == p.id,
        &ex,
        "two items, each with an id and retain_until, for the person",
    )
}

async fn guide_example_shape(c: &Ctx) -> Outcome {
    let p = c.fx.person(&c.t, 58, false).await?;
    let facts = vec![(lab(hba1c(), 6.0), false)];
    let mut b = items_bundle(c, &c.fx.clinic, &p, facts).await?;
    let entries = b["entry"]
        .as_array_mut()
        .ok_or_else(|| Finding::Error("the suite's items Bundle has no entries".into()))?;
    entries.retain(|e| e["resource"]["resourceType"] != "Organization");
    let versioned = |v: &mut Value| {
        if let Some(url) = v[0].as_str().map(str::to_owned) {
            *v = serde_json::json!([format!("{url}|1")]);
        }
    };
    versioned(&mut b["meta"]["profile"]);
    for e in b["entry"].as_array_mut().into_iter().flatten() {
        versioned(&mut e["resource"]["meta"]["profile"]);
    }
    status(&submit_items(c, &c.fx.clinic, b).await?, 201)
}

async fn summary(c: &Ctx, facility: &str, p: &Person) -> Result<Exchange, Finding> {
    let tok = c.facility(facility).await?;
    c.t.send::<ep::ReadClinicalSummary>(Some(&tok), &[&p.id], &all_items(), &())
        .await
}

/// A page of up to 200 items of every kind.
fn all_items() -> SummaryQuery {
    SummaryQuery {
        count: Some(200),
        ..SummaryQuery::default()
    }
}

async fn summary_needs_consent(c: &Ctx) -> Outcome {
    let p = c.fx.person(&c.t, 49, true).await?;
    let b = items_bundle(c, &c.fx.clinic, &p, vec![(diagnosis("I10"), false)]).await?;
    status(&submit_items(c, &c.fx.clinic, b).await?, 201)?;
    error(
        &summary(c, &c.fx.clinic2, &p).await?,
        403,
        "consent_required",
    )
}

async fn summary_searchset(c: &Ctx) -> Outcome {
    let p = c.fx.person(&c.t, 70, true).await?;
    let facts = vec![(diagnosis("E78.5"), false), (lab(hba1c(), 6.4), false)];
    submit_visit(c, &c.fx.clinic, &p, facts).await?;
    consent_by_card(c, &c.fx.hospital, &p, &["ehr"]).await?;
    let ex = summary(c, &c.fx.hospital, &p).await?;
    status(&ex, 200)?;
    let body = ex.json.clone().unwrap_or(Value::Null);
    fhir::summary_searchset(&body, &patient(&p).member_id())
        .and_then(|()| c.schema_check(&body))
        .map_err(|f| fail(&ex, format!("a FHIR R4 searchset of the items: {f}")))?;
    ensure(
        ex.response.contains("E78.5") && ex.response.contains(hba1c()),
        &ex,
        "the visit's diagnosis E78.5 and its HbA1c (sent in two Bundles) among the entries",
    )
}

async fn duplicate_submission(c: &Ctx) -> Outcome {
    let p = c.fx.person(&c.t, 35, false).await?;
    let b = items_bundle(c, &c.fx.clinic, &p, vec![(diagnosis("K21.9"), false)]).await?;
    status(&submit_items(c, &c.fx.clinic, b.clone()).await?, 201)?;
    let before = c.t.stats().await?["ehr_items"].as_u64();
    let ex = submit_items(c, &c.fx.clinic, b).await?;
    error(&ex, 409, "duplicate_submission")?;
    let after = c.t.stats().await?["ehr_items"].as_u64();
    ensure(
        before == after,
        &ex,
        "no item stored by the second submission",
    )
}

async fn undisclosed(c: &Ctx) -> Outcome {
    let p = c.fx.person(&c.t, 42, true).await?;
    let b = items_bundle(
        c,
        &c.fx.clinic,
        &p,
        vec![(diagnosis("M17.9"), false), (diagnosis("F32.9"), true)],
    )
    .await?;
    status(&submit_items(c, &c.fx.clinic, b).await?, 201)?;
    consent_by_card(c, &c.fx.clinic, &p, &["ehr"]).await?;
    let facility = summary(c, &c.fx.clinic, &p).await?;
    status(&facility, 200)?;
    ensure(
        facility.response.contains("F32.9"),
        &facility,
        "the UNINFORMED diagnosis in the facility's summary",
    )?;
    let tok = c.t.token(&p.principal()).await?;
    let own =
        c.t.send::<ep::PortalClinicalSummary>(Some(&tok), &[], &all_items(), &())
            .await?;
    status(&own, 200)?;
    ensure(
        own.response.contains("M17.9") && !own.response.contains("F32.9"),
        &own,
        "the person's own summary with M17.9 and without the UNINFORMED F32.9",
    )
}

async fn allergy_warns(c: &Ctx) -> Outcome {
    let p = c.fx.person(&c.t, 26, false).await?;
    let fact = Fact::Allergy {
        system: YJ_SYSTEM.into(),
        code: yj("clarithromycin"),
    };
    let b = items_bundle(c, &c.fx.hospital, &p, vec![(fact, false)]).await?;
    status(&submit_items(c, &c.fx.hospital, b).await?, 201)?;
    let tok = c.facility(&c.fx.clinic2).await?;
    let body = CheckRequest {
        person: p.by_id(),
        start_date: None,
        items: vec![DrugLine {
            code: yj("clarithromycin"),
            days: 7,
            quantity: Some(14),
        }],
        include_same_facility: false,
    };
    let ex = c.t.post::<ep::CheckPrescription>(&tok, &body).await?;
    status(&ex, 200)?;
    ensure(
        ex.at("/warnings")
            .and_then(Value::as_array)
            .is_some_and(|w| w.iter().any(|x| x["kind"] == "allergy")),
        &ex,
        "an allergy warning",
    )
}

async fn unknown_code(c: &Ctx) -> Outcome {
    let p = c.fx.person(&c.t, 54, true).await?;
    let b = items_bundle(
        c,
        &c.fx.clinic,
        &p,
        vec![(lab("9Z999000009999999", 1.0), false)],
    )
    .await?;
    error(
        &submit_items(c, &c.fx.clinic, b).await?,
        422,
        "unknown_code",
    )
}
