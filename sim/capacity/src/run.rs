//! `dxsim capacity`: rates from a workload sample, a model per service, the sizing search at
//! each service's busiest hour, replications at the chosen size, and the outputs:
//! `capacity.json` (the sizing table and its sources) and `capacity-minutes.parquet` (per
//! service and minute, replication 0).

use super::calibration::Calibration;
use super::model::{Minute, Outcome, ServiceModel, service_model};
use super::rates::{Rates, busiest};
use super::services::{RouteTime, given_time, measured_time, published_time};
use super::stats::{Estimate, Interval};
use anyhow::Context as _;
use dx_model::route::Route;
use dx_model::route::Service;
use dx_scenario::Scenario;
use rayon::prelude::*;
use std::path::Path;

/// Service times measured by `dxsim run scenarios/quickstart.toml` on the reference exchange
/// (2 cores, client and server sharing them), used where nothing better is given.
pub const BUILT_IN_CALIBRATION: &str =
    include_str!("../../../scenarios/calibration/reference.json");

/// Confidence level of the replication intervals.
const LEVEL: f64 = 0.95;

pub use dx_model::rundir::capacity::{CapacityReport, RouteReport, ServiceReport, SizePoint};

/// Sizes at most on a service's curve.
const CURVE_POINTS: u32 = 8;

/// The peak hour (after an hour of warm-up when the period has one) at up to
/// [`CURVE_POINTS`] sizes from the load's floor to half again above `around`, `around` among them.
fn size_curve(
    m: &ServiceModel,
    hour: std::ops::Range<usize>,
    load: f64,
    around: u32,
) -> Vec<SizePoint> {
    let lo = (load.floor() as u32).clamp(1, around);
    let hi = (around + around / 2).max(around + 3);
    let step = (hi - lo).div_ceil(CURVE_POINTS - 1).max(1);
    let mut sizes: Vec<u32> = (lo..=hi).step_by(step as usize).collect();
    sizes.push(around);
    sizes.sort_unstable();
    sizes.dedup();
    let warm = hour.start.saturating_sub(60)..hour.end;
    sizes
        .into_par_iter()
        .map(|c| {
            let o = m.simulate(Some(c), warm.clone(), hour.clone(), 0, false);
            SizePoint {
                servers: c,
                utilisation: o.utilisation,
                p99_ms: o.worst_hour_p99_ms,
                rejected_share: o.rejected_share(),
                meets_slo: m.meets(&o),
            }
        })
        .collect()
}

fn jst(rates: &Rates, minute: usize) -> String {
    chrono::DateTime::from_timestamp_millis(rates.start_ms + minute as i64 * 60_000 + 9 * 3_600_000)
        .map(|t| t.naive_utc().format("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_default()
}

/// A route's time, falling back (with the reason) to another route of its service.
pub fn times_for<'a>(
    s: &'a Scenario,
    calibration: &'a Calibration,
) -> impl Fn(Route) -> anyhow::Result<RouteTime> + 'a {
    // Routes the given calibration did not measure enough fall back on the built-in one.
    let built_in: Calibration =
        serde_json::from_str(BUILT_IN_CALIBRATION).expect("the built-in calibration parses");
    move |r: Route| {
        let known = |r: Route| {
            given_time(s, r)
                .or_else(|| measured_time(calibration, r))
                .or_else(|| measured_time(&built_in, r))
                .or_else(|| published_time(r))
        };
        if let Some(t) = known(r) {
            return Ok(t);
        }
        let service = Service::of(r).context("the probe has no service")?;
        service
            .routes()
            .into_iter()
            .find_map(|o| known(o).map(|t| (o, t)))
            .map(|(o, t)| RouteTime {
                time: t.time,
                source: format!("assumed as {} (no figure for {}): {}", o.as_str(), r.as_str(), t.source),
            })
            .with_context(|| {
                format!(
                    "no service time for route {}: give [capacity.service_times.{}] in the scenario or --calibration",
                    r.as_str(),
                    r.as_str()
                )
            })
    }
}

