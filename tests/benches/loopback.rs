//! Loopback throughput of the reference exchange: eligibility verify by insurance number and by
//! card (with the card's signature), prescription register and the EHR clinical-summary read of
//! a person with 5 years of history, next to a trivial `/healthz` on the same server in the same
//! run. Absolute rates drift on a shared 2-core machine; the ratios to `/healthz` are the figures
//! to quote. Beside them, in-process on one core: what the exchange's check of a card proof
//! costs (its share of a card verification's machine time at the measured rate) and what the
//! driver's signing of one costs.
//!
//! `cargo bench -p dx-e2e --bench loopback` (or `just bench`). Settings from the environment:
//! `DXSIM_BENCH_SECS` (per endpoint, default 5), `DXSIM_BENCH_WORKERS` (concurrent clients,
//! default 16), `DXSIM_BENCH_ONLY` (a row's name: that row alone besides `/healthz`, for a
//! profiler). Every loop stops at the time limit or at 200,000 requests, whichever comes first.
//! Results go to stdout and to `<target>/dxsim-bench/loopback.{json,html}`.
//!
//! Verify, register and the clinical-summary read run on the SQLite store and, in the same run,
//! on PostgreSQL with one node and with two nodes on one database (the clients spread over the
//! nodes; see `common/postgres.rs` for the server, durable like SQLite's `full`): each endpoint
//! on the three back to back, and each PostgreSQL row's rate is also given as a share of the
//! SQLite row just before it.

#[path = "common/postgres.rs"]
mod postgres_server;

use chrono::{DateTime, Utc};
use dx_exchange::clock::{Clock, SystemClock, jst};
use dx_exchange::codes::{FacilityTable, facility_code};
use dx_exchange::refdata::{DrugMaster, sample};
use dx_exchange::store::Durability;
use dx_exchange::wire::fhir::{DraftCoverage, DraftItem, PrescriptionDraft, YJ_SYSTEM};
use dx_exchange::wire::hpki::{Practitioner, sign_bundle};
use dx_exchange::wire::{PersonRecord, Role};
use dx_reports::html::{Page, Table};
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Most requests one endpoint's run may send.
const MAX_REQUESTS: u64 = 200_000;
const PERSONS: u64 = 2_000;

/// Where a setup's exchange keeps its store.
#[derive(Clone, Copy)]
enum Backend<'a> {
    Sqlite,
    /// `nodes` exchanges on one scratch database of the server.
    Postgres {
        server: &'a str,
        nodes: usize,
    },
}

impl Backend<'_> {
    fn label(&self) -> String {
        match self {
            Backend::Sqlite => "SQLite".into(),
            Backend::Postgres { nodes: 1, .. } => "PostgreSQL".into(),
            Backend::Postgres { nodes, .. } => format!("PostgreSQL ×{nodes}"),
        }
    }
}

struct Setup {
    url: String,
    /// Every node's URL (one but on PostgreSQL with several nodes): worker i sends to node i mod N.
    urls: Vec<String>,
    store: String,
    http: reqwest::Client,
    clinic_token: String,
    admin_token: String,
    persons: Vec<PersonRecord>,
    /// The clinic's doctor: a certificate of the sample's HPKI hierarchy, which the sample
    /// exchange trusts.
    doctor: Practitioner,
    /// The person with 5 years of EHR history, whose clinical summary the clinic may read.
    history_person: String,
    /// Card proofs for verification by card, made before the run (each is used once).
    card_proofs: Vec<Value>,
    _running: Vec<dx_exchange::Running>,
    _store: dx_exchange::store::ScratchStore,
    _dir: tempfile::TempDir,
}

struct Outcome {
    name: String,
    store: String,
    durability: &'static str,
    ok: u64,
    errors: u64,
    seconds: f64,
    latencies_us: Vec<u64>,
}

impl Outcome {
    fn rate(&self) -> f64 {
        self.ok as f64 / self.seconds
    }
    /// Requests per second relative to `/healthz`; not meaningful for the bulk import.
    fn ratio(&self, healthz_rate: f64) -> Option<f64> {
        (!self.name.contains("/v1/admin/persons")).then(|| self.rate() / healthz_rate)
    }
    fn percentile_ms(&self, p: f64) -> f64 {
        if self.latencies_us.is_empty() {
            return 0.0;
        }
        let i = ((self.latencies_us.len() as f64 - 1.0) * p).round() as usize;
        self.latencies_us[i] as f64 / 1000.0
    }
}

