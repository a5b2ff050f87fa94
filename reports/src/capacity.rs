//! The capacity view (architects): load by hour of day and weekday, the peak minutes, latency
//! and utilisation of each service against its size, and the sizing table, from
//! `capacity.json` and `capacity-minutes.parquet`.

use crate::chart::{Body, Chart, Scale, Series, XLabels, compact};
use crate::data::{floats, read_parquet, read_run_file, texts};
use crate::html::{Page, Table};
use crate::terms::label;
use polars::prelude::*;
use std::path::Path;

pub use dx_model::rundir::capacity::{CapacityReport, Estimate, ServiceReport, SizePoint};

/// Where a capacity result is: `dir` itself (`dxsim capacity`) or `dir/capacity` (`dxsim run`).
pub fn locate(dir: &Path) -> Option<std::path::PathBuf> {
    [dir.to_path_buf(), dir.join("capacity")]
        .into_iter()
        .find(|d| {
            dx_model::rundir::present::<CapacityReport>(d)
                && d.join("capacity-minutes.parquet").is_file()
        })
}

const WEEKDAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

/// The capacity charts and tables of the result in `dir`.
pub fn charts(dir: &Path) -> anyhow::Result<(CapacityReport, Vec<Chart>, Table)> {
    let report: CapacityReport = read_run_file(dir)?;
    let minutes = read_parquet(&dir.join("capacity-minutes.parquet"))?;
    let mut out = Vec::new();

    // Mean arrivals per second by weekday and hour, every service together.
    let cells = minutes
        .clone()
        .lazy()
        .group_by([col("weekday"), col("hour")])
        .agg([
            col("arrivals").sum().alias("arrivals"),
            col("minute").n_unique().alias("minutes"),
        ])
        .collect()?;
    let (wd, hr) = (floats(&cells, "weekday")?, floats(&cells, "hour")?);
    let (arr, mins) = (floats(&cells, "arrivals")?, floats(&cells, "minutes")?);
    let mut days: Vec<usize> = wd.iter().map(|d| *d as usize).collect();
    days.sort_unstable();
    days.dedup();
    let mut values = vec![vec![0.0; 24]; days.len()];
    for i in 0..wd.len() {
        let r = days.binary_search(&(wd[i] as usize)).expect("listed");
        values[r][hr[i] as usize] = arr[i] / (mins[i] * 60.0);
    }
    let (busiest_day, busiest_hour, busiest) = values
        .iter()
        .enumerate()
        .flat_map(|(r, row)| row.iter().enumerate().map(move |(h, v)| (r, h, *v)))
        .fold((0, 0, 0.0), |a, b| if b.2 > a.2 { b } else { a });
    out.push(Chart {
        id: "capacity-heatmap".into(),
        title: format!(
            "Load on the central services by weekday and hour ({})",
            report.scope()
        ),
        x_label: "hour of day (JST)".into(),
        y_label: "weekday".into(),
        reading: format!(
            "Mean requests per second reaching all central services in each hour of the period; the busiest is {} {:02}:00 at {}/s. Empty cells lie outside the period.",
            WEEKDAYS[days.get(busiest_day).copied().unwrap_or(0)],
            busiest_hour,
            compact(busiest)
        ),
        body: Body::Heat {
            rows: days.iter().map(|d| WEEKDAYS[*d].to_owned()).collect(),
            columns: (0..24).map(|h| format!("{h}")).collect(),
            values,
        },
    });

    // Workers per service.
    let sized: Vec<&ServiceReport> = report
        .services
        .iter()
        .filter(|s| s.servers.is_some())
        .collect();
    out.push(Chart {
        id: "capacity-servers".into(),
        title: "Workers each service needs".into(),
        x_label: "workers (servers in parallel)".into(),
        y_label: "service".into(),
        reading: "The least number of parallel workers with which each service meets its p99 SLO in every hour of the period (or the scenario's fixed size); a worker is one request served at a time.".into(),
        body: Body::Bars {
            rows: sized
                .iter()
                .map(|s| (label(s.service.as_str()), f64::from(s.servers.unwrap_or(0)), 0))
                .collect(),
            groups: vec!["workers".into()],
        },
    });

    // Latency and utilisation against size, relative to the chosen size.
    let curves: Vec<&ServiceReport> = sized
        .iter()
        .copied()
        .filter(|s| !s.size_curve.is_empty())
        .collect();
    // One series per service: its size curve, x relative to the chosen size.
    let curve = |y: fn(&ServiceReport, &SizePoint) -> f64| -> Vec<Series> {
        curves
            .iter()
            .map(|s| Series {
                name: label(s.service.as_str()),
                points: s
                    .size_curve
                    .iter()
                    .map(|p| {
                        let chosen = f64::from(s.servers.unwrap_or(1).max(1));
                        (f64::from(p.servers) / chosen, y(s, p))
                    })
                    .collect(),
            })
            .collect()
    };
    out.push(Chart {
        id: "capacity-p99-vs-size".into(),
        title: "Peak-hour p99 against size, per service".into(),
        x_label: "workers ÷ chosen workers".into(),
        y_label: "p99 ÷ the service's p99 SLO".into(),
        reading: "Each service's busiest hour simulated at sizes around the chosen one (1 on the x axis): below 1 on the y axis the SLO is met; fewer workers than the load needs make the queue, and p99, grow without bound.".into(),
        body: Body::Lines {
            series: curve(|s, p| p.p99_ms / s.slo_p99_ms),
            x_labels: XLabels::Number,
            y_scale: Scale::Log,
            reference: Some(("SLO".into(), 1.0)),
        },
    });
    out.push(Chart {
        id: "capacity-utilisation-vs-size".into(),
        title: "Peak-hour utilisation against size, per service".into(),
        x_label: "workers ÷ chosen workers".into(),
        y_label: "utilisation in the peak hour (%)".into(),
        reading: "Busy share of the workers in each service's busiest hour at the same sizes: the chosen size (1) shows the headroom left at the peak.".into(),
        body: Body::Lines {
            series: curve(|_, p| 100.0 * p.utilisation),
            x_labels: XLabels::Number,
            y_scale: Scale::Linear,
            reference: None,
        },
    });

    // The peak minutes, every service together.
    let peaks = minutes
        .clone()
        .lazy()
        .group_by([col("minute"), col("jst")])
        .agg([col("arrivals").sum()])
        .sort_by_exprs(
            [col("arrivals"), col("minute")],
            SortMultipleOptions::default().with_order_descending_multi([true, false]),
        )
        .limit(10)
        .collect()?;
    let peak_table = Table {
        caption: format!(
            "The ten busiest minutes (all central services, {})",
            report.scope()
        ),
        columns: ["minute (JST)", "arrivals", "per second"]
            .map(String::from)
            .to_vec(),
        rows: texts(&peaks, "jst")?
            .into_iter()
            .zip(floats(&peaks, "arrivals")?)
            .map(|(t, a)| vec![t, compact(a), compact(a / 60.0)])
            .collect(),
    };
    Ok((report, out, peak_table))
}

