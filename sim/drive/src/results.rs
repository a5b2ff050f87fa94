//! A replay's results from its histogram logs and its tallies: `summary.json` with the SLO
//! verdicts, `timeseries.csv`, `latency-windows.parquet`, `driver-lateness.parquet`,
//! `latency-percentiles.parquet` and `service-times.json`. One replay and the merge of several
//! shards go through the same code: every percentile comes from the logs' histograms added up
//! (exact at their precision), every count from the histograms or the tallies summed.

use crate::hlog::{self, Intervals, Log};
use crate::measure::{Class, Happening, Tallies};
use dx_model::route::{Route, Slo};
use dx_model::rundir;
use dx_model::rundir::summary::{
    FaultReport, Flow, Lateness, RouteSummary, RunInfo, Summary, Totals,
};
use hdrhistogram::Histogram;
use std::collections::BTreeMap;
use std::path::Path;

/// Windows the run is cut into for the series over time (`latency-windows.parquet`).
const WINDOWS: u64 = 120;

/// Percentiles of the latency ladder (`latency-percentiles.parquet`), those a route's count
/// resolves (n × (1 − q) ≥ 1) and the maximum.
const LADDER: [f64; 13] = [
    0.0, 25.0, 50.0, 75.0, 90.0, 95.0, 99.0, 99.5, 99.9, 99.95, 99.99, 99.999, 100.0,
];

/// How a replay is described in its result files.
pub struct About<'a> {
    pub info: RunInfo,
    pub elapsed_s: f64,
    /// Each route's SLO.
    pub slo: &'a dyn Fn(Route) -> Slo,
    /// Where `service-times.json` says its fits come from.
    pub calibration_source: String,
    /// The scenario's faults, in its order.
    pub faults: Vec<FaultWindow>,
}

/// A fault's window in the replay.
#[derive(Debug, Clone, PartialEq)]
pub struct FaultWindow {
    pub kind: String,
    pub label: String,
    /// Seconds of the replay.
    pub start_s: f64,
    pub end_s: f64,
    /// Acknowledged writes lost, where the fault could lose any and they were counted.
    pub lost_writes: Option<u64>,
}

impl FaultWindow {
    /// The windows a summary's fault reports name (a merge takes them from its shards).
    pub fn of_summary(s: &Summary) -> Vec<FaultWindow> {
        s.faults
            .iter()
            .map(|f| FaultWindow {
                kind: f.kind.clone(),
                label: f.label.clone(),
                start_s: f.replay_start_s,
                end_s: f.replay_end_s,
                lost_writes: f.lost_writes,
            })
            .collect()
    }
}

/// Seconds every route must stay within its SLO after a fault before it counts as recovered.
const STEADY_S: u64 = 10;

/// Writes the result files of the replay whose logs are `intervals` into `dir` (and, if
/// `rewrite` is given, each second's added-up histograms into those logs), and returns its
/// summary.
pub fn write(
    dir: &Path,
    intervals: &Intervals,
    mut rewrite: Option<&mut hlog::Writer>,
    tallies: &Tallies,
    about: About<'_>,
) -> anyhow::Result<Summary> {
    let w = intervals
        .last_second()
        .map_or(1, |s| (s + 1).div_ceil(WINDOWS).max(1));
    let p99: BTreeMap<Route, f64> = Route::ALL
        .iter()
        .filter_map(|r| (about.slo)(*r).p99_ms.map(|b| (*r, b)))
        .collect();
    let mut acc = Accumulated::new(w, p99);
    for second in intervals.seconds() {
        let (second, hs) = second?;
        if let Some(out) = rewrite.as_deref_mut() {
            for log in Log::ALL {
                for (tag, h) in &hs[log as usize] {
                    let tag = (!tag.is_empty()).then_some(tag.as_str());
                    out.write(log, second, tag, h)?;
                }
            }
        }
        acc.add(second, &hs)?;
    }
    acc.close_window();
    std::fs::write(dir.join("timeseries.csv"), &acc.csv)?;
    acc.write_windows(dir)?;
    acc.write_ladder(dir)?;
    let calibration = acc.calibration(tallies, about.calibration_source.clone());
    rundir::write(dir, &calibration)?;
    let summary = acc.summary(tallies, &about);
    rundir::write(dir, &summary)?;
    Ok(summary)
}

