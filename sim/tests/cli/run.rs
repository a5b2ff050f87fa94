//! `dxsim run` end to end at tiny scale: population → in-process exchange → import → workload →
//! open-model replay → summary, checked against the workload's own counts; and an SLO breach
//! failing the command with exit code 2; Ctrl-C and SIGTERM stopping a replay midway.

use std::path::Path;

fn scenario(dir: &Path, extra: &str) -> std::path::PathBuf {
    let path = dir.join("tiny.toml");
    std::fs::write(
        &path,
        format!(
            "name = \"tiny\"\nseed = 5\n[population]\nscale = 0.002\nprefectures = [31]\n\
             [period]\nstart = 2025-10-06T08:30:00\nhours = 4.0\n\
             [rates]\nelectronic_share = 1.0\nrefill_share = 0.0\n\
             [adoption.eprescription]\nhospital = 1.0\nclinic = 1.0\ndental = 1.0\npharmacy = 1.0\n\
             [adoption.ehr_sharing]\nhospital = 1.0\nclinic = 1.0\ndental = 0.0\npharmacy = 0.0\n\
             [ehr]\nreferral_share = 0.5\n\
             [municipal]\nparticipation = 1.0\nflu_doses_per_year = 1.0e8\n[portal]\nreads_per_holder_per_year = 100.0\n\
             [replay]\nspeedup = 2400.0\nmax_in_flight = 32\n{extra}"
        ),
    )
    .unwrap();
    path
}

/// `dxsim run` of the tiny scenario with `extra` flags into `out`; it must pass. Its stdout.
fn run_passing(dir: &Path, extra: &[&str], out: &Path) -> String {
    let o = super::dxsim()
        .arg("run")
        .arg(scenario(dir, ""))
        .args(extra)
        .arg("--out")
        .arg(out)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        o.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(stdout.contains("verdict: PASS"), "{stdout}");
    stdout
}

#[test]
fn run_replays_every_event_of_the_workload_and_summarises_it() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let stdout = run_passing(dir.path(), &[], &out);
    let workload: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("workload/manifest.json")).unwrap())
            .unwrap();
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap();
    let routes = workload["routes"].as_object().unwrap();
    assert!(workload["events"].as_u64().unwrap() > 50, "{workload}");
    for (route, n) in routes {
        let n = n.as_u64().unwrap();
        let got = &summary["routes"][route];
        if n == 0 {
            assert!(got.is_null(), "{route}: {got}");
            continue;
        }
        let (count, skipped) = (
            got["count"].as_u64().unwrap(),
            got["skipped"].as_u64().unwrap(),
        );
        if route == "batch" || route == "vaccination_batch" {
            // Pre-checks of one facility at one moment, and a municipality's upload, travel as
            // one request.
            assert!(
                count >= 1 && count <= n,
                "batch: {count} requests for {n} persons"
            );
        } else {
            assert_eq!(count + skipped, n, "{route}: {got}");
        }
        // A consistent stream against the reference exchange: nothing refused, nothing failed.
        assert_eq!(
            (got["refused"].as_u64(), got["errors"].as_u64()),
            (Some(0), Some(0)),
            "{route}: {got}"
        );
        assert!(got["p99_ms"].as_f64().unwrap() >= got["p50_ms"].as_f64().unwrap());
    }
    assert!(
        routes["register"].as_u64().unwrap() > 0 && routes["dispense"].as_u64().unwrap() > 0,
        "{workload}"
    );
    // EHR sharing at every hospital and clinic: items, summary reads after consent, documents.
    for route in ["ehr_items", "ehr_summary", "ehr_document"] {
        assert!(routes[route].as_u64().unwrap() > 0, "{route}: {workload}");
    }
    // Municipal exchange everywhere: flu doses recorded online and uploaded, portal reads (flu
    // doses are raised to 100 M a year, so the four hours hold about a dozen rather than a
    // handful that might all go one way).
    for route in ["vaccination_record", "vaccination_batch", "portal_read"] {
        assert!(routes[route].as_u64().unwrap() > 0, "{route}: {workload}");
    }
    assert_eq!(summary["totals"]["skipped"], 0, "{summary}");
    // Four simulated hours outlast the exchange's one-hour tokens: the driver renewed them.
    assert!(
        summary["totals"]["token_refreshes"].as_u64().unwrap() > 0,
        "{summary}"
    );
    // goose's own report is not written: it loads its charts from a CDN and is blank offline.
    assert!(!out.join("goose-report.html").exists());
    for f in [
        "timeseries.csv",
        "histograms/latency.hlog",
        "histograms/service.hlog",
        "histograms/lateness.hlog",
        "service-times.json",
        "capacity/capacity.json",
        "capacity/capacity-minutes.parquet",
        "latency-windows.parquet",
        "latency-percentiles.parquet",
        "driver-lateness.parquet",
    ] {
        assert!(out.join(f).exists(), "{f} is missing");
    }
    // The report, written by the run: both sections, numbers matching the run's files.
    assert!(stdout.contains("report: "), "{stdout}");
    let charts = super::report::check_report(&out);
    assert!(charts.len() >= 8, "{charts:?}");
}

