//! Municipalities and long-term care (自治体・介護連携), and the person's portal (マイナポータル).

use crate::check::check;
use crate::check::{Check, Ctx};
use crate::finding::{Finding, Outcome, ensure, error, status};
use crate::target::Exchange;
use dx_protocol::wire::endpoints as ep;
use dx_protocol::wire::{
    AccessLogQuery, ApplicationKind, ApplicationRequest, CareCertificationRequest, CareLevel,
    ConsentKind, ConsentMethod, ConsentRequest, Decision, DecisionRequest, MedicationsQuery,
    PersonRef, SummaryQuery, VaccinationRequest,
};
use serde_json::Value;

pub fn checks() -> Vec<Check> {
    vec![
        check!(
            "municipal.vaccination-in-history",
            "A dose a clinic records is in the history the municipality reads",
            "POST /v1/vaccinations by a clinic answers 201; GET /v1/persons/{id}/vaccinations by the municipality of residence lists it",
            "docs/api.md § Municipalities",
            vaccination_history
        ),
        check!(
            "municipal.other-municipality-refused",
            "A municipality sees only its own residents",
            "Reading or recording for a resident of another municipality is 403 wrong_municipality",
            "docs/api.md § Municipalities",
            other_municipality
        ),
        check!(
            "municipal.dose-too-soon",
            "A dose inside the series' minimum interval is refused",
            "The next dose of a routine series before its minimum interval is 409 dose_too_soon",
            "docs/api.md § Municipalities",
            dose_too_soon
        ),
        check!(
            "municipal.care-certification-from-40",
            "Long-term-care certification is for the insured aged 40 and over",
            "POST /v1/care/certifications for a person under 40 is 422 not_insured_for_care",
            "docs/api.md § Municipalities",
            care_from_40
        ),
        check!(
            "portal.own-clinical-summary",
            "A person reads their own clinical summary",
            "GET /v1/portal/clinical-summary with the person's token answers 200 with a searchset Bundle",
            "docs/api.md § Portal",
            own_summary
        ),
        check!(
            "portal.access-log-shows-reads",
            "The person sees who read their record",
            "After a facility reads the medication record, GET /v1/portal/access-log lists the read with that facility as actor",
            "docs/api.md § Portal",
            access_log
        ),
        check!(
            "portal.no-application-for-someone-else",
            "A person files applications for themselves only",
            "POST /v1/portal/applications naming another person is 403 application_for_someone_else",
            "docs/api.md § Municipalities",
            application_for_someone_else
        ),
        check!(
            "portal.application-decided-once",
            "The municipality decides an application once",
            "An application filed on the portal is decided by the municipality of residence (200); a second decision is 409 already_decided",
            "docs/api.md § Municipalities",
            decided_once
        ),
    ]
}

async fn municipality(c: &Ctx, code: &str) -> Result<String, Finding> {
    c.t.token(&format!("municipality:{code}")).await
}

async fn record_dose(c: &Ctx, who: &str, token: &str, vaccine: &str) -> Result<Exchange, Finding> {
    let body = VaccinationRequest {
        person: PersonRef::by_id(who),
        vaccine: vaccine.to_owned(),
        administered_on: c.t.today().await?,
        lot: None,
    };
    c.t.post::<ep::RecordVaccination>(token, &body).await
}

async fn vaccination_history(c: &Ctx) -> Outcome {
    let p = c.fx.person(&c.t, 70, false).await?;
    let clinic = c.facility(&c.fx.clinic).await?;
    status(&record_dose(c, &p.id, &clinic, "influenza").await?, 201)?;
    let town = municipality(c, &c.fx.municipality).await?;
    let ex = c.t.get::<ep::ReadVaccinations>(&town, &[&p.id]).await?;
    status(&ex, 200)?;
    ensure(
        ex.response.contains("influenza"),
        &ex,
        "the influenza dose in the history",
    )
}

async fn other_municipality(c: &Ctx) -> Outcome {
    let p = c.fx.person(&c.t, 81, true).await?;
    let village = municipality(c, &c.fx.municipality2).await?;
    error(
        &c.t.get::<ep::ReadVaccinations>(&village, &[&p.id]).await?,
        403,
        "wrong_municipality",
    )?;
    let body = certification(&p, c.t.today().await?);
    let ex = c.t.post::<ep::CertifyCare>(&village, &body).await?;
    error(&ex, 403, "wrong_municipality")
}

