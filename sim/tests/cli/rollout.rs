//! `dxsim report SCENARIO.toml` as a policymaker runs it: a rollout simulated month by month, its
//! tables and report (the drawn numbers checked against the tables by `report::check_report`),
//! numbers that follow the rollout, the same bytes for any thread count, two rollouts side by
//! side, and bad scenarios refused before any work.

use std::path::{Path, PathBuf};

/// A small national rollout: 8 months from April 2026, every facility connected and running
/// e-prescription by the waypoint, EHR sharing at most of them, every municipality joining.
fn scenario(dir: &Path, name: &str, waypoint: &str) -> PathBuf {
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(
        &path,
        format!(
            "name = \"{name}\"\nseed = 11\n[population]\nscale = 0.0001\n\
             [rollout]\nstart = 2026-04-01\nmonths = 8\n\
             [[rollout.waypoints]]\nat = {waypoint}\n\
             online_eligibility = {{ hospital = 1.0, clinic = 1.0, dental = 1.0, pharmacy = 1.0 }}\n\
             eprescription = {{ hospital = 1.0, clinic = 1.0, dental = 1.0, pharmacy = 1.0 }}\n\
             ehr_sharing = {{ hospital = 1.0, clinic = 1.0, dental = 0.5, pharmacy = 0.5 }}\n\
             card_use = {{ hospital = 0.95, clinic = 0.95, dental = 0.95, pharmacy = 0.95 }}\n\
             electronic_share = 0.95\nmunicipal_participation = 1.0\n\
             [capacity.service_times.register]\nmedian_ms = 1800.0\np99_ms = 5000.0\n\
             [slo.routes.register]\np99_ms = 8000.0\n[slo.routes.cancel]\np99_ms = 8000.0\n"
        ),
    )
    .unwrap();
    path
}

fn report(args: &[&std::ffi::OsStr], cwd: &Path) -> String {
    let o = super::dxsim()
        .arg("report")
        .args(args)
        .current_dir(cwd)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        o.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    stdout
}

/// Named columns of one type.
pub type Named<T> = Vec<(String, Vec<T>)>;

/// A Parquet file's columns as text (text columns) or numbers (every numeric column).
pub fn columns(path: &Path) -> (Named<String>, Named<f64>) {
    use arrow_array::cast::AsArray;
    use arrow_schema::DataType;
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let (mut text, mut num): (Named<String>, Named<f64>) = Default::default();
    for b in parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
        .unwrap()
        .build()
        .unwrap()
    {
        let b = b.unwrap();
        for (i, f) in b.schema().fields().iter().enumerate() {
            let c = b.column(i);
            match f.data_type() {
                DataType::Utf8 => {
                    let v = c.as_string::<i32>().iter().map(|x| x.unwrap().to_owned());
                    match text.iter_mut().find(|(n, _)| n == f.name()) {
                        Some((_, col)) => col.extend(v),
                        None => text.push((f.name().clone(), v.collect())),
                    }
                }
                t => {
                    use arrow_array::types::{Float64Type, UInt32Type, UInt64Type};
                    let v: Vec<f64> = match t {
                        DataType::Float64 => c.as_primitive::<Float64Type>().values().to_vec(),
                        DataType::UInt32 => c
                            .as_primitive::<UInt32Type>()
                            .values()
                            .iter()
                            .map(|x| f64::from(*x))
                            .collect(),
                        DataType::UInt64 => c
                            .as_primitive::<UInt64Type>()
                            .values()
                            .iter()
                            .map(|x| *x as f64)
                            .collect(),
                        other => panic!("{}: column {} is {other}", path.display(), f.name()),
                    };
                    match num.iter_mut().find(|(n, _)| n == f.name()) {
                        Some((_, col)) => col.extend(v),
                        None => num.push((f.name().clone(), v)),
                    }
                }
            }
        }
    }
    (text, num)
}

pub fn column<'a, T>(cols: &'a [(String, Vec<T>)], name: &str) -> &'a [T] {
    &cols
        .iter()
        .find(|(n, _)| n == name)
        .unwrap_or_else(|| panic!("no column {name}"))
        .1
}