/// The same workload replayed whole and as 3 shards (three `dxsim drive --shard I/3` processes,
/// merged) against the same kind of server: the same requests per route and outcome, every event
/// in one shard, every prerequisite in its dependent's shard.
#[test]
fn three_shards_replay_what_one_driver_replays() {
    use dx_drive::Shard;
    let dir = tempfile::tempdir().unwrap();
    let whole = dir.path().join("whole");
    run_passing(dir.path(), &[], &whole);
    let sharded = dir.path().join("sharded");
    let stdout = run_passing(dir.path(), &["--shards", "3"], &sharded);
    assert!(stdout.contains("in 3 shards"), "{stdout}");
    let read =
        |p: &Path| -> dx_model::rundir::summary::Summary { dx_model::rundir::read(p).unwrap() };
    let (a, b) = (read(&whole), read(&sharded));
    assert_eq!(
        a.routes.keys().collect::<Vec<_>>(),
        b.routes.keys().collect::<Vec<_>>()
    );
    for (route, x) in &a.routes {
        let y = &b.routes[route];
        assert_eq!(
            (x.count, x.items, x.ok, x.refused, x.errors, x.skipped),
            (y.count, y.items, y.ok, y.refused, y.errors, y.skipped),
            "{route}"
        );
        assert_eq!(y.skipped, 0, "{route}: a prerequisite was not in its shard");
    }
    assert_eq!(a.totals.requests, b.totals.requests);
    let sharding = b.run.sharding.clone().unwrap();
    assert_eq!((sharding.index, sharding.count), (None, 3));
    // Each shard replayed its own events: together, every event once.
    let mut events = 0;
    for i in 0..3 {
        let s = read(&sharded.join("shards").join(i.to_string()));
        assert_eq!(s.run.sharding.as_ref().unwrap().index, Some(i));
        assert!(s.totals.requests > 0, "shard {i} replayed nothing");
        events += s.run.events;
    }
    assert_eq!(events, a.run.events);
    // Every event's prerequisite is in its shard.
    let mut home = std::collections::HashMap::new();
    let mut needing = Vec::new();
    for chunk in dx_workload::stream(&sharded.join("workload")).unwrap() {
        for e in chunk.unwrap() {
            let s = Shard::of(&e, 3);
            assert_eq!(
                (0..3)
                    .filter(|&index| Shard { index, count: 3 }.holds(&e))
                    .count(),
                1
            );
            home.insert(e.id, s);
            if let Some(n) = e.needs {
                needing.push((n, s));
            }
        }
    }
    assert!(needing.len() > 20, "{}", needing.len());
    for (n, s) in needing {
        if let Some(h) = home.get(&n) {
            assert_eq!(*h, s, "event {n}");
        }
    }
    // The merged histogram logs, the series and the report are there.
    for f in [
        "histograms/latency.hlog",
        "timeseries.csv",
        "latency-windows.parquet",
        "service-times.json",
        "report.html",
    ] {
        assert!(sharded.join(f).exists(), "{f} is missing");
    }
}

