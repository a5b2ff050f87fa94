//! Turns stream events into HTTP requests of the exchange's API (the shared wire types), and
//! reads back the parts of responses that later events need.

use crate::workload::events::{Event, Route, parse_facts, parse_items};
use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use dx_exchange::clock::jst;
use dx_exchange::refdata::DrugMaster;
use dx_exchange::wire::canonical::{sign, signing_key_from_seed};
use dx_exchange::wire::clins::{DocumentDraft, DocumentKind, EhrPatient, ItemDraft, ItemsDraft};
use dx_exchange::wire::fhir::{DraftCoverage, DraftItem, PrescriptionDraft, YJ_SYSTEM};
use dx_exchange::wire::{
    ApplicationKind, ApplicationRequest, CareCertificationRequest, CareLevel, Decision,
    DecisionRequest, Development, InfantCheckupRequest, PrenatalCheckupRequest,
    VaccinationBatchRequest, VaccinationRequest,
};
use dx_exchange::wire::{
    BatchVerifyRequest, CheckRequest, ConsentFlags, ConsentKind, ConsentMethod, ConsentRequest,
    Dispensation, DispenseRequest, DrugLine, PaperDispenseRequest, PersonRef, PrescriptionKind,
    RegisterPrescriptionRequest, Signature, VerifyRequest,
};
use ed25519_dalek::SigningKey;

/// What an earlier request returned that a later one needs.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Outcome {
    pub prescription_id: Option<String>,
    pub access_code: Option<String>,
    /// An EHR document's id.
    pub document_id: Option<String>,
    /// An online application's id.
    pub application_id: Option<String>,
}

/// A request ready to send.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub route: Route,
    pub post: bool,
    pub path: String,
    pub body: Option<Vec<u8>>,
    /// Whose token it is sent with.
    pub facility: String,
}

/// The practitioner (doctor or pharmacist) id the driver signs with at a facility.
pub fn practitioner_id(facility: &str, pharmacist: bool) -> String {
    format!("{}-{facility}", if pharmacist { "PH" } else { "DR" })
}

/// The driver's signing key for a facility: fixed by the facility code and the run's seed.
pub fn signing_key(seed: u64, facility: &str, pharmacist: bool) -> SigningKey {
    let mut bytes = [0u8; 32];
    let mut h = dx_exchange::refdata::sample::splitmix64(seed ^ u64::from(pharmacist));
    for (i, b) in facility.bytes().enumerate() {
        h = dx_exchange::refdata::sample::splitmix64(h ^ u64::from(b) ^ ((i as u64) << 8));
    }
    for chunk in bytes.chunks_mut(8) {
        h = dx_exchange::refdata::sample::splitmix64(h);
        chunk.copy_from_slice(&h.to_le_bytes());
    }
    signing_key_from_seed(bytes)
}

fn person(e: &Event) -> PersonRef {
    if let Some(card) = &e.card_serial {
        return PersonRef::by_card(card.clone());
    }
    match &e.insurance {
        Some([ins, symbol, number, branch]) => PersonRef {
            insurer_number: Some(ins.clone()),
            symbol: Some(symbol.clone()),
            number: Some(number.clone()),
            branch: Some(branch.clone()),
            ..PersonRef::default()
        },
        None => PersonRef::by_id(e.person_id.clone()),
    }
}

fn lines(e: &Event) -> anyhow::Result<Vec<DrugLine>> {
    Ok(parse_items(e.items.as_deref().unwrap_or_default())?
        .into_iter()
        .map(|(code, days, quantity)| DrugLine {
            code,
            days,
            quantity: Some(quantity),
        })
        .collect())
}

fn json<T: serde::Serialize>(v: &T) -> Option<Vec<u8>> {
    Some(serde_json::to_vec(v).expect("wire types serialise"))
}

/// A batch pre-check of several persons at one facility.
/// One request carrying the events of a batched route due at one moment for one principal: a
/// batch pre-check (一括照会) or a municipal upload of doses.
pub fn batch(events: &[Event], server_now: DateTime<Utc>) -> Prepared {
    let first = &events[0];
    let (path, body) = if first.route == Route::VaccinationBatch {
        let items = events.iter().map(|e| dose(e, server_now, e.uses)).collect();
        (
            "/v1/municipal/vaccinations/batch",
            json(&VaccinationBatchRequest { items }),
        )
    } else {
        let body = BatchVerifyRequest {
            service_date: None,
            items: events.iter().map(person).collect(),
        };
        ("/v1/eligibility/batch", json(&body))
    };
    Prepared {
        route: first.route,
        post: true,
        path: path.into(),
        body,
        facility: first.principal(),
    }
}

