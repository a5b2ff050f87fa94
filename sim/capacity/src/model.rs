//! One service over the period: arrivals drawn minute by minute from the national rates (a
//! non-homogeneous Poisson process per route), service times per route, the station, and
//! per-minute measures. The sizing search finds the least number of workers meeting the
//! service's SLO in its busiest hour.

use super::rates::Rates;
use super::services::RouteTime;
use super::station::{Discipline, Fate, PriorityRunning, Running, Station};
use dx_model::rng::{Stream, stream_key};
use dx_model::route::Route;
use dx_model::route::Service;
use hdrhistogram::Histogram;
use std::ops::Range;

/// Microseconds recorded at most (an hour); longer responses count as an hour.
const MAX_US: u64 = 3_600_000_000;
/// Workers tried at most by the sizing search.
pub const MAX_SERVERS: u32 = 1 << 20;

/// One service as the model sees it.
#[derive(Debug, Clone)]
pub struct ServiceModel {
    pub service: Service,
    /// The service's routes with arrivals, their service times and expected arrivals per minute.
    pub routes: Vec<(Route, RouteTime, Vec<f64>)>,
    pub queue_limit: Option<u32>,
    pub latency_s: f64,
    pub discipline: Discipline,
    /// Priority class of each route (index into `routes`; 0 first).
    pub class: Vec<u8>,
    /// The strictest p99 and error rate of the service's routes.
    pub slo_p99_ms: f64,
    pub slo_error_rate: f64,
    pub seed: u64,
}

/// Measures of one minute (by arrival time).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Minute {
    pub minute: u32,
    pub arrivals: u64,
    pub rejected: u64,
    /// Work arriving in the minute per worker-second available.
    pub utilisation: f64,
    /// Mean number waiting as seen by arrivals.
    pub queue: f64,
    pub wait_p50_ms: f64,
    pub wait_p99_ms: f64,
    pub response_p50_ms: f64,
    pub response_p99_ms: f64,
}

/// What a simulation of minutes `range` gives over its evaluation window.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub servers: u32,
    pub arrivals: u64,
    pub rejected: u64,
    pub response_p99_ms: f64,
    /// The largest p99 of any hour of the evaluation window (counted from its start), and that
    /// hour's first minute.
    pub worst_hour_p99_ms: f64,
    pub worst_hour: usize,
    pub mean_wait_ms: f64,
    pub utilisation: f64,
    /// Per minute over the whole range, if asked for.
    pub minutes: Vec<Minute>,
}

impl Outcome {
    pub fn rejected_share(&self) -> f64 {
        self.rejected as f64 / self.arrivals.max(1) as f64
    }
}

fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_US, 3).expect("valid bounds")
}

fn ms(h: &Histogram<u64>, q: f64) -> f64 {
    if h.is_empty() {
        0.0
    } else {
        h.value_at_quantile(q) as f64 / 1e3
    }
}

impl ServiceModel {
    /// Expected arrivals per minute, all routes.
    pub fn per_minute(&self) -> Vec<f64> {
        let n = self.routes.first().map_or(0, |r| r.2.len());
        let mut t = vec![0.0; n];
        for (_, _, m) in &self.routes {
            for (a, b) in t.iter_mut().zip(m) {
                *a += b;
            }
        }
        t
    }

    /// Expected busy workers (offered load, Erlangs) over minutes `range`.
    pub fn offered_load(&self, range: Range<usize>) -> f64 {
        let secs = (range.len() * 60) as f64;
        self.routes
            .iter()
            .map(|(_, t, m)| m[range.clone()].iter().sum::<f64>() * t.time.mean())
            .sum::<f64>()
            / secs
    }