/// Runs the capacity model of `s` on the rates estimated from `rates`.
pub fn run(
    s: &Scenario,
    rates: &Rates,
    calibration: &Calibration,
    out: &Path,
) -> anyhow::Result<CapacityReport> {
    let times = times_for(s, calibration);
    let mut resolved = std::collections::BTreeMap::new();
    for r in Route::ALL {
        if Service::of(r).is_some() && rates.of(r).iter().any(|x| *x > 0.0) {
            resolved.insert(r, times(r)?);
        }
    }
    let lookup = |r: Route| resolved[&r].clone();
    let models: Vec<ServiceModel> = Service::ALL
        .into_iter()
        .filter_map(|svc| service_model(svc, rates, &lookup, s))
        .collect();
    let reps = s.capacity.replications.get();
    let results: Vec<(ServiceReport, Vec<Minute>)> = models
        .par_iter()
        .map(|m| report(s, rates, m, reps))
        .collect();
    let arrivals = results.iter().map(|(r, _)| r.arrivals).sum();
    write_minutes(out, rates, &results)?;
    let report = CapacityReport {
        scenario: s.name.to_string(),
        seed: s.seed,
        period_start: jst(rates, 0),
        period_end: jst(rates, rates.minutes),
        sample_scale: rates.sample_scale,
        sample_events: rates.sample_events,
        replications: reps,
        calibration: calibration.source.clone(),
        arrivals_per_replication: arrivals,
        services: results.into_iter().map(|(r, _)| r).collect(),
        prefectures: s.population.prefecture_codes(),
    };
    dx_model::rundir::write(out, &report)?;
    Ok(report)
}

fn report(
    s: &Scenario,
    rates: &Rates,
    m: &ServiceModel,
    reps: usize,
) -> (ServiceReport, Vec<Minute>) {
    let per_minute = m.per_minute();
    let (peak_minute, peak_count) = busiest(&per_minute, 1);
    let (peak_hour, hour_count) = busiest(&per_minute, 60);
    let hour = peak_hour..(peak_hour + 60).min(rates.minutes);
    let (sized, mut checked) = size_for_period(m, rates.minutes, &per_minute, hour.clone());
    let configured = s
        .capacity
        .services
        .get(&m.service)
        .and_then(|c| c.servers)
        .map(|c| c.get());
    let (servers, from) = match (configured, &sized) {
        (Some(c), _) => (Some(c), "scenario"),
        (None, Ok(c)) => (Some(*c), "sizing"),
        (None, Err(_)) => (None, "none"),
    };
    let load = m.offered_load(hour.clone());
    let mut minutes = Vec::new();
    let mut worst_hour = None;
    let mut cols: [Vec<f64>; 3] = Default::default();
    if let Some(c) = servers {
        for rep in 0..reps as u64 {
            let all = 0..rates.minutes;
            let full = match checked.take().filter(|o| rep == 0 && o.servers == c) {
                Some(o) => o,
                None => m.simulate(Some(c), all.clone(), all, rep, rep == 0),
            };
            cols[0].push(full.worst_hour_p99_ms);
            cols[1].push(full.mean_wait_ms);
            cols[2].push(full.rejected_share());
            if rep == 0 {
                minutes = full.minutes;
                worst_hour = Some(jst(rates, full.worst_hour));
            }
        }
    }
    let est = |v: &Vec<f64>| {
        (!v.is_empty()).then(|| {
            if v.len() >= 2 {
                Estimate::of(v, LEVEL)
            } else {
                Estimate {
                    mean: v[0],
                    half_width: f64::NAN,
                    level: LEVEL,
                    replications: 1,
                }
            }
        })
    };
    let p99 = est(&cols[0]);
    let rejected = est(&cols[2]);
    let report = ServiceReport {
        service: m.service,
        routes: m
            .routes
            .iter()
            .map(|(r, t, per)| RouteReport {
                route: *r,
                arrivals: per.iter().sum(),
                mean_service_ms: t.time.mean() * 1e3,
                service_time_source: t.source.clone(),
            })
            .collect(),
        arrivals: per_minute.iter().sum(),
        slo_p99_ms: m.slo_p99_ms,
        slo_error_rate: m.slo_error_rate,
        peak_minute: jst(rates, peak_minute),
        peak_per_s: peak_count / 60.0,
        peak_hour: jst(rates, peak_hour),
        peak_hour_arrivals: hour_count,
        peak_hour_load: load,
        sized_servers: sized.ok(),
        unreachable_p99_ms: sized.err(),
        servers,
        servers_from: from.to_owned(),
        meets_slo: p99
            .zip(rejected)
            .map(|(p, r)| p.mean <= m.slo_p99_ms && r.mean <= m.slo_error_rate),
        worst_hour_p99_ms: p99,
        worst_hour,
        mean_wait_ms: est(&cols[1]),
        rejected_share: rejected,
        peak_hour_utilisation: servers.map(|c| load / f64::from(c)),
        headroom: servers
            .filter(|_| load > 0.0)
            .map(|c| f64::from(c) / load - 1.0),
        size_curve: servers.map_or_else(Vec::new, |c| size_curve(m, hour.clone(), load, c)),
    };
    (report, minutes)
}