/// A dose of the event's vaccine (`items`) given `days_ago` days before the event's day.
fn dose(e: &Event, now: DateTime<Utc>, days_ago: u8) -> VaccinationRequest {
    VaccinationRequest {
        person: PersonRef::by_id(&e.person_id),
        vaccine: e.items.clone().unwrap_or_default(),
        administered_on: event_day(e, now) - TimeDelta::days(i64::from(days_ago)),
        lot: None,
    }
}

fn today(now: DateTime<Utc>) -> NaiveDate {
    now.with_timezone(&jst()).date_naive()
}

/// The day a recorded fact (a dose, a checkup) happened: the event's own day in the workload,
/// never later than the target's today. Replayed in simulated time the two are the same day;
/// against a target on the wall clock the workload's past stays consistent with the imported
/// population (its pregnancies, children's ages).
fn event_day(e: &Event, now: DateTime<Utc>) -> NaiveDate {
    let day = DateTime::from_timestamp_millis(e.at_ms)
        .map_or_else(|| today(now), |t| t.with_timezone(&jst()).date_naive());
    day.min(today(now))
}

/// The request path of a portal page.
fn portal_page(kind: Option<&str>) -> anyhow::Result<&'static str> {
    Ok(match kind {
        Some("medications") => "/v1/portal/clinical-summary?kind=prescription",
        Some("vaccinations") => "/v1/portal/vaccinations",
        Some("checkups") => "/v1/portal/checkups",
        Some("care") => "/v1/portal/care-certification",
        Some("access_log") => "/v1/portal/access-log",
        Some("applications") => "/v1/portal/applications",
        other => anyhow::bail!("portal page {other:?}"),
    })
}