    /// Simulates minutes `range` with `servers` workers (`None`: as many as needed, no waiting)
    /// in replication `rep`; measures the minutes in `eval`, and keeps per-minute rows if
    /// `keep_minutes`. Arrivals and service times of a minute come from that minute's own
    /// streams, so every size and range sees the same arrivals (common random numbers). Every
    /// measure belongs to the minute of arrival, also when (under priority) a customer learns
    /// its wait minutes later.
    pub fn simulate(
        &self,
        servers: Option<u32>,
        range: Range<usize>,
        eval: Range<usize>,
        rep: u64,
        keep_minutes: bool,
    ) -> Outcome {
        let name = self.service.as_str();
        let (k_arr, k_svc) = (
            stream_key(self.seed, &format!("capacity.arrivals.{name}")),
            stream_key(self.seed, &format!("capacity.service.{name}")),
        );
        let station = |c| Station {
            servers: c,
            queue_limit: self.queue_limit,
            service: super::station::ServiceTime::Deterministic { value: 0.0 },
            latency_s: self.latency_s,
        };
        let mut runner = match (servers, self.discipline) {
            (None, _) => Runner::Unbounded(self.latency_s),
            (Some(c), Discipline::Fifo) => Runner::Fifo(Running::new(station(c))),
            (Some(c), Discipline::Priority) => Runner::Priority(PriorityRunning::new(station(c))),
        };
        let mut tally = Tally::new(
            f64::from(servers.unwrap_or(1)),
            eval.clone(),
            range.start,
            keep_minutes,
        );
        let mut batch: Vec<(f64, usize)> = Vec::new();
        for m in range {
            let id = (rep << 32) | m as u64;
            let (mut ra, mut rs) = (Stream::from_key(k_arr, id), Stream::from_key(k_svc, id));
            batch.clear();
            let t0 = m as f64 * 60.0;
            for (i, (_, _, rate)) in self.routes.iter().enumerate() {
                let lambda = rate[m];
                if lambda <= 0.0 {
                    continue;
                }
                let mut t = 0.0;
                loop {
                    t += -(1.0 - ra.unit()).ln() * 60.0 / lambda;
                    if t >= 60.0 {
                        break;
                    }
                    batch.push((t0 + t, i));
                }
            }
            batch.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            tally.open(m);
            for &(t, i) in &batch {
                let service = self.routes[i].1.time.sample(&mut rs);
                let fate = match &mut runner {
                    Runner::Fifo(s) => Some(s.admit(t, service)),
                    Runner::Priority(s) => {
                        let f = s.arrive(t, self.class[i], service, m as u64);
                        for (tag, late) in std::mem::take(&mut s.started) {
                            tally.record(tag as usize, late, true);
                        }
                        f
                    }
                    Runner::Unbounded(latency) => Some(Fate::Served {
                        wait: 0.0,
                        response: service + *latency,
                        service,
                        queue_seen: 0,
                    }),
                };
                tally.arrival(m);
                match fate {
                    Some(f) => tally.record(m, f, false),
                    None => tally.waiting(m),
                }
            }
            tally.close_ready();
        }
        if let Runner::Priority(s) = &mut runner {
            s.finish();
            for (tag, late) in std::mem::take(&mut s.started) {
                tally.record(tag as usize, late, true);
            }
        }
        tally.finish(servers.unwrap_or(0))
    }

    /// Whether an outcome meets the service's SLO: the p99 of every hour within bound, and the
    /// rejections.
    pub fn meets(&self, o: &Outcome) -> bool {
        o.worst_hour_p99_ms <= self.slo_p99_ms && o.rejected_share() <= self.slo_error_rate
    }

    /// The least number of workers meeting the SLO in every hour of `range` (minutes), the
    /// busiest hour `peak` included; `Err` with the p99 that no size can beat when the service
    /// time alone breaks the SLO.
    pub fn size(&self, range: Range<usize>, peak: Range<usize>) -> Result<u32, f64> {
        // The first hour warms the queue up when the range starts inside the period.
        let eval = if range.start > 0 && range.len() > 60 {
            range.start + 60..range.end
        } else {
            range.clone()
        };
        let run = |c: Option<u32>| self.simulate(c, range.clone(), eval.clone(), 0, false);
        let unbounded = run(None);
        if !self.meets(&unbounded) {
            return Err(unbounded.worst_hour_p99_ms);
        }
        // Fewer workers than the busiest hour keeps busy on average cannot keep up with it;
        // double from there until the SLO is met, then halve the interval.
        let mut lo = (self.offered_load(peak).floor() as u32).max(1);
        let mut hi = lo;
        while !self.meets(&run(Some(hi))) {
            lo = hi + 1;
            hi = hi.saturating_mul(2);
            if hi > MAX_SERVERS {
                return Err(unbounded.worst_hour_p99_ms);
            }
        }
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if self.meets(&run(Some(mid))) {
                hi = mid;
            } else {
                lo = mid + 1;
            }
        }
        Ok(hi)
    }
}

