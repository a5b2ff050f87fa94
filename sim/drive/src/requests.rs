//! Turns events into requests of the exchange's API — one small function per payload, each
//! building its endpoint's request type (`wire::endpoints`) — and reads back the parts of
//! responses that later events need.

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use dx_client as client;
use dx_exchange::clock::jst;
use dx_exchange::refdata::DrugMaster;
use dx_exchange::wire::clins::{self, DocumentDraft, DocumentKind, EhrPatient, ItemDraft};
use dx_exchange::wire::endpoints::{self as ep, Endpoint, Method};
use dx_exchange::wire::fhir::{DraftCoverage, DraftItem, PrescriptionDraft, YJ_SYSTEM};
use dx_exchange::wire::hpki::{Practitioner, TestHierarchy, sign_bundle};
use dx_exchange::wire::{
    AcquisitionRequest, ApplicationKind, ApplicationRequest, BatchVerifyRequest,
    CareCertificationRequest, CareLevel, CheckRequest, ConsentFlags, ConsentKind, ConsentMethod,
    ConsentRequest, Decision, DecisionRequest, Development, Dispensation, DispenseRequest,
    DrugLine as WireDrugLine, EntitlementRequest, InfantCheckupRequest, LossRequest,
    PaperDispenseRequest, PersonRef, PregnancyRequest, PrenatalCheckupRequest, PrescriptionKind,
    RegisterPrescriptionRequest, SummaryQuery, VaccinationBatchRequest, VaccinationRequest,
    VerifyRequest,
};
use dx_model::event::{DrugLine, Event, Fact, FactLine, Payload, PortalPage};
use dx_model::route::Route;
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::Mutex;

/// What an earlier request returned that a later one needs.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Outcome {
    pub prescription_id: Option<String>,
    pub access_code: Option<String>,
    /// An EHR document's id.
    pub document_id: Option<String>,
    /// An online application's id.
    pub application_id: Option<String>,
    /// The prescription was issued on paper instead, by this facility (a fault): there is
    /// nothing to retrieve or cancel, and the pharmacy registers a paper dispensing.
    pub paper_prescriber: Option<String>,
    /// How the patient of a paper prescription is named at the pharmacy (from the visit that
    /// would have retrieved it).
    pub paper_patient: Option<PersonRef>,
}

impl Outcome {
    /// A paper prescription of `prescriber`.
    pub fn paper(prescriber: &str) -> Outcome {
        Outcome {
            paper_prescriber: Some(prescriber.to_owned()),
            ..Outcome::default()
        }
    }
}

/// What the pharmacy's visit of a paper prescription passes on to its dispensing: the
/// prescriber, and the patient as the visit names them (card or insurance number).
pub fn paper_visit(e: &Event, paper: &Outcome) -> Outcome {
    Outcome {
        paper_patient: Some(person(e)),
        ..paper.clone()
    }
}

/// The paper dispensing a pharmacy registers for dispensing event `e` when its prescription
/// was issued on paper (`paper`: by whom, and the patient as the visit named them).
pub fn paper_dispensing(e: &Event, paper: &Outcome, drugs: &[DrugLine]) -> Prepared {
    let body = PaperDispenseRequest {
        person: paper.paper_patient.clone().unwrap_or_else(|| person(e)),
        prescriber_facility: paper.paper_prescriber.clone().unwrap_or_default(),
        items: wire_lines(drugs),
    };
    Prepared {
        route: Route::PaperDispense,
        ..Prepared::of::<ep::PaperDispense>(e, &[], &(), &body)
    }
}

/// A request ready to send.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub route: Route,
    pub method: Method,
    /// Path and query.
    pub path: String,
    pub body: Option<Vec<u8>>,
    /// Whose token it is sent with.
    pub principal: String,
}

impl Prepared {
    /// A request of event `e` to endpoint `E`.
    fn of<E: Endpoint>(
        e: &Event,
        params: &[&str],
        query: &E::Query,
        request: &E::Request,
    ) -> Prepared
    where
        E::Query: Serialize,
        E::Request: Serialize,
    {
        Prepared {
            route: e.route(),
            method: E::METHOD,
            path: client::target::<E>(params, query),
            body: client::body::<E>(request),
            principal: e.principal(),
        }
    }
}