/// The request of one event, given the outcome of the event it needs (if any) and the server's
/// current time (for the prescription document's issue time).
pub fn prepare(
    e: &Event,
    needed: Option<&Outcome>,
    server_now: DateTime<Utc>,
    seed: u64,
) -> anyhow::Result<Prepared> {
    let missing = || anyhow::anyhow!("event {}: the result it needs is missing", e.id);
    let (post, path, body) = match e.route {
        Route::Verify => (
            true,
            "/v1/eligibility/verify".to_owned(),
            json(&VerifyRequest {
                person: person(e),
                service_date: None,
                consent: e.consent.then_some(ConsentFlags {
                    vaccination: true,
                    medication: true,
                    checkup: true,
                    ehr: true,
                }),
            }),
        ),
        Route::Batch | Route::VaccinationBatch => {
            return Ok(batch(std::slice::from_ref(e), server_now));
        }
        Route::VaccinationRecord => (
            true,
            "/v1/vaccinations".to_owned(),
            json(&dose(e, server_now, 0)),
        ),
        Route::VaccinationRead => (
            false,
            format!("/v1/persons/{}/vaccinations", e.person_id),
            None,
        ),
        Route::VaccinationSchedule => (
            false,
            format!("/v1/persons/{}/vaccination-schedule", e.person_id),
            None,
        ),
        Route::PrenatalCheckup => (
            true,
            "/v1/maternal/prenatal-checkups".to_owned(),
            json(&PrenatalCheckupRequest {
                person: PersonRef::by_id(&e.person_id),
                on: event_day(e, server_now),
                gestational_weeks: e.items.as_deref().unwrap_or("20").parse()?,
                weight_kg: 58.0,
                systolic_mmhg: 114,
                diastolic_mmhg: 72,
            }),
        ),
        Route::InfantCheckup => {
            let months = (event_day(e, server_now) - birth_date(e)).num_days() as f64 / 30.44;
            (
                true,
                "/v1/maternal/infant-checkups".to_owned(),
                json(&InfantCheckupRequest {
                    person: PersonRef::by_id(&e.person_id),
                    on: event_day(e, server_now),
                    height_cm: (50.0 + 1.6 * months).min(120.0),
                    weight_kg: (3.0 + 0.3 * months).min(30.0),
                    development: Development::Normal,
                }),
            )
        }
        Route::CareCertify => {
            let spec = e.items.as_deref().unwrap_or_default();
            let mut f = spec.split(':');
            let (Some(level), Some(from), Some(to)) = (f.next(), f.next(), f.next()) else {
                anyhow::bail!("event {}: care certification {spec:?}", e.id);
            };
            (
                true,
                "/v1/care/certifications".to_owned(),
                json(&CareCertificationRequest {
                    person: PersonRef::by_id(&e.person_id),
                    level: CareLevel::parse(level)
                        .ok_or_else(|| anyhow::anyhow!("care level {level:?}"))?,
                    valid_from: from.parse()?,
                    valid_to: to.parse()?,
                }),
            )
        }
        Route::CareRead => (
            false,
            format!("/v1/persons/{}/care-certification", e.person_id),
            None,
        ),
        Route::PortalRead => (false, portal_page(e.kind)?.to_owned(), None),
        Route::PortalApply => (
            true,
            "/v1/portal/applications".to_owned(),
            json(&ApplicationRequest {
                person_id: e.person_id.clone(),
                kind: e
                    .kind
                    .and_then(ApplicationKind::parse)
                    .ok_or_else(|| anyhow::anyhow!("event {}: application kind", e.id))?,
                note: None,
            }),
        ),
        Route::ApplicationDecide => {
            let id = needed
                .and_then(|o| o.application_id.clone())
                .ok_or_else(missing)?;
            (
                true,
                format!("/v1/municipal/applications/{id}/decision"),
                json(&DecisionRequest {
                    decision: Decision::Approved,
                    reason: None,
                }),
            )
        }
        Route::Consent => (
            true,
            "/v1/consents".to_owned(),
            json(&ConsentRequest {
                person: PersonRef::by_id(e.person_id.clone()),
                kind: ConsentKind::Medication,
                method: ConsentMethod::Verbal,
            }),
        ),
        Route::Check => (
            true,
            "/v1/prescriptions/check".to_owned(),
            json(&CheckRequest {
                person: PersonRef::by_id(e.person_id.clone()),
                start_date: None,
                items: lines(e)?,
                include_same_facility: false,
            }),
        ),
        Route::Register => (
            true,
            "/v1/prescriptions".to_owned(),
            json(&register(e, server_now, seed)?),
        ),
        Route::Cancel => {
            let id = needed
                .and_then(|o| o.prescription_id.as_deref())
                .ok_or_else(missing)?;
            (true, format!("/v1/prescriptions/{id}/cancel"), None)
        }
        Route::Retrieve => {
            let code = needed
                .and_then(|o| o.access_code.as_deref())
                .ok_or_else(missing)?;
            (
                false,
                format!(
                    "/v1/prescriptions/{code}?{}",
                    dx_exchange::wire::endpoints::query_string(&person(e))
                ),
                None,
            )
        }
        Route::Dispense => {
            let o = needed.ok_or_else(missing)?;
            let (Some(id), Some(code)) = (&o.prescription_id, &o.access_code) else {
                return Err(missing());
            };
            let dispensation = Dispensation {
                access_code: code.clone(),
                items: lines(e)?,
            };
            let key = signing_key(seed, &e.facility, true);
            let signature = Signature {
                practitioner_id: practitioner_id(&e.facility, true),
                algorithm: "Ed25519".into(),
                value: sign(&key, &dispensation),
            };
            (
                true,
                format!("/v1/prescriptions/{id}/dispensations"),
                json(&DispenseRequest {
                    dispensation,
                    signature,
                }),
            )
        }
        Route::Healthz => (false, "/healthz".to_owned(), None),
        Route::EhrItems => (
            true,
            "/v1/ehr/items".to_owned(),
            json(&ehr_items(e, server_now)?.to_bundle()),
        ),
        Route::EhrDocument => {
            let attachments = match e.needs {
                Some(_) => vec![
                    needed
                        .and_then(|o| o.document_id.clone())
                        .ok_or_else(missing)?,
                ],
                None => Vec::new(),
            };
            (
                true,
                "/v1/ehr/documents".to_owned(),
                json(&ehr_document(e, server_now, attachments)?.to_bundle()),
            )
        }
        Route::EhrInbox => (false, "/v1/ehr/referrals".to_owned(), None),
        Route::EhrRead | Route::EhrReceive => {
            let id = needed
                .and_then(|o| o.document_id.as_deref())
                .ok_or_else(missing)?;
            if e.route == Route::EhrRead {
                (false, format!("/v1/ehr/documents/{id}"), None)
            } else {
                (true, format!("/v1/ehr/documents/{id}/receipt"), None)
            }
        }
        Route::EhrSummary => (
            false,
            format!("/v1/persons/{}/clinical-summary", e.person_id),
            None,
        ),
        Route::PaperDispense => (
            true,
            "/v1/dispensations".to_owned(),
            json(&PaperDispenseRequest {
                person: person(e),
                prescriber_facility: e.other_facility.clone().unwrap_or_default(),
                items: lines(e)?,
            }),
        ),
    };
    Ok(Prepared {
        route: e.route,
        post,
        path,
        body,
        facility: e.principal(),
    })
}

fn birth_date(e: &Event) -> NaiveDate {
    NaiveDate::from_ymd_opt(1970, 1, 1).expect("epoch") + TimeDelta::days(i64::from(e.birth_date))
}

/// The EHR Patient of an event (by its insurance number).
fn ehr_patient(e: &Event) -> anyhow::Result<EhrPatient> {
    let [insurer_number, symbol, number, branch] = e
        .insurance
        .clone()
        .ok_or_else(|| anyhow::anyhow!("event {}: an EHR record without insurance", e.id))?;
    Ok(EhrPatient {
        insurer_number,
        symbol,
        number,
        branch,
        gender: e.sex,
        birth_date: birth_date(e),
    })
}