/// Rounds of re-sizing at most: each adds the day of the worst hour found.
const SIZING_ROUNDS: usize = 4;

/// The least size meeting the SLO in every hour of the period. A search over a whole long
/// period is costly, so it searches the busiest day (and the hour before it), checks the size
/// over the whole period, and while some hour fails searches that hour's day too, keeping the
/// larger size.
fn size_for_period(
    m: &ServiceModel,
    minutes: usize,
    per_minute: &[f64],
    peak_hour: std::ops::Range<usize>,
) -> (Result<u32, f64>, Option<Outcome>) {
    let day_around = |start: usize| start.saturating_sub(60)..(start + 24 * 60).min(minutes);
    if minutes <= 25 * 60 {
        return (m.size(0..minutes, peak_hour), None);
    }
    let (day, _) = busiest(per_minute, 24 * 60);
    let mut c = match m.size(day_around(day), peak_hour.clone()) {
        Ok(c) => c,
        Err(p99) => return (Err(p99), None),
    };
    for _ in 0..SIZING_ROUNDS {
        // The check is replication 0 at this size, kept for the report if it passes.
        let all = m.simulate(Some(c), 0..minutes, 0..minutes, 0, true);
        if m.meets(&all) {
            return (Ok(c), Some(all));
        }
        let worst = all.worst_hour.saturating_sub(12 * 60);
        match m.size(
            day_around(worst),
            all.worst_hour..(all.worst_hour + 60).min(minutes),
        ) {
            Ok(more) => c = c.max(more),
            Err(p99) => return (Err(p99), None),
        }
    }
    (Ok(c), None)
}

fn write_minutes(
    out: &Path,
    rates: &Rates,
    results: &[(ServiceReport, Vec<Minute>)],
) -> anyhow::Result<()> {
    use chrono::{Datelike as _, Timelike as _};
    use dx_workload::tables::{Column, write_parquet};
    let rows: Vec<(&str, &Minute)> = results
        .iter()
        .flat_map(|(r, m)| m.iter().map(move |x| (r.service.as_str(), x)))
        .collect();
    let f64s = |f: fn(&Minute) -> f64| Column::F64(rows.iter().map(|(_, m)| f(m)).collect());
    let wall = |m: &Minute| {
        chrono::DateTime::from_timestamp_millis(
            rates.start_ms + i64::from(m.minute) * 60_000 + 9 * 3_600_000,
        )
        .expect("in range")
        .naive_utc()
    };
    write_parquet(
        &out.join("capacity-minutes.parquet"),
        vec![
            (
                "service",
                Column::Text(rows.iter().map(|(s, _)| (*s).to_owned()).collect()),
            ),
            (
                "minute",
                Column::U32(rows.iter().map(|(_, m)| m.minute).collect()),
            ),
            (
                "jst",
                Column::Text(
                    rows.iter()
                        .map(|(_, m)| jst(rates, m.minute as usize))
                        .collect(),
                ),
            ),
            (
                "weekday",
                Column::U32(
                    rows.iter()
                        .map(|(_, m)| wall(m).weekday().num_days_from_monday())
                        .collect(),
                ),
            ),
            (
                "hour",
                Column::U32(rows.iter().map(|(_, m)| wall(m).hour()).collect()),
            ),
            (
                "arrivals",
                Column::U64(rows.iter().map(|(_, m)| m.arrivals).collect()),
            ),
            (
                "rejected",
                Column::U64(rows.iter().map(|(_, m)| m.rejected).collect()),
            ),
            ("utilisation", f64s(|m| m.utilisation)),
            ("queue", f64s(|m| m.queue)),
            ("wait_p50_ms", f64s(|m| m.wait_p50_ms)),
            ("wait_p99_ms", f64s(|m| m.wait_p99_ms)),
            ("response_p50_ms", f64s(|m| m.response_p50_ms)),
            ("response_p99_ms", f64s(|m| m.response_p99_ms)),
        ],
    )
}

