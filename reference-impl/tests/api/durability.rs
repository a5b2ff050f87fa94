//! An acknowledged write survives `kill -9` of the server process.

use crate::harness::test_store;
use dx_exchange::store::Durability;
use dx_exchange::store::ScratchStore;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn spawn(data: &std::path::Path, store: &ScratchStore, port: u16) -> Child {
    Command::new(env!("CARGO_BIN_EXE_dx-exchange"))
        .args(["--addr", &format!("127.0.0.1:{port}"), "--data"])
        .arg(data)
        .args(store.flags())
        .args(["--sample-persons", "50", "--durability", "full"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn dx-exchange")
}

/// The exchange started on a free port of loopback, once it answers; and its base URL.
async fn start(
    data: &std::path::Path,
    store: &ScratchStore,
    http: &reqwest::Client,
) -> (Child, String) {
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let child = spawn(data, store, port);
    wait_ready(http, &base).await;
    (child, base)
}

async fn wait_ready(http: &reqwest::Client, base: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if http
            .get(format!("{base}/healthz"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("dx-exchange did not become ready at {base}");
}

async fn token(
    http: &reqwest::Client,
    base: &str,
    data: &std::path::Path,
    principal: &str,
) -> String {
    let admin_secret = std::fs::read_to_string(data.join("admin.key"))
        .unwrap()
        .trim()
        .to_owned();
    let post = |path: &str, body: Value, bearer: Option<String>| {
        let mut r = http.post(format!("{base}{path}")).json(&body);
        if let Some(b) = bearer {
            r = r.bearer_auth(b);
        }
        r.send()
    };
    let admin: Value = post(
        "/v1/auth/token",
        json!({"principal": "admin", "secret": admin_secret}),
        None,
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let admin = admin["token"].as_str().unwrap().to_owned();
    let cred: Value = post(
        "/v1/admin/credentials",
        json!({"principal": principal}),
        Some(admin),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let t: Value = post(
        "/v1/auth/token",
        json!({"principal": principal, "secret": cred["secret"]}),
        None,
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    t["token"].as_str().unwrap().to_owned()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn consent_written_before_kill_9_is_there_after_restart() {
    let dir = tempfile::tempdir().unwrap();
    let store = test_store(dir.path());
    let http = reqwest::Client::new();
    let (mut child, base) = start(dir.path(), &store, &http).await;

    let clinic =
        dx_exchange::codes::facility_code(13, dx_exchange::codes::FacilityTable::Medical, 1, 1001);
    let t = token(&http, &base, dir.path(), &format!("facility:{clinic}")).await;
    // Verbal consent follows a verification at the same facility.
    let visit: Value = http
        .post(format!("{base}/v1/eligibility/verify"))
        .bearer_auth(&t)
        .json(&verify_bodies()[0])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let person_id = visit["person_id"].as_str().unwrap().to_owned();
    let body =
        json!({"person": {"person_id": person_id}, "kind": "medication", "method": "verbal"});
    let r = http
        .post(format!("{base}/v1/consents"))
        .bearer_auth(&t)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);

    // The write was acknowledged; kill the process without warning.
    child.kill().unwrap();
    child.wait().unwrap();

    let (mut child, base) = start(dir.path(), &store, &http).await;
    // The token issued before the restart still verifies: the secret is kept in the store.
    let r = http
        .get(format!("{base}/v1/persons/{person_id}/medications"))
        .bearer_auth(&t)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());
    child.kill().unwrap();
    child.wait().unwrap();
}

/// Admin token for the exchange serving `data` at `base`.
async fn admin_token(http: &reqwest::Client, base: &str, data: &std::path::Path) -> String {
    let secret = std::fs::read_to_string(data.join("admin.key")).unwrap();
    let r: Value = http
        .post(format!("{base}/v1/auth/token"))
        .json(&json!({"principal": "admin", "secret": secret.trim()}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    r["token"].as_str().unwrap().to_owned()
}

async fn audit_lines(http: &reqwest::Client, base: &str, admin: &str) -> u64 {
    let stats: Value = http
        .get(format!("{base}/v1/admin/stats"))
        .bearer_auth(admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    stats["audit"].as_u64().unwrap()
}

/// Verification requests (by insurance number) of the sample persons holding one in force.
fn verify_bodies() -> Vec<Value> {
    let today = (chrono::Utc::now() + chrono::TimeDelta::hours(9)).date_naive();
    (0..50)
        .filter_map(|i| {
            let p = dx_exchange::refdata::sample::person(1, i, today);
            let q = p.qualifications.iter().find(|q| q.valid_to.is_none())?;
            Some(json!({"person": {
                "insurer_number": q.insurer_number, "symbol": q.symbol,
                "number": q.number, "branch": q.branch,
            }}))
        })
        .collect()
}

async fn no_acknowledged_read_loses_its_audit_line_to_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let store = test_store(dir.path());
    let http = reqwest::Client::new();
    let bodies = std::sync::Arc::new(verify_bodies());
    assert!(bodies.len() > 20);
    let clinic =
        dx_exchange::codes::facility_code(13, dx_exchange::codes::FacilityTable::Medical, 1, 1001);
    let mut acknowledged = 0u64;
    let mut lines_before = None;
    for round in 0..3 {
        let (mut child, base) = start(dir.path(), &store, &http).await;
        let admin = admin_token(&http, &base, dir.path()).await;
        let lines = audit_lines(&http, &base, &admin).await;
        // Every read acknowledged before the last kill has its line after the restart.
        if let Some(before) = lines_before {
            assert!(
                lines >= before + acknowledged,
                "round {round}: {acknowledged} reads were answered but only {} lines were added",
                lines - before
            );
        }
        if round == 2 {
            child.kill().unwrap();
            child.wait().unwrap();
            break;
        }
        lines_before = Some(lines);
        let t = std::sync::Arc::new(
            token(&http, &base, dir.path(), &format!("facility:{clinic}")).await,
        );
        // 32 clients verify as fast as they can; the process is killed while they do.
        let acks = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let clients: Vec<_> = (0..32)
            .map(|c| {
                let (http, base, t, bodies, acks) = (
                    http.clone(),
                    base.clone(),
                    t.clone(),
                    bodies.clone(),
                    acks.clone(),
                );
                tokio::spawn(async move {
                    for n in 0..100_000usize {
                        let body = &bodies[(c * 7 + n) % bodies.len()];
                        let sent = http
                            .post(format!("{base}/v1/eligibility/verify"))
                            .bearer_auth(&*t)
                            .json(body)
                            .send()
                            .await;
                        match sent {
                            Ok(r) if r.status() == StatusCode::OK => {
                                acks.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                            }
                            Ok(r) => panic!("verify answered {}", r.status()),
                            Err(_) => return,
                        }
                    }
                })
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(1_500 + 400 * round)).await;
        child.kill().unwrap();
        child.wait().unwrap();
        for c in clients {
            c.await.unwrap();
        }
        acknowledged = acks.load(std::sync::atomic::Ordering::SeqCst);
        assert!(acknowledged > 100, "the load ran: {acknowledged} reads");
    }
}

/// A signer of the spawned exchange: a facility's token and a certificate of the sample's HPKI
/// hierarchy.
async fn signer(
    http: &reqwest::Client,
    base: &str,
    data: &std::path::Path,
    facility: String,
    practitioner: &str,
) -> crate::harness::Signer {
    let token = token(http, base, data, &format!("facility:{facility}")).await;
    // `dxsim serve --sample-persons` trusts the HPKI root of the sample (seed 1).
    let cert = crate::harness::certificate(1, &facility, practitioner);
    crate::harness::Signer {
        facility,
        token,
        practitioner_id: practitioner.into(),
        cert,
    }
}

/// What the load saw acknowledged: prescriptions registered (id) and dispensed (id).
#[derive(Default)]
struct Acknowledged {
    registered: Vec<String>,
    dispensed: Vec<String>,
}

/// One prescriber and one pharmacy registering and dispensing as fast as they can, until the
/// exchange goes away.
async fn write_load(
    http: reqwest::Client,
    base: String,
    worker: u16,
    doctor: crate::harness::Signer,
    pharmacist: crate::harness::Signer,
    acks: std::sync::Arc<std::sync::Mutex<Acknowledged>>,
) {
    use crate::harness::{current, insurance_query};
    let today = dx_exchange::clock::jst_date(chrono::Utc::now());
    let persons: Vec<_> = (0..50)
        .map(|i| dx_exchange::refdata::sample::person(1, i, today))
        .filter(|p| p.qualifications.iter().any(|q| q.valid_to.is_none()))
        .collect();
    for n in 0..100_000usize {
        let p = &persons[(n + usize::from(worker) * 3) % persons.len()];
        let _ = current(p);
        let draft = doctor.draft(
            &format!("k{worker}-{n}"),
            p,
            &[("losartan", 28)],
            1,
            chrono::Utc::now(),
        );
        let Ok(r) = http
            .post(format!("{base}/v1/prescriptions"))
            .bearer_auth(&doctor.token)
            .json(&doctor.signed(&draft))
            .send()
            .await
        else {
            return;
        };
        let Ok(rx) = r.json::<Value>().await else {
            return;
        };
        let (Some(id), Some(code)) = (rx["prescription_id"].as_str(), rx["access_code"].as_str())
        else {
            panic!("registration answered {rx}");
        };
        acks.lock().unwrap().registered.push(id.to_owned());
        let Ok(r) = http
            .get(format!(
                "{base}/v1/prescriptions/{code}?{}",
                insurance_query(p)
            ))
            .bearer_auth(&pharmacist.token)
            .send()
            .await
        else {
            return;
        };
        if r.status() != StatusCode::OK {
            return;
        }
        let Ok(r) = http
            .post(format!("{base}/v1/prescriptions/{id}/dispensations"))
            .bearer_auth(&pharmacist.token)
            .json(&pharmacist.dispensation_at(
                &json!({"prescription_id": id}),
                code,
                &[("losartan", 28)],
                chrono::Utc::now(),
            ))
            .send()
            .await
        else {
            return;
        };
        match r.status() {
            StatusCode::CREATED => acks.lock().unwrap().dispensed.push(id.to_owned()),
            s => {
                // A connection cut mid-answer is the kill; any other answer is a failure.
                if let Ok(body) = r.text().await {
                    panic!("dispensing answered {s}: {body}");
                }
                return;
            }
        }
    }
}

/// kill -9 under a write load: every registration and dispensing acknowledged before it is in
/// the store afterwards.
async fn acknowledged_registrations_and_dispensings_survive_kill_9() {
    use dx_exchange::prescription::PrescriptionStore as _;
    let dir = tempfile::tempdir().unwrap();
    let store = test_store(dir.path());
    let http = reqwest::Client::new();
    let (mut child, base) = start(dir.path(), &store, &http).await;
    let acks = std::sync::Arc::new(std::sync::Mutex::new(Acknowledged::default()));
    let mut workers = Vec::new();
    for w in 0..8u16 {
        let doctor = signer(
            &http,
            &base,
            dir.path(),
            crate::harness::clinic(w),
            &format!("DR-K{w}"),
        )
        .await;
        let pharmacist = signer(
            &http,
            &base,
            dir.path(),
            crate::harness::pharmacy(w),
            &format!("PH-K{w}"),
        )
        .await;
        workers.push(tokio::spawn(write_load(
            http.clone(),
            base.clone(),
            w,
            doctor,
            pharmacist,
            acks.clone(),
        )));
    }
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    child.kill().unwrap();
    child.wait().unwrap();
    for w in workers {
        w.await.unwrap();
    }
    let acks = acks.lock().unwrap();
    assert!(
        acks.registered.len() > 20 && !acks.dispensed.is_empty(),
        "the load ran: {} registrations, {} dispensings",
        acks.registered.len(),
        acks.dispensed.len()
    );
    // Read back from the store itself, as a restarted node would.
    let s = dx_exchange::store::SqlStore::open(&store.location, Durability::Full).unwrap();
    for id in &acks.registered {
        assert!(
            s.prescription(id).unwrap().is_some(),
            "registration {id} was lost"
        );
    }
    for id in &acks.dispensed {
        let p = s.prescription(id).unwrap().unwrap();
        assert_eq!(p.uses_done, 1, "the dispensing of {id} was lost");
    }
    eprintln!(
        "{}: {} acknowledged registrations and {} acknowledged dispensings, all found after kill -9",
        s.backend(),
        acks.registered.len(),
        acks.dispensed.len()
    );
}

crate::harness::on_both_stores!(
    consent_written_before_kill_9_is_there_after_restart,
    no_acknowledged_read_loses_its_audit_line_to_kill_9,
    acknowledged_registrations_and_dispensings_survive_kill_9,
);