/// The service model of `service` from the rates and the routes' times; `None` when it has no
/// arrivals.
pub fn service_model(
    service: Service,
    rates: &Rates,
    times: &dyn Fn(Route) -> RouteTime,
    s: &dx_scenario::Scenario,
) -> Option<ServiceModel> {
    let routes: Vec<_> = service
        .routes()
        .into_iter()
        .filter(|r| rates.of(*r).iter().any(|x| *x > 0.0))
        .map(|r| (r, times(r), rates.of(r).to_vec()))
        .collect();
    if routes.is_empty() {
        return None;
    }
    let cfg = s.capacity.services.get(&service);
    // Listed routes first, in their order; the others after them, together.
    let listed = cfg.map_or(&[][..], |c| &c.priority[..]);
    let class: Vec<u8> = routes
        .iter()
        .map(|(r, _, _)| {
            listed
                .iter()
                .position(|x| x == r)
                .unwrap_or(listed.len())
                .min(255) as u8
        })
        .collect();
    let slo = |r: &Route| s.slo.for_route(*r);
    Some(ServiceModel {
        service,
        slo_p99_ms: routes
            .iter()
            .filter_map(|(r, _, _)| slo(r).p99_ms)
            .fold(f64::INFINITY, f64::min),
        slo_error_rate: routes
            .iter()
            .filter_map(|(r, _, _)| slo(r).error_rate)
            .fold(1.0, f64::min),
        routes,
        queue_limit: cfg.and_then(|c| c.queue_limit),
        latency_s: cfg.map_or(0.0, |c| c.latency_ms.get() / 1e3),
        discipline: cfg.map_or(Discipline::Fifo, |c| c.discipline),
        class,
        seed: s.seed,
    })
}

enum Runner {
    Fifo(Running),
    Priority(PriorityRunning),
    /// As many workers as needed: no waiting (the service time's own p99).
    Unbounded(f64),
}

/// One minute still collecting measures.
struct OpenMinute {
    row: Minute,
    work: f64,
    /// Arrivals of the minute still waiting to learn their fate.
    pending: u64,
    wait_h: Option<Histogram<u64>>,
    resp_h: Option<Histogram<u64>>,
}

/// Collects fates into minutes (by arrival) and hours of the evaluation window; closes a minute
/// once it has ended and all its arrivals know their fates, in order.
struct Tally {
    c: f64,
    eval: Range<usize>,
    keep_minutes: bool,
    /// Open minutes from `first`.
    first: usize,
    open: std::collections::VecDeque<OpenMinute>,
    /// Open hours' response histograms, keyed by first minute.
    hours: std::collections::BTreeMap<usize, Histogram<u64>>,
    eval_resp: Histogram<u64>,
    spare: Vec<Histogram<u64>>,
    out: Outcome,
    wait_sum: f64,
    work: f64,
    served: u64,
}

/// Per-minute histograms: 2 significant digits are enough for a minute's p50 and p99.
fn minute_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_US, 2).expect("valid bounds")
}

impl Tally {
    fn new(c: f64, eval: Range<usize>, first: usize, keep_minutes: bool) -> Self {
        Self {
            c,
            out: Outcome {
                servers: 0,
                arrivals: 0,
                rejected: 0,
                response_p99_ms: 0.0,
                worst_hour_p99_ms: 0.0,
                worst_hour: eval.start,
                mean_wait_ms: 0.0,
                utilisation: 0.0,
                minutes: Vec::new(),
            },
            eval,
            keep_minutes,
            first,
            open: std::collections::VecDeque::new(),
            hours: std::collections::BTreeMap::new(),
            eval_resp: histogram(),
            spare: Vec::new(),
            wait_sum: 0.0,
            work: 0.0,
            served: 0,
        }
    }

    fn hour_of(&self, m: usize) -> usize {
        m - (m - self.eval.start) % 60
    }

    fn open(&mut self, m: usize) {
        let mut pooled = || {
            let mut h = self.spare.pop().unwrap_or_else(minute_histogram);
            h.reset();
            h
        };
        let (wait_h, resp_h) = if self.keep_minutes {
            (Some(pooled()), Some(pooled()))
        } else {
            (None, None)
        };
        self.open.push_back(OpenMinute {
            row: Minute {
                minute: m as u32,
                ..Minute::default()
            },
            work: 0.0,
            pending: 0,
            wait_h,
            resp_h,
        });
    }

    fn at(&mut self, m: usize) -> &mut OpenMinute {
        &mut self.open[m - self.first]
    }

    fn arrival(&mut self, m: usize) {
        self.at(m).row.arrivals += 1;
    }

    fn waiting(&mut self, m: usize) {
        self.at(m).pending += 1;
    }