/// `dxsim run --store postgres://… --nodes 2`: the same replay across two nodes of one
/// PostgreSQL store, everything answered.
#[test]
fn run_replays_across_two_nodes_of_a_postgres_store() {
    let dir = tempfile::tempdir().unwrap();
    // Several nodes need a shared store.
    let o = super::dxsim()
        .arg("run")
        .arg(scenario(dir.path(), ""))
        .args(["--nodes", "2", "--out"])
        .arg(dir.path().join("refused"))
        .output()
        .unwrap();
    assert!(!o.status.success());
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(stderr.contains("--store postgres://"), "{stderr}");
    let Some(server) =
        dx_exchange::store::postgres::test_server_or_skip("dxsim run on two PostgreSQL nodes")
    else {
        return;
    };
    let db = dx_exchange::store::postgres::ScratchDatabase::create(&server).unwrap();
    let out = dir.path().join("run");
    run_passing(dir.path(), &["--store", db.url(), "--nodes", "2"], &out);
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap();
    let targets = summary["run"]["target"].as_str().unwrap();
    assert_eq!(targets.split(',').count(), 2, "{targets}");
    assert_eq!(summary["totals"]["errors"], 0, "{summary}");
    assert_eq!(summary["totals"]["refused"], 0, "{summary}");
    assert!(
        summary["totals"]["requests"].as_u64().unwrap() > 50,
        "{summary}"
    );
    assert!(
        !out.join("store").exists(),
        "nothing of the store is in the run directory"
    );
}

/// A `--store` that is no PostgreSQL URL, or a server that cannot be reached, is refused at
/// start with what is wrong, before anything is served or written.
#[test]
fn a_bad_store_is_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    for (store, says) in [
        ("mysql://x/y", "expected a postgres://"),
        (
            "postgres://nobody@127.0.0.1:1/none",
            "cannot connect to PostgreSQL",
        ),
    ] {
        let o = super::dxsim()
            .args(["serve", "--store", store, "--addr", "127.0.0.1:0", "--data"])
            .arg(dir.path().join("data"))
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert!(
            !o.status.success() && stderr.contains(says),
            "{store}: {stderr}"
        );
        assert!(!dir.path().join("data/admin.key").exists());
    }
    // A public URL that is not one, refused before anything starts.
    for (url, says) in [
        ("exchange.example", "must begin with http:// or https://"),
        ("http://host/path?q=1", "must be a base URL"),
    ] {
        let o = super::dxsim()
            .args([
                "serve",
                "--public-url",
                url,
                "--addr",
                "127.0.0.1:0",
                "--data",
            ])
            .arg(dir.path().join("data"))
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert!(
            !o.status.success() && stderr.contains(says),
            "{url}: {stderr}"
        );
        assert!(!dir.path().join("data/admin.key").exists());
    }
}

#[test]
fn a_breached_slo_fails_the_run_with_exit_code_2() {
    let dir = tempfile::tempdir().unwrap();
    let s = scenario(dir.path(), "[slo.routes.verify]\np99_ms = 0.001\n");
    let o = super::dxsim()
        .arg("run")
        .arg(&s)
        .arg("--out")
        .arg(dir.path().join("run"))
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    assert!(String::from_utf8_lossy(&o.stderr).contains("SLO breached: verify"));
    // A run directory is never reused.
    let again = super::dxsim()
        .arg("run")
        .arg(&s)
        .arg("--out")
        .arg(dir.path().join("run"))
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&again.stderr).contains("already holds a run"));
}

