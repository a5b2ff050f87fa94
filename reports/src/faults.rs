//! The faults view (architects, vendors): for each fault of the scenario — a network outage, a
//! suspended service — what was due in it and what became of it (held and sent after, issued
//! on paper, given up, shed, retried), the backlog at its end, the peak of the recovery and the
//! time until every route was back within its SLO; and the replay second by second (from
//! `timeseries.csv`) with the faults' windows drawn over it.

use crate::chart::{Body, Chart, Scale, Series, XLabels, compact};
use crate::data::read_run_file;
use crate::html::{Page, Table};
use dx_model::rundir::summary::Summary;
use std::collections::BTreeMap;
use std::path::Path;

/// Points drawn at most per series (seconds are added up into wider steps beyond).
const MAX_POINTS: u64 = 600;

/// Whether the replay in `dir` carried faults.
pub fn present(dir: &Path) -> bool {
    crate::load::present(dir) && read_run_file::<Summary>(dir).is_ok_and(|s| !s.faults.is_empty())
}

/// Per second of the replay, every route added up: requests sent, answered, shed or failed,
/// retried, and held, issued on paper or given up by a fault.
fn per_second(dir: &Path) -> anyhow::Result<BTreeMap<u64, [u64; 5]>> {
    let path = dir.join("timeseries.csv");
    let text = std::fs::read_to_string(&path)
        .map_err(|e| anyhow::anyhow!("reading {}: {e}", path.display()))?;
    let mut lines = text.lines();
    let head: Vec<&str> = lines.next().unwrap_or_default().split(',').collect();
    let at = |name: &str| {
        head.iter()
            .position(|h| *h == name)
            .ok_or_else(|| anyhow::anyhow!("{} has no column {name}", path.display()))
    };
    let cols = [
        at("second")?,
        at("requests")?,
        at("errors")?,
        at("retried")?,
        at("deferred")?,
        at("paper")?,
        at("abandoned")?,
    ];
    let mut out: BTreeMap<u64, [u64; 5]> = BTreeMap::new();
    for line in lines {
        let cells: Vec<&str> = line.split(',').collect();
        let n = |i: usize| -> anyhow::Result<u64> {
            cells
                .get(cols[i])
                .and_then(|c| c.parse().ok())
                .ok_or_else(|| anyhow::anyhow!("{}: a malformed row {line:?}", path.display()))
        };
        let row = out.entry(n(0)?).or_default();
        let (requests, errors) = (n(1)?, n(2)?);
        row[0] += requests;
        row[1] += requests - errors.min(requests);
        row[2] += errors;
        row[3] += n(3)?;
        row[4] += n(4)? + n(5)? + n(6)?;
    }
    Ok(out)
}

/// The chart of the replay second by second, the faults' windows drawn as a step.
fn chart(dir: &Path, s: &Summary) -> anyhow::Result<Chart> {
    let seconds = per_second(dir)?;
    let last = seconds.keys().next_back().copied().unwrap_or(0);
    let step = (last + 1).div_ceil(MAX_POINTS).max(1);
    let mut sums: BTreeMap<u64, [u64; 5]> = BTreeMap::new();
    for (second, row) in &seconds {
        let s = sums.entry(second / step * step).or_default();
        for (a, b) in s.iter_mut().zip(row) {
            *a += b;
        }
    }
    let names = [
        "sent",
        "answered",
        "shed or failed",
        "retried",
        "held, on paper or given up by a fault",
    ];
    let mut series: Vec<Series> = names
        .iter()
        .enumerate()
        .map(|(k, name)| Series {
            name: (*name).to_owned(),
            points: sums
                .iter()
                .map(|(x, row)| (*x as f64, row[k] as f64 / step as f64))
                .collect(),
        })
        .collect();
    let top = series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.1))
        .fold(1.0, f64::max);
    let mut window = Vec::new();
    for f in &s.faults {
        window.extend([
            (f.replay_start_s, 0.0),
            (f.replay_start_s, top),
            (f.replay_end_s, top),
            (f.replay_end_s, 0.0),
        ]);
    }
    series.push(Series {
        name: "fault window".into(),
        points: window,
    });
    let worst = s
        .faults
        .iter()
        .max_by(|a, b| a.recovery_peak_per_s.total_cmp(&b.recovery_peak_per_s));
    Ok(Chart {
        id: "faults-flow".into(),
        title: "Requests per second through the faults".into(),
        x_label: "second of the replay".into(),
        y_label: if step > 1 {
            format!("requests per second (averaged over {step} s)")
        } else {
            "requests per second".into()
        },
        reading: match worst {
            Some(f) => format!(
                "Each fault's window is outlined. Inside it, requests a fault held, issued on paper or gave up are not sent; what was held arrives when it ends — {} requests per second at the peak after {}, against {} per second before it.",
                compact(f.recovery_peak_per_s),
                f.label,
                compact(f.usual_per_s)
            ),
            None => "No faults.".into(),
        },
        body: Body::Lines {
            series,
            x_labels: XLabels::Number,
            y_scale: Scale::Linear,
            reference: None,
        },
    })
}