/// The sizing table.
pub fn sizing_table(r: &CapacityReport) -> Table {
    let est = |e: &Option<Estimate>| match e {
        Some(Estimate {
            mean, half_width, ..
        }) if half_width.is_finite() => {
            format!("{} ± {}", compact(*mean), compact(*half_width))
        }
        Some(e) => compact(e.mean),
        None => "–".into(),
    };
    Table {
        caption: "Sizing: each service at its size over the whole period".into(),
        columns: [
            "service",
            "arrivals",
            "peak minute",
            "peak/s",
            "peak-hour load (Erlangs)",
            "workers",
            "from",
            "worst-hour p99 ms",
            "p99 SLO ms",
            "utilisation",
            "headroom",
            "SLO",
        ]
        .map(String::from)
        .to_vec(),
        rows: r
            .services
            .iter()
            .map(|s| {
                vec![
                    label(s.service.as_str()),
                    compact(s.arrivals),
                    s.peak_minute.clone(),
                    compact(s.peak_per_s),
                    compact(s.peak_hour_load),
                    s.servers.map_or("–".into(), |c| c.to_string()),
                    s.servers_from.clone(),
                    est(&s.worst_hour_p99_ms),
                    compact(s.slo_p99_ms),
                    s.peak_hour_utilisation
                        .map_or("–".into(), |u| format!("{:.0}%", 100.0 * u)),
                    s.headroom
                        .map_or("–".into(), |h| format!("{:.0}%", 100.0 * h)),
                    match (s.meets_slo, s.unreachable_p99_ms) {
                        (Some(true), _) => "meets".into(),
                        (Some(false), _) => "misses".into(),
                        (None, Some(p)) => format!("unreachable: p99 ≥ {} ms", compact(p)),
                        (None, None) => "–".into(),
                    },
                ]
            })
            .collect(),
    }
}

/// Adds the capacity section of the result in `dir` to `page`.
pub fn section(mut page: Page, dir: &Path) -> anyhow::Result<Page> {
    let (report, charts, peaks) = charts(dir)?;
    let all_meet = report.services.iter().all(|s| s.meets_slo == Some(true));
    page = page
        .heading(format!(
            "Capacity (処理能力): the central services at the scale of {}",
            report.scope()
        ))
        .paragraph(format!(
            "Scenario {} from {} to {}: arrival rates from a {} workload sample scaled to {}, service times from {}, {} replications per size.",
            report.scenario,
            report.period_start,
            report.period_end,
            report.sample_scale,
            report.scope(),
            report.calibration,
            report.replications
        ))
        .verdict(
            if all_meet {
                "Every service meets its SLO at the size shown.".to_owned()
            } else {
                "Not every service meets its SLO at the size shown: see the sizing table.".to_owned()
            },
            all_meet,
        )
        .table(sizing_table(&report));
    let mut charts = charts.into_iter();
    if let Some(heat) = charts.next() {
        page = page.figure(heat, false)?;
    }
    page = page.table(peaks);
    for c in charts {
        page = page.figure(c, false)?;
    }
    Ok(page)
}
