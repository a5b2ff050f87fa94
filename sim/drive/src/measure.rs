//! Measurement: per route and status class, HDR histograms of latency from the *intended* send
//! time (so a late driver or a slow server cannot hide queueing: no coordinated omission) and of
//! service time from the actual send; the driver's own lateness; a per-second series; and the
//! summary with SLO verdicts.

use dx_model::route::Route;
use dx_model::rundir::summary::{Lateness, RouteSummary, RunInfo, Summary, Totals};
use dx_scenario::SloSection;
use hdrhistogram::Histogram;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::Path;

/// Highest latency recorded exactly enough: one hour, in microseconds.
const MAX_US: u64 = 3_600_000_000;

fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_US, 3).expect("valid bounds")
}

/// How a request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum Class {
    /// 2xx.
    Ok,
    /// 4xx: the exchange refused (a rule, or a stream the target's state does not match).
    Refused,
    /// 5xx.
    ServerError,
    /// No HTTP answer (connection refused, reset, timeout).
    Transport,
}

impl Class {
    pub fn of_status(status: u16) -> Class {
        match status {
            200..=399 => Class::Ok,
            400..=499 => Class::Refused,
            _ => Class::ServerError,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Class::Ok => "2xx",
            Class::Refused => "4xx",
            Class::ServerError => "5xx",
            Class::Transport => "transport",
        }
    }
    fn is_error(self) -> bool {
        matches!(self, Class::ServerError | Class::Transport)
    }
}

/// One finished request.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    pub route: Route,
    pub class: Class,
    /// Microseconds from the intended send time to the end of the response.
    pub from_intended_us: u64,
    /// Microseconds from the actual send to the end of the response.
    pub service_us: u64,
    /// Whole seconds since the replay began, of the intended send time.
    pub second: u64,
    /// Events the request carried (a batch carries several).
    pub items: u32,
}

#[derive(Debug, Default, Clone)]
struct SecondRow {
    requests: u64,
    errors: u64,
    refused: u64,
    /// Latency from the intended send time of each request, in microseconds (saturating).
    latencies_us: Vec<u32>,
}

/// Windows the run is cut into for the series over time (`latency-windows.parquet`).
const WINDOWS: u64 = 120;

/// Percentiles of the latency ladder (`latency-percentiles.parquet`), those a route's count
/// resolves (n × (1 − q) ≥ 1) and the maximum.
const LADDER: [f64; 13] = [
    0.0, 25.0, 50.0, 75.0, 90.0, 95.0, 99.0, 99.5, 99.9, 99.95, 99.99, 99.999, 100.0,
];

/// Everything measured during one replay.
pub struct Recorder {
    by_class: BTreeMap<(Route, Class), Histogram<u64>>,
    service: BTreeMap<Route, Histogram<u64>>,
    /// Requests and the events they carried, per route.
    items: BTreeMap<Route, (u64, u64)>,
    lateness: Histogram<u64>,
    late_over_10ms: u64,
    /// Per second of the intended send time: how late the driver started each request (µs).
    lateness_series: BTreeMap<u64, Vec<u32>>,
    series: BTreeMap<(u64, Route), SecondRow>,
    pub skipped: BTreeMap<Route, u64>,
    refusals: BTreeMap<(Route, String), u64>,
}

impl Default for Recorder {
    fn default() -> Self {
        Self {
            by_class: BTreeMap::new(),
            service: BTreeMap::new(),
            items: BTreeMap::new(),
            lateness: histogram(),
            late_over_10ms: 0,
            lateness_series: BTreeMap::new(),
            series: BTreeMap::new(),
            skipped: BTreeMap::new(),
            refusals: BTreeMap::new(),
        }
    }
}

impl Recorder {
    pub fn record(&mut self, s: Sample) {
        let clamp = |us: u64| us.clamp(1, MAX_US);
        self.by_class
            .entry((s.route, s.class))
            .or_insert_with(histogram)
            .record(clamp(s.from_intended_us))
            .expect("clamped");
        self.service
            .entry(s.route)
            .or_insert_with(histogram)
            .record(clamp(s.service_us))
            .expect("clamped");
        let n = self.items.entry(s.route).or_default();
        n.0 += 1;
        n.1 += u64::from(s.items.max(1));
        let row = self.series.entry((s.second, s.route)).or_default();
        row.requests += 1;
        row.errors += u64::from(s.class.is_error());
        row.refused += u64::from(s.class == Class::Refused);
        row.latencies_us
            .push(u32::try_from(s.from_intended_us).unwrap_or(u32::MAX));
    }

