//! An acknowledged write survives `kill -9` of the server process.

use crate::harness::test_store;
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
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut child = spawn(dir.path(), &store, port);
    wait_ready(&http, &base).await;

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

    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut child = spawn(dir.path(), &store, port);
    wait_ready(&http, &base).await;
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
        let port = free_port();
        let base = format!("http://127.0.0.1:{port}");
        let mut child = spawn(dir.path(), &store, port);
        wait_ready(&http, &base).await;
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

crate::harness::on_both_stores!(
    consent_written_before_kill_9_is_there_after_restart,
    no_acknowledged_read_loses_its_audit_line_to_kill_9,
);