#[test]
fn a_rollout_is_simulated_month_by_month_and_reported() {
    let dir = tempfile::tempdir().unwrap();
    let s = scenario(dir.path(), "ramp", "2026-08-01");
    let out = dir.path().join("ramp");
    let stdout = report(
        &[s.as_os_str(), "--out".as_ref(), out.as_os_str()],
        dir.path(),
    );
    assert!(
        stdout.contains("rollout of ramp:")
            && stdout.contains("8 months from 2026-04-01 to 2026-12-01"),
        "{stdout}"
    );
    assert!(
        stdout.contains("report:") && stdout.contains("rollout"),
        "{stdout}"
    );
    // The report: self-contained, every chart's numbers those of the tables.
    let ids = super::report::check_report(&out);
    assert_eq!(ids.iter().filter(|i| i.starts_with("rollout-")).count(), 8);

    // The numbers follow the rollout.
    let (_, m) = columns(&out.join("rollout-months.parquet"));
    let col = |n: &str| column(&m, n);
    assert_eq!(col("prescriptions").len(), 8);
    // ≈856 M prescriptions a year (FACTS), ±15% for the season and the small sample.
    let mean = col("prescriptions").iter().sum::<f64>() / 8.0;
    assert!((mean / (856.0e6 / 12.0) - 1.0).abs() < 0.15, "{mean}");
    for i in 0..8 {
        assert!(col("electronic_prescriptions")[i] <= col("outside_prescriptions")[i]);
        assert!(col("outside_prescriptions")[i] <= col("prescriptions")[i]);
        let parts = col("electronic_prescriptions")[i]
            + col("ehr_documents")[i]
            + col("portal_applications")[i];
        assert!((col("paper_avoided")[i] - parts).abs() < 1e-6 * parts.max(1.0));
    }
    let (first, last) = (|n: &str| col(n)[0], |n: &str| col(n)[7]);
    // Before the waypoint a quarter of the few prescribers' outside prescriptions are
    // electronic; after it nearly all of everyone's.
    assert!(
        first("electronic_share") < 0.15,
        "{}",
        first("electronic_share")
    );
    assert!(
        last("electronic_share") > 0.8,
        "{}",
        last("electronic_share")
    );
    assert!(last("consented_views") > 5.0 * first("consented_views").max(1.0));
    assert!(last("adoption_municipal_participation") == 1.0);
    // More medication on record: more duplicate warnings, and the registered allergies warn.
    assert!(last("duplicate_warnings") > first("duplicate_warnings"));
    assert!(col("allergy_warnings").iter().sum::<f64>() > 0.0);
    // The totals are the months' sums.
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("rollout.json")).unwrap()).unwrap();
    for k in [
        "prescriptions",
        "paper_avoided",
        "duplicate_warnings",
        "consented_views",
    ] {
        let sum: f64 = col(k).iter().sum();
        let total = summary["totals"][k].as_f64().unwrap();
        assert!((sum - total).abs() <= 1e-9 * sum.max(1.0), "{k}");
    }
    // The services: registrations grow with e-prescription, and their workers with them, each
    // at least the busiest hour's offered load.
    let (t, s) = columns(&out.join("rollout-services.parquet"));
    let services = column(&t, "service");
    let rows = |name: &str| -> Vec<usize> {
        (0..services.len())
            .filter(|i| services[*i] == name)
            .collect()
    };
    let reg = rows("prescription_register");
    assert_eq!(reg.len(), 8);
    let (req, workers, load) = (
        column(&s, "requests"),
        column(&s, "workers"),
        column(&s, "offered_load"),
    );
    assert!(
        req[reg[7]] > 3.0 * req[reg[0]],
        "{} {}",
        req[reg[0]],
        req[reg[7]]
    );
    assert!(workers[reg[7]] > workers[reg[0]]);
    for i in 0..services.len() {
        assert!(workers[i] >= load[i].ceil(), "row {i}");
    }
}

