//! The load-test view (vendors): throughput and latency over time per route, the latency
//! distribution (HDR percentile plot), errors by code, SLO verdicts and the driver's lateness,
//! from a replay's `summary.json`, `latency-windows.parquet`, `latency-percentiles.parquet` and
//! `driver-lateness.parquet`.

use crate::chart::{Body, Chart, Scale, Series, XLabels, compact, percentile_x};
use crate::data::{floats, read_parquet, read_run_file, texts};
use crate::html::{Page, Table};
use crate::terms::label;
use polars::prelude::*;
use std::path::Path;

/// Routes drawn at most in one line chart (the busiest); every route is in the tables.
pub const MAX_LINES: usize = 6;

pub use dx_model::rundir::summary::{Lateness, RouteSummary, RunInfo, Summary, Totals};

/// Whether `dir` holds a replay's results.
pub fn present(dir: &Path) -> bool {
    dx_model::rundir::present::<Summary>(dir) && dir.join("latency-windows.parquet").is_file()
}

/// The routes of the windows table, busiest first, at most `n`.
fn busiest_routes(windows: &DataFrame, n: usize) -> anyhow::Result<Vec<String>> {
    let by = windows
        .clone()
        .lazy()
        .group_by([col("route")])
        .agg([col("requests").sum()])
        .sort_by_exprs(
            [col("requests"), col("route")],
            SortMultipleOptions::default().with_order_descending_multi([true, false]),
        )
        .limit(n as IdxSize)
        .collect()?;
    texts(&by, "route")
}

/// One route's rows of the windows table, in time order.
fn route_rows(windows: &DataFrame, route: &str) -> anyhow::Result<DataFrame> {
    Ok(windows
        .clone()
        .lazy()
        .filter(col("route").eq(lit(route)))
        .sort(["window_start_s"], SortMultipleOptions::default())
        .collect()?)
}

/// The load-test charts of a replay in `dir`.
pub fn charts(dir: &Path) -> anyhow::Result<(Summary, Vec<Chart>)> {
    let summary: Summary = read_run_file(dir)?;
    let windows = read_parquet(&dir.join("latency-windows.parquet"))?;
    let ladder = read_parquet(&dir.join("latency-percentiles.parquet"))?;
    let lateness = read_parquet(&dir.join("driver-lateness.parquet"))?;
    let routes = busiest_routes(&windows, MAX_LINES)?;
    let window_s = floats(&windows, "window_s")?
        .first()
        .copied()
        .unwrap_or(1.0);
    let mut throughput = Vec::new();
    let mut p99 = Vec::new();
    for r in &routes {
        let rows = route_rows(&windows, r)?;
        let t = floats(&rows, "window_start_s")?;
        let x: Vec<f64> = t.iter().map(|s| s + window_s / 2.0).collect();
        throughput.push(Series {
            name: label(r),
            points: x
                .iter()
                .copied()
                .zip(floats(&rows, "throughput_per_s")?)
                .collect(),
        });
        p99.push(Series {
            name: label(r),
            points: x.iter().copied().zip(floats(&rows, "p99_ms")?).collect(),
        });
    }
    let default_slo = summary
        .routes
        .values()
        .filter_map(|r| r.slo.p99_ms)
        .fold(None, |a: Option<f64>, v| Some(a.map_or(v, |a| a.max(v))));
    let speed = summary.run.speedup;
    let mut out = vec![
        Chart {
            id: "load-throughput".into(),
            title: "Requests per second by route".into(),
            x_label: "time into the replay (s)".into(),
            y_label: "requests per second".into(),
            reading: format!(
                "The {} busiest routes over the replay in windows of {window_s} s ({speed}× simulated time): the shape follows the scenario's hours, not the target's capacity.",
                routes.len()
            ),
            body: Body::Lines {
                series: throughput,
                x_labels: XLabels::Number,
                y_scale: Scale::Linear,
                reference: None,
            },
        },
        Chart {
            id: "load-p99".into(),
            title: "p99 latency over time by route".into(),
            x_label: "time into the replay (s)".into(),
            y_label: "p99 latency from the intended send (ms)".into(),
            reading: reading_p99(&summary),
            body: Body::Lines {
                series: p99,
                x_labels: XLabels::Number,
                y_scale: Scale::Log,
                reference: default_slo.map(|v| ("largest p99 SLO".to_owned(), v)),
            },
        },
    ];
    // The percentile ladder of the same routes.
    let mut ladder_series = Vec::new();
    for r in &routes {
        let rows = ladder
            .clone()
            .lazy()
            .filter(col("route").eq(lit(r.as_str())))
            .sort(["percentile"], SortMultipleOptions::default())
            .collect()?;
        // The maximum sits where the last of n requests does: at percentile 100 (1 − 1/n).
        let n = floats(&rows, "requests")?.first().copied().unwrap_or(1.0);
        let pts = floats(&rows, "percentile")?
            .into_iter()
            .map(|p| {
                if p >= 100.0 {
                    if n > 1.0 { n.log10() } else { 0.0 }
                } else {
                    percentile_x(p)
                }
            })
            .zip(floats(&rows, "latency_ms")?)
            .collect();
        ladder_series.push(Series {
            name: label(r),
            points: pts,
        });
    }
    out.push(Chart {
        id: "load-percentiles".into(),
        title: "Latency distribution by route (HDR percentile plot)".into(),
        x_label: "percentile".into(),
        y_label: "latency from the intended send (ms)".into(),
        reading: "Each line climbs from the fastest request to the slowest (drawn at percentile 100 (1 − 1/n) of its n requests); a long flat start and a late rise mean a few slow requests, an early rise means most requests wait.".into(),
        body: Body::Lines {
            series: ladder_series,
            x_labels: XLabels::Percentile,
            y_scale: Scale::Log,
            reference: None,
        },
    });
    // Errors and refusals by code.
    let mut rows: Vec<(String, f64, usize)> = Vec::new();
    for (route, r) in &summary.routes {
        if r.errors > 0 {
            rows.push((
                format!("{} · 5xx or no answer", label(route)),
                r.errors as f64,
                0,
            ));
        }
        for (code, n) in &r.refusal_codes {
            rows.push((format!("{} · {code}", label(route)), *n as f64, 1));
        }
    }
    rows.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    if !rows.is_empty() {
        rows.truncate(20);
        out.push(Chart {
            id: "load-errors".into(),
            title: "Errors and refusals by route and code".into(),
            x_label: "requests".into(),
            y_label: "route · code".into(),
            reading: format!(
                "{} server errors or unanswered requests and {} refusals (4xx, by the exchange's error code) in {} requests; refusals are the protocol at work, errors count against the SLO.",
                summary.totals.errors, summary.totals.refused, summary.totals.requests
            ),
            body: Body::Bars {
                rows,
                groups: vec!["5xx or no answer".into(), "refused (4xx)".into()],
            },
        });
    }
    let t = floats(&lateness, "window_start_s")?;
    let x: Vec<f64> = t.iter().map(|s| s + window_s / 2.0).collect();
    out.push(Chart {
        id: "load-lateness".into(),
        title: "Driver lateness over time".into(),
        x_label: "time into the replay (s)".into(),
        y_label: "start after the intended time (ms)".into(),
        reading: format!(
            "How late the driver itself started requests (p99 {} ms, max {} ms over the run; {} started more than 10 ms late): lateness counts in every latency above, so a late driver cannot hide a slow target.",
            compact(summary.lateness.p99_ms),
            compact(summary.lateness.max_ms),
            summary.lateness.over_10ms
        ),
        body: Body::Lines {
            series: vec![
                Series {
                    name: "p99".into(),
                    points: x.iter().copied().zip(floats(&lateness, "late_p99_ms")?).collect(),
                },
                Series {
                    name: "max".into(),
                    points: x.iter().copied().zip(floats(&lateness, "late_max_ms")?).collect(),
                },
            ],
            x_labels: XLabels::Number,
            y_scale: Scale::Log,
            reference: None,
        },
    });
    Ok((summary, out))
}

