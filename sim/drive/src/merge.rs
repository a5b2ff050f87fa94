//! `dxsim merge`: the shards of one replay into one result — counts summed, histograms added
//! (so every percentile is the percentile of one histogram holding every shard's samples), the
//! series merged by second, the SLO verdict of the whole. Shards of different replays, and a
//! missing or repeated shard, are refused.

use crate::hlog::{self, Intervals};
use crate::measure::Tallies;
use crate::results;
use anyhow::Context as _;
use dx_model::route::{Route, Slo};
use dx_model::rundir;
use dx_model::rundir::summary::{RunInfo, Sharding, Summary};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// One shard's run directory and what it says of itself.
struct Part {
    dir: PathBuf,
    summary: Summary,
    sharding: Sharding,
    index: u32,
}

fn read_part(dir: &Path) -> anyhow::Result<Part> {
    let summary: Summary = rundir::read(dir).with_context(|| {
        format!(
            "{}: no readable summary.json — is it the output of a finished `dxsim drive --shard I/N`?",
            dir.display()
        )
    })?;
    let Some(sharding) = summary.run.sharding.clone() else {
        anyhow::bail!(
            "{} is not a shard: it was replayed whole (without --shard I/N)",
            dir.display()
        );
    };
    let Some(index) = sharding.index else {
        anyhow::bail!(
            "{} is already a merge of {} shards, not a shard",
            dir.display(),
            sharding.count
        );
    };
    Ok(Part {
        dir: dir.to_path_buf(),
        summary,
        sharding,
        index,
    })
}

/// Refuses shards that are not of one replay: the same workload, scenario (name and SLOs),
/// speedup, start instant and shard count, every index once.
fn check(parts: &[Part]) -> anyhow::Result<()> {
    let first = &parts[0];
    let slos = |p: &Part| -> BTreeMap<String, Slo> {
        p.summary
            .routes
            .iter()
            .map(|(r, s)| (r.clone(), s.slo))
            .collect()
    };
    let first_slos = slos(first);
    for p in &parts[1..] {
        let differ = |what: &str, a: &dyn std::fmt::Display, b: &dyn std::fmt::Display| {
            anyhow::anyhow!(
                "the shards are not of one replay: different {what} — {} has {a}, {} has {b}",
                first.dir.display(),
                p.dir.display()
            )
        };
        let (a, b) = (&first.sharding, &p.sharding);
        if a.workload != b.workload {
            return Err(differ("workloads", &a.workload, &b.workload));
        }
        if first.summary.run.scenario != p.summary.run.scenario {
            return Err(differ(
                "scenarios",
                &first.summary.run.scenario,
                &p.summary.run.scenario,
            ));
        }
        let other_slos = slos(p);
        if let Some((route, slo)) = first_slos
            .iter()
            .find(|(r, s)| other_slos.get(*r).is_some_and(|o| o != *s))
        {
            return Err(differ(
                &format!("scenarios (the SLO of {route})"),
                &format!("{slo:?}"),
                &format!("{:?}", other_slos[route]),
            ));
        }
        if first.summary.run.speedup != p.summary.run.speedup {
            return Err(differ(
                "speedups",
                &format!("{}×", first.summary.run.speedup),
                &format!("{}×", p.summary.run.speedup),
            ));
        }
        if a.start_at != b.start_at {
            return Err(differ("start instants", &a.start_at, &b.start_at));
        }
        if a.count != b.count {
            return Err(differ(
                "shard counts",
                &format!("{} shards", a.count),
                &format!("{} shards", b.count),
            ));
        }
    }
    let count = first.sharding.count;
    let mut seen: BTreeMap<u32, &Path> = BTreeMap::new();
    for p in parts {
        if let Some(other) = seen.insert(p.index, &p.dir) {
            anyhow::bail!(
                "shard {}/{count} is given twice: {} and {}",
                p.index,
                other.display(),
                p.dir.display()
            );
        }
    }
    let missing: Vec<String> = (0..count)
        .filter(|i| !seen.contains_key(i))
        .map(|i| format!("{i}/{count}"))
        .collect();
    if !missing.is_empty() {
        anyhow::bail!(
            "shard{} {} {} missing: a merge needs all {count}",
            if missing.len() > 1 { "s" } else { "" },
            missing.join(", "),
            if missing.len() > 1 { "are" } else { "is" }
        );
    }
    Ok(())
}

