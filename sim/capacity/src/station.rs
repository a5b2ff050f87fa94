//! One service of the central platform as a queueing station: `c` identical workers, first come
//! first served, an optional queue limit (arrivals finding it full are rejected), service times
//! drawn from a distribution, an optional fixed network latency added to each response.
//!
//! Under FIFO the start times of service never decrease, so the station needs no event list: the
//! `c` workers' next free times sit in a min-heap, an arrival starts at the later of its arrival
//! and the earliest free worker, and the customers still waiting at an instant are the tail of
//! the (sorted) start times. Each arrival costs O(log c).

use dx_model::rng::Stream;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};

/// A service-time distribution, in seconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ServiceTime {
    Exponential {
        mean: f64,
    },
    Deterministic {
        value: f64,
    },
    /// `ln S ~ N(mu, sigma²)`.
    LogNormal {
        mu: f64,
        sigma: f64,
    },
}

impl ServiceTime {
    pub fn sample(&self, r: &mut Stream) -> f64 {
        match *self {
            Self::Exponential { mean } => -mean * (1.0 - r.unit()).ln(),
            Self::Deterministic { value } => value,
            Self::LogNormal { mu, sigma } => (mu + sigma * standard_normal(r)).exp(),
        }
    }

    pub fn mean(&self) -> f64 {
        match *self {
            Self::Exponential { mean } => mean,
            Self::Deterministic { value } => value,
            Self::LogNormal { mu, sigma } => (mu + sigma * sigma / 2.0).exp(),
        }
    }

    /// P(S ≤ x).
    pub fn cdf(&self, x: f64) -> f64 {
        match *self {
            Self::Exponential { mean } => {
                if x <= 0.0 {
                    0.0
                } else {
                    1.0 - (-x / mean).exp()
                }
            }
            Self::Deterministic { value } => f64::from(u8::from(x >= value)),
            Self::LogNormal { mu, sigma } => {
                if x <= 0.0 {
                    0.0
                } else {
                    0.5 * statrs::function::erf::erfc(
                        -(x.ln() - mu) / (sigma * std::f64::consts::SQRT_2),
                    )
                }
            }
        }
    }

    /// E[S²], for Pollaczek–Khinchine.
    pub fn second_moment(&self) -> f64 {
        match *self {
            Self::Exponential { mean } => 2.0 * mean * mean,
            Self::Deterministic { value } => value * value,
            Self::LogNormal { mu, sigma } => (2.0 * mu + 2.0 * sigma * sigma).exp(),
        }
    }
}

/// A standard normal draw (Box–Muller, one of the pair).
pub fn standard_normal(r: &mut Stream) -> f64 {
    let (u, v) = (1.0 - r.unit(), r.unit());
    (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
}

/// The shape of a station.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Station {
    pub servers: u32,
    /// Waiting places; `None` is unbounded.
    pub queue_limit: Option<u32>,
    pub service: ServiceTime,
    /// Added to each response (the network), not to the workers' busy time.
    pub latency_s: f64,
}

/// What happened to one arrival.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Fate {
    Served {
        /// Time spent queueing before service.
        wait: f64,
        /// Arrival to response: wait + service + latency.
        response: f64,
        service: f64,
        /// Customers already waiting when it arrived (not counting those in service).
        queue_seen: u32,
    },
    Rejected,
}

/// A station's state while arrivals stream through it, in arrival order.
#[derive(Debug)]
pub struct Running {
    station: Station,
    free_at: Workers,
    /// Start times of admitted customers not yet started, as of the last arrival.
    waiting: VecDeque<f64>,
    last_arrival: f64,
}

/// A time ordered totally, for the heap.
#[derive(Debug, Clone, Copy, PartialEq)]
struct OrdF64(f64);
impl Eq for OrdF64 {}
impl PartialOrd for OrdF64 {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for OrdF64 {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        self.0.total_cmp(&o.0)
    }
}

/// The `c` workers of a station: when each is next free, earliest first.
#[derive(Debug)]
struct Workers(BinaryHeap<Reverse<OrdF64>>);

impl Workers {
    fn new(c: u32) -> Self {
        assert!(c > 0, "a station needs at least one worker");
        Self((0..c).map(|_| Reverse(OrdF64(f64::NEG_INFINITY))).collect())
    }

    /// When the first worker is free.
    fn next_free(&self) -> f64 {
        self.0.peek().expect("c > 0 workers").0.0
    }

    /// The first free worker serves from `start` for `service` seconds.
    fn take(&mut self, start: f64, service: f64) {
        self.0.pop();
        self.0.push(Reverse(OrdF64(start + service)));
    }
}