/// Three years from the population's date: persons die and are born at the published yearly
/// rates, the share aged 75+ and the late-elderly membership grow as the baby boomers reach 75, and
/// the report draws it.
#[test]
fn the_population_ages_through_a_rollout() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ageing.toml");
    std::fs::write(
        &path,
        "name = \"ageing\"\nseed = 3\n[population]\nscale = 0.0002\nas_of = 2025-10-01\n\
         [rollout]\nstart = 2025-10-01\nmonths = 36\n\
         [[rollout.waypoints]]\nat = 2027-04-01\nelectronic_share = 0.5\n",
    )
    .unwrap();
    let out = dir.path().join("ageing");
    report(
        &[path.as_os_str(), "--out".as_ref(), out.as_os_str()],
        dir.path(),
    );
    let (_, m) = columns(&out.join("rollout-months.parquet"));
    let col = |n: &str| column(&m, n);
    let (persons, aged, share, members) = (
        col("persons"),
        col("aged_75_plus"),
        col("aged_75_plus_share"),
        col("late_elderly_members"),
    );
    assert_eq!(persons.len(), 36);
    // At the start, the population as generated (its 75+ share the published 16.8%).
    assert!((persons[0] / 123.8e6 - 1.0).abs() < 0.002, "{}", persons[0]);
    assert!((share[0] - 0.168).abs() < 0.01, "{}", share[0]);
    // Births and deaths at the published yearly rates (FACTS: 0.72 M, 1.61 M), within the noise
    // of some 150 and 320 sampled a year.
    let per_year = |n: &str| col(n).iter().sum::<f64>() / 3.0;
    assert!(
        (per_year("births") / 0.72e6 - 1.0).abs() < 0.2,
        "{}",
        per_year("births")
    );
    assert!(
        (per_year("deaths") / 1.61e6 - 1.0).abs() < 0.2,
        "{}",
        per_year("deaths")
    );
    // Fewer persons, more of them 75 and over (about a point in three years), the late-elderly
    // membership with them; public assistance keeps a few 75+ out of it.
    assert!(
        persons[35] < persons[0] - 1.5e6,
        "{} {}",
        persons[0],
        persons[35]
    );
    assert!(share[35] > share[0] + 0.005, "{} {}", share[0], share[35]);
    assert!(members[35] > members[0], "{} {}", members[0], members[35]);
    for i in 0..36 {
        assert!(
            members[i] <= aged[i] && members[i] > 0.9 * aged[i],
            "month {i}"
        );
        assert!((share[i] - aged[i] / persons[i]).abs() < 1e-12);
    }
    let ids = super::report::check_report(&out);
    assert!(ids.iter().any(|i| i == "rollout-population"), "{ids:?}");
}