/// Care level 1 for a year from `today`.
fn certification(p: &crate::target::Person, today: chrono::NaiveDate) -> CareCertificationRequest {
    CareCertificationRequest {
        person: p.by_id(),
        level: CareLevel::Care1,
        valid_from: today,
        valid_to: today + chrono::TimeDelta::days(364),
    }
}

async fn dose_too_soon(c: &Ctx) -> Outcome {
    let p = c.fx.person(&c.t, 1, true).await?;
    let clinic = c.facility(&c.fx.clinic).await?;
    status(&record_dose(c, &p.id, &clinic, "hepb").await?, 201)?;
    error(
        &record_dose(c, &p.id, &clinic, "hepb").await?,
        409,
        "dose_too_soon",
    )
}

async fn care_from_40(c: &Ctx) -> Outcome {
    let p = c.fx.person(&c.t, 30, false).await?;
    let town = municipality(c, &c.fx.municipality).await?;
    let body = certification(&p, c.t.today().await?);
    let ex = c.t.post::<ep::CertifyCare>(&town, &body).await?;
    error(&ex, 422, "not_insured_for_care")
}

async fn own_summary(c: &Ctx) -> Outcome {
    let p = c.fx.person(&c.t, 34, true).await?;
    let tok = c.t.token(&p.principal()).await?;
    let ex =
        c.t.send::<ep::PortalClinicalSummary>(Some(&tok), &[], &SummaryQuery::default(), &())
            .await?;
    status(&ex, 200)?;
    ensure(
        ex.text("/resourceType") == "Bundle" && ex.text("/type") == "searchset",
        &ex,
        "a searchset Bundle",
    )
}

async fn access_log(c: &Ctx) -> Outcome {
    let p = c.fx.person(&c.t, 65, false).await?;
    let clinic = c.facility(&c.fx.clinic2).await?;
    let visit = dx_protocol::wire::VerifyRequest {
        person: p.by_number(),
        service_date: None,
        consent: None,
    };
    status(&c.t.post::<ep::Verify>(&clinic, &visit).await?, 200)?;
    let consent = ConsentRequest {
        person: p.by_id(),
        kind: ConsentKind::Medication,
        method: ConsentMethod::Verbal,
    };
    status(&c.t.post::<ep::GiveConsent>(&clinic, &consent).await?, 201)?;
    let all = MedicationsQuery::default();
    status(
        &c.t.send::<ep::ReadMedications>(Some(&clinic), &[&p.id], &all, &())
            .await?,
        200,
    )?;
    let tok = c.t.token(&p.principal()).await?;
    let latest = AccessLogQuery {
        before: None,
        limit: Some(100),
    };
    let ex =
        c.t.send::<ep::AccessLog>(Some(&tok), &[], &latest, &())
            .await?;
    status(&ex, 200)?;
    ensure(
        ex.at("/entries")
            .and_then(Value::as_array)
            .is_some_and(|e| {
                e.iter().any(|x| {
                    x["actor"]
                        .as_str()
                        .is_some_and(|a| a.contains(c.fx.clinic2.as_str()))
                })
            }),
        &ex,
        format!("an entry with actor {}", c.fx.clinic2),
    )
}

async fn application_for_someone_else(c: &Ctx) -> Outcome {
    let (a, b) = (
        c.fx.person(&c.t, 45, true).await?,
        c.fx.person(&c.t, 45, false).await?,
    );
    let tok = c.t.token(&a.principal()).await?;
    let body = ApplicationRequest {
        person_id: b.id.clone(),
        kind: ApplicationKind::MedicalSubsidy,
        note: None,
    };
    let ex = c.t.post::<ep::FileApplication>(&tok, &body).await?;
    error(&ex, 403, "application_for_someone_else")
}

async fn decided_once(c: &Ctx) -> Outcome {
    let p = c.fx.person(&c.t, 37, true).await?;
    let tok = c.t.token(&p.principal()).await?;
    let body = ApplicationRequest {
        person_id: p.id.clone(),
        kind: ApplicationKind::VaccinationVoucher,
        note: Some("dxsim conformance".into()),
    };
    let filed = c.t.post::<ep::FileApplication>(&tok, &body).await?;
    status(&filed, 201)?;
    let id = filed.text("/application_id");
    let town = municipality(c, &c.fx.municipality).await?;
    let approve = DecisionRequest {
        decision: Decision::Approved,
        reason: None,
    };
    let params = [id.as_str()];
    let decide = || {
        c.t.send::<ep::DecideApplication>(Some(&town), &params, &(), &approve)
    };
    status(&decide().await?, 200)?;
    error(&decide().await?, 409, "already_decided")
}