/// Generates the scenario's workload into `<dir>/workload` and serves its population with
/// `dxsim serve` on a free port (store in `<dir>/data`); returns the workload and data
/// directories, the port and the server process.
fn serve_workload(
    dir: &Path,
    s: &Path,
) -> (
    std::path::PathBuf,
    std::path::PathBuf,
    u16,
    std::process::Child,
) {
    let wl = dir.join("workload");
    let o = super::dxsim()
        .arg("workload")
        .arg(s)
        .arg("--out")
        .arg(&wl)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let port = super::free_port();
    let data = dir.join("data");
    let server = super::dxsim()
        .args(["serve", "--addr", &format!("127.0.0.1:{port}")])
        .args(["--durability", "normal", "--data"])
        .arg(&data)
        .arg("--population")
        .arg(wl.join("population"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    assert!(super::healthy(port), "dxsim serve did not come up");
    (wl, data, port, server)
}

#[test]
fn drive_replays_against_a_served_exchange_as_a_vendor_would() {
    let dir = tempfile::tempdir().unwrap();
    let s = scenario(dir.path(), "");
    let (wl, data, port, mut server) = serve_workload(dir.path(), &s);
    let target = format!("http://127.0.0.1:{port}");
    // Without the admin secret: a clear refusal before any request.
    let o = super::dxsim()
        .arg("drive")
        .arg(&s)
        .args(["--target", &target, "--workload"])
        .arg(&wl)
        .env_remove("DXSIM_ADMIN_SECRET")
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("--admin-key-file"));
    // `dxsim drive` of this workload against the served exchange, with its admin key.
    let drive = || {
        let mut c = super::dxsim();
        c.arg("drive")
            .arg(&s)
            .args(["--target", &target, "--admin-key-file"])
            .arg(data.join("admin.key"))
            .arg("--workload")
            .arg(&wl);
        c
    };
    let out = dir.path().join("drive");
    let o = drive().arg("--out").arg(&out).output().unwrap();
    // Then as a cluster's pods would: two shards by hand on a start instant already 3 s past
    // (each says it began late and counts it), and `dxsim merge`.
    let start = chrono::Utc::now() - chrono::TimeDelta::seconds(3);
    let start = start.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let shards: Vec<_> = (0..2)
        .map(|i| {
            let shard_out = dir.path().join(format!("shard-{i}"));
            let child = drive()
                .args([
                    "--shard",
                    &format!("{i}/2"),
                    "--start-at",
                    &start,
                    "--quiet",
                ])
                .arg("--out")
                .arg(&shard_out)
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap();
            (shard_out, child)
        })
        .collect();
    let mut shard_dirs = Vec::new();
    for (shard_out, child) in shards {
        let o = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert!(o.status.success(), "{stderr}");
        assert!(stderr.contains("after its start instant"), "{stderr}");
        shard_dirs.push(shard_out);
    }
    let merged = dir.path().join("merged");
    let m = super::dxsim()
        .arg("merge")
        .args(&shard_dirs)
        .arg("--out")
        .arg(&merged)
        .output()
        .unwrap();
    let _ = std::process::Command::new("kill")
        .args(["-INT", &server.id().to_string()])
        .status();
    let _ = server.wait();
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap();
    // On the wall clock the served store holds the population as of its date while the requests
    // are made now: a care certification that has ended since (with the portal care consent that
    // goes with it) is refused, as a vendor's server would refuse it. Nothing else is.
    for (route, r) in summary["routes"].as_object().unwrap() {
        if r["refused"].as_u64().unwrap() == 0 {
            continue;
        }
        assert_eq!(route, "care_read", "{summary}");
        for code in r["refusal_codes"].as_object().unwrap().keys() {
            assert!(
                ["consent_expired", "certification_expired"].contains(&code.as_str()),
                "{route}: {code}"
            );
        }
    }
    assert_eq!(summary["totals"]["errors"], 0, "{summary}");
    assert!(
        summary["routes"]["dispense"]["ok"].as_u64().unwrap() > 0,
        "{summary}"
    );
    // The shards began 3 s late and the latencies are measured from each request's due time, so
    // the whole breaches its SLOs: `dxsim merge` gives the verdict and exit code of the whole.
    // (Their registrations answer 409: the replay above already made them on this exchange.)
    let merge_err = String::from_utf8_lossy(&m.stderr);
    assert_eq!(
        m.status.code(),
        Some(2),
        "{}{merge_err}",
        String::from_utf8_lossy(&m.stdout)
    );
    assert!(merge_err.contains("SLO breached"), "{merge_err}");
    let read = |p: &Path| -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(p.join("summary.json")).unwrap()).unwrap()
    };
    let whole = read(&merged);
    assert_eq!(whole["run"]["sharding"]["count"], 2, "{whole}");
    assert_eq!(whole["pass"], false, "{whole}");
    assert!(whole["run"]["sharding"]["late_start_ms"].as_f64().unwrap() >= 3000.0);
    // The lateness counted: the first requests were due about 3 s before their shard began.
    assert!(
        whole["lateness"]["max_ms"].as_f64().unwrap() >= 2500.0,
        "{whole}"
    );
    let parts: u64 = shard_dirs
        .iter()
        .map(|d| read(d)["totals"]["requests"].as_u64().unwrap())
        .sum();
    assert_eq!(whole["totals"]["requests"].as_u64().unwrap(), parts);
    assert_eq!(
        whole["run"]["events"].as_u64(),
        summary["run"]["events"].as_u64(),
        "the two shards' events are the whole replay's"
    );
    assert!(merged.join("report.html").exists());
}