/// One second's row of `timeseries.csv` for one route.
#[derive(Default)]
struct Row {
    requests: u64,
    errors: u64,
    refused: u64,
    shed: u64,
    retried: u64,
    given_up: u64,
    deferred: u64,
    paper: u64,
    abandoned: u64,
    max: u64,
}

/// One window of the series, being added up.
#[derive(Default)]
struct WindowRow {
    requests: u64,
    errors: u64,
    refused: u64,
    latency: Option<Histogram<u64>>,
}

/// What the seconds add up to.
struct Accumulated {
    by_class: BTreeMap<(Route, Class), Histogram<u64>>,
    service: BTreeMap<Route, Histogram<u64>>,
    lateness: Histogram<u64>,
    csv: String,
    /// Seconds per window, and the window being added up.
    w: u64,
    window: Option<u64>,
    rows: BTreeMap<Route, WindowRow>,
    late: Option<Histogram<u64>>,
    windows: WindowColumns,
    lateness_windows: LatenessColumns,
    /// Each route's p99 bound.
    p99: BTreeMap<Route, f64>,
    /// What befell requests, by route, over the replay.
    happened: BTreeMap<(Route, Happening), u64>,
    /// Per second: the flow of every route, and whether every route's p99 of the second was
    /// within its bound.
    flow: BTreeMap<u64, (Flow, bool)>,
}

#[derive(Default)]
struct WindowColumns {
    start: Vec<u64>,
    route: Vec<String>,
    requests: Vec<u64>,
    errors: Vec<u64>,
    refused: Vec<u64>,
    per_s: Vec<f64>,
    pct: [Vec<f64>; 4],
}

#[derive(Default)]
struct LatenessColumns {
    start: Vec<u64>,
    started: Vec<u64>,
    pct: [Vec<f64>; 3],
}

fn ms(us: u64) -> f64 {
    us as f64 / 1000.0
}

fn add_to(sum: &mut Histogram<u64>, h: &Histogram<u64>) -> anyhow::Result<()> {
    sum.add(h)
        .map_err(|e| anyhow::anyhow!("adding histograms: {e:?}"))
}

/// A latency log's tag: `<route>.<class>`.
fn route_class(tag: &str) -> anyhow::Result<(Route, Class)> {
    tag.rsplit_once('.')
        .and_then(|(r, c)| Some((Route::parse(r)?, Class::parse(c)?)))
        .ok_or_else(|| anyhow::anyhow!("latency log tag {tag:?} is not <route>.<class>"))
}

impl Accumulated {
    fn new(w: u64, p99: BTreeMap<Route, f64>) -> Self {
        Self {
            by_class: BTreeMap::new(),
            service: BTreeMap::new(),
            lateness: hlog::histogram(),
            csv: String::from(
                "second,route,requests,errors,refused,shed,retried,given_up,deferred,paper,abandoned,max_ms\n",
            ),
            w,
            window: None,
            rows: BTreeMap::new(),
            late: None,
            windows: WindowColumns::default(),
            lateness_windows: LatenessColumns::default(),
            p99,
            happened: BTreeMap::new(),
            flow: BTreeMap::new(),
        }
    }