#[test]
fn a_rollout_is_the_same_for_any_thread_count_and_two_compare_side_by_side() {
    let dir = tempfile::tempdir().unwrap();
    let s = dx_scenario::Scenario::load(&scenario(dir.path(), "slow", "2026-11-01")).unwrap();
    let population = dir.path().join("population");
    dx_population::generate(
        &s,
        &population,
        dx_population::RunOptions {
            threads: 2,
            ..Default::default()
        },
    )
    .unwrap();
    let run = |threads: usize, out: &Path| {
        dx_rollout::run(
            &s,
            &population,
            out,
            dx_rollout::RunOptions {
                threads,
                progress: false,
            },
        )
        .unwrap()
    };
    let (one, two) = (dir.path().join("one"), dir.path().join("two"));
    assert_eq!(run(1, &one), run(2, &two));
    for f in [
        "rollout-months.parquet",
        "rollout-services.parquet",
        "rollout.json",
    ] {
        assert_eq!(
            std::fs::read(one.join(f)).unwrap(),
            std::fs::read(two.join(f)).unwrap(),
            "{f}"
        );
    }

    // Two scenarios compared: each simulated into runs/ under the working directory first.
    let fast = scenario(dir.path(), "fast", "2026-06-01");
    let slow = dir.path().join("slow.toml");
    let cmp = dir.path().join("cmp");
    let stdout = report(
        &[
            "--compare".as_ref(),
            slow.as_os_str(),
            fast.as_os_str(),
            "--out".as_ref(),
            cmp.as_os_str(),
        ],
        dir.path(),
    );
    assert!(
        stdout.contains("comparison:") && stdout.contains("rollout"),
        "{stdout}"
    );
    let runs: Vec<PathBuf> = std::fs::read_dir(dir.path().join("runs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    let run_of = |name: &str| {
        runs.iter()
            .find(|p| p.file_name().unwrap().to_string_lossy().starts_with(name))
            .unwrap()
            .clone()
    };
    for name in ["slow", "fast"] {
        assert!(
            run_of(name).join("report.html").is_file(),
            "{name}: no report of its own"
        );
    }
    let html = std::fs::read_to_string(cmp.join("report.html")).unwrap();
    assert_eq!(
        dx_reports::html::external_references(&html),
        Vec::<String>::new()
    );
    // Each line is its run's column: A the slow rollout, B the fast one.
    let drawn =
        super::report::read_csv(&cmp.join("report/tables/compare-rollout-electronic-share.csv"));
    assert_eq!(drawn[0].len(), 3);
    for (g, name) in [(1, "slow"), (2, "fast")] {
        let (t, m) = columns(&run_of(name).join("rollout-months.parquet"));
        let months = column(&t, "month");
        let share = column(&m, "electronic_share");
        for (i, month) in months.iter().enumerate() {
            let row = drawn.iter().find(|r| &r[0] == month).unwrap();
            let v: f64 = row[g].parse().unwrap();
            assert!((v - 100.0 * share[i]).abs() < 1e-6, "{name} {month}");
        }
    }
    // The fast rollout is ahead in its third month.
    let third = &drawn[3];
    assert!(
        third[2].parse::<f64>().unwrap() > third[1].parse::<f64>().unwrap(),
        "{third:?}"
    );
}

#[test]
fn bad_rollouts_are_refused_before_any_work() {
    let dir = tempfile::tempdir().unwrap();
    let good = std::fs::read_to_string(scenario(dir.path(), "r", "2026-08-01")).unwrap();
    for (name, text, says) in [
        (
            "shrinks",
            good.replace(
                "municipal_participation = 1.0",
                "municipal_participation = 0.01",
            ),
            "only grows",
        ),
        (
            "early",
            good.replace("at = 2026-08-01", "at = 2026-01-01"),
            "must follow",
        ),
        (
            "typo",
            good.replace("electronic_share", "electronic_shar"),
            "electronic_shar",
        ),
        ("none", "name = \"none\"\n".to_owned(), "has no [rollout]"),
    ] {
        let path = dir.path().join(format!("{name}.toml"));
        std::fs::write(&path, text).unwrap();
        let out = dir.path().join(format!("out-{name}"));
        let o = super::dxsim()
            .arg("report")
            .arg(&path)
            .arg("--out")
            .arg(&out)
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(1), "{name}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains(says), "{name}: {err}");
        assert!(!out.exists(), "{name}: wrote {}", out.display());
    }
    // --out belongs to a rollout or a comparison, not to a run directory's report.
    let o = super::dxsim()
        .args(["report", "somewhere", "--out", "elsewhere"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--out is for"));
}

#[test]
fn a_suspension_in_a_rollout_shows_in_its_month() {
    let dir = tempfile::tempdir().unwrap();
    let s = scenario(dir.path(), "suspended", "2026-05-01");
    let mut text = std::fs::read_to_string(&s).unwrap();
    text.push_str(
        "[[faults]]\nkind = \"service_suspended\"\nstart = 2026-07-01T00:00:00\nend = 2026-07-08T00:00:00\ntarget = \"eprescription_issuing\"\nreason = \"dummy drug codes\"\n",
    );
    std::fs::write(&s, text).unwrap();
    let out = dir.path().join("out");
    report(
        &[s.as_os_str(), "--out".as_ref(), out.as_os_str()],
        dir.path(),
    );
    let (t, m) = columns(&out.join("rollout-months.parquet"));
    let months = column(&t, "month");
    let paper = column(&m, "suspended_to_paper");
    let share = column(&m, "electronic_share");
    let july = months.iter().position(|x| x == "2026-07").unwrap();
    for (i, p) in paper.iter().enumerate() {
        assert_eq!(*p > 0.0, i == july, "{months:?} {paper:?}");
    }
    // A week of seven on paper: July's electronic share falls below June's and August's.
    assert!(
        share[july] < share[july - 1] && share[july] < share[july + 1],
        "{share:?}"
    );
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(
        html.contains("Months of a suspension"),
        "the report shows the month"
    );
    // Only a suspension applies to a rollout.
    let mut bad = std::fs::read_to_string(&s).unwrap();
    bad.push_str("[[faults]]\nkind = \"exchange_crash\"\nstart = 2026-07-01T00:00:00\nend = 2026-07-02T00:00:00\n");
    std::fs::write(&s, bad).unwrap();
    let o = super::dxsim()
        .arg("report")
        .arg(&s)
        .arg("--out")
        .arg(dir.path().join("bad"))
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("service_suspended faults only"));
}