    /// The driver started a request due in `second` of the replay `us` microseconds late.
    pub fn record_lateness(&mut self, second: u64, us: u64) {
        self.lateness.record(us.clamp(1, MAX_US)).expect("clamped");
        self.late_over_10ms += u64::from(us > 10_000);
        self.lateness_series
            .entry(second)
            .or_default()
            .push(u32::try_from(us).unwrap_or(u32::MAX));
    }

    /// A request not sent because an earlier one it needed failed.
    pub fn skip(&mut self, route: Route) {
        *self.skipped.entry(route).or_default() += 1;
    }

    /// Notes the error code of a refusal, for the summary.
    pub fn refusal(&mut self, route: Route, code: String) {
        *self.refusals.entry((route, code)).or_default() += 1;
    }

    /// The summary of the replay, with SLO verdicts.
    pub fn summary(&self, slo: &SloSection, elapsed_s: f64, run: RunInfo) -> Summary {
        let mut routes = BTreeMap::new();
        let mut total = Totals::default();
        for route in Route::ALL {
            let all = self.merged(route);
            let counts: BTreeMap<String, u64> = self
                .by_class
                .range((route, Class::Ok)..=(route, Class::Transport))
                .map(|((_, c), h)| (c.as_str().to_owned(), h.len()))
                .collect();
            let count = all.len();
            let skipped = self.skipped.get(&route).copied().unwrap_or(0);
            if count == 0 && skipped == 0 {
                continue;
            }
            let errors = counts.get("5xx").copied().unwrap_or(0)
                + counts.get("transport").copied().unwrap_or(0);
            let refused = counts.get("4xx").copied().unwrap_or(0);
            let ms = |q: f64| all.value_at_quantile(q) as f64 / 1000.0;
            let stats = RouteSummary {
                count,
                ok: counts.get("2xx").copied().unwrap_or(0),
                refused,
                errors,
                skipped,
                error_rate: if count > 0 {
                    errors as f64 / count as f64
                } else {
                    0.0
                },
                throughput_per_s: count as f64 / elapsed_s.max(1e-9),
                p50_ms: ms(0.5),
                p90_ms: ms(0.9),
                p99_ms: ms(0.99),
                p999_ms: ms(0.999),
                max_ms: all.max() as f64 / 1000.0,
                service_p50_ms: self
                    .service
                    .get(&route)
                    .map_or(0.0, |h| h.value_at_quantile(0.5) as f64 / 1000.0),
                service_p99_ms: self
                    .service
                    .get(&route)
                    .map_or(0.0, |h| h.value_at_quantile(0.99) as f64 / 1000.0),
                refusal_codes: self
                    .refusals
                    .iter()
                    .filter(|((r, _), _)| *r == route)
                    .map(|((_, c), n)| (c.clone(), *n))
                    .collect(),
                slo: slo.for_route(route),
                breaches: Vec::new(),
            };
            let stats = judged(stats);
            total.requests += count;
            total.errors += errors;
            total.refused += refused;
            total.skipped += skipped;
            routes.insert(route.as_str().to_owned(), stats);
        }
        total.throughput_per_s = total.requests as f64 / elapsed_s.max(1e-9);
        let pass = routes.values().all(|r| r.breaches.is_empty());
        Summary {
            run,
            elapsed_s,
            pass,
            totals: total,
            lateness: Lateness {
                p50_ms: self.lateness.value_at_quantile(0.5) as f64 / 1000.0,
                p99_ms: self.lateness.value_at_quantile(0.99) as f64 / 1000.0,
                max_ms: self.lateness.max() as f64 / 1000.0,
                over_10ms: self.late_over_10ms,
            },
            routes,
        }
    }

    /// The service times of every route with enough samples, fitted for the capacity model.
    pub fn calibration(&self, source: String) -> dx_model::rundir::calibration::Calibration {
        dx_model::rundir::calibration::Calibration {
            source,
            routes: self
                .service
                .iter()
                .filter_map(|(route, h)| {
                    let (requests, items) = self.items.get(route).copied().unwrap_or((1, 1));
                    super::calibrate::fit(h)
                        .map(|f| f.per_item(items as f64 / requests.max(1) as f64))
                        .map(|f| (route.as_str().to_owned(), f))
                })
                .collect(),
        }
    }