    /// The fate of an arrival of minute `m`; `late` if it was counted as waiting.
    fn record(&mut self, m: usize, fate: Fate, late: bool) {
        let measured = self.eval.contains(&m);
        let o = self.at(m);
        if late {
            o.pending -= 1;
        }
        match fate {
            Fate::Served {
                wait,
                response,
                service,
                queue_seen,
            } => {
                o.work += service;
                o.row.queue += f64::from(queue_seen);
                let (w, r) = (
                    ((wait * 1e6) as u64).clamp(1, MAX_US),
                    ((response * 1e6) as u64).clamp(1, MAX_US),
                );
                if let (Some(wh), Some(rh)) = (o.wait_h.as_mut(), o.resp_h.as_mut()) {
                    wh.record(w).expect("clamped");
                    rh.record(r).expect("clamped");
                }
                if measured {
                    self.eval_resp.record(r).expect("clamped");
                    let hour = self.hour_of(m);
                    self.hours
                        .entry(hour)
                        .or_insert_with(histogram)
                        .record(r)
                        .expect("clamped");
                    self.wait_sum += wait;
                    self.work += service;
                    self.served += 1;
                }
            }
            Fate::Rejected => o.row.rejected += 1,
        }
    }

    /// Closes the minutes at the front that have ended and know every fate.
    fn close_ready(&mut self) {
        // The last open minute is still receiving arrivals only during its own loop; after
        // it, all minutes but those with pending customers can close.
        while let Some(front) = self.open.front() {
            if front.pending > 0 {
                break;
            }
            let o = self.open.pop_front().expect("front");
            self.first += 1;
            self.close(o);
        }
    }

    fn close(&mut self, mut o: OpenMinute) {
        let m = o.row.minute as usize;
        if self.eval.contains(&m) {
            self.out.arrivals += o.row.arrivals;
            self.out.rejected += o.row.rejected;
            let into_hour = (m - self.eval.start) % 60;
            if into_hour == 59 || m + 1 == self.eval.end {
                let start = m - into_hour;
                if let Some(h) = self.hours.remove(&start) {
                    let p99 = ms(&h, 0.99);
                    if p99 > self.out.worst_hour_p99_ms {
                        self.out.worst_hour_p99_ms = p99;
                        self.out.worst_hour = start;
                    }
                }
            }
        }
        if self.keep_minutes {
            o.row.utilisation = o.work / (self.c * 60.0);
            o.row.queue /= o.row.arrivals.max(1) as f64;
            if let (Some(wh), Some(rh)) = (o.wait_h.take(), o.resp_h.take()) {
                o.row.wait_p50_ms = ms(&wh, 0.5);
                o.row.wait_p99_ms = ms(&wh, 0.99);
                o.row.response_p50_ms = ms(&rh, 0.5);
                o.row.response_p99_ms = ms(&rh, 0.99);
                self.spare.extend([wh, rh]);
            }
            self.out.minutes.push(o.row);
        }
    }