/// The faults and their figures, a row each.
pub fn table(s: &Summary) -> Table {
    let speedup = s.run.speedup;
    Table {
        caption:
            "What each fault did (times in seconds of the replay; × speedup for simulated time)"
                .into(),
        columns: [
            "fault",
            "due in it",
            "sent",
            "held, sent after",
            "on paper",
            "given up unsent",
            "shed",
            "failed",
            "retried",
            "given up",
            "backlog at its end",
            "req/s before",
            "recovery peak req/s",
            "time to recover",
            "acknowledged writes lost",
        ]
        .map(String::from)
        .to_vec(),
        rows: s
            .faults
            .iter()
            .map(|f| {
                let d = &f.during;
                vec![
                    f.label.clone(),
                    (d.offered + d.deferred + d.paper + d.abandoned).to_string(),
                    d.offered.to_string(),
                    d.deferred.to_string(),
                    d.paper.to_string(),
                    d.abandoned.to_string(),
                    d.shed.to_string(),
                    d.failed.to_string(),
                    d.retried.to_string(),
                    d.given_up.to_string(),
                    f.backlog.to_string(),
                    compact(f.usual_per_s),
                    compact(f.recovery_peak_per_s),
                    match f.time_to_recover_s {
                        Some(t) => {
                            format!("{} s ({} s simulated)", compact(t), compact(t * speedup))
                        }
                        None => "not within the replay".into(),
                    },
                    f.lost_writes
                        .map_or("not at risk".to_owned(), |n| n.to_string()),
                ]
            })
            .collect(),
    }
}

/// Adds the faults section of the replay in `dir` to `page`.
pub fn section(mut page: Page, dir: &Path) -> anyhow::Result<Page> {
    let s: Summary = read_run_file(dir)?;
    page = page
        .heading("Faults (障害): what broke, what waited, how fast it came back")
        .paragraph(
            "A network outage cuts facilities off the centre: their checks and writes are held and sent when it ends (the backlog), prescribers issue paper, reads are given up. A suspended service answers 503 suspended; prescribers issue paper and the pharmacies register paper dispensings. Time to recover runs from a fault's end until every route's p99 of each second is within its SLO and stays so for 10 s.",
        );
    for f in &s.faults {
        let ok = f.time_to_recover_s.is_some() && f.lost_writes.unwrap_or(0) == 0;
        page = page.verdict(
            match f.time_to_recover_s {
                Some(t) => format!(
                    "{}: backlog {} at its end, recovered {} s after it ({} s simulated).",
                    f.label,
                    f.backlog,
                    compact(t),
                    compact(t * s.run.speedup)
                ),
                None => format!(
                    "{}: backlog {} at its end, not back within the SLOs before the replay ended.",
                    f.label, f.backlog
                ),
            },
            ok,
        );
    }
    page = page.table(table(&s));
    page.figure(chart(dir, &s)?, false)
}
