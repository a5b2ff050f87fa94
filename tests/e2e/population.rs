//! A generated population imported into the exchange: every person verifies as generated.

use dx_client::ExchangeClient;
use dx_exchange::clock::ManualClock;
use dx_exchange::store::postgres::test_server_or_skip;
use dx_exchange::store::{AdminStore, Durability, ScratchStore};
use dx_exchange::wire::{PersonRef, QualificationStatus, VerifyRequest};
use dx_population::{self as population, RunOptions};
use dx_scenario::Scenario;
use std::sync::Arc;

fn quickstart() -> Scenario {
    Scenario::load(std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../scenarios/quickstart.toml"
    )))
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_generated_population_imports_and_verifies() {
    imports_and_verifies(None).await;
}

/// The same on PostgreSQL, where the persons are streamed with COPY.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_generated_population_imports_and_verifies_on_postgres() {
    if let Some(server) = test_server_or_skip("population import on PostgreSQL") {
        imports_and_verifies(Some(&server)).await;
    }
}

async fn imports_and_verifies(postgres: Option<&str>) {
    let s = quickstart();
    let pop = tempfile::tempdir().unwrap();
    let (manifest, _) = population::generate(&s, pop.path(), RunOptions::default()).unwrap();

    let data = tempfile::tempdir().unwrap();
    let store = match postgres {
        None => ScratchStore::sqlite(data.path()),
        Some(server) => ScratchStore::postgres(server).unwrap(),
    };
    let as_of = s.population.as_of.and_hms_opt(1, 0, 0).unwrap().and_utc();
    let exchange = dx_exchange::Exchange::open_at(
        &store.location,
        Durability::Normal,
        Arc::new(ManualClock::new(as_of)),
        dx_exchange::admission::Limits::default(),
    )
    .unwrap();
    let done = population::import::import_fresh(pop.path(), exchange.store(), false).unwrap();
    assert_eq!(done.persons, manifest.persons);
    assert_eq!(exchange.store().stats().unwrap().persons, manifest.persons);
    assert_eq!(
        exchange.seed_sample(100, 1).unwrap(),
        0,
        "no sample over an imported population"
    );

    // Read a few persons back from the Parquet files and verify them over HTTP.
    let file = std::fs::File::open(pop.path().join(&manifest.person_files[0])).unwrap();
    let batch = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
        .unwrap()
        .build()
        .unwrap()
        .next()
        .unwrap()
        .unwrap();
    let life = population::life::Life {
        seed: s.seed,
        as_of: s.population.as_of,
        care_providers: Default::default(),
    };
    let records = population::import::person_records(&batch, &life).unwrap();
    let admin_secret = exchange.admin_secret().to_owned();
    let facility = population::import::read_facilities(pop.path())
        .unwrap()
        .into_iter()
        .find(|f| f.kind == dx_exchange::wire::FacilityKind::Clinic)
        .unwrap();
    let running = exchange
        .spawn(tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap())
        .unwrap();
    let client = ExchangeClient::new(running.url());
    let admin = client.token("admin", &admin_secret).await.unwrap().token;
    let token = client
        .token_for(&admin, &format!("facility:{}", facility.code))
        .await
        .unwrap()
        .token;
    // The population's cards are the run's: the exchange trusts the run's card authority.
    let authority = dx_drive::requests::card_authority(s.seed);
    client
        .trust_card_authority(&admin, &authority)
        .await
        .unwrap();
    let card = |serial: &str, n: u64| {
        let proof = dx_drive::requests::present_card(s.seed, serial, &facility.code, n, as_of);
        PersonRef::presenting(serial, proof)
    };

    let insured = records
        .iter()
        .filter(|r| r.card_serial.is_some() && !r.qualifications.is_empty())
        .take(20);
    let mut verified = 0;
    for r in insured {
        let req = VerifyRequest {
            person: card(r.card_serial.as_deref().unwrap(), verified),
            service_date: None,
            consent: None,
        };
        let v = client.verify(&token, &req).await.unwrap();
        assert_eq!(
            (v.status, v.person_id.as_deref()),
            (QualificationStatus::Valid, Some(r.id.as_str())),
            "{r:?}"
        );
        assert_eq!(
            v.coverage.unwrap().insurer_number,
            r.qualifications[0].insurer_number
        );
        let by_number = VerifyRequest {
            person: PersonRef::by_insurance(&r.qualifications[0]),
            service_date: None,
            consent: None,
        };
        assert_eq!(
            client
                .verify(&token, &by_number)
                .await
                .unwrap()
                .person_id
                .as_deref(),
            Some(r.id.as_str())
        );
        verified += 1;
    }
    assert_eq!(verified, 20);

    // A household's dependant shares the insured person's insurer, 記号 and 番号 with its own
    // 枝番: each verifies by their own quadruple as themselves.
    let insured_of = |d: &dx_exchange::wire::PersonRecord| {
        let dq = d.qualifications.first()?;
        (dq.branch != "00" && !dq.insurer_number.starts_with("39")).then_some(())?;
        records.iter().find(|r| {
            r.qualifications.first().is_some_and(|q| {
                (&q.insurer_number, &q.symbol, &q.number, q.branch.as_str())
                    == (&dq.insurer_number, &dq.symbol, &dq.number, "00")
            })
        })
    };
    let (dependant, insured) = records
        .iter()
        .find_map(|d| Some((d, insured_of(d)?)))
        .expect("a dependant and their insured person among the first rows");
    let dq = &dependant.qualifications[0];
    assert_ne!(insured.id, dependant.id);
    for (who, q) in [(insured, &insured.qualifications[0]), (dependant, dq)] {
        let v = client
            .verify(
                &token,
                &VerifyRequest {
                    person: PersonRef::by_insurance(q),
                    service_date: None,
                    consent: None,
                },
            )
            .await
            .unwrap();
        assert_eq!(
            (v.status, v.person_id.as_deref()),
            (QualificationStatus::Valid, Some(who.id.as_str()))
        );
        assert_eq!(v.coverage.unwrap().branch, q.branch);
    }

    // A public assistance recipient has medical aid instead of insurance.
    let aid = records
        .iter()
        .find(|r| r.qualifications.is_empty() && r.card_serial.is_some())
        .expect("a recipient with a card");
    let v = client
        .verify(
            &token,
            &VerifyRequest {
                person: card(aid.card_serial.as_deref().unwrap(), 1_000),
                service_date: None,
                consent: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(v.status, QualificationStatus::Valid);
    assert!(v.coverage.is_none());
    assert_eq!(v.public_expenses[0].law_code, "12");
    running.stop().await.unwrap();
}

#[test]
fn an_incomplete_population_is_refused_and_stores_nothing() {
    let pop = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    let exchange = dx_exchange::Exchange::open(
        data.path(),
        Durability::Normal,
        Arc::new(dx_exchange::clock::SystemClock),
    )
    .unwrap();
    let err = population::import::import(pop.path(), &**exchange.store(), false).unwrap_err();
    assert!(
        err.to_string().contains("manifest.json is missing"),
        "{err}"
    );
    assert_eq!(exchange.store().stats().unwrap().persons, 0);
}

/// The persons folder reads as one table without options (here with polars; pyarrow and duckdb
/// read it the same way, README): the files' own typed columns and nothing inferred from the
/// folder names, every person once, each in the folder of their prefecture.
#[test]
fn the_persons_folder_reads_as_one_table_without_options() {
    use polars::prelude::*;
    let s = Scenario::national(0.0002);
    let pop = tempfile::tempdir().unwrap();
    let (manifest, _) = population::generate(&s, pop.path(), RunOptions::default()).unwrap();
    let dir = pop.path().join("persons");
    let persons = LazyFrame::scan_parquet(
        PlRefPath::from(dir.to_str().unwrap()),
        ScanArgsParquet::default(),
    )
    .unwrap()
    .collect()
    .unwrap();
    let schema = population::output::persons_schema();
    assert_eq!(
        persons.width(),
        schema.fields().len(),
        "{:?}",
        persons.schema()
    );
    assert_eq!(persons.height() as u64, manifest.persons);
    assert_eq!(
        persons.column("prefecture").unwrap().dtype(),
        &DataType::UInt8
    );
    let mut codes: Vec<u8> = persons
        .column("prefecture")
        .unwrap()
        .u8()
        .unwrap()
        .into_no_null_iter()
        .collect();
    codes.sort_unstable();
    codes.dedup();
    assert_eq!(codes, manifest.prefectures);
    let sexes: std::collections::BTreeSet<&str> = persons
        .column("sex")
        .unwrap()
        .str()
        .unwrap()
        .iter()
        .map(|v| v.expect("no sex is null"))
        .collect();
    assert_eq!(sexes, ["F", "M"].into());
    // Each file holds the persons of the prefecture its folder names.
    for rel in &manifest.person_files {
        let code: u8 = rel.split('/').nth(1).unwrap().parse().unwrap();
        let file = std::fs::File::open(pop.path().join(rel)).unwrap();
        let part = ParquetReader::new(file).finish().unwrap();
        assert!(
            part.column("prefecture")
                .unwrap()
                .u8()
                .unwrap()
                .into_no_null_iter()
                .all(|p| p == code),
            "{rel}"
        );
    }
}

/// Qualification histories imported: a number that lapsed at a 75th birthday verifies `expired`
/// with its last day, the late-elderly one `valid`; a person turning 75 shortly after the
/// population date verifies by the old number until the birthday and by the new one after it,
/// and the prescription registered under the old coverage stays in their medication history.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn coverage_changes_at_75_and_the_records_follow_the_person() {
    use dx_exchange::clock::{Clock, jst};
    use dx_exchange::wire::{
        ConsentFlags, PersonRecord, PrescriptionKind, QualificationRecord,
        RegisterPrescriptionRequest, endpoints as ep,
    };
    let s = quickstart();
    let pop = tempfile::tempdir().unwrap();
    let (manifest, _) = population::generate(&s, pop.path(), RunOptions::default()).unwrap();
    let records = imported_records(&s, pop.path(), &manifest);
    let as_of = s.population.as_of;
    let late = |q: &QualificationRecord| q.insurer_number.starts_with("39");
    // Turned 75 within the history's window: the earlier number lapsed the day before.
    let turned: &PersonRecord = records
        .iter()
        .find(|r| r.qualifications.len() == 2 && late(&r.qualifications[0]))
        .expect("a person who turned 75 in the last five years");
    // Turning 75 within 90 days (medication history reaches back 100), with a registered card.
    let turning: &PersonRecord = records
        .iter()
        .find(|r| {
            r.card_serial.is_some()
                && r.qualifications.len() == 2
                && late(&r.qualifications[1])
                && r.qualifications[1].valid_from <= as_of + chrono::TimeDelta::days(90)
        })
        .expect("a card holder turning 75 within 90 days");
    let (old, new) = (&turning.qualifications[0], &turning.qualifications[1]);
    assert_eq!(
        old.valid_to,
        Some(new.valid_from - chrono::TimeDelta::days(1))
    );

    let served = Served::start(pop.path(), as_of).await;
    let (clock, client, clinic) = (&served.clock, &served.client, served.clinic.clone());
    let tokens = || async {
        let clinic_token = served.token(&format!("facility:{clinic}")).await;
        (served.admin().await, clinic_token)
    };
    let (admin, token) = tokens().await;
    client
        .trust_card_authority(&admin, &dx_drive::requests::card_authority(s.seed))
        .await
        .unwrap();
    let hpki = dx_drive::requests::hpki(s.seed);
    client.trust_hpki_root(&admin, &hpki.root).await.unwrap();
    let by_number = |q: &QualificationRecord| VerifyRequest {
        person: PersonRef::by_insurance(q),
        service_date: None,
        consent: None,
    };
    let status = |v: &dx_exchange::wire::VerifyResponse| {
        (
            v.status,
            v.person_id.clone(),
            v.coverage.as_ref().and_then(|c| c.valid_to),
        )
    };

    // Turned 75: the old number has lapsed, with its last day (and names nobody: a lapsed
    // number identifies no one to the counter); the union's is in force.
    let v = client
        .verify(&token, &by_number(&turned.qualifications[1]))
        .await
        .unwrap();
    assert_eq!(
        status(&v),
        (
            QualificationStatus::Expired,
            None,
            turned.qualifications[1].valid_to
        )
    );
    let v = client
        .verify(&token, &by_number(&turned.qualifications[0]))
        .await
        .unwrap();
    assert_eq!(v.status, QualificationStatus::Valid);

    // Before the birthday: the old number is in force, the new one not yet.
    assert_eq!(
        client.verify(&token, &by_number(old)).await.unwrap().status,
        QualificationStatus::Valid
    );
    assert_eq!(
        client.verify(&token, &by_number(new)).await.unwrap().status,
        QualificationStatus::NotYetValid
    );
    let serial = turning.card_serial.clone().unwrap();
    let card = |n: u64| {
        let proof = dx_drive::requests::present_card(s.seed, &serial, &clinic, n, clock.now());
        PersonRef::presenting(serial.clone(), proof)
    };
    let consenting = |n: u64| VerifyRequest {
        person: card(n),
        service_date: None,
        consent: Some(ConsentFlags {
            medication: true,
            ..Default::default()
        }),
    };
    let v = client.verify(&token, &consenting(1)).await.unwrap();
    let coverage = v.coverage.unwrap();
    assert_eq!(coverage.number, old.number);
    // A prescription under the old coverage.
    let doctor = dx_drive::requests::practitioner(s.seed, &clinic, false);
    let draft = super::visit::statin_draft(
        "e2e-75",
        &clinic,
        &doctor.id,
        clock.now().with_timezone(&jst()),
        (turning.sex.fhir(), turning.birth_date),
        coverage,
    );
    let mut bundle = draft.to_bundle();
    dx_exchange::wire::hpki::sign_bundle(&mut bundle, &doctor, draft.issued_at.fixed_offset());
    let registered = client
        .register_prescription(
            &token,
            &RegisterPrescriptionRequest {
                kind: PrescriptionKind::Electronic,
                bundle,
            },
        )
        .await
        .unwrap();

    // The day after the birthday: the old number has lapsed, the union's is in force, the card
    // finds it, and the medication history still holds the prescription.
    let days = (new.valid_from - as_of).num_days() + 1;
    clock.advance(chrono::TimeDelta::days(days));
    let (_, token) = tokens().await;
    let v = client.verify(&token, &by_number(old)).await.unwrap();
    assert_eq!(
        status(&v),
        (QualificationStatus::Expired, None, old.valid_to)
    );
    assert_eq!(
        client.verify(&token, &by_number(new)).await.unwrap().status,
        QualificationStatus::Valid
    );
    let v = client.verify(&token, &consenting(2)).await.unwrap();
    assert_eq!(v.coverage.unwrap().insurer_number, new.insurer_number);
    let history = client
        .call::<ep::ReadMedications>(
            Some(&token),
            &[turning.id.as_str()],
            &dx_exchange::wire::MedicationsQuery { days: Some(100) },
            &(),
        )
        .await
        .unwrap();
    assert!(
        history
            .entries
            .iter()
            .any(|e| e.prescription_id.as_deref() == Some(registered.prescription_id.as_str())),
        "{history:?}"
    );
    served.running.stop().await.unwrap();
}

/// The records the import makes of the population `s` generated in `pop`.
fn imported_records(
    s: &Scenario,
    pop: &std::path::Path,
    manifest: &population::Manifest,
) -> Vec<dx_exchange::wire::PersonRecord> {
    let life = population::life::Life {
        seed: s.seed,
        as_of: s.population.as_of,
        care_providers: Default::default(),
    };
    let mut records = Vec::new();
    for rel in &manifest.person_files {
        let file = std::fs::File::open(pop.join(rel)).unwrap();
        for b in parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
            .unwrap()
            .build()
            .unwrap()
        {
            records.extend(population::import::person_records(&b.unwrap(), &life).unwrap());
        }
    }
    records
}

/// A population imported into an exchange on a manual clock at 01:00 UTC of `as_of`, served on
/// loopback: what the workload's requests meet.
struct Served {
    _data: tempfile::TempDir,
    clock: Arc<ManualClock>,
    running: dx_exchange::Running,
    client: ExchangeClient,
    http: reqwest::Client,
    admin_secret: String,
    clinic: String,
}

impl Served {
    async fn start(pop: &std::path::Path, as_of: chrono::NaiveDate) -> Self {
        let data = tempfile::tempdir().unwrap();
        let clock = Arc::new(ManualClock::new(
            as_of.and_hms_opt(1, 0, 0).unwrap().and_utc(),
        ));
        let exchange = dx_exchange::Exchange::open_at(
            &ScratchStore::sqlite(data.path()).location,
            Durability::Normal,
            clock.clone(),
            dx_exchange::admission::Limits::default(),
        )
        .unwrap();
        population::import::import_fresh(pop, exchange.store(), false).unwrap();
        let admin_secret = exchange.admin_secret().to_owned();
        let clinic = population::import::read_facilities(pop)
            .unwrap()
            .into_iter()
            .find(|f| f.kind == dx_exchange::wire::FacilityKind::Clinic)
            .unwrap()
            .code;
        let running = exchange
            .spawn(tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap())
            .unwrap();
        let client = ExchangeClient::new(running.url());
        Self {
            _data: data,
            clock,
            running,
            client,
            http: reqwest::Client::new(),
            admin_secret,
            clinic,
        }
    }

    async fn admin(&self) -> String {
        let admin = self.client.token("admin", &self.admin_secret).await;
        admin.unwrap().token
    }

    async fn token(&self, principal: &str) -> String {
        let admin = self.admin().await;
        self.client
            .token_for(&admin, principal)
            .await
            .unwrap()
            .token
    }

    /// The driver's request of workload event `e`, sent as the replay sends it: at its due
    /// instant on the exchange's clock (never moving the clock back). Status and body.
    async fn send(&self, e: &dx_model::event::Event, seed: u64) -> (u16, String) {
        use dx_exchange::clock::Clock;
        let ahead = e.at_ms - self.clock.now().timestamp_millis();
        self.clock
            .advance(chrono::TimeDelta::milliseconds(ahead.max(0)));
        let p = dx_drive::requests::prepare(e, None, self.clock.now(), seed).unwrap();
        let token = self.token(&p.principal).await;
        let r = self
            .http
            .request(
                reqwest::Method::from_bytes(p.method.as_str().as_bytes()).unwrap(),
                format!("{}{}", self.running.url(), p.path),
            )
            .bearer_auth(token)
            .header("content-type", "application/json")
            .body(p.body.unwrap_or_default())
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    }

    /// Verification by an insurance number at the clinic.
    async fn verify(
        &self,
        q: &dx_exchange::wire::QualificationRecord,
    ) -> dx_exchange::wire::VerifyResponse {
        let token = self.token(&format!("facility:{}", self.clinic)).await;
        self.client
            .verify(
                &token,
                &VerifyRequest {
                    person: PersonRef::by_insurance(q),
                    service_date: None,
                    consent: None,
                },
            )
            .await
            .unwrap()
    }
}

/// The workload's municipal registrations through the driver's requests to the exchange: a
/// child's medical subsidy renewed and an intractable-disease certificate renewed — the counter's
/// verification returns the new one from its first day, the old one until the day before — a
/// newborn's subsidy registered after the birth, and a pregnancy notification.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn municipal_registrations_reach_the_counter() {
    use dx_exchange::clock::Clock;
    use dx_exchange::wire::{PersonRecord, PublicExpenseRecord, endpoints as ep};
    use dx_model::event::{Event, Flow, Payload};
    let s = quickstart();
    let pop = tempfile::tempdir().unwrap();
    let (manifest, _) = population::generate(&s, pop.path(), RunOptions::default()).unwrap();
    let as_of = s.population.as_of;
    let records = imported_records(&s, pop.path(), &manifest);
    let holder = |law: &str| {
        records
            .iter()
            .find(|r| {
                r.qualifications.len() == 1 && r.public_expenses.iter().any(|e| e.law_code == law)
            })
            .unwrap_or_else(|| panic!("a holder of law {law}"))
    };
    let (child, patient) = (holder("88"), holder("54"));
    // A child born within the last days before the population's date: its subsidy is not yet
    // registered, so the store holds none.
    let newborn = records
        .iter()
        .find(|r| r.birth_date > as_of - chrono::TimeDelta::days(7) && r.public_expenses.is_empty())
        .expect("a child born in the week before the population's date");
    let woman = records
        .iter()
        .find(|r| {
            r.sex == dx_exchange::wire::Sex::Female
                && r.pregnancy.is_none()
                && (as_of - r.birth_date).num_days() / 365 == 31
        })
        .unwrap();

    let served = Served::start(pop.path(), as_of).await;
    let at = served.clock.now().timestamp_millis();
    // A workload event of the person's municipality, due now.
    let event = |payload: Payload, who: &PersonRecord| Event {
        id: 1,
        at_ms: at,
        flow: Flow::Entitlement,
        facility: who.municipality.clone(),
        person_id: who.id.clone(),
        payload,
        ..Event::default()
    };
    let send = |payload: Payload, who: &PersonRecord| {
        let e = event(payload, who);
        let served = &served;
        async move { served.send(&e, s.seed).await }
    };
    let entitlements_of = |who: &PersonRecord| {
        let (served, q) = (&served, who.qualifications[0].clone());
        async move { served.verify(&q).await.public_expenses }
    };
    let renewal = |law: &str| Payload::EntitlementRegister {
        law: law.into(),
        from_days: 10,
    };
    let before = entitlements_of(child).await;
    assert_eq!(before.len(), 1, "{before:?}");
    for who in [child, patient] {
        let law = who.public_expenses[0].law_code.clone();
        let (status, body) = send(renewal(&law), who).await;
        assert_eq!(status, 201, "{body}");
    }
    // The same renewal again: refused, nothing stored.
    let (status, body) = send(renewal("88"), child).await;
    assert_eq!(status, 409, "{body}");
    let (status, body) = send(
        Payload::EntitlementRegister {
            law: "88".into(),
            from_days: -3,
        },
        newborn,
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = send(
        Payload::PregnancyRegister {
            confirmed_days_ago: 20,
            term_days: population::life::CONFIRMED_TO_DUE_DAYS as u16,
        },
        woman,
    )
    .await;
    assert_eq!(status, 201, "{body}");

    // Until the renewal's first day the counter sees the old certificate; from then the new.
    let first_day = as_of + chrono::TimeDelta::days(10);
    let last_old = |v: &[PublicExpenseRecord]| v.iter().map(|e| e.valid_from).max();
    assert_eq!(
        last_old(&entitlements_of(child).await),
        Some(before[0].valid_from)
    );
    served.clock.advance(chrono::TimeDelta::days(10));
    for who in [child, patient] {
        let now = entitlements_of(who).await;
        assert_eq!(now.len(), 1, "{now:?}");
        assert_eq!(now[0].valid_from, first_day);
        assert_eq!(now[0].law_code, who.public_expenses[0].law_code);
    }
    let born = entitlements_of(newborn).await;
    assert_eq!(born.len(), 1, "{born:?}");
    assert_eq!(born[0].law_code, "88");
    let maternal = served
        .client
        .call::<ep::ReadMaternal>(
            Some(&served.token(&format!("person:{}", woman.id)).await),
            &[&woman.id],
            &(),
            &(),
        )
        .await
        .unwrap();
    assert!(!maternal.records.is_empty(), "{maternal:?}");
    served.running.stop().await.unwrap();
}

/// A change of employer within the year ahead, as the workload's insurers report it through the
/// driver's requests: before the reports the person's old number is in force and the new one
/// unknown; after the new insurer's report the new number finds the same person; after the old
/// insurer's, the old number answers `expired` with its last day, the day before the change.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn insurers_report_a_change_of_employer_and_the_counter_follows() {
    use dx_exchange::wire::{QualificationRecord, QualificationStatus};
    use dx_workload::flows::{Emitter, Flow as _, GenContext};
    let mut s = quickstart();
    let pop = tempfile::tempdir().unwrap();
    let (manifest, _) = population::generate(&s, pop.path(), RunOptions::default()).unwrap();
    let as_of = s.population.as_of;
    // A person whose employer changes within 60 days, with an insurance number today.
    let mut rows = Vec::new();
    for rel in &manifest.person_files {
        for b in dx_workload::reader(&pop.path().join(rel)).unwrap() {
            rows.extend(dx_workload::person_rows(&b.unwrap()).unwrap());
        }
    }
    let horizon = dx_workload::flows::jst_ms(
        (as_of + chrono::TimeDelta::days(60))
            .and_hms_opt(0, 0, 0)
            .unwrap(),
    );
    let changing = rows
        .iter()
        .filter(|p| p.next_reported.is_some_and(|from| from < horizon))
        .count();
    let person = rows
        .iter()
        .find(|p| p.next_reported.is_some_and(|from| from < horizon))
        .expect("a change of employer within 60 days");
    assert!(changing > 10, "{changing}");
    let old = person.insurance.clone().unwrap();
    let (new, switch) = person.next_insurance.clone().unwrap();
    // The workload's reports over a period holding them.
    s.period.start = as_of.and_hms_opt(0, 0, 0).unwrap();
    s.period.hours = dx_scenario::values::Hours::new(90.0 * 24.0).unwrap();
    let ctx = GenContext::new(&s, Default::default());
    let mut out = Emitter::new(person, &ctx);
    dx_workload::flows::insurer::InsurerFlow.emit(person, &ctx, &mut out);
    let [acquisition, loss] = &out.events[..] else {
        panic!("two reports: {:?}", out.events)
    };
    assert_eq!(acquisition.at_ms, switch);

    let served = Served::start(pop.path(), as_of).await;
    let quad = |q: &[String; 4]| QualificationRecord {
        insurer_number: q[0].clone(),
        symbol: q[1].clone(),
        number: q[2].clone(),
        branch: q[3].clone(),
        valid_from: as_of,
        valid_to: None,
    };
    let verify = |q: QualificationRecord| {
        let served = &served;
        async move { served.verify(&q).await }
    };
    let v = verify(quad(&old)).await;
    assert_eq!(v.status, QualificationStatus::Valid);
    assert_eq!(v.person_id.as_deref(), Some(person.id.as_str()));
    assert_eq!(
        verify(quad(&new)).await.status,
        QualificationStatus::NotFound
    );

    let (status, body) = served.send(acquisition, s.seed).await;
    assert_eq!(status, 201, "{body}");
    let v = verify(quad(&new)).await;
    assert_eq!(
        (v.status, v.person_id.as_deref()),
        (QualificationStatus::Valid, Some(person.id.as_str())),
        "{v:?}"
    );
    let (status, body) = served.send(loss, s.seed).await;
    assert_eq!(status, 200, "{body}");
    let v = verify(quad(&old)).await;
    let first = GenContext::date_of(person.next_reported.unwrap());
    assert_eq!(
        (v.status, v.coverage.and_then(|c| c.valid_to)),
        (
            QualificationStatus::Expired,
            Some(first - chrono::TimeDelta::days(1))
        )
    );
    served.running.stop().await.unwrap();
}
