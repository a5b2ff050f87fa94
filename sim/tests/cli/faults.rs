//! Faults in a scenario, run end to end with `dxsim run` at tiny scale (Tottori, 1%): a network
//! outage's held requests sent once when it ends; a crashed exchange losing no acknowledged
//! write; a suspension turning registrations into paper dispensings; retries honouring
//! `Retry-After` and giving up at their deadline against a slowed store.

use serde_json::Value;
use std::path::Path;

/// A tiny scenario (Tottori at `scale`) of 2 simulated hours from 08:30, replayed at 600× (12 s), with `extra`
/// (`[replay]` keys first, then tables).
fn scenario(dir: &Path, scale: f64, extra: &str) -> std::path::PathBuf {
    let path = dir.join("faults.toml");
    std::fs::write(
        &path,
        format!(
            "name = \"faults\"\nseed = 7\n[population]\nscale = {scale}\nprefectures = [31]\n\
             [period]\nstart = 2025-10-06T08:30:00\nhours = 2.0\n\
             [rates]\nelectronic_share = 1.0\nrefill_share = 0.0\n\
             [adoption.eprescription]\nhospital = 1.0\nclinic = 1.0\ndental = 1.0\npharmacy = 1.0\n\
             [municipal]\nparticipation = 1.0\n\
             [replay]\nspeedup = 600.0\n{extra}"
        ),
    )
    .unwrap();
    path
}

/// `dxsim run` of the scenario into `<dir>/run`: its summary, the workload's manifest and the
/// run directory. The run may fail its SLOs (exit code 2), nothing else.
fn run(dir: &Path, scale: f64, extra: &str) -> (Value, Value, std::path::PathBuf) {
    let out = dir.join("run");
    let o = super::dxsim()
        .arg("run")
        .arg(scenario(dir, scale, extra))
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        matches!(o.status.code(), Some(0 | 2)),
        "{stdout}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(stdout.contains("fault "), "{stdout}");
    let read = |p: std::path::PathBuf| -> Value {
        serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()
    };
    (
        read(out.join("summary.json")),
        read(out.join("workload/manifest.json")),
        out,
    )
}

fn n(v: &Value) -> u64 {
    v.as_u64().unwrap_or(0)
}

/// `timeseries.csv` as (second, route, column) → value.
fn series(out: &Path, column: &str) -> Vec<(u64, String, u64)> {
    let text = std::fs::read_to_string(out.join("timeseries.csv")).unwrap();
    let mut lines = text.lines();
    let head: Vec<&str> = lines.next().unwrap().split(',').collect();
    let at = head.iter().position(|h| *h == column).unwrap();
    lines
        .map(|l| {
            let c: Vec<&str> = l.split(',').collect();
            (
                c[0].parse().unwrap(),
                c[1].to_owned(),
                c[at].parse().unwrap(),
            )
        })
        .collect()
}

#[test]
fn an_outage_holds_checks_until_it_ends_and_sends_each_once() {
    let dir = tempfile::tempdir().unwrap();
    // 09:00–09:50 is seconds 3–8 of the replay; every facility is in Tottori.
    let (s, w, out) = run(
        dir.path(),
        0.01,
        "max_in_flight = 64\n[[faults]]\nkind = \"network_outage\"\nstart = 2025-10-06T09:00:00\nend = 2025-10-06T09:50:00\nprefectures = [31]\n",
    );
    let verify = &s["routes"]["verify"];
    let held = n(&verify["deferred"]);
    assert!(held > 10, "{verify}");
    // Every check is sent once: those held, when the outage ends.
    assert_eq!(
        n(&verify["count"]) + n(&verify["skipped"]),
        n(&w["routes"]["verify"]),
        "{verify}"
    );
    let sent = series(&out, "requests");
    let inside: u64 = sent
        .iter()
        .filter(|(sec, r, _)| (4..8).contains(sec) && r == "verify")
        .map(|x| x.2)
        .sum();
    assert_eq!(inside, 0, "no check reached the centre during the outage");
    let at_end: u64 = sent
        .iter()
        .filter(|(sec, r, _)| *sec == 8 && r == "verify")
        .map(|x| x.2)
        .sum();
    assert!(
        at_end >= held,
        "{at_end} checks sent as it ended, {held} held"
    );
    // Prescribers issued paper; a registration is either sent or on paper.
    let register = &s["routes"]["register"];
    assert!(n(&register["paper"]) > 0, "{register}");
    assert!(n(&register["count"]) + n(&register["paper"]) >= n(&w["routes"]["register"]));
    let f = &s["faults"][0];
    assert_eq!(f["kind"], "network_outage");
    assert!(n(&f["backlog"]) >= held, "{f}");
    assert!(n(&f["during"]["abandoned"]) > 0, "reads were given up: {f}");
    assert!(f["recovery_peak_per_s"].as_f64().unwrap() > 0.0, "{f}");
    let report = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(
        report.contains("Faults (障害)"),
        "the report has its Faults section"
    );
}