async fn setup(durability: Durability, backend: Backend<'_>) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let (store, nodes) = match backend {
        Backend::Sqlite => (dx_exchange::store::ScratchStore::sqlite(dir.path()), 1),
        Backend::Postgres { server, nodes } => (
            dx_exchange::store::ScratchStore::postgres(server).unwrap(),
            nodes,
        ),
    };
    let open = || {
        dx_exchange::Exchange::open_at(
            &store.location,
            durability,
            Arc::new(SystemClock),
            dx_exchange::admission::Limits::default(),
        )
        .unwrap()
    };
    let exchange = open();
    exchange.seed_sample(PERSONS, 11).unwrap();
    let admin_secret = exchange.admin_secret().to_owned();
    let mut running = vec![
        exchange
            .spawn(tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap())
            .unwrap(),
    ];
    for _ in 1..nodes {
        running.push(
            open()
                .spawn(tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap())
                .unwrap(),
        );
    }
    let url = running[0].url();
    let urls: Vec<String> = running.iter().map(|r| r.url()).collect();
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .build()
        .unwrap();
    // Setup goes through the typed client; the measured loops below use the raw client.
    let client = dx_client::ExchangeClient::new(url.clone());
    let admin_token = client.token("admin", &admin_secret).await.unwrap().token;
    let clinic = format!(
        "facility:{}",
        facility_code(13, FacilityTable::Medical, 1, 1001)
    );
    let token = client.token_for(&admin_token, &clinic).await.unwrap();
    assert_eq!(token.role, Role::Clinic);
    let clinic_token = token.token;
    let doctor = sample::hpki(11).facility_practitioner(&clinic[9..], false);
    let today = SystemClock.today_jst();
    let persons: Vec<PersonRecord> = (0..PERSONS).map(|i| sample::person(11, i, today)).collect();
    let history_person = ehr_history(&http, &url, &clinic_token, &clinic[9..], &persons).await;
    // Only the fully durable server is asked to verify by card.
    let only = std::env::var("DXSIM_BENCH_ONLY").unwrap_or_default();
    let card_proofs = if durability == Durability::Full
        && matches!(backend, Backend::Sqlite)
        && (only.is_empty() || only == "POST /v1/eligibility/verify (card)")
    {
        card_proofs(&persons, &clinic[9..], CARD_PROOFS)
    } else {
        Vec::new()
    };
    Setup {
        url,
        urls,
        store: backend.label(),
        http,
        clinic_token,
        admin_token,
        persons,
        doctor,
        history_person,
        card_proofs,
        _running: running,
        _store: store,
        _dir: dir,
    }
}

/// Card verifications of one run at most: their proofs are signed before it, on all cores.
const CARD_PROOFS: usize = 100_000;