/// The facts of an event as items dated on the server's today.
fn facts(e: &Event, now: DateTime<Utc>) -> anyhow::Result<Vec<ItemDraft>> {
    let today = now.with_timezone(&jst()).date_naive();
    Ok(parse_facts(e.items.as_deref().unwrap_or_default())?
        .into_iter()
        .map(|(fact, undisclosed, long_term)| ItemDraft {
            fact,
            on: today,
            undisclosed,
            long_term,
        })
        .collect())
}

/// A 6-item submission, its facts dated on the server's today.
fn ehr_items(e: &Event, now: DateTime<Utc>) -> anyhow::Result<ItemsDraft> {
    let items = facts(e, now)?;
    Ok(ItemsDraft {
        submission_id: format!("dxsim-{:x}", e.id),
        facility_code: e.facility.clone(),
        facility_name: format!("facility {}", e.facility),
        at: now.with_timezone(&jst()),
        patient: ehr_patient(e)?,
        items,
    })
}

fn ehr_document(
    e: &Event,
    now: DateTime<Utc>,
    attachments: Vec<String>,
) -> anyhow::Result<DocumentDraft> {
    let kind = e
        .kind
        .and_then(DocumentKind::parse)
        .ok_or_else(|| anyhow::anyhow!("event {}: not a document kind: {:?}", e.id, e.kind))?;
    let items = facts(e, now)?;
    Ok(DocumentDraft {
        document_id: format!("dxsim-{:x}", e.id),
        kind,
        facility_code: e.facility.clone(),
        facility_name: format!("facility {}", e.facility),
        at: now.with_timezone(&jst()),
        patient: ehr_patient(e)?,
        addressee: e.other_facility.clone(),
        attachments,
        text: format!("{} (simulated)", kind.as_str()),
        items,
    })
}

fn register(
    e: &Event,
    now: DateTime<Utc>,
    seed: u64,
) -> anyhow::Result<RegisterPrescriptionRequest> {
    let master = DrugMaster::get();
    let [ins, symbol, number, branch] = e
        .insurance
        .clone()
        .ok_or_else(|| anyhow::anyhow!("event {}: a registration without coverage", e.id))?;
    let items = parse_items(e.items.as_deref().unwrap_or_default())?
        .into_iter()
        .map(|(code, days, quantity)| {
            let d = master.by_code(&code).ok_or_else(|| {
                anyhow::anyhow!("event {}: drug {code} is not in the master", e.id)
            })?;
            Ok(DraftItem {
                code,
                code_system: YJ_SYSTEM,
                display: d.name.clone(),
                days,
                quantity,
                unit: d.unit.into(),
                as_needed: d.as_needed,
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let birth = birth_date(e);
    let draft = PrescriptionDraft {
        document_id: format!("dxsim-{:x}", e.id),
        facility_code: e.facility.clone(),
        facility_name: format!("facility {}", e.facility),
        practitioner_id: practitioner_id(&e.facility, false),
        issued_at: now.with_timezone(&jst()),
        patient_gender: e.sex,
        patient_birth_date: birth,
        coverage: DraftCoverage {
            insurer_number: ins,
            symbol,
            number,
            branch,
        },
        items,
        uses: e.uses.max(1),
    };
    let bundle = draft.to_bundle();
    let key = signing_key(seed, &e.facility, false);
    Ok(RegisterPrescriptionRequest {
        kind: if e.kind == Some("in_hospital") {
            PrescriptionKind::InHospital
        } else {
            PrescriptionKind::Electronic
        },
        signature: Some(Signature {
            practitioner_id: practitioner_id(&e.facility, false),
            algorithm: "Ed25519".into(),
            value: sign(&key, &bundle),
        }),
        bundle,
    })
}

/// What a successful response carries for later events.
pub fn outcome(route: Route, body: &[u8], needed: Option<&Outcome>) -> Outcome {
    let v: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    let text = |k: &str| v.get(k).and_then(|x| x.as_str()).map(str::to_owned);
    match route {
        Route::Register => Outcome {
            prescription_id: text("prescription_id"),
            access_code: text("access_code"),
            ..Outcome::default()
        },
        // A retrieval keeps the access code it was made with, for the dispensing.
        Route::Retrieve => Outcome {
            prescription_id: text("prescription_id"),
            access_code: needed.and_then(|o| o.access_code.clone()),
            ..Outcome::default()
        },
        Route::EhrDocument => Outcome {
            document_id: text("document_id"),
            ..Outcome::default()
        },
        Route::PortalApply => Outcome {
            application_id: text("application_id"),
            ..Outcome::default()
        },
        _ => Outcome::default(),
    }
}