/// The tiny scenario slowed to 240× (4 simulated hours: a minute), so a replay can be stopped
/// midway.
fn slow_scenario(dir: &Path) -> String {
    let s = scenario(dir, "").to_str().unwrap().to_owned();
    let text = std::fs::read_to_string(&s)
        .unwrap()
        .replace("speedup = 2400.0", "speedup = 240.0");
    std::fs::write(&s, text).unwrap();
    s
}

fn send(signal: &str, pid: u32) {
    let status = std::process::Command::new("kill")
        .args([&format!("-{signal}"), &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

/// Stops a replay with `signal` and checks it ends as an interrupted one: promptly, exit code 1,
/// `summary.json` written and marked, some but not all of the workload's events sent.
fn stop_and_check(signal: &str, child: std::process::Child, out: &Path, workload: &Path) {
    let started = std::time::Instant::now();
    send(signal, child.id());
    let o = child.wait_with_output().unwrap();
    assert!(
        started.elapsed() < std::time::Duration::from_secs(20),
        "the replay did not stop promptly on SIG{signal}"
    );
    assert_eq!(
        o.status.code(),
        Some(1),
        "SIG{signal}: {}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(String::from_utf8_lossy(&o.stderr).contains("interrupted"));
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["run"]["interrupted"], true);
    let workload: serde_json::Value =
        serde_json::from_slice(&std::fs::read(workload.join("manifest.json")).unwrap()).unwrap();
    let sent = summary["totals"]["requests"].as_u64().unwrap();
    assert!(
        sent > 0 && sent < workload["events"].as_u64().unwrap(),
        "{summary}"
    );
}

/// Starts `dxsim run` on the slow scenario and stops it with `signal` a few seconds into the
/// replay.
fn stop_a_run_with(signal: &str) {
    let dir = tempfile::tempdir().unwrap();
    let s = slow_scenario(dir.path());
    let out = dir.path().join("run");
    let child = super::dxsim()
        .args(["run", &s, "--out"])
        .arg(&out)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !out.join("workload/manifest.json").exists() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    std::thread::sleep(std::time::Duration::from_secs(4));
    stop_and_check(signal, child, &out, &out.join("workload"));
}

#[test]
fn ctrl_c_stops_a_run_and_keeps_the_results_so_far() {
    stop_a_run_with("INT");
}

#[test]
fn sigterm_stops_a_run_as_ctrl_c_does() {
    stop_a_run_with("TERM");
}

/// Whether the exchange on `port` has answered a request on `route` (from its `/metrics`).
fn has_served(port: u16, route: &str) -> bool {
    use std::io::{Read, Write};
    std::net::TcpStream::connect(("127.0.0.1", port)).is_ok_and(|mut s| {
        let _ = s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        let mut buf = String::new();
        let _ = s.read_to_string(&mut buf);
        buf.contains(&format!("route=\"{route}\""))
    })
}

#[test]
fn sigterm_stops_a_drive_and_keeps_the_results_so_far() {
    let dir = tempfile::tempdir().unwrap();
    let s = slow_scenario(dir.path());
    let (wl, data, port, mut server) = serve_workload(dir.path(), Path::new(&s));
    let out = dir.path().join("drive");
    let drive = super::dxsim()
        .arg("drive")
        .arg(&s)
        .args(["--target", &format!("http://127.0.0.1:{port}")])
        .arg("--admin-key-file")
        .arg(data.join("admin.key"))
        .arg("--workload")
        .arg(&wl)
        .arg("--out")
        .arg(&out)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Stop it once the replay is under way: the exchange has answered a verification.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !has_served(port, "/v1/eligibility/verify") && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    std::thread::sleep(std::time::Duration::from_secs(2));
    stop_and_check("TERM", drive, &out, &wl);
    send("INT", server.id());
    let _ = server.wait();
}
