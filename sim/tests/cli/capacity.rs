//! `dxsim capacity` as a user runs it: a small sample, the sizing table, `capacity.json` and the
//! per-minute Parquet, the same bytes from the same seed; bad settings refused before any work.

use std::path::Path;

fn scenario(dir: &Path, extra: &str) -> std::path::PathBuf {
    let path = dir.join("cap.toml");
    std::fs::write(
        &path,
        format!(
            "name = \"cap\"\nseed = 3\n[population]\nprefectures = [31]\n\
             [period]\nstart = 2025-10-06T08:00:00\nhours = 3.0\n\
             [capacity]\nsample_scale = 0.01\nreplications = 2\n{extra}"
        ),
    )
    .unwrap();
    path
}

#[test]
fn capacity_sizes_every_service_and_writes_its_tables() {
    let dir = tempfile::tempdir().unwrap();
    let s = scenario(
        dir.path(),
        "[capacity.services.prescription_register]\nservers = 2\n\
         [capacity.services.eligibility]\ndiscipline = \"priority\"\npriority = [\"verify\"]\n",
    );
    let run = |out: &Path| {
        let o = super::dxsim()
            .arg("capacity")
            .arg(&s)
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
        stdout
    };
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    let stdout = run(&a);
    assert!(
        stdout.contains("eligibility") && stdout.contains("meets p99"),
        "{stdout}"
    );
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(a.join("capacity.json")).unwrap()).unwrap();
    let services = report["services"].as_array().unwrap();
    let by = |name: &str| services.iter().find(|s| s["service"] == name).unwrap();
    let elig = by("eligibility");
    // Sized: the least size meeting the SLO, simulated at that size.
    assert_eq!(elig["servers_from"], "sizing");
    assert_eq!(elig["servers"], elig["sized_servers"]);
    assert!(
        elig["worst_hour_p99_ms"]["mean"].as_f64().unwrap() <= elig["slo_p99_ms"].as_f64().unwrap()
    );
    // A fixed size from the scenario, and where the service times came from.
    let reg = by("prescription_register");
    assert_eq!(
        (reg["servers"].as_u64(), reg["servers_from"].as_str()),
        (Some(2), Some("scenario"))
    );
    assert!(
        reg["routes"][0]["service_time_source"]
            .as_str()
            .unwrap()
            .starts_with("measured")
    );
    // Arrivals at scale 1.0: the sample's events times 100.
    assert_eq!(
        report["arrivals_per_replication"].as_f64().unwrap(),
        report["sample_events"].as_f64().unwrap() * 100.0
    );
    // Per service and minute: 180 minutes of each service with arrivals.
    let file = std::fs::File::open(a.join("capacity-minutes.parquet")).unwrap();
    let rows: usize = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
        .unwrap()
        .build()
        .unwrap()
        .map(|b| b.unwrap().num_rows())
        .sum();
    assert_eq!(rows, 180 * services.len());
    // The report, written by the command.
    assert!(stdout.contains("report: "), "{stdout}");
    super::report::check_report(&a);
    // Deterministic from the seed, the report included.
    run(&b);
    for f in [
        "capacity.json",
        "capacity-minutes.parquet",
        "report.html",
        "report/figures/capacity-heatmap.svg",
        "report/tables/capacity-p99-vs-size.csv",
    ] {
        assert_eq!(
            std::fs::read(a.join(f)).unwrap(),
            std::fs::read(b.join(f)).unwrap(),
            "{f}"
        );
    }
    // The two results side by side.
    let cmp = dir.path().join("cmp");
    let o = super::dxsim()
        .args(["report", "--compare"])
        .arg(&a)
        .arg(&b)
        .arg("--out")
        .arg(&cmp)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let html = std::fs::read_to_string(cmp.join("report.html")).unwrap();
    assert_eq!(
        dx_reports::html::external_references(&html),
        Vec::<String>::new()
    );
    let rows = super::report::read_csv(&cmp.join("report/tables/compare-servers.csv"));
    assert_eq!(rows.len() - 1, 2 * services.len(), "{rows:?}");
    for r in &rows[1..] {
        let name = r[0].split(" (").next().unwrap();
        assert_eq!(
            r[1].parse::<f64>().unwrap(),
            by(name)["servers"].as_f64().unwrap(),
            "{r:?}"
        );
    }
}

#[test]
fn bad_capacity_settings_are_refused_before_any_work() {
    let dir = tempfile::tempdir().unwrap();
    for (extra, says) in [
        (
            "[capacity.services.eligibilty]\nservers = 2\n",
            "eligibilty",
        ),
        ("[capacity.services.portal]\nservers = 0\n", "servers"),
        (
            "[capacity.service_times.verify]\nmedian_ms = 5.0\np99_ms = 1.0\n",
            "median_ms",
        ),
        (
            "[capacity.services.eligibility]\ndiscipline = \"priority\"\npriority = [\"register\"]\n",
            "register is not a route of eligibility",
        ),
        (
            "[capacity.services.eligibility]\ndiscipline = \"lifo\"\n",
            "lifo",
        ),
    ] {
        let out = dir.path().join("out");
        let o = super::dxsim()
            .arg("capacity")
            .arg(scenario(dir.path(), extra))
            .arg("--out")
            .arg(&out)
            .output()
            .unwrap();
        assert!(!o.status.success());
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains(says), "{extra}: {err}");
        assert!(!out.join("capacity.json").exists());
    }
}