/// The practitioner (doctor or pharmacist) id the driver signs with at a facility.
pub fn practitioner_id(facility: &str, pharmacist: bool) -> String {
    format!("{}-{facility}", if pharmacist { "PH" } else { "DR" })
}

/// The run's test HPKI hierarchy, derived from its seed (so the workload holds no key); `setup`
/// has the target trust its root.
pub fn hpki(seed: u64) -> std::sync::Arc<TestHierarchy> {
    static RUNS: Mutex<BTreeMap<u64, std::sync::Arc<TestHierarchy>>> = Mutex::new(BTreeMap::new());
    let mut runs = RUNS.lock().unwrap_or_else(|e| e.into_inner());
    runs.entry(seed)
        .or_insert_with(|| {
            std::sync::Arc::new(TestHierarchy::from_seed(&seed.to_le_bytes(), "dxsim run"))
        })
        .clone()
}

/// The certificate and key the driver signs with at a facility (issued once per facility and
/// run, then kept: one per facility of the workload).
pub fn practitioner(seed: u64, facility: &str, pharmacist: bool) -> std::sync::Arc<Practitioner> {
    type Issued = BTreeMap<(u64, String, bool), std::sync::Arc<Practitioner>>;
    static ISSUED: Mutex<Issued> = Mutex::new(BTreeMap::new());
    let key = (seed, facility.to_owned(), pharmacist);
    if let Some(p) = ISSUED.lock().unwrap_or_else(|e| e.into_inner()).get(&key) {
        return p.clone();
    }
    let p = std::sync::Arc::new(hpki(seed).facility_practitioner(facility, pharmacist));
    ISSUED
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .entry(key)
        .or_insert(p)
        .clone()
}

/// The card-issuing authority of a run: the cards of its persons are derived from the run's seed
/// and their card serials (`dx_exchange::wire::card::simulated`), so the workload holds no key.
/// `setup` has the target trust it.
pub fn card_authority(seed: u64) -> dx_exchange::wire::card::CardAuthority {
    dx_exchange::wire::card::CardAuthority::of_seed(seed)
}

/// The card of `serial` presented at `facility` at `now`: the run's card key and certificate
/// derived from the seed, the signature over the facility, the time and a nonce of the event
/// and the instant (unique per presentation, so a replay of the same workload a minute later
/// is not taken for a replay of the card).
pub fn present_card(
    seed: u64,
    serial: &str,
    facility: &str,
    event: u64,
    now: DateTime<Utc>,
) -> String {
    let (card, cert) = dx_exchange::wire::card::simulated(seed, serial, today(now));
    let mut salt = Vec::with_capacity(24);
    salt.extend_from_slice(&seed.to_le_bytes());
    salt.extend_from_slice(&event.to_le_bytes());
    salt.extend_from_slice(&now.timestamp_nanos_opt().unwrap_or_default().to_le_bytes());
    let nonce = dx_exchange::wire::card::nonce_from(&salt);
    card.present(&cert, facility, now, &nonce)
}

/// How the event's person is named where the card is at the counter (verification,
/// retrieval): the card presented, else the insurance number.
fn presented(e: &Event, seed: u64, now: DateTime<Utc>) -> PersonRef {
    match &e.card_serial {
        Some(card) => {
            let proof = present_card(seed, card, &e.facility, e.id, now);
            PersonRef::presenting(card.clone(), proof)
        }
        None => person(e),
    }
}

/// How a batch pre-check (一括照会, before the visit, without the card) names the person: by
/// insurance number, else (a medical-aid recipient without insurance) by the card presented.
fn pre_checked(e: &Event, seed: u64, now: DateTime<Utc>) -> PersonRef {
    insured(e).unwrap_or_else(|| presented(e, seed, now))
}

/// The event's person by insurance number, if they have one.
fn insured(e: &Event) -> Option<PersonRef> {
    let [ins, symbol, number, branch] = e.insurance.as_ref()?;
    Some(PersonRef {
        insurer_number: Some(ins.clone()),
        symbol: Some(symbol.clone()),
        number: Some(number.clone()),
        branch: Some(branch.clone()),
        ..PersonRef::default()
    })
}

/// How the event names its person: by card, else by insurance number, else by id.
fn person(e: &Event) -> PersonRef {
    if let Some(card) = &e.card_serial {
        return PersonRef::by_card(card.clone());
    }
    insured(e).unwrap_or_else(|| PersonRef::by_id(e.person_id.clone()))
}