    fn add(&mut self, second: u64, hs: &hlog::Second) -> anyhow::Result<()> {
        let window = second / self.w * self.w;
        if self.window != Some(window) {
            self.close_window();
            self.window = Some(window);
        }
        // This second's rows of the series, per route.
        let mut per_route: BTreeMap<Route, Row> = BTreeMap::new();
        let mut second_flow = Flow::default();
        let mut latency: BTreeMap<Route, Histogram<u64>> = BTreeMap::new();
        for (tag, h) in &hs[Log::Outcomes as usize] {
            let (route, what) = tag
                .rsplit_once('.')
                .and_then(|(r, w)| Some((Route::parse(r)?, Happening::parse(w)?)))
                .ok_or_else(|| anyhow::anyhow!("outcomes log tag {tag:?} is not <route>.<what>"))?;
            let n = h.len();
            *self.happened.entry((route, what)).or_default() += n;
            let row = per_route.entry(route).or_default();
            let (count, total) = match what {
                Happening::Retried => (&mut row.retried, &mut second_flow.retried),
                Happening::GivenUp => (&mut row.given_up, &mut second_flow.given_up),
                Happening::Deferred => (&mut row.deferred, &mut second_flow.deferred),
                Happening::Paper => (&mut row.paper, &mut second_flow.paper),
                Happening::Abandoned => (&mut row.abandoned, &mut second_flow.abandoned),
            };
            *count += n;
            *total += n;
        }
        for (tag, h) in &hs[Log::Latency as usize] {
            let (route, class) = route_class(tag)?;
            add_to(latency.entry(route).or_insert_with(hlog::histogram), h)?;
            add_to(
                self.by_class
                    .entry((route, class))
                    .or_insert_with(hlog::histogram),
                h,
            )?;
            let n = h.len();
            let row = per_route.entry(route).or_default();
            row.requests += n;
            row.errors += if class.is_error() { n } else { 0 };
            row.refused += if class == Class::Refused { n } else { 0 };
            row.shed += if class == Class::Shed { n } else { 0 };
            row.max = row.max.max(h.max());
            second_flow.offered += n;
            match class {
                Class::Ok | Class::Refused => second_flow.answered += n,
                Class::Shed => second_flow.shed += n,
                Class::ServerError | Class::Transport => second_flow.failed += n,
            }
            let w = self.rows.entry(route).or_default();
            w.requests += n;
            w.errors += if class.is_error() { n } else { 0 };
            w.refused += if class == Class::Refused { n } else { 0 };
            add_to(w.latency.get_or_insert_with(hlog::histogram), h)?;
        }
        for (route, r) in per_route {
            self.csv.push_str(&format!(
                "{second},{},{},{},{},{},{},{},{},{},{},{:.3}\n",
                route.as_str(),
                r.requests,
                r.errors,
                r.refused,
                r.shed,
                r.retried,
                r.given_up,
                r.deferred,
                r.paper,
                r.abandoned,
                ms(r.max)
            ));
        }
        let within = latency.iter().all(|(route, h)| {
            self.p99
                .get(route)
                .is_none_or(|bound| ms(h.value_at_quantile(0.99)) <= *bound)
        });
        self.flow.insert(second, (second_flow, within));
        for (tag, h) in &hs[Log::Service as usize] {
            let route = Route::parse(tag)
                .ok_or_else(|| anyhow::anyhow!("service log tag {tag:?} is not a route"))?;
            add_to(self.service.entry(route).or_insert_with(hlog::histogram), h)?;
        }
        for h in hs[Log::Lateness as usize].values() {
            add_to(&mut self.lateness, h)?;
            add_to(self.late.get_or_insert_with(hlog::histogram), h)?;
        }
        Ok(())
    }

    fn close_window(&mut self) {
        let Some(start) = self.window else { return };
        let w = self.w;
        for (route, row) in std::mem::take(&mut self.rows) {
            let c = &mut self.windows;
            c.start.push(start);
            c.route.push(route.as_str().to_owned());
            c.requests.push(row.requests);
            c.errors.push(row.errors);
            c.refused.push(row.refused);
            c.per_s.push(row.requests as f64 / w as f64);
            let h = row.latency.unwrap_or_else(hlog::histogram);
            for (v, q) in c.pct.iter_mut().zip([0.5, 0.9, 0.99, 1.0]) {
                v.push(ms(h.value_at_quantile(q)));
            }
        }
        if let Some(h) = self.late.take() {
            let c = &mut self.lateness_windows;
            c.start.push(start);
            c.started.push(h.len());
            for (v, q) in c.pct.iter_mut().zip([0.5, 0.99, 1.0]) {
                v.push(ms(h.value_at_quantile(q)));
            }
        }
        self.window = None;
    }