impl Running {
    pub fn new(station: Station) -> Self {
        Self {
            free_at: Workers::new(station.servers),
            station,
            waiting: VecDeque::new(),
            last_arrival: f64::NEG_INFINITY,
        }
    }

    /// Admits an arrival at `t` (seconds; never earlier than the previous one).
    pub fn arrive(&mut self, t: f64, r: &mut Stream) -> Fate {
        let service = self.station.service.sample(r);
        self.admit(t, service)
    }

    /// Admits an arrival at `t` needing `service` seconds of a worker.
    pub fn admit(&mut self, t: f64, service: f64) -> Fate {
        debug_assert!(t >= self.last_arrival, "arrivals must come in time order");
        self.last_arrival = t;
        while self.waiting.front().is_some_and(|&s| s <= t) {
            self.waiting.pop_front();
        }
        let queue_seen = self.waiting.len() as u32;
        let free = self.free_at.next_free();
        let must_wait = free > t;
        if must_wait && self.station.queue_limit.is_some_and(|l| queue_seen >= l) {
            return Fate::Rejected;
        }
        let start = free.max(t);
        self.free_at.take(start, service);
        if must_wait {
            self.waiting.push_back(start);
        }
        Fate::Served {
            wait: start - t,
            response: start - t + service + self.station.latency_s,
            service,
            queue_seen,
        }
    }
}

pub use dx_scenario::Discipline;

/// A station serving waiting customers by class priority. A customer who must wait learns its
/// fate only when a worker takes it, so fates come back tagged: at once from `arrive`, or later
/// through `started` (after `arrive` or `finish`).
#[derive(Debug)]
pub struct PriorityRunning {
    station: Station,
    free_at: Workers,
    /// (class, arrival order) → (arrival, service, tag, queue seen).
    waiting: std::collections::BTreeMap<(u8, u64), (f64, f64, u64, u32)>,
    seq: u64,
    /// Customers that started since the caller last took them.
    pub started: Vec<(u64, Fate)>,
}

impl PriorityRunning {
    pub fn new(station: Station) -> Self {
        Self {
            free_at: Workers::new(station.servers),
            station,
            waiting: std::collections::BTreeMap::new(),
            seq: 0,
            started: Vec::new(),
        }
    }

    /// Gives every worker freed by `t` the first waiting customer by class.
    fn dispatch(&mut self, t: f64) {
        loop {
            let free = self.free_at.next_free();
            if free > t {
                break;
            }
            let Some((_, (arrival, service, tag, queue_seen))) = self.waiting.pop_first() else {
                break;
            };
            // Everyone waiting arrived while every worker was busy, so before `free`.
            self.free_at.take(free, service);
            let wait = free - arrival;
            self.started.push((
                tag,
                Fate::Served {
                    wait,
                    response: wait + service + self.station.latency_s,
                    service,
                    queue_seen,
                },
            ));
        }
    }

    /// An arrival at `t` of `class` needing `service` seconds: its fate if known now (served at
    /// once, or rejected by a full queue); `None` if it waits.
    pub fn arrive(&mut self, t: f64, class: u8, service: f64, tag: u64) -> Option<Fate> {
        self.dispatch(t);
        let queue_seen = self.waiting.len() as u32;
        if self.free_at.next_free() <= t {
            self.free_at.take(t, service);
            return Some(Fate::Served {
                wait: 0.0,
                response: service + self.station.latency_s,
                service,
                queue_seen,
            });
        }
        if self.station.queue_limit.is_some_and(|l| queue_seen >= l) {
            return Some(Fate::Rejected);
        }
        self.seq += 1;
        self.waiting
            .insert((class, self.seq), (t, service, tag, queue_seen));
        None
    }

    /// Serves everyone still waiting.
    pub fn finish(&mut self) {
        self.dispatch(f64::INFINITY);
    }
}