/// Merges the shards in `dirs` into `out`: its histogram logs, series, `service-times.json` and
/// `summary.json`; returns the merged summary.
pub fn merge(dirs: &[PathBuf], out: &Path) -> anyhow::Result<Summary> {
    if dirs.is_empty() {
        anyhow::bail!("no shard to merge");
    }
    let parts = dirs
        .iter()
        .map(|d| read_part(d))
        .collect::<anyhow::Result<Vec<_>>>()?;
    check(&parts)?;
    if dirs
        .iter()
        .any(|d| d.canonicalize().ok() == out.canonicalize().ok())
    {
        anyhow::bail!(
            "--out {} is one of the shards; merge into a directory of its own",
            out.display()
        );
    }
    if out.join("summary.json").exists() {
        anyhow::bail!("{} already holds a result; give a new --out", out.display());
    }
    std::fs::create_dir_all(out).with_context(|| format!("{} is not writable", out.display()))?;

    let mut intervals = Intervals::default();
    let mut tallies = Tallies::default();
    for p in &parts {
        intervals.read(&p.dir).with_context(|| {
            format!(
                "the histogram logs of shard {}/{}",
                p.index, p.sharding.count
            )
        })?;
        tallies.add(&Tallies::of_summary(&p.summary)?);
    }
    let first = &parts[0];
    let start = crate::parse_instant(&first.sharding.start_at)?;
    let about = format!(
        "dxsim merge of {} shards of {}",
        first.sharding.count, first.summary.run.scenario
    );
    let mut logs = hlog::Writer::create(out, start, &about)?;

    let targets: BTreeSet<&str> = parts
        .iter()
        .flat_map(|p| p.summary.run.target.split(','))
        .collect();
    let targets = targets.into_iter().collect::<Vec<_>>().join(",");
    let run = &first.summary.run;
    let info = RunInfo {
        scenario: run.scenario.clone(),
        target: targets.clone(),
        speedup: run.speedup,
        period_start: run.period_start.clone(),
        period_end: run.period_end.clone(),
        events: parts.iter().map(|p| p.summary.run.events).sum(),
        max_in_flight: parts.iter().map(|p| p.summary.run.max_in_flight).sum(),
        interrupted: parts.iter().any(|p| p.summary.run.interrupted),
        sharding: Some(Sharding {
            index: None,
            late_start_ms: parts
                .iter()
                .map(|p| p.sharding.late_start_ms)
                .fold(0.0, f64::max),
            ..first.sharding.clone()
        }),
    };
    let mut slos: BTreeMap<Route, Slo> = BTreeMap::new();
    for p in &parts {
        for (name, r) in &p.summary.routes {
            if let Some(route) = Route::parse(name) {
                slos.insert(route, r.slo);
            }
        }
    }
    // The shards share their start, so the replay lasted as long as its slowest shard.
    let elapsed_s = parts
        .iter()
        .map(|p| p.summary.elapsed_s)
        .fold(0.0, f64::max);
    let summary = results::write(
        out,
        &intervals,
        Some(&mut logs),
        &tallies,
        results::About {
            faults: results::FaultWindow::of_summary(&first.summary)
                .into_iter()
                .enumerate()
                .map(|(i, mut w)| {
                    // Each shard checked its own acknowledged writes.
                    w.lost_writes = parts
                        .iter()
                        .map(|p| p.summary.faults.get(i).and_then(|f| f.lost_writes))
                        .sum();
                    w
                })
                .collect(),
            info,
            elapsed_s,
            slo: &|route| slos.get(&route).copied().unwrap_or(route.info().slo),
            calibration_source: format!(
                "dxsim merge of {} shards of {} against {} ({} → {}, {}×)",
                first.sharding.count,
                run.scenario,
                targets,
                run.period_start,
                run.period_end,
                run.speedup
            ),
        },
    )?;
    logs.finish()?;
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::measure::{Class, Recorder, Sample};
    use dx_model::rng::Stream;
    use dx_scenario::SloSection;

    const START: &str = "2026-12-07T09:00:00.000Z";

    fn info(sharding: Option<Sharding>) -> RunInfo {
        RunInfo {
            scenario: "merge-test".into(),
            target: "http://127.0.0.1:1".into(),
            speedup: 60.0,
            period_start: "2025-10-06T09:00:00".into(),
            period_end: "2025-10-06T10:00:00".into(),
            events: 0,
            max_in_flight: 8,
            interrupted: false,
            sharding,
        }
    }

    /// Records `samples` as one replay into `dir` (a shard when `shard` is given).
    fn replay(dir: &Path, samples: &[Sample], shard: Option<(u32, u32)>) -> Summary {
        let start = crate::parse_instant(START).unwrap();
        let mut r = Recorder::new(dir, "test".into());
        r.begin(start).unwrap();
        for s in samples {
            r.record_lateness(s.second, s.service_us / 7);
            r.record(*s);
            if s.class == Class::Refused {
                r.refusal(s.route, "consent_required".into());
            }
        }
        r.skip(Route::Dispense);
        r.finish().unwrap();
        let mut i = Intervals::default();
        i.read(dir).unwrap();
        let slo = SloSection::default();
        results::write(
            dir,
            &i,
            None,
            &r.tallies,
            results::About {
                info: info(shard.map(|(index, count)| Sharding {
                    index: Some(index),
                    count,
                    start_at: START.into(),
                    workload: "w1".into(),
                    late_start_ms: 0.0,
                })),
                elapsed_s: 200.0,
                slo: &|route| slo.for_route(route),
                calibration_source: "test".into(),
                faults: Vec::new(),
            },
        )
        .unwrap()
    }

    fn samples() -> Vec<Sample> {
        let mut rng = Stream::new(7, "merge-test", 0);
        (0..30_000u64)
            .map(|i| {
                let route = [Route::Verify, Route::Register, Route::EhrSummary][(i % 3) as usize];
                let service = 200 + rng.below(20_000);
                let tail = if rng.chance(0.01) {
                    rng.below(3_000_000)
                } else {
                    0
                };
                Sample {
                    route,
                    class: match rng.below(50) {
                        0 => Class::ServerError,
                        1..=3 => Class::Refused,
                        _ => Class::Ok,
                    },
                    from_intended_us: service + tail,
                    service_us: service,
                    // Spread over 200 s, with a few stragglers ending past the minute a second
                    // stays open.
                    second: i / 150,
                    items: if route == Route::Verify { 3 } else { 1 },
                }
            })
            .collect()
    }

    #[test]
    fn three_shards_merge_into_what_one_replay_of_every_sample_gives() {
        let all = samples();
        let whole = tempfile::tempdir().unwrap();
        let one = replay(whole.path(), &all, None);
        let shards = tempfile::tempdir().unwrap();
        let dirs: Vec<PathBuf> = (0..3).map(|i| shards.path().join(i.to_string())).collect();
        for (i, d) in dirs.iter().enumerate() {
            let mine: Vec<Sample> = all
                .iter()
                .enumerate()
                .filter(|(k, _)| k % 3 == i)
                .map(|(_, s)| *s)
                .collect();
            replay(d, &mine, Some((i as u32, 3)));
        }
        let out = shards.path().join("merged");
        let merged = merge(&dirs, &out).unwrap();
        assert_eq!(merged.routes.len(), one.routes.len());
        for (name, a) in &one.routes {
            let b = &merged.routes[name];
            assert_eq!(
                (a.count, a.ok, a.refused, a.errors, a.items),
                (b.count, b.ok, b.refused, b.errors, b.items),
                "{name}"
            );
            // Each shard skipped one dispensing; the whole replay, one.
            if name == "dispense" {
                assert_eq!((a.skipped, b.skipped), (1, 3));
                continue;
            }
            assert_eq!(a.refusal_codes, b.refusal_codes, "{name}");
            for (x, y) in [
                (a.p50_ms, b.p50_ms),
                (a.p90_ms, b.p90_ms),
                (a.p99_ms, b.p99_ms),
                (a.p999_ms, b.p999_ms),
                (a.max_ms, b.max_ms),
                (a.service_p50_ms, b.service_p50_ms),
                (a.service_p99_ms, b.service_p99_ms),
            ] {
                assert_eq!(x, y, "{name}");
            }
        }
        assert_eq!(one.totals.requests, merged.totals.requests);
        assert_eq!(one.lateness.p99_ms, merged.lateness.p99_ms);
        assert_eq!(one.lateness.over_10ms, merged.lateness.over_10ms);
        // The series and the ladder are the same files, byte for byte.
        for file in [
            "timeseries.csv",
            "latency-percentiles.parquet",
            "latency-windows.parquet",
            "driver-lateness.parquet",
        ] {
            assert_eq!(
                std::fs::read(whole.path().join(file)).unwrap(),
                std::fs::read(out.join(file)).unwrap(),
                "{file}"
            );
        }
        let s = merged.run.sharding.unwrap();
        assert_eq!((s.index, s.count), (None, 3));
        // The merged logs read back to the same result.
        let mut i = Intervals::default();
        i.read(&out).unwrap();
        let mut w = Intervals::default();
        w.read(whole.path()).unwrap();
        let sums = |i: &Intervals| -> Vec<(u64, u64)> {
            i.seconds()
                .map(|s| {
                    let (second, hs) = s.unwrap();
                    (
                        second,
                        hs.iter().flat_map(|m| m.values()).map(|h| h.len()).sum(),
                    )
                })
                .collect()
        };
        assert_eq!(sums(&i), sums(&w));
    }

    #[test]
    fn a_merge_refuses_shards_that_are_not_one_replay() {
        let base = tempfile::tempdir().unwrap();
        let some: Vec<Sample> = samples().into_iter().take(300).collect();
        let shard = |name: &str, index: u32, count: u32, edit: &dyn Fn(&mut Summary)| {
            let dir = base.path().join(name);
            replay(&dir, &some, Some((index, count)));
            let mut s: Summary = rundir::read(&dir).unwrap();
            edit(&mut s);
            rundir::write(&dir, &s).unwrap();
            dir
        };
        let a = shard("a", 0, 2, &|_| {});
        let b = shard("b", 1, 2, &|_| {});
        let out = base.path().join("merged");
        let refused = |dirs: &[&PathBuf], expected: &str| {
            let dirs: Vec<PathBuf> = dirs.iter().map(|d| (*d).clone()).collect();
            let e = format!("{:#}", merge(&dirs, &out).unwrap_err());
            assert!(e.contains(expected), "{e:?} should say {expected:?}");
        };
        let set = |f: fn(&mut Sharding)| move |s: &mut Summary| f(s.run.sharding.as_mut().unwrap());
        let other_workload = shard("w", 1, 2, &set(|s| s.workload = "w2".into()));
        refused(&[&a, &other_workload], "different workloads");
        let other_scenario = shard("s", 1, 2, &|s| s.run.scenario = "other".into());
        refused(&[&a, &other_scenario], "different scenarios");
        let other_slo = shard("o", 1, 2, &|s| {
            s.routes.get_mut("verify").unwrap().slo.p99_ms = Some(1.0)
        });
        refused(&[&a, &other_slo], "the SLO of verify");
        let other_speed = shard("x", 1, 2, &|s| s.run.speedup = 10.0);
        refused(&[&a, &other_speed], "different speedups");
        let other_start = shard(
            "t",
            1,
            2,
            &set(|s| s.start_at = "2026-12-07T09:00:05.000Z".into()),
        );
        refused(&[&a, &other_start], "different start instants");
        let of_three = shard("3", 1, 3, &|_| {});
        refused(&[&a, &of_three], "different shard counts");
        let again = shard("a2", 0, 2, &|_| {});
        refused(&[&a, &again], "shard 0/2 is given twice");
        refused(&[&a], "shard 1/2 is missing");
        let whole = shard("whole", 0, 2, &|s| s.run.sharding = None);
        refused(&[&whole, &b], "is not a shard");
        refused(
            &[&a, &base.path().join("nothing")],
            "no readable summary.json",
        );
        assert!(!out.exists());
        // And the two that belong together merge.
        assert!(merge(&[a.clone(), b.clone()], &out).is_ok());
        refused(&[&a, &b], "already holds a result");
    }
}
