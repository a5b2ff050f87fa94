//! An acknowledged write survives `kill -9` of the server process.

use reqwest::StatusCode;
use serde_json::{Value, json};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn spawn(data: &std::path::Path, port: u16) -> Child {
    Command::new(env!("CARGO_BIN_EXE_dx-exchange"))
        .args(["--addr", &format!("127.0.0.1:{port}"), "--data"])
        .arg(data)
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

#[tokio::test]
async fn consent_written_before_kill_9_is_there_after_restart() {
    let dir = tempfile::tempdir().unwrap();
    let http = reqwest::Client::new();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut child = spawn(dir.path(), port);
    wait_ready(&http, &base).await;

    let person_id = dx_exchange::refdata::sample::person_id(0);
    let clinic =
        dx_exchange::codes::facility_code(13, dx_exchange::codes::FacilityTable::Medical, 1, 1001);
    let t = token(&http, &base, dir.path(), &format!("facility:{clinic}")).await;
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
    let mut child = spawn(dir.path(), port);
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