fn reading_p99(s: &Summary) -> String {
    let worst = s
        .routes
        .iter()
        .max_by(|a, b| a.1.p99_ms.total_cmp(&b.1.p99_ms));
    match worst {
        Some((name, r)) => format!(
            "Latency is measured from when each request was due, so queueing anywhere shows; the slowest route over the run is {} at p99 {} ms. The dashed line is the largest p99 bound of the SLOs.",
            label(name),
            compact(r.p99_ms)
        ),
        None => "No requests were recorded.".into(),
    }
}

/// The SLO verdicts as a table.
pub fn slo_table(s: &Summary) -> Table {
    let bound = |v: Option<f64>| v.map_or("–".to_owned(), compact);
    Table {
        caption: "SLO verdicts by route (latency from the intended send time)".into(),
        columns: [
            "route",
            "requests",
            "req/s",
            "p50 ms",
            "p99 ms",
            "p99.9 ms",
            "max ms",
            "4xx",
            "errors",
            "skipped",
            "p99 bound",
            "error bound",
            "verdict",
        ]
        .map(String::from)
        .to_vec(),
        rows: s
            .routes
            .iter()
            .map(|(name, r)| {
                vec![
                    label(name),
                    r.count.to_string(),
                    compact(r.throughput_per_s),
                    compact(r.p50_ms),
                    compact(r.p99_ms),
                    compact(r.p999_ms),
                    compact(r.max_ms),
                    r.refused.to_string(),
                    r.errors.to_string(),
                    r.skipped.to_string(),
                    bound(r.slo.p99_ms),
                    bound(r.slo.error_rate),
                    if r.breaches.is_empty() {
                        "pass".into()
                    } else {
                        format!("FAIL: {}", r.breaches.join("; "))
                    },
                ]
            })
            .collect(),
    }
}

/// Adds the load-test section of the replay in `dir` to `page`.
pub fn section(mut page: Page, dir: &Path) -> anyhow::Result<Page> {
    let (summary, charts) = charts(dir)?;
    let r = &summary.run;
    page = page
        .heading("Load test (負荷試験): the replay against the target")
        .paragraph(format!(
            "Scenario {} replayed against {} from {} to {} (simulated), {}× real time, at most {} requests in flight: {} events, {} requests in {:.1} s ({} per second).",
            r.scenario, r.target, r.period_start, r.period_end, r.speedup, r.max_in_flight,
            r.events, summary.totals.requests, summary.elapsed_s, compact(summary.totals.throughput_per_s)
        ))
        .verdict(
            if summary.pass {
                "Verdict: PASS — every route met its SLO.".to_owned()
            } else {
                let failed: Vec<String> = summary
                    .routes
                    .iter()
                    .filter(|(_, x)| !x.breaches.is_empty())
                    .map(|(n, _)| label(n))
                    .collect();
                format!("Verdict: FAIL — {} breached its SLO.", failed.join(", "))
            },
            summary.pass,
        );
    if r.interrupted {
        page = page.verdict(
            "Interrupted: the figures cover the events released before the stop.",
            false,
        );
    }
    page = page.table(slo_table(&summary));
    for c in charts {
        page = page.figure(c, false)?;
    }
    Ok(page)
}