/// The sizing table as text.
pub fn table(r: &CapacityReport) -> String {
    let mut t = format!(
        "{:<22} {:>12} {:>9} {:>17} {:>9} {:>8} {:>8} {:>10} {:>9}  SLO\n",
        "service",
        "arrivals",
        "peak/s",
        "peak minute",
        "load",
        "sized",
        "servers",
        "p99 ms",
        "c/load"
    );
    for s in &r.services {
        let sized = s
            .sized_servers
            .map_or_else(|| "—".to_owned(), |c| c.to_string());
        let servers = s.servers.map_or_else(|| "—".to_owned(), |c| c.to_string());
        let p99 = s.worst_hour_p99_ms.map_or_else(
            || format!("> {:.0}", s.unreachable_p99_ms.unwrap_or(f64::NAN)),
            |e| format!("{:.1}", e.mean),
        );
        let headroom = s
            .headroom
            .map_or_else(|| "—".to_owned(), |h| format!("{:.1}×", h + 1.0));
        let verdict = match s.meets_slo {
            Some(true) => format!("meets p99 ≤ {} ms", s.slo_p99_ms),
            Some(false) => format!("FAILS p99 ≤ {} ms", s.slo_p99_ms),
            None => format!("unreachable: service time alone > {} ms", s.slo_p99_ms),
        };
        t.push_str(&format!(
            "{:<22} {:>12.0} {:>9.1} {:>17} {:>9.2} {:>8} {:>8} {:>10} {:>9}  {verdict}\n",
            s.service.as_str(),
            s.arrivals,
            s.peak_per_s,
            s.peak_minute,
            s.peak_hour_load,
            sized,
            servers,
            p99,
            headroom
        ));
    }
    t
}

#[cfg(test)]
mod tests {
    use super::super::station::{Discipline, ServiceTime};
    use super::*;

    #[test]
    fn a_long_period_is_sized_for_its_worst_hour_not_only_its_busiest_day() {
        // Three days: the first the busiest in total, the third with a short burst.
        let mut per = vec![300.0; 3 * 1440];
        for x in &mut per[600..1200] {
            *x = 900.0;
        }
        for x in &mut per[2 * 1440 + 480..2 * 1440 + 483] {
            *x = 30_000.0;
        }
        let m = ServiceModel {
            service: Service::Eligibility,
            routes: vec![(
                Route::Verify,
                RouteTime {
                    time: ServiceTime::Exponential { mean: 0.02 },
                    source: "test".into(),
                },
                per.clone(),
            )],
            queue_limit: None,
            latency_s: 0.0,
            discipline: Discipline::Fifo,
            class: vec![0],
            slo_p99_ms: 1000.0,
            slo_error_rate: 0.001,
            seed: 5,
        };
        let (day, _) = busiest(&per, 1440);
        assert!(day < 1440, "the first day is the busiest");
        let busiest_day_only = m
            .size(day.saturating_sub(60)..day + 1440, 600..660)
            .unwrap();
        let (c, checked) = size_for_period(&m, per.len(), &per, 600..660);
        let c = c.unwrap();
        // The passing check is replication 0 at that size, minute rows included.
        let checked = checked.unwrap();
        assert_eq!((checked.servers, checked.minutes.len()), (c, per.len()));
        assert!(c > busiest_day_only, "{c} vs {busiest_day_only}");
        let all = 0..per.len();
        assert!(m.meets(&m.simulate(Some(c), all.clone(), all, 0, false)));
    }
}
