//! `dxsim conformance` as a vendor runs it against a served exchange: the console summary, the
//! exit code, `conformance.json`, `junit.xml` and the report; filters and bad arguments.

use std::process::Stdio;

/// A served exchange (its data directory and port), stopped when dropped.
struct Served {
    child: std::process::Child,
    port: u16,
    data: tempfile::TempDir,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve() -> Served {
    let data = tempfile::tempdir().unwrap();
    let port = super::free_port();
    let child = super::dxsim()
        .args(["serve", "--addr", &format!("127.0.0.1:{port}"), "--data"])
        .arg(data.path())
        .args(["--durability", "normal", "--sample-persons", "0"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    assert!(super::healthy(port), "dxsim serve did not answer");
    Served { child, port, data }
}

#[test]
fn a_served_exchange_conforms_and_the_results_are_written_for_people_and_ci() {
    let s = serve();
    let out = tempfile::tempdir().unwrap();
    let o = super::dxsim()
        .args([
            "conformance",
            "--target",
            &format!("http://127.0.0.1:{}", s.port),
        ])
        .arg("--credentials")
        .arg(s.data.path().join("admin.key"))
        .arg("--out")
        .arg(out.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        o.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        stdout.contains("CONFORMS") && stdout.contains("eligibility"),
        "{stdout}"
    );
    // On the wall clock the three checks that move time are skipped, saying why.
    assert!(
        stdout.contains(
            "skipped consent.expires-after-24-hours: needs a target whose clock can be moved"
        ),
        "{stdout}"
    );
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.path().join("conformance.json")).unwrap())
            .unwrap();
    let checks = report["checks"].as_array().unwrap();
    assert_eq!(checks.len(), dx_conformance::checks::all().len());
    assert_eq!(report["counts"]["fail"], 0);
    // The three that move time are skipped; so is the overload check when the default bounds
    // serve its burst whole — on a busy machine they shed part of it, and the check passes.
    let overload = checks
        .iter()
        .find(|c| c["id"] == "security.overload")
        .expect("the overload check");
    let shed = overload["result"] == "pass";
    assert!(shed || overload["result"] == "skip", "{overload}");
    assert_eq!(
        report["counts"]["skip"],
        if shed { 3 } else { 4 },
        "{stdout}"
    );
    for c in checks {
        for field in ["id", "group", "title", "rule", "source", "result"] {
            assert!(
                c[field].as_str().is_some_and(|s| !s.is_empty()),
                "{c}: {field}"
            );
        }
    }
    let junit = std::fs::read_to_string(out.path().join("junit.xml")).unwrap();
    assert!(junit.starts_with("<?xml"));
    assert_eq!(junit.matches("<testcase ").count(), checks.len());
    assert_eq!(junit.matches("<skipped ").count(), if shed { 3 } else { 4 });
    assert_eq!(
        junit.matches("<testsuite ").count(),
        dx_conformance::GROUPS.len()
    );
    // The report: self-contained, in the font, the chart's numbers those of the JSON.
    let ids = super::report::check_report(out.path());
    assert_eq!(ids, ["conformance-results"]);
    let bars = super::report::read_csv(&out.path().join("report/tables/conformance-results.csv"));
    let drawn: f64 = bars[1..].iter().map(|r| r[1].parse::<f64>().unwrap()).sum();
    assert_eq!(drawn as usize, checks.len());

    // Filters: a group and an id prefix, the checks of either.
    let o = super::dxsim()
        .args([
            "conformance",
            "--target",
            &format!("http://127.0.0.1:{}", s.port),
        ])
        .arg("--credentials")
        .arg(s.data.path().join("admin.key"))
        .args(["--group", "errors", "--id", "security.no-token", "--out"])
        .arg(out.path().join("some"))
        .output()
        .unwrap();
    assert!(o.status.success());
    let some: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.path().join("some/conformance.json")).unwrap())
            .unwrap();
    let ran: Vec<&str> = some["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert!(ran.contains(&"security.no-token"), "{ran:?}");
    assert!(
        ran.iter()
            .all(|i| i.starts_with("errors.") || *i == "security.no-token"),
        "{ran:?}"
    );
}

#[test]
fn bad_arguments_are_refused_before_any_request() {
    let list = super::dxsim()
        .args(["conformance", "--list", "--group", "refill"])
        .output()
        .unwrap();
    assert!(list.status.success());
    let text = String::from_utf8_lossy(&list.stdout);
    assert!(
        text.contains("refill.uses-exhausted") && !text.contains("eligibility."),
        "{text}"
    );
    let dir = tempfile::tempdir().unwrap();
    let creds = dir.path().join("creds.toml");
    std::fs::write(&creds, "admin_secret = \"x\"\n").unwrap();
    for (args, says) in [
        (vec!["--group", "nope"], "not a group"),
        (vec!["--id", "nothing.like.this"], "no check has that id"),
    ] {
        let o = super::dxsim()
            .args([
                "conformance",
                "--target",
                "http://127.0.0.1:9",
                "--credentials",
            ])
            .arg(&creds)
            .args(&args)
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(1));
        assert!(
            String::from_utf8_lossy(&o.stderr).contains(says),
            "{args:?}"
        );
    }
    // Nobody listening: said as such, exit 1.
    let o = super::dxsim()
        .args([
            "conformance",
            "--target",
            &format!("http://127.0.0.1:{}", super::free_port()),
            "--credentials",
        ])
        .arg(&creds)
        .arg("--out")
        .arg(dir.path().join("none"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("no answer"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(!dir.path().join("none/conformance.json").exists());
}