    /// Writes the histograms (HDR V2, one file per route and class, mergeable with any HDR
    /// library) and the per-second series (CSV) into `dir`.
    pub fn write_files(&self, dir: &Path) -> anyhow::Result<()> {
        use hdrhistogram::serialization::{Serializer, V2Serializer};
        let hist_dir = dir.join("histograms");
        std::fs::create_dir_all(&hist_dir)?;
        let mut ser = V2Serializer::new();
        let mut write = |name: String, h: &Histogram<u64>| -> anyhow::Result<()> {
            let mut buf = Vec::new();
            ser.serialize(h, &mut buf)
                .map_err(|e| anyhow::anyhow!("serialising {name}: {e:?}"))?;
            std::fs::write(hist_dir.join(name), buf)?;
            Ok(())
        };
        for ((route, class), h) in &self.by_class {
            write(format!("{}.{}.hdr", route.as_str(), class.as_str()), h)?;
        }
        for (route, h) in &self.service {
            write(format!("{}.service.hdr", route.as_str()), h)?;
        }
        write("driver-lateness.hdr".into(), &self.lateness)?;
        let mut csv = String::from("second,route,requests,errors,refused,max_ms\n");
        for ((second, route), r) in &self.series {
            csv.push_str(&format!(
                "{second},{},{},{},{},{:.3}\n",
                route.as_str(),
                r.requests,
                r.errors,
                r.refused,
                f64::from(r.latencies_us.iter().copied().max().unwrap_or(0)) / 1000.0
            ));
        }
        std::fs::write(dir.join("timeseries.csv"), csv)?;
        self.write_windows(dir)?;
        self.write_ladder(dir)
    }

    /// Seconds per window: the run in about [`WINDOWS`] windows, at least one second each.
    fn window_s(&self) -> u64 {
        let last = self
            .series
            .keys()
            .map(|(s, _)| *s)
            .chain(self.lateness_series.keys().copied())
            .max()
            .unwrap_or(0);
        (last + 1).div_ceil(WINDOWS).max(1)
    }

    /// `latency-windows.parquet` (per window and route: requests, errors, refusals, throughput
    /// and latency percentiles from the intended send time) and `driver-lateness.parquet` (per
    /// window: requests started and how late).
    fn write_windows(&self, dir: &Path) -> anyhow::Result<()> {
        use dx_workload::tables::{Column, quantile_sorted, write_parquet};
        let w = self.window_s();
        let mut windows: BTreeMap<(u64, Route), SecondRow> = BTreeMap::new();
        for ((second, route), row) in &self.series {
            let acc = windows.entry((second / w * w, *route)).or_default();
            acc.requests += row.requests;
            acc.errors += row.errors;
            acc.refused += row.refused;
            acc.latencies_us.extend_from_slice(&row.latencies_us);
        }
        let n = windows.len();
        let (mut start, mut route, mut requests) = (
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
        );
        let (mut errors, mut refused, mut per_s) = (
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
        );
        let mut pct: [Vec<f64>; 4] = Default::default();
        for ((s, r), mut row) in windows {
            row.latencies_us.sort_unstable();
            start.push(s);
            route.push(r.as_str().to_owned());
            requests.push(row.requests);
            errors.push(row.errors);
            refused.push(row.refused);
            per_s.push(row.requests as f64 / w as f64);
            for (v, q) in pct.iter_mut().zip([0.5, 0.9, 0.99, 1.0]) {
                v.push(f64::from(quantile_sorted(&row.latencies_us, q)) / 1000.0);
            }
        }
        let [p50, p90, p99, max] = pct;
        write_parquet(
            &dir.join("latency-windows.parquet"),
            vec![
                ("window_start_s", Column::U64(start)),
                ("window_s", Column::U64(vec![w; n])),
                ("route", Column::Text(route)),
                ("requests", Column::U64(requests)),
                ("errors", Column::U64(errors)),
                ("refused", Column::U64(refused)),
                ("throughput_per_s", Column::F64(per_s)),
                ("p50_ms", Column::F64(p50)),
                ("p90_ms", Column::F64(p90)),
                ("p99_ms", Column::F64(p99)),
                ("max_ms", Column::F64(max)),
            ],
        )?;
        let mut late: BTreeMap<u64, Vec<u32>> = BTreeMap::new();
        for (second, v) in &self.lateness_series {
            late.entry(second / w * w).or_default().extend_from_slice(v);
        }
        let n = late.len();
        let mut cols: (Vec<u64>, Vec<u64>, [Vec<f64>; 3]) = (
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Default::default(),
        );
        for (s, mut v) in late {
            v.sort_unstable();
            cols.0.push(s);
            cols.1.push(v.len() as u64);
            for (c, q) in cols.2.iter_mut().zip([0.5, 0.99, 1.0]) {
                c.push(f64::from(quantile_sorted(&v, q)) / 1000.0);
            }
        }
        let [l50, l99, lmax] = cols.2;
        write_parquet(
            &dir.join("driver-lateness.parquet"),
            vec![
                ("window_start_s", Column::U64(cols.0)),
                ("window_s", Column::U64(vec![w; n])),
                ("started", Column::U64(cols.1)),
                ("late_p50_ms", Column::F64(l50)),
                ("late_p99_ms", Column::F64(l99)),
                ("late_max_ms", Column::F64(lmax)),
            ],
        )
    }