    fn finish(mut self, servers: u32) -> Outcome {
        self.close_ready();
        debug_assert!(self.open.is_empty(), "every fate known at the end");
        self.out.servers = servers;
        self.out.response_p99_ms = ms(&self.eval_resp, 0.99);
        self.out.mean_wait_ms = self.wait_sum * 1e3 / self.served.max(1) as f64;
        self.out.utilisation = self.work / (self.c * (self.eval.len() * 60) as f64);
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::super::station::ServiceTime;
    use super::*;

    fn model(per_minute: Vec<f64>, mean_s: f64, slo_ms: f64) -> ServiceModel {
        ServiceModel {
            service: Service::Eligibility,
            routes: vec![(
                Route::Verify,
                RouteTime {
                    time: ServiceTime::Exponential { mean: mean_s },
                    source: "test".into(),
                },
                per_minute,
            )],
            queue_limit: None,
            latency_s: 0.0,
            discipline: Discipline::Fifo,
            class: vec![0],
            slo_p99_ms: slo_ms,
            slo_error_rate: 0.001,
            seed: 9,
        }
    }

    #[test]
    fn arrivals_follow_the_rates_and_every_size_sees_the_same_ones() {
        // 600 a minute for an hour, then 6,000 for an hour.
        let rates: Vec<f64> = (0..120)
            .map(|m| if m < 60 { 600.0 } else { 6000.0 })
            .collect();
        let m = model(rates, 0.01, 1000.0);
        let o = m.simulate(Some(4), 0..120, 0..120, 0, true);
        let (quiet, busy): (u64, u64) = (
            o.minutes[..60].iter().map(|r| r.arrivals).sum(),
            o.minutes[60..].iter().map(|r| r.arrivals).sum(),
        );
        assert!((quiet as f64 / 36_000.0 - 1.0).abs() < 0.02, "{quiet}");
        assert!((busy as f64 / 360_000.0 - 1.0).abs() < 0.01, "{busy}");
        // Utilisation: 100/s × 10 ms / 4 workers = 0.25.
        assert!(
            (o.minutes[100].utilisation - 0.25).abs() < 0.05,
            "{:?}",
            o.minutes[100]
        );
        let other = m.simulate(Some(40), 60..120, 60..120, 0, false);
        assert_eq!(other.arrivals, busy);
        assert!(other.mean_wait_ms < o.mean_wait_ms);
    }

    #[test]
    fn priority_puts_the_counter_before_the_batch_and_loses_no_one() {
        // Counter checks all day, and a burst of batch pre-checks at minute 30 that takes the
        // pool several minutes to clear.
        let mut m = model(vec![1200.0; 120], 0.01, 1000.0);
        let mut batch = vec![0.0; 120];
        batch[30] = 60_000.0;
        m.routes.push((
            Route::Batch,
            RouteTime {
                time: ServiceTime::Exponential { mean: 0.01 },
                source: "test".into(),
            },
            batch,
        ));
        m.class = vec![0, 0];
        let fifo = m.simulate(Some(2), 0..120, 0..120, 0, true);
        m.discipline = Discipline::Priority;
        m.class = vec![0, 1];
        let prio = m.simulate(Some(2), 0..120, 0..120, 0, true);
        // The same arrivals, every one accounted for in its own minute.
        assert_eq!(fifo.arrivals, prio.arrivals);
        let by_minute = |o: &Outcome| o.minutes.iter().map(|r| r.arrivals).collect::<Vec<_>>();
        assert_eq!(by_minute(&fifo), by_minute(&prio));
        assert_eq!(prio.minutes.len(), 120);
        // A work-conserving order: the same work, so (nearly) the same mean wait overall.
        assert!((prio.utilisation - fifo.utilisation).abs() < 1e-9);
        // Counter checks arriving during the backlog no longer wait behind it.
        let p99_at = |o: &Outcome, m: usize| o.minutes[m].response_p99_ms;
        assert!(
            p99_at(&fifo, 33) > 10.0 * p99_at(&prio, 33).max(1.0),
            "{:?} vs {:?}",
            fifo.minutes[33],
            prio.minutes[33]
        );
        assert!(prio.worst_hour_p99_ms >= fifo.worst_hour_p99_ms * 0.5);
    }

    #[test]
    fn a_burst_outside_the_busiest_hour_still_decides_the_size() {
        // A quiet day with one ten-minute burst: the busiest hour holds the burst, and the size
        // must clear its backlog within the SLO.
        let mut per = vec![600.0; 240];
        for x in &mut per[100..110] {
            *x = 60_000.0;
        }
        let m = model(per, 0.01, 2000.0);
        let c = m.size(0..240, 60..120).unwrap();
        let o = m.simulate(Some(c), 0..240, 0..240, 0, false);
        assert!(
            o.worst_hour_p99_ms <= 2000.0 && (60..=120).contains(&o.worst_hour),
            "{o:?}"
        );
        let less = m.simulate(Some(c - 1), 0..240, 0..240, 0, false);
        assert!(!m.meets(&less), "{c}: {less:?}");
        assert!(c >= 6, "the burst offers 10 Erlangs; {c}");
    }

    #[test]
    fn sizing_finds_the_least_size_that_meets_the_slo() {
        // 100 arrivals a second, 50 ms each: 5 Erlangs; service alone has p99 ≈ 230 ms.
        let m = model(vec![6000.0; 180], 0.05, 400.0);
        let c = m.size(0..180, 60..120).unwrap();
        let run = |c| m.simulate(Some(c), 0..180, 0..180, 0, false);
        assert!(m.meets(&run(c)) && !m.meets(&run(c - 1)), "{c}");
        assert!((6..=12).contains(&c), "{c}");
        // A p99 below the service time's own cannot be met at any size.
        let strict = model(vec![6000.0; 180], 0.05, 100.0);
        let p99 = strict.size(0..180, 60..120).unwrap_err();
        assert!((200.0..260.0).contains(&p99), "{p99}");
    }
}