/// `n` verification bodies presenting the cards of `persons` at `facility`, signed now, as the
/// driver signs them.
fn card_proofs(persons: &[PersonRecord], facility: &str, n: usize) -> Vec<Value> {
    let cards: Vec<&str> = persons
        .iter()
        .filter_map(|p| p.card_serial.as_deref())
        .collect();
    let now = Utc::now();
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    std::thread::scope(|scope| {
        let parts: Vec<_> = (0..threads)
            .map(|t| {
                let cards = &cards;
                scope.spawn(move || {
                    (t..n)
                        .step_by(threads)
                        .map(|i| {
                            let serial = cards[i % cards.len()];
                            let proof = dx_drive::requests::present_card(
                                11, serial, facility, i as u64, now,
                            );
                            json!({"person": {"card_serial": serial, "card_proof": proof}})
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        parts.into_iter().flat_map(|h| h.join().unwrap()).collect()
    })
}

/// Microseconds of one core per card proof: the exchange's check (parse, the certificate's and
/// the card's Ed25519 signatures), and the driver's signing of one.
fn card_costs(facility: &str) -> (f64, f64) {
    use dx_exchange::wire::card::CardProof;
    let today = SystemClock.today_jst();
    let now = Utc::now();
    let n = 2_000;
    let t0 = Instant::now();
    let proofs: Vec<String> = (0..n)
        .map(|i| dx_drive::requests::present_card(11, &sample::card_serial(i), facility, i, now))
        .collect();
    let sign_us = t0.elapsed().as_secs_f64() * 1e6 / n as f64;
    let authority = dx_exchange::refdata::sample::card_authority(11)
        .key
        .verifying_key();
    let t0 = Instant::now();
    for text in &proofs {
        let p = CardProof::parse(text).unwrap();
        p.verify_certificate(&authority).unwrap();
        assert!(p.certificate.valid_on(today));
        p.verify_authentication().unwrap();
    }
    let check_us = t0.elapsed().as_secs_f64() * 1e6 / n as f64;
    (check_us, sign_us)
}

/// Monthly visits over 5 years submit 8 items each (diagnoses, a lab panel, an allergy once)
/// for one person, who then consents to the clinic reading them. Returns the person's id.
async fn ehr_history(
    http: &reqwest::Client,
    url: &str,
    clinic_token: &str,
    facility: &str,
    persons: &[PersonRecord],
) -> String {
    use dx_exchange::refdata::clinical::{LAB_TESTS, Panel};
    use dx_exchange::wire::clins::{EhrPatient, Fact, ItemDraft, ItemsDraft};
    let p = persons
        .iter()
        .find(|p| p.card_serial.is_some() && p.qualifications.len() == 1)
        .expect("a sample person with a card");
    let q = &p.qualifications[0];
    let patient = EhrPatient {
        insurer_number: q.insurer_number.clone(),
        symbol: q.symbol.clone(),
        number: q.number.clone(),
        branch: q.branch.clone(),
        gender: "male",
        birth_date: p.birth_date,
    };
    let today = SystemClock.today_jst();
    let labs: Vec<_> = LAB_TESTS
        .iter()
        .filter(|t| t.panel == Panel::Lifestyle)
        .collect();
    for month in 0..60u32 {
        let on = today
            .checked_sub_months(chrono::Months::new(month))
            .unwrap();
        let mut items = vec![
            ItemDraft::new(
                Fact::Diagnosis {
                    code: "E11.9".into(),
                },
                on,
            ),
            ItemDraft::new(Fact::Diagnosis { code: "I10".into() }, on),
        ];
        items.extend(labs.iter().take(6).map(|t| {
            ItemDraft::new(
                Fact::LabResult {
                    code: t.code.into(),
                    value: (t.low + t.high) / 2.0,
                },
                on,
            )
        }));
        let draft = ItemsDraft {
            submission_id: format!("bench-history-{month}"),
            facility_code: facility_code(13, FacilityTable::Medical, 1, 1001),
            facility_name: "Bench clinic".into(),
            at: Utc::now().with_timezone(&jst()),
            patient: patient.clone(),
            items,
        };
        // As JP-CLINS sends a visit: one Bundle per resource category.
        for part in draft.by_category() {
            let r = http
                .post(format!("{url}/v1/ehr/items"))
                .bearer_auth(clinic_token)
                .json(&part.to_bundle())
                .send()
                .await
                .unwrap();
            assert!(r.status().is_success(), "{}", r.text().await.unwrap());
        }
    }
    let r = http
        .post(format!("{url}/v1/eligibility/verify"))
        .bearer_auth(clinic_token)
        .json(&json!({"person": {"card_serial": p.card_serial, "card_proof": dx_drive::requests::present_card(11, p.card_serial.as_deref().unwrap(), facility, 0, Utc::now())}, "consent": {"ehr": true}}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());
    p.id.clone()
}

fn register_body(s: &Setup, n: u64, now: DateTime<Utc>) -> Value {
    let p = &s.persons[(n % PERSONS) as usize];
    let q = p
        .qualifications
        .iter()
        .find(|q| q.valid_to.is_none())
        .unwrap();
    let drug = &DrugMaster::get().all()[(n % 150) as usize];
    let draft = PrescriptionDraft {
        document_id: format!("bench-{n}"),
        facility_code: facility_code(13, FacilityTable::Medical, 1, 1001),
        facility_name: "Bench clinic".into(),
        practitioner_id: s.doctor.id.clone(),
        issued_at: now.with_timezone(&jst()),
        patient_gender: "male",
        patient_birth_date: p.birth_date,
        coverage: DraftCoverage {
            insurer_number: q.insurer_number.clone(),
            symbol: q.symbol.clone(),
            number: q.number.clone(),
            branch: q.branch.clone(),
        },
        items: vec![DraftItem {
            code: drug.yj.clone(),
            code_system: YJ_SYSTEM,
            display: drug.name.clone(),
            days: 14,
            quantity: 14,
            unit: drug.unit.into(),
            as_needed: drug.as_needed,
        }],
        uses: 1,
    };
    let mut bundle = draft.to_bundle();
    sign_bundle(&mut bundle, &s.doctor, draft.issued_at.fixed_offset());
    json!({"kind": "electronic", "bundle": bundle})
}

#[derive(Clone, Copy)]
enum Endpoint {
    Healthz,
    Verify,
    VerifyCard,
    Register,
    Summary,
}

async fn run(
    s: Arc<Setup>,
    endpoint: Endpoint,
    name: &str,
    durability: &'static str,
    secs: u64,
    workers: u64,
) -> Outcome {
    // `DXSIM_BENCH_ONLY=<a row's name>` runs that row alone (and /healthz), for a profiler.
    let only = std::env::var("DXSIM_BENCH_ONLY").unwrap_or_default();
    let secs = if only.is_empty() || name == only || matches!(endpoint, Endpoint::Healthz) {
        secs
    } else {
        0
    };
    if secs > 0 {
        eprintln!("{name} ({}, {durability}): {secs} s", s.store);
    }
    let counter = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(secs);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..workers {
        let (s, counter) = (s.clone(), counter.clone());
        tasks.push(tokio::spawn(async move {
            let url = &s.urls[w as usize % s.urls.len()];
            let (mut ok, mut errors, mut lat) = (0u64, 0u64, Vec::new());
            loop {
                let n = counter.fetch_add(1, Ordering::Relaxed);
                let cap = match endpoint {
                    Endpoint::VerifyCard => s.card_proofs.len() as u64,
                    _ => MAX_REQUESTS,
                };
                if n >= cap || Instant::now() >= deadline {
                    break;
                }
                let req = match endpoint {
                    Endpoint::Healthz => s.http.get(format!("{}/healthz", url)),
                    Endpoint::Verify => {
                        let p = &s.persons[(n % PERSONS) as usize];
                        let q = p.qualifications.iter().find(|q| q.valid_to.is_none()).unwrap();
                        let body = json!({"person": {"insurer_number": q.insurer_number, "symbol": q.symbol, "number": q.number, "branch": q.branch}});
                        s.http.post(format!("{}/v1/eligibility/verify", url)).bearer_auth(&s.clinic_token).json(&body)
                    }
                    Endpoint::VerifyCard => s
                        .http
                        .post(format!("{}/v1/eligibility/verify", url))
                        .bearer_auth(&s.clinic_token)
                        .json(&s.card_proofs[n as usize]),
                    Endpoint::Register => {
                        let body = register_body(&s, n, Utc::now());
                        s.http.post(format!("{}/v1/prescriptions", url)).bearer_auth(&s.clinic_token).json(&body)
                    }
                    Endpoint::Summary => s
                        .http
                        .get(format!("{}/v1/persons/{}/clinical-summary?count=50", url, s.history_person))
                        .bearer_auth(&s.clinic_token),
                };
                let t0 = Instant::now();
                match req.send().await {
                    Ok(r) if r.status().is_success() => {
                        let _ = r.bytes().await;
                        ok += 1;
                    }
                    _ => errors += 1,
                }
                lat.push(t0.elapsed().as_micros() as u64);
            }
            (ok, errors, lat)
        }));
    }
    let (mut ok, mut errors, mut latencies_us) = (0, 0, Vec::new());
    for t in tasks {
        let (o, e, l) = t.await.unwrap();
        ok += o;
        errors += e;
        latencies_us.extend(l);
    }
    latencies_us.sort_unstable();
    Outcome {
        name: name.into(),
        store: s.store.clone(),
        durability,
        ok,
        errors,
        seconds: started.elapsed().as_secs_f64(),
        latencies_us,
    }
}

/// Persons enrolled by one bulk import call in the import measurement.
const IMPORT_PERSONS: u64 = 50_000;

/// Enrols `IMPORT_PERSONS` new persons in one NDJSON call; the rate is persons per second.
async fn import(s: &Setup, durability: &'static str) -> Outcome {
    let today = SystemClock.today_jst();
    let body: String = (0..IMPORT_PERSONS)
        .map(|i| {
            let mut p = sample::person(12, 1_000_000 + i, today);
            p.id = format!("IMP{i:09}");
            p.card_serial = None;
            for (k, q) in p.qualifications.iter_mut().enumerate() {
                q.number = format!("9{i:08}{k}");
            }
            serde_json::to_string(&p).unwrap() + "\n"
        })
        .collect();
    let t0 = Instant::now();
    let r = s
        .http
        .post(format!("{}/v1/admin/persons", s.url))
        .bearer_auth(&s.admin_token)
        .body(body)
        .send()
        .await
        .unwrap();
    let ok = r.status().is_success();
    let seconds = t0.elapsed().as_secs_f64();
    assert!(ok, "import failed: {}", r.text().await.unwrap());
    Outcome {
        name: format!("POST /v1/admin/persons ({IMPORT_PERSONS} persons, NDJSON)"),
        store: s.store.clone(),
        durability,
        ok: IMPORT_PERSONS,
        errors: 0,
        seconds,
        latencies_us: vec![(seconds * 1e6) as u64],
    }
}

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let secs = env_u64("DXSIM_BENCH_SECS", 5);
    let workers = env_u64("DXSIM_BENCH_WORKERS", 16);
    let pg_server = postgres_server::BenchServer::start();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let outcomes = rt.block_on(async {
        let full = Arc::new(setup(Durability::Full, Backend::Sqlite).await);
        let normal = Arc::new(setup(Durability::Normal, Backend::Sqlite).await);
        // PostgreSQL with one node and with two, set up before any row is measured, so that each
        // endpoint's rows on the three stores run back to back (the machine's speed drifts).
        let mut pg = Vec::new();
        if let Some(server) = &pg_server {
            for nodes in [1, 2] {
                let backend = Backend::Postgres {
                    server: &server.url,
                    nodes,
                };
                pg.push(Arc::new(setup(Durability::Full, backend).await));
            }
        }
        let mut outcomes = vec![
            run(
                full.clone(),
                Endpoint::Healthz,
                "GET /healthz",
                "full",
                secs,
                workers,
            )
            .await,
        ];
        for (endpoint, name) in [
            (Endpoint::Verify, "POST /v1/eligibility/verify"),
            (Endpoint::Register, "POST /v1/prescriptions"),
            (
                Endpoint::Summary,
                "GET clinical-summary (480 items, 5 y; page of 50)",
            ),
        ] {
            for s in std::iter::once(&full).chain(&pg) {
                outcomes.push(run(s.clone(), endpoint, name, "full", secs, workers).await);
            }
        }
        outcomes.push(
            run(
                full.clone(),
                Endpoint::VerifyCard,
                "POST /v1/eligibility/verify (card)",
                "full",
                secs,
                workers,
            )
            .await,
        );
        outcomes.push(
            run(
                normal.clone(),
                Endpoint::Register,
                "POST /v1/prescriptions",
                "normal",
                secs,
                workers,
            )
            .await,
        );
        outcomes.push(import(&full, "full").await);
        outcomes
    });
    let base = outcomes[0].rate();
    let (check_us, sign_us) = card_costs(&facility_code(13, FacilityTable::Medical, 1, 1001));
    let card = outcomes
        .iter()
        .find(|o| o.name.ends_with("(card)"))
        .expect("the card row");
    // The machine time one card verification takes at the measured rate (every core, client's
    // share included), and the part of it the exchange spends checking the card's proof.
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get()) as f64;
    let machine_us = cores * 1e6 / card.rate();
    let check_share = check_us / machine_us;
    // For the import row, "req/s" is persons enrolled per second.
    let columns = [
        "endpoint",
        "store",
        "durability",
        "ok",
        "errors",
        "req/s",
        "p50 ms",
        "p99 ms",
        "ratio to /healthz",
    ];
    let rows: Vec<Vec<String>> = outcomes
        .iter()
        .map(|o| {
            vec![
                o.name.clone(),
                o.store.clone(),
                o.durability.into(),
                o.ok.to_string(),
                o.errors.to_string(),
                format!("{:.0}", o.rate()),
                format!("{:.2}", o.percentile_ms(0.5)),
                format!("{:.2}", o.percentile_ms(0.99)),
                o.ratio(base).map_or("—".into(), |r| format!("{r:.3}")),
            ]
        })
        .collect();
    println!(
        "\ndxsim loopback benchmark — {workers} concurrent clients, {secs} s per endpoint, {}",
        Utc::now().format("%Y-%m-%d %H:%M UTC")
    );
    println!(
        "{:<30} {:>14} {:>10} {:>8} {:>7} {:>9} {:>8} {:>8} {:>10}",
        columns[0],
        columns[1],
        columns[2],
        columns[3],
        columns[4],
        columns[5],
        columns[6],
        columns[7],
        "ratio"
    );
    for r in &rows {
        println!(
            "{:<30} {:>14} {:>10} {:>8} {:>7} {:>9} {:>8} {:>8} {:>10}",
            r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8]
        );
    }
    // Each endpoint's PostgreSQL rows against its SQLite row, measured just before them.
    let backends_note: Vec<String> = outcomes
        .iter()
        .filter(|o| o.store != "SQLite" && o.seconds > 0.0 && o.ok > 0)
        .filter_map(|o| {
            let sqlite = outcomes.iter().find(|b| {
                b.store == "SQLite" && b.name == o.name && b.durability == o.durability
            })?;
            Some(format!(
                "{} on {} ÷ SQLite: {:.2}",
                o.name,
                o.store,
                o.rate() / sqlite.rate()
            ))
        })
        .collect();
    for line in &backends_note {
        println!("{line}");
    }
    let card_note = format!(
        "card proofs, one core: the exchange checks one in {check_us:.1} µs ({:.1}% of the {machine_us:.0} µs of machine time a card verification takes at the measured rate); the driver signs one in {sign_us:.1} µs",
        check_share * 100.0
    );
    println!("{card_note}");
    let target = std::env::var("CARGO_TARGET_DIR")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/../target").into());
    let out = std::path::Path::new(&target).join("dxsim-bench");
    std::fs::create_dir_all(&out).unwrap();
    let mut json: Vec<Value> = outcomes
        .iter()
        .map(|o| json!({"endpoint": o.name, "store": o.store, "durability": o.durability, "ok": o.ok, "errors": o.errors, "seconds": o.seconds,
            "rate_per_s": o.rate(), "p50_ms": o.percentile_ms(0.5), "p99_ms": o.percentile_ms(0.99), "ratio_to_healthz": o.ratio(base)}))
        .collect();
    json.push(
        json!({"card_proof": {"check_us_one_core": check_us, "sign_us_one_core": sign_us,
        "card_verify_machine_us": machine_us, "check_share_of_card_verify": check_share}}),
    );
    std::fs::write(
        out.join("loopback.json"),
        serde_json::to_string_pretty(&json).unwrap(),
    )
    .unwrap();
    let page = Page::new("dxsim loopback benchmark")
        .paragraph(format!("{workers} concurrent clients on the same machine as the server, {secs} s per endpoint. Client and server share the CPU, so the ratios to /healthz are the figures to compare across machines."))
        .table(Table { caption: "Throughput and latency".into(), columns: columns.iter().map(|c| c.to_string()).collect(), rows })
        .paragraph(backends_note.join("; "))
        .paragraph(card_note);
    std::fs::write(out.join("loopback.html"), page.render()).unwrap();
    println!("written: {}", out.join("loopback.{json,html}").display());
}