    /// `latency-percentiles.parquet`: per route, latency from the intended send time at each
    /// percentile of [`LADDER`] the route's count resolves, from the same histograms as the
    /// summary (all outcomes).
    fn write_ladder(&self, dir: &Path) -> anyhow::Result<()> {
        use dx_workload::tables::{Column, write_parquet};
        let (mut route, mut pct, mut ms, mut count) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for r in Route::ALL {
            let all = self.merged(r);
            let n = all.len();
            if n == 0 {
                continue;
            }
            for p in LADDER {
                if p < 100.0 && n as f64 * (1.0 - p / 100.0) < 1.0 {
                    continue;
                }
                route.push(r.as_str().to_owned());
                pct.push(p);
                ms.push(all.value_at_quantile(p / 100.0) as f64 / 1000.0);
                count.push(n);
            }
        }
        write_parquet(
            &dir.join("latency-percentiles.parquet"),
            vec![
                ("route", Column::Text(route)),
                ("percentile", Column::F64(pct)),
                ("latency_ms", Column::F64(ms)),
                ("requests", Column::U64(count)),
            ],
        )
    }

    /// A route's latencies from the intended send time, every outcome.
    fn merged(&self, route: Route) -> Histogram<u64> {
        let mut all = histogram();
        for class in [
            Class::Ok,
            Class::Refused,
            Class::ServerError,
            Class::Transport,
        ] {
            if let Some(h) = self.by_class.get(&(route, class)) {
                all.add(h).expect("same bounds");
            }
        }
        all
    }
}

/// The route's summary with its SLO breaches noted.
fn judged(mut r: RouteSummary) -> RouteSummary {
    let s = r.slo;
    for (name, bound, got) in [
        ("p50", s.p50_ms, r.p50_ms),
        ("p99", s.p99_ms, r.p99_ms),
        ("p99.9", s.p999_ms, r.p999_ms),
    ] {
        if let Some(b) = bound.filter(|b| got > *b) {
            r.breaches.push(format!("{name} {got:.1} ms > {b} ms"));
        }
    }
    if let Some(b) = s.error_rate.filter(|b| r.error_rate > *b) {
        r.breaches
            .push(format!("error rate {:.4} > {b}", r.error_rate));
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latency_from_the_intended_time_decides_the_verdict() {
        let mut r = Recorder::default();
        for i in 0..1000u64 {
            // The server answers in 1 ms, but the driver sent the last 20 late by 2 s: from the
            // intended time those are 2 s requests, and p99 must say so.
            let late = if i >= 980 { 2_000_000 } else { 0 };
            r.record(Sample {
                route: Route::Verify,
                class: Class::Ok,
                from_intended_us: 1_000 + late,
                service_us: 1_000,
                second: i / 100,
                items: 1,
            });
        }
        r.record(Sample {
            route: Route::Register,
            class: Class::ServerError,
            from_intended_us: 5_000,
            service_us: 5_000,
            second: 0,
            items: 1,
        });
        r.skip(Route::Retrieve);
        let slo = SloSection::default();
        let info = RunInfo {
            scenario: "t".into(),
            target: "x".into(),
            speedup: 1.0,
            period_start: String::new(),
            period_end: String::new(),
            events: 0,
            max_in_flight: 1,
            interrupted: false,
        };
        let s = r.summary(&slo, 10.0, info);
        let v = &s.routes["verify"];
        assert!(v.p99_ms > 1_900.0 && v.service_p99_ms < 2.0, "{v:?}");
        assert!(!v.breaches.is_empty() && !s.pass);
        assert_eq!(s.routes["register"].errors, 1);
        assert_eq!(s.routes["retrieve"].skipped, 1);
        assert_eq!(s.totals.requests, 1001);
        let dir = tempfile::tempdir().unwrap();
        r.write_files(dir.path()).unwrap();
        let bytes = std::fs::read(dir.path().join("histograms/verify.2xx.hdr")).unwrap();
        let back: Histogram<u64> = hdrhistogram::serialization::Deserializer::new()
            .deserialize(&mut bytes.as_slice())
            .unwrap();
        assert_eq!(back.len(), 1000);
        // 1,000 verify service times make a fit; one register does not.
        let c = r.calibration("test".into());
        assert_eq!(c.routes.keys().collect::<Vec<_>>(), ["verify"]);
        assert_eq!(c.routes["verify"].samples, 1000);
        assert!(
            std::fs::read_to_string(dir.path().join("timeseries.csv"))
                .unwrap()
                .contains("0,verify,100,0,0")
        );
    }
}