    /// `latency-windows.parquet` (per window and route: requests, errors, refusals, throughput
    /// and latency percentiles from the intended send time) and `driver-lateness.parquet` (per
    /// window: requests started and how late).
    fn write_windows(&mut self, dir: &Path) -> anyhow::Result<()> {
        use dx_workload::tables::{Column, write_parquet};
        let c = std::mem::take(&mut self.windows);
        let n = c.start.len();
        let [p50, p90, p99, max] = c.pct;
        write_parquet(
            &dir.join("latency-windows.parquet"),
            vec![
                ("window_start_s", Column::U64(c.start)),
                ("window_s", Column::U64(vec![self.w; n])),
                ("route", Column::Text(c.route)),
                ("requests", Column::U64(c.requests)),
                ("errors", Column::U64(c.errors)),
                ("refused", Column::U64(c.refused)),
                ("throughput_per_s", Column::F64(c.per_s)),
                ("p50_ms", Column::F64(p50)),
                ("p90_ms", Column::F64(p90)),
                ("p99_ms", Column::F64(p99)),
                ("max_ms", Column::F64(max)),
            ],
        )?;
        let l = std::mem::take(&mut self.lateness_windows);
        let n = l.start.len();
        let [l50, l99, lmax] = l.pct;
        write_parquet(
            &dir.join("driver-lateness.parquet"),
            vec![
                ("window_start_s", Column::U64(l.start)),
                ("window_s", Column::U64(vec![self.w; n])),
                ("started", Column::U64(l.started)),
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
        let (mut route, mut pct, mut at, mut count) =
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
                at.push(ms(all.value_at_quantile(p / 100.0)));
                count.push(n);
            }
        }
        write_parquet(
            &dir.join("latency-percentiles.parquet"),
            vec![
                ("route", Column::Text(route)),
                ("percentile", Column::F64(pct)),
                ("latency_ms", Column::F64(at)),
                ("requests", Column::U64(count)),
            ],
        )
    }

    /// A route's latencies from the intended send time, every outcome.
    fn merged(&self, route: Route) -> Histogram<u64> {
        let mut all = hlog::histogram();
        for ((_, _), h) in self
            .by_class
            .range((route, Class::Ok)..=(route, Class::Transport))
        {
            all.add(h).expect("same bounds");
        }
        all
    }

    /// The service times of every route with enough samples, fitted for the capacity model.
    fn calibration(
        &self,
        tallies: &Tallies,
        source: String,
    ) -> dx_model::rundir::calibration::Calibration {
        dx_model::rundir::calibration::Calibration {
            source,
            routes: self
                .service
                .iter()
                .filter_map(|(route, h)| {
                    let requests = h.len().max(1);
                    let items = tallies.items.get(route).copied().unwrap_or(requests);
                    crate::calibrate::fit(h)
                        .map(|f| f.per_item(items as f64 / requests as f64))
                        .map(|f| (route.as_str().to_owned(), f))
                })
                .collect(),
        }
    }