#[test]
fn a_crashed_exchange_loses_no_acknowledged_write() {
    let dir = tempfile::tempdir().unwrap();
    let (s, _, out) = run(
        dir.path(),
        0.01,
        "max_in_flight = 64\n[replay.retry]\npolicy = \"backoff\"\nmax_attempts = 20\ndeadline_ms = 30000\n\
         [[faults]]\nkind = \"exchange_crash\"\nstart = 2025-10-06T09:00:00\nend = 2025-10-06T09:10:00\n",
    );
    let f = &s["faults"][0];
    assert_eq!(f["kind"], "exchange_crash", "{s}");
    assert_eq!(f["lost_writes"], 0, "{f}");
    let retried: u64 = s["routes"]
        .as_object()
        .unwrap()
        .values()
        .map(|r| n(&r["retried"]))
        .sum();
    assert!(retried > 0, "requests due in the crash were retried: {s}");
    assert!(n(&f["backlog"]) > 0, "{f}");
    assert!(f["time_to_recover_s"].as_f64().is_some(), "{f}");
    // Every acknowledged write was listed and found.
    let ledger = std::fs::read_to_string(out.join("ledger.txt")).unwrap();
    assert!(ledger.lines().count() > 100, "{}", ledger.lines().count());
    assert!(!out.join("lost-writes.txt").exists());
    // The exchange was started twice: before the replay and after the crash.
    let log = std::fs::read_to_string(out.join("exchange.log")).unwrap();
    assert_eq!(log.matches("dx-exchange listening on").count(), 2, "{log}");
}

#[test]
fn suspended_registrations_become_paper_dispensings() {
    let dir = tempfile::tempdir().unwrap();
    let (s, w, _) = run(
        dir.path(),
        0.01,
        "max_in_flight = 64\n[[faults]]\nkind = \"service_suspended\"\nstart = 2025-10-06T08:45:00\nend = 2025-10-06T10:00:00\ntarget = \"eprescription_issuing\"\nreason = \"dummy drug codes\"\n",
    );
    let register = &s["routes"]["register"];
    let suspended = n(&register["refusal_codes"]["suspended"]);
    assert!(suspended > 0, "{register}");
    assert_eq!(n(&register["paper"]), suspended, "{register}");
    // Their pharmacies registered paper dispensings instead of retrieving and dispensing.
    assert!(n(&s["routes"]["retrieve"]["paper"]) > 0, "{s}");
    assert!(
        n(&s["routes"]["paper_dispense"]["count"]) > n(&w["routes"]["paper_dispense"]),
        "{s}"
    );
    assert_eq!(n(&s["routes"]["paper_dispense"]["refused"]), 0, "{s}");
    assert_eq!(s["totals"]["errors"], 0, "{s}");
}

#[test]
fn retries_honour_retry_after_and_give_up_at_their_deadline() {
    let dir = tempfile::tempdir().unwrap();
    // A store 5 s slower per transaction fills the 64 requests each service takes at once and
    // sheds the rest (503 overloaded, Retry-After: 1); checks give up within 0.5 s, everything
    // else retries for 30 s.
    let (s, _, _) = run(
        dir.path(),
        0.05,
        "max_in_flight = 1024\n[replay.retry]\npolicy = \"backoff\"\nmax_attempts = 20\ndeadline_ms = 30000\n\
         [replay.retry.routes.verify]\ndeadline_ms = 500.0\n\
         [[faults]]\nkind = \"slow_store\"\nstart = 2025-10-06T09:00:00\nend = 2025-10-06T10:00:00\ndelay_ms = 5000.0\n",
    );
    let verify = &s["routes"]["verify"];
    assert!(n(&verify["shed"]) > 0, "{verify}");
    let gave_up = verify["given_up"].as_object().cloned().unwrap_or_default();
    assert!(
        n(&gave_up["deadline (overloaded)"]) > 0,
        "a Retry-After of 1 s passes a 0.5 s deadline: {verify}"
    );
    // Another route retried after its Retry-After and was answered.
    let waited = s["routes"].as_object().unwrap().iter().any(|(name, r)| {
        name != "verify" && n(&r["retried"]) > 0 && r["max_ms"].as_f64().unwrap() >= 1000.0
    });
    assert!(waited, "{s}");
    let f = &s["faults"][0];
    assert_eq!(f["kind"], "slow_store");
    assert!(n(&f["during"]["retried"]) > 0, "{f}");
}