fn wire_lines(drugs: &[DrugLine]) -> Vec<WireDrugLine> {
    drugs
        .iter()
        .map(|d| WireDrugLine {
            code: d.code.clone(),
            days: d.days,
            quantity: Some(d.quantity),
        })
        .collect()
}

/// One request carrying the events of a batched route due at one moment for one principal: a
/// batch pre-check (一括照会) or a municipal upload of doses.
pub fn batch(events: &[Event], server_now: DateTime<Utc>, seed: u64) -> Prepared {
    let first = &events[0];
    if let Payload::VaccinationBatch { .. } = first.payload {
        let items = events
            .iter()
            .filter_map(|e| match &e.payload {
                Payload::VaccinationBatch { vaccine, days_ago } => {
                    Some(dose(e, vaccine, server_now, *days_ago))
                }
                _ => None,
            })
            .collect();
        let body = VaccinationBatchRequest { items };
        Prepared::of::<ep::VaccinationBatch>(first, &[], &(), &body)
    } else {
        let body = BatchVerifyRequest {
            service_date: None,
            items: events
                .iter()
                .map(|e| pre_checked(e, seed, server_now))
                .collect(),
        };
        Prepared::of::<ep::BatchVerify>(first, &[], &(), &body)
    }
}

/// A dose of `vaccine` given `days_ago` days before the event's day.
fn dose(e: &Event, vaccine: &str, now: DateTime<Utc>, days_ago: u8) -> VaccinationRequest {
    VaccinationRequest {
        person: PersonRef::by_id(&e.person_id),
        vaccine: vaccine.to_owned(),
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

/// The request of one event, given the outcome of the event it needs (if any) and the server's
/// current time (for documents' issue times and the dates of recorded facts).
pub fn prepare(
    e: &Event,
    needed: Option<&Outcome>,
    server_now: DateTime<Utc>,
    seed: u64,
) -> anyhow::Result<Prepared> {
    let none = &();
    let by_id = [e.person_id.as_str()];
    Ok(match &e.payload {
        Payload::Verify { consent } => verify(e, *consent, seed, server_now),
        Payload::Batch | Payload::VaccinationBatch { .. } => {
            batch(std::slice::from_ref(e), server_now, seed)
        }
        Payload::Consent => consent(e),
        Payload::Check { drugs } => check(e, drugs),
        Payload::Register { kind, uses, drugs } => {
            register(e, *kind, *uses, drugs, server_now, seed)?
        }
        Payload::Cancel => {
            let id = needed_id(e, needed, |o| &o.prescription_id)?;
            Prepared::of::<ep::CancelPrescription>(e, &[id], none, none)
        }
        Payload::Retrieve => {
            let code = needed_id(e, needed, |o| &o.access_code)?;
            let patient = presented(e, seed, server_now);
            Prepared::of::<ep::RetrievePrescription>(e, &[code], &patient, none)
        }
        Payload::Dispense { drugs } => dispense(e, needed, drugs, seed, server_now)?,
        Payload::PaperDispense { prescriber, drugs } => paper_dispense(e, prescriber, drugs),
        Payload::EhrItems { facts } => ehr_items(e, facts, server_now)?,
        Payload::EhrDocument {
            kind,
            addressee,
            facts,
        } => ehr_document(e, needed, *kind, addressee, facts, server_now)?,
        Payload::EhrInbox => Prepared::of::<ep::ReferralInbox>(e, &[], &Default::default(), none),
        Payload::EhrRead => {
            let id = needed_id(e, needed, |o| &o.document_id)?;
            Prepared::of::<ep::ReadDocument>(e, &[id], none, none)
        }
        Payload::EhrReceive => {
            let id = needed_id(e, needed, |o| &o.document_id)?;
            Prepared::of::<ep::ReceiveReferral>(e, &[id], none, none)
        }
        Payload::EhrSummary => {
            Prepared::of::<ep::ReadClinicalSummary>(e, &by_id, &Default::default(), none)
        }
        Payload::VaccinationRecord { vaccine } => {
            let body = dose(e, vaccine, server_now, 0);
            Prepared::of::<ep::RecordVaccination>(e, &[], none, &body)
        }
        Payload::VaccinationRead => Prepared::of::<ep::ReadVaccinations>(e, &by_id, none, none),
        Payload::VaccinationSchedule => {
            Prepared::of::<ep::ReadVaccinationSchedule>(e, &by_id, &Default::default(), none)
        }
        Payload::PrenatalCheckup { gestational_weeks } => {
            prenatal_checkup(e, *gestational_weeks, server_now)
        }
        Payload::InfantCheckup => infant_checkup(e, server_now),
        Payload::PregnancyRegister {
            confirmed_days_ago,
            term_days,
        } => {
            let confirmed_on =
                event_day(e, server_now) - chrono::TimeDelta::days(i64::from(*confirmed_days_ago));
            let body = PregnancyRequest {
                person: PersonRef::by_id(&e.person_id),
                confirmed_on,
                expected_delivery: confirmed_on + chrono::TimeDelta::days(i64::from(*term_days)),
            };
            Prepared::of::<ep::RegisterPregnancy>(e, &[], none, &body)
        }
        Payload::EntitlementRegister { law, from_days } => {
            entitlement(e, law, *from_days, server_now)?
        }
        Payload::QualificationAcquire { from_days } => {
            let [symbol, number, branch] = reported(e)?;
            let body = AcquisitionRequest {
                person: PersonRef::by_id(&e.person_id),
                symbol,
                number,
                branch,
                valid_from: event_day(e, server_now)
                    + chrono::TimeDelta::days(i64::from(*from_days)),
            };
            Prepared::of::<ep::ReportAcquisition>(e, &[], none, &body)
        }
        Payload::QualificationLose { to_days } => {
            let [symbol, number, branch] = reported(e)?;
            let body = LossRequest {
                symbol,
                number,
                branch,
                valid_to: event_day(e, server_now) + chrono::TimeDelta::days(i64::from(*to_days)),
            };
            Prepared::of::<ep::ReportLoss>(e, &[], none, &body)
        }
        Payload::CareCertify {
            level,
            valid_from,
            valid_to,
        } => care_certify(e, *level, *valid_from, *valid_to),
        Payload::CareRead => {
            Prepared::of::<ep::ReadCareCertification>(e, &by_id, &Default::default(), none)
        }
        Payload::PortalRead { page } => portal_read(e, *page),
        Payload::PortalApply { kind } => portal_apply(e, *kind),
        Payload::ApplicationDecide => {
            let id = needed_id(e, needed, |o| &o.application_id)?;
            let body = DecisionRequest {
                decision: Decision::Approved,
                reason: None,
            };
            Prepared::of::<ep::DecideApplication>(e, &[id], none, &body)
        }
        Payload::Healthz => Prepared::of::<ep::Healthz>(e, &[], none, none),
    })
}

/// The id an earlier request returned that `e` needs.
fn needed_id<'a>(
    e: &Event,
    needed: Option<&'a Outcome>,
    field: impl Fn(&'a Outcome) -> &'a Option<String>,
) -> anyhow::Result<&'a str> {
    needed
        .and_then(|o| field(o).as_deref())
        .ok_or_else(|| anyhow::anyhow!("event {}: the result it needs is missing", e.id))
}

fn verify(e: &Event, consent: bool, seed: u64, now: DateTime<Utc>) -> Prepared {
    let body = VerifyRequest {
        person: presented(e, seed, now),
        service_date: None,
        consent: consent.then_some(ConsentFlags {
            vaccination: true,
            medication: true,
            checkup: true,
            ehr: true,
        }),
    };
    Prepared::of::<ep::Verify>(e, &[], &(), &body)
}

fn consent(e: &Event) -> Prepared {
    let body = ConsentRequest {
        person: PersonRef::by_id(e.person_id.clone()),
        kind: ConsentKind::Medication,
        method: ConsentMethod::Verbal,
    };
    Prepared::of::<ep::GiveConsent>(e, &[], &(), &body)
}

fn check(e: &Event, drugs: &[DrugLine]) -> Prepared {
    let body = CheckRequest {
        person: PersonRef::by_id(e.person_id.clone()),
        start_date: None,
        items: wire_lines(drugs),
        include_same_facility: false,
    };
    Prepared::of::<ep::CheckPrescription>(e, &[], &(), &body)
}

fn register(
    e: &Event,
    kind: PrescriptionKind,
    uses: u8,
    drugs: &[DrugLine],
    now: DateTime<Utc>,
    seed: u64,
) -> anyhow::Result<Prepared> {
    let master = DrugMaster::get();
    let [ins, symbol, number, branch] = e
        .insurance
        .clone()
        .ok_or_else(|| anyhow::anyhow!("event {}: a registration without coverage", e.id))?;
    let items = drugs
        .iter()
        .map(|line| {
            let d = master.by_code(&line.code).ok_or_else(|| {
                anyhow::anyhow!("event {}: drug {} is not in the master", e.id, line.code)
            })?;
            Ok(DraftItem {
                code: line.code.clone(),
                code_system: YJ_SYSTEM,
                display: d.name.clone(),
                days: line.days,
                quantity: line.quantity,
                unit: d.unit.into(),
                as_needed: d.as_needed,
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let draft = PrescriptionDraft {
        document_id: format!("dxsim-{:x}", e.id),
        facility_code: e.facility.clone(),
        facility_name: format!("facility {}", e.facility),
        practitioner_id: practitioner_id(&e.facility, false),
        issued_at: now.with_timezone(&jst()),
        patient_gender: e.sex.fhir(),
        patient_birth_date: e.birth_day(),
        coverage: DraftCoverage {
            insurer_number: ins,
            symbol,
            number,
            branch,
        },
        items,
        uses: uses.max(1),
    };
    let mut bundle = draft.to_bundle();
    if kind == PrescriptionKind::Electronic {
        let who = practitioner(seed, &e.facility, false);
        sign_bundle(&mut bundle, &who, now.with_timezone(&jst()).fixed_offset());
    }
    let body = RegisterPrescriptionRequest { kind, bundle };
    Ok(Prepared::of::<ep::RegisterPrescription>(e, &[], &(), &body))
}

fn dispense(
    e: &Event,
    needed: Option<&Outcome>,
    drugs: &[DrugLine],
    seed: u64,
    now: DateTime<Utc>,
) -> anyhow::Result<Prepared> {
    let id = needed_id(e, needed, |o| &o.prescription_id)?;
    let code = needed_id(e, needed, |o| &o.access_code)?;
    let dispensation = Dispensation {
        access_code: code.to_owned(),
        items: wire_lines(drugs),
    };
    let signature = practitioner(seed, &e.facility, true)
        .sign(&dispensation.signed_bytes(id, &e.facility), now);
    let body = DispenseRequest {
        dispensation,
        signature,
    };
    Ok(Prepared::of::<ep::Dispense>(e, &[id], &(), &body))
}

fn paper_dispense(e: &Event, prescriber: &str, drugs: &[DrugLine]) -> Prepared {
    let body = PaperDispenseRequest {
        person: person(e),
        prescriber_facility: prescriber.to_owned(),
        items: wire_lines(drugs),
    };
    Prepared::of::<ep::PaperDispense>(e, &[], &(), &body)
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
        gender: e.sex.fhir(),
        birth_date: e.birth_day(),
    })
}

/// The facts of an event as items dated on the server's today.
fn items_of(facts: &[FactLine], now: DateTime<Utc>) -> Vec<ItemDraft> {
    let today = today(now);
    facts
        .iter()
        .map(|line| ItemDraft {
            fact: wire_fact(&line.fact),
            on: today,
            uninformed: line.undisclosed,
            long_term: line.long_term,
        })
        .collect()
}

fn wire_fact(f: &Fact) -> clins::Fact {
    match f {
        Fact::Diagnosis { icd10 } => clins::Fact::Diagnosis {
            code: icd10.clone(),
        },
        Fact::Lab { jlac10, value } => clins::Fact::LabResult {
            code: jlac10.clone(),
            value: value.to_f64(),
        },
        Fact::Infection { jlac10, positive } => clins::Fact::Infection {
            code: jlac10.clone(),
            positive: *positive,
        },
        Fact::DrugAllergy { yj } => clins::Fact::Allergy {
            system: YJ_SYSTEM.into(),
            code: yj.clone(),
        },
        Fact::FoodAllergy { allergen } => clins::Fact::Allergy {
            system: clins::FOOD_ALLERGEN_SYSTEM.into(),
            code: allergen.clone(),
        },
        Fact::ContraindicatedDrug { yj } => clins::Fact::ContraindicatedDrug {
            system: YJ_SYSTEM.into(),
            code: yj.clone(),
        },
    }
}

/// A 6-item submission of one resource category (JP-CLINS's one Bundle per category), its facts
/// dated on the server's today.
fn ehr_items(e: &Event, facts: &[FactLine], now: DateTime<Utc>) -> anyhow::Result<Prepared> {
    let mut kinds = facts.iter().map(|f| f.fact.resource_type());
    if let Some(first) = kinds.next() {
        anyhow::ensure!(
            kinds.all(|k| k == first),
            "event {}: an ehr_items event mixes resource categories (a workload written before \
             JP-CLINS's one Bundle per category, 2026-12-07): generate the workload again",
            e.id
        );
    }
    let draft = clins::ItemsDraft {
        submission_id: format!("dxsim-{:x}", e.id),
        facility_code: e.facility.clone(),
        facility_name: format!("facility {}", e.facility),
        at: now.with_timezone(&jst()),
        patient: ehr_patient(e)?,
        items: items_of(facts, now),
    };
    Ok(Prepared::of::<ep::SubmitItems>(
        e,
        &[],
        &(),
        &draft.to_bundle(),
    ))
}

fn ehr_document(
    e: &Event,
    needed: Option<&Outcome>,
    kind: DocumentKind,
    addressee: &Option<String>,
    facts: &[FactLine],
    now: DateTime<Utc>,
) -> anyhow::Result<Prepared> {
    // A referral after a discharge carries the discharge summary it needs.
    let attachments = match e.needs {
        Some(_) => vec![needed_id(e, needed, |o| &o.document_id)?.to_owned()],
        None => Vec::new(),
    };
    let draft = DocumentDraft {
        document_id: format!("dxsim-{:x}", e.id),
        kind,
        facility_code: e.facility.clone(),
        facility_name: format!("facility {}", e.facility),
        at: now.with_timezone(&jst()),
        patient: ehr_patient(e)?,
        addressee: addressee.clone(),
        attachments,
        text: format!("{} (simulated)", kind.as_str()),
        items: items_of(facts, now),
    };
    Ok(Prepared::of::<ep::SubmitDocument>(
        e,
        &[],
        &(),
        &draft.to_bundle(),
    ))
}

fn prenatal_checkup(e: &Event, gestational_weeks: u8, now: DateTime<Utc>) -> Prepared {
    let body = PrenatalCheckupRequest {
        person: PersonRef::by_id(&e.person_id),
        on: event_day(e, now),
        gestational_weeks,
        weight_kg: 58.0,
        systolic_mmhg: 114,
        diastolic_mmhg: 72,
    };
    Prepared::of::<ep::PrenatalCheckup>(e, &[], &(), &body)
}

fn infant_checkup(e: &Event, now: DateTime<Utc>) -> Prepared {
    let on = event_day(e, now);
    let months = (on - e.birth_day()).num_days() as f64 / 30.44;
    let body = InfantCheckupRequest {
        person: PersonRef::by_id(&e.person_id),
        on,
        height_cm: (50.0 + 1.6 * months).min(120.0),
        weight_kg: (3.0 + 0.3 * months).min(30.0),
        development: Development::Normal,
    };
    Prepared::of::<ep::InfantCheckup>(e, &[], &(), &body)
}

/// The 記号・番号・枝番 an insurer's report names (the event's insurance; its insurer is the
/// caller).
fn reported(e: &Event) -> anyhow::Result<[String; 3]> {
    let Some(ins) = &e.insurance else {
        anyhow::bail!(
            "an insurer's report of event {} names no qualification",
            e.id
        );
    };
    Ok([ins[1].clone(), ins[2].clone(), ins[3].clone()])
}

/// A public-expense entitlement the municipality registers: the payer of its law in the
/// municipality's prefecture, a recipient number of the person's own (with its check digit),
/// valid from the day the event says.
fn entitlement(
    e: &Event,
    law: &str,
    from_days: i16,
    now: DateTime<Utc>,
) -> anyhow::Result<Prepared> {
    use anyhow::Context as _;
    let code: u8 = law
        .parse()
        .with_context(|| format!("entitlement law {law:?}"))?;
    let prefecture: u8 = e
        .facility
        .get(..2)
        .and_then(|p| p.parse().ok())
        .with_context(|| format!("entitlement registered by {:?}", e.facility))?;
    let digits = e
        .person_id
        .trim_start_matches('P')
        .parse::<u64>()
        .map_or(0, |n| (n % 1_000_000) as u32);
    let body = EntitlementRequest {
        person: PersonRef::by_id(&e.person_id),
        law_code: law.to_owned(),
        payer_number: dx_protocol::codes::insurer_number(Some(code), prefecture, 1),
        recipient_number: dx_exchange::municipal::rules::recipient_number(digits),
        valid_from: event_day(e, now) + chrono::TimeDelta::days(i64::from(from_days)),
        valid_to: None,
    };
    Ok(Prepared::of::<ep::RegisterEntitlement>(e, &[], &(), &body))
}

fn care_certify(
    e: &Event,
    level: CareLevel,
    valid_from: NaiveDate,
    valid_to: NaiveDate,
) -> Prepared {
    let body = CareCertificationRequest {
        person: PersonRef::by_id(&e.person_id),
        level,
        valid_from,
        valid_to,
    };
    Prepared::of::<ep::CertifyCare>(e, &[], &(), &body)
}

/// A portal page: medications are the clinical summary's prescriptions.
fn portal_read(e: &Event, page: PortalPage) -> Prepared {
    let none = &();
    match page {
        PortalPage::Medications => {
            let q = SummaryQuery {
                kind: Some("prescription".into()),
                ..SummaryQuery::default()
            };
            Prepared::of::<ep::PortalClinicalSummary>(e, &[], &q, none)
        }
        PortalPage::Vaccinations => Prepared::of::<ep::PortalVaccinations>(e, &[], none, none),
        PortalPage::Checkups => Prepared::of::<ep::PortalCheckups>(e, &[], none, none),
        PortalPage::Care => Prepared::of::<ep::PortalCareCertification>(e, &[], none, none),
        PortalPage::AccessLog => Prepared::of::<ep::AccessLog>(e, &[], &Default::default(), none),
        PortalPage::Applications => {
            Prepared::of::<ep::MyApplications>(e, &[], &Default::default(), none)
        }
    }
}

fn portal_apply(e: &Event, kind: ApplicationKind) -> Prepared {
    let body = ApplicationRequest {
        person_id: e.person_id.clone(),
        kind,
        note: None,
    };
    Prepared::of::<ep::FileApplication>(e, &[], &(), &body)
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether a path (and query) fits a template: the same segments, `{…}` standing for any.
    fn matches_template(path: &str, template: &str) -> bool {
        let path = path.split('?').next().unwrap_or_default();
        let (a, b): (Vec<&str>, Vec<&str>) =
            (path.split('/').collect(), template.split('/').collect());
        a.len() == b.len()
            && a.iter()
                .zip(&b)
                .all(|(x, t)| x == t || (t.starts_with('{') && !x.is_empty()))
    }

    /// Every route's request goes to the endpoint the route table names (the portal's pages to
    /// theirs), with that endpoint's method.
    #[test]
    fn every_request_goes_to_its_routes_endpoint() {
        let now = DateTime::from_timestamp(1_759_714_200, 0).unwrap();
        let done = Outcome {
            prescription_id: Some("RX1".into()),
            access_code: Some("123456".into()),
            document_id: Some("D1".into()),
            application_id: Some("A1".into()),
            paper_prescriber: None,
            paper_patient: None,
        };
        let yj = DrugMaster::get().all()[0].yj.clone();
        let drugs = vec![DrugLine {
            code: yj,
            days: 7,
            quantity: 7,
        }];
        let facts = vec![FactLine {
            fact: Fact::Diagnosis {
                icd10: "I10".into(),
            },
            undisclosed: false,
            long_term: false,
        }];
        let mut payloads = Payload::one_of_each(&drugs, &facts);
        payloads.extend(PortalPage::ALL.map(|page| Payload::PortalRead { page }));
        for payload in payloads {
            let e = Event {
                id: 1,
                at_ms: now.timestamp_millis(),
                facility: "3110110019".into(),
                person_id: "P0000000001".into(),
                insurance: Some(["06310014".into(), "1".into(), "2".into(), "00".into()]),
                sex: dx_exchange::wire::Sex::Female,
                payload: payload.clone(),
                ..Event::default()
            };
            let p = prepare(&e, Some(&done), now, 7).unwrap();
            let endpoint = match &payload {
                Payload::PortalRead { page } => page.endpoint(),
                _ => e.route().endpoint().unwrap(),
            };
            assert_eq!(p.method, endpoint.method, "{payload:?}");
            assert!(
                matches_template(&p.path, endpoint.path),
                "{payload:?}: {} is not {}",
                p.path,
                endpoint.path
            );
            assert_eq!(p.route, e.route());
        }
    }
}