    /// The summary of the replay, with SLO verdicts.
    fn summary(&self, tallies: &Tallies, about: &About<'_>) -> Summary {
        let elapsed_s = about.elapsed_s;
        let mut routes = BTreeMap::new();
        let mut total = Totals::default();
        for route in Route::ALL {
            let all = self.merged(route);
            let class = |c: Class| self.by_class.get(&(route, c)).map_or(0, Histogram::len);
            let count = all.len();
            let skipped = tallies.skipped.get(&route).copied().unwrap_or(0);
            let happened = |w: Happening| self.happened.get(&(route, w)).copied().unwrap_or(0);
            let befell: u64 = Happening::ALL.into_iter().map(happened).sum();
            if count == 0 && skipped == 0 && befell == 0 {
                continue;
            }
            let errors = class(Class::Shed) + class(Class::ServerError) + class(Class::Transport);
            let refused = class(Class::Refused);
            let at = |q: f64| ms(all.value_at_quantile(q));
            let service = |q: f64| {
                self.service
                    .get(&route)
                    .map_or(0.0, |h| ms(h.value_at_quantile(q)))
            };
            let stats = RouteSummary {
                count,
                items: tallies.items.get(&route).copied().unwrap_or(count),
                ok: class(Class::Ok),
                refused,
                errors,
                skipped,
                error_rate: if count > 0 {
                    errors as f64 / count as f64
                } else {
                    0.0
                },
                throughput_per_s: count as f64 / elapsed_s.max(1e-9),
                p50_ms: at(0.5),
                p90_ms: at(0.9),
                p99_ms: at(0.99),
                p999_ms: at(0.999),
                max_ms: ms(all.max()),
                service_p50_ms: service(0.5),
                service_p99_ms: service(0.99),
                refusal_codes: tallies
                    .refusals
                    .iter()
                    .filter(|((r, _), _)| *r == route)
                    .map(|((_, c), n)| (c.clone(), *n))
                    .collect(),
                slo: (about.slo)(route),
                breaches: Vec::new(),
                shed: class(Class::Shed),
                retried: happened(Happening::Retried),
                given_up: tallies
                    .given_up
                    .iter()
                    .filter(|((r, _), _)| *r == route)
                    .map(|((_, why), n)| (why.clone(), *n))
                    .collect(),
                deferred: happened(Happening::Deferred),
                paper: happened(Happening::Paper),
                abandoned: happened(Happening::Abandoned),
            };
            let stats = judged(stats);
            total.requests += count;
            total.errors += errors;
            total.refused += refused;
            total.skipped += skipped;
            routes.insert(route.as_str().to_owned(), stats);
        }
        total.throughput_per_s = total.requests as f64 / elapsed_s.max(1e-9);
        total.token_refreshes = tallies.token_refreshes;
        let pass = routes.values().all(|r| r.breaches.is_empty());
        Summary {
            run: about.info.clone(),
            elapsed_s,
            pass,
            totals: total,
            lateness: Lateness {
                p50_ms: ms(self.lateness.value_at_quantile(0.5)),
                p99_ms: ms(self.lateness.value_at_quantile(0.99)),
                max_ms: ms(self.lateness.max()),
                over_10ms: tallies.late_over_10ms,
            },
            routes,
            faults: about
                .faults
                .iter()
                .enumerate()
                .map(|(i, f)| {
                    self.fault_report(
                        f,
                        tallies.backlog.get(i).copied().unwrap_or(0),
                        about.info.speedup,
                    )
                })
                .collect(),
        }
    }

    /// What a fault did: the flow of the seconds in its window, the rate before it and the
    /// peak after it, and how long until every route's p99 was back within its SLO.
    fn fault_report(&self, f: &FaultWindow, backlog: u64, speedup: f64) -> FaultReport {
        let (s0, s1) = (f.start_s.floor() as u64, f.end_s.ceil() as u64);
        let len = (s1 - s0).max(1);
        let mut during = Flow::default();
        for (flow, _) in self.flow.range(s0..s1).map(|(_, v)| v) {
            during.add(flow);
        }
        let before: u64 = self
            .flow
            .range(s0.saturating_sub(len)..s0)
            .map(|(_, (flow, _))| flow.offered)
            .sum();
        let span = s0.min(len).max(1);
        let last = self.flow.keys().next_back().copied().unwrap_or(0);
        let good = |s: u64| self.flow.get(&s).is_none_or(|(_, within)| *within);
        let recovered = (s1..=last).find(|&s| (s..(s + STEADY_S).min(last + 1)).all(good));
        let peak_until = recovered.map_or(last + 1, |s| s + STEADY_S);
        let recovery_peak = self
            .flow
            .range(s1..peak_until.max(s1 + 1))
            .map(|(_, (flow, _))| flow.offered)
            .max()
            .unwrap_or(0);
        let ttr = recovered.map(|s| (s as f64 - f.end_s).max(0.0));
        FaultReport {
            kind: f.kind.clone(),
            label: f.label.clone(),
            replay_start_s: f.start_s,
            replay_end_s: f.end_s,
            during,
            backlog,
            usual_per_s: before as f64 / span as f64,
            recovery_peak_per_s: recovery_peak as f64,
            time_to_recover_s: ttr,
            time_to_recover_simulated_s: ttr.map(|t| t * speedup),
            lost_writes: f.lost_writes,
        }
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