/// Poisson arrivals at `rate` per second from time 0: an endless iterator of arrival times.
pub fn poisson_arrivals(rate: f64, r: &mut Stream) -> impl Iterator<Item = f64> + '_ {
    let mut t = 0.0;
    std::iter::from_fn(move || {
        t += -(1.0 - r.unit()).ln() / rate;
        Some(t)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn served(f: Fate) -> (f64, f64, u32) {
        match f {
            Fate::Served {
                wait,
                response,
                queue_seen,
                ..
            } => (wait, response, queue_seen),
            Fate::Rejected => panic!("rejected"),
        }
    }

    #[test]
    fn two_workers_serve_in_arrival_order_and_a_full_queue_rejects() {
        let st = Station {
            servers: 2,
            queue_limit: Some(1),
            service: ServiceTime::Deterministic { value: 10.0 },
            latency_s: 0.5,
        };
        let mut s = Running::new(st);
        let r = &mut Stream::new(1, "t", 0);
        assert_eq!(served(s.arrive(0.0, r)), (0.0, 10.5, 0));
        assert_eq!(served(s.arrive(1.0, r)), (0.0, 10.5, 0));
        // Both busy until 10 and 11: the third waits for the first free worker.
        assert_eq!(served(s.arrive(2.0, r)), (8.0, 18.5, 0));
        // One waiting place, taken: rejected.
        assert_eq!(s.arrive(3.0, r), Fate::Rejected);
        // At 10.5 the third has started; the queue is empty again; the next free worker is at 11.
        assert_eq!(served(s.arrive(10.5, r)), (0.5, 11.0, 0));
        // It waits for the worker free at 11: the waiting place is taken again.
        assert_eq!(s.arrive(10.6, r), Fate::Rejected);
        assert_eq!(served(s.arrive(11.5, r)), (8.5, 19.0, 0));
        // Unbounded, an arrival sees those waiting ahead of it.
        let mut s = Running::new(Station {
            queue_limit: None,
            ..st
        });
        for (i, t) in [0.0, 0.0, 1.0, 2.0, 3.0].into_iter().enumerate() {
            assert_eq!(served(s.arrive(t, r)).2, i.saturating_sub(2) as u32);
        }
    }

    #[test]
    fn priority_serves_the_first_class_first_and_matches_cobham() {
        // Two classes, M/M/1, each half the load at ρ = 0.8 in all. Non-preemptive priority
        // (Cobham): W0 = Σ λᵢ E[Sᵢ²] / 2, W₁ = W0 / (1 − ρ₁), W₂ = W0 / ((1 − ρ₁)(1 − ρ)).
        let st = Station {
            servers: 1,
            queue_limit: None,
            service: ServiceTime::Exponential { mean: 1.0 },
            latency_s: 0.0,
        };
        let (lambda, rho1, rho) = (0.8, 0.4, 0.8);
        let w0 = lambda * 2.0 / 2.0;
        let want = [w0 / (1.0 - rho1), w0 / ((1.0 - rho1) * (1.0 - rho))];
        let mut means = [Vec::new(), Vec::new()];
        for rep in 0..10 {
            let mut s = PriorityRunning::new(st);
            let r = &mut Stream::new(41, "prio", rep);
            let rs = &mut Stream::new(42, "prio", rep);
            let mut classes = Vec::new();
            let mut sums = [(0.0, 0u64); 2];
            let tally = |tag: u64, f: Fate, classes: &[u8], sums: &mut [(f64, u64); 2]| {
                if let Fate::Served { wait, .. } = f
                    && tag >= 20_000
                {
                    let k = usize::from(classes[tag as usize]);
                    sums[k].0 += wait;
                    sums[k].1 += 1;
                }
            };
            let arrivals: Vec<f64> = poisson_arrivals(lambda, r).take(200_000).collect();
            for (i, t) in arrivals.into_iter().enumerate() {
                let class = u8::from(rs.chance(0.5));
                classes.push(class);
                let service = st.service.sample(rs);
                if let Some(f) = s.arrive(t, class, service, i as u64) {
                    tally(i as u64, f, &classes, &mut sums);
                }
                for (tag, f) in std::mem::take(&mut s.started) {
                    tally(tag, f, &classes, &mut sums);
                }
            }
            s.finish();
            for (tag, f) in std::mem::take(&mut s.started) {
                tally(tag, f, &classes, &mut sums);
            }
            for k in 0..2 {
                means[k].push(sums[k].0 / sums[k].1 as f64);
            }
        }
        for k in 0..2 {
            use super::super::stats::{Estimate, Interval};
            let e = Estimate::of(&means[k], 0.99);
            assert!(
                e.contains(want[k]),
                "class {k}: want {:.3}, got {e:?}",
                want[k]
            );
        }
    }

    #[test]
    fn sampled_service_times_have_their_means() {
        let r = &mut Stream::new(2, "t", 0);
        for d in [
            ServiceTime::Exponential { mean: 0.2 },
            ServiceTime::LogNormal {
                mu: -2.0,
                sigma: 0.5,
            },
        ] {
            let n = 200_000;
            let (mut sum, mut sq) = (0.0, 0.0);
            for _ in 0..n {
                let x = d.sample(r);
                sum += x;
                sq += x * x;
            }
            let (m, m2) = (sum / n as f64, sq / n as f64);
            assert!((m / d.mean() - 1.0).abs() < 0.01, "{d:?}: mean {m}");
            assert!(
                (m2 / d.second_moment() - 1.0).abs() < 0.03,
                "{d:?}: E[S²] {m2}"
            );
        }
    }
}
