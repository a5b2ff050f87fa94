//! The national-scale capacity model: the central platform as a network of queueing stations
//! (eligibility, consent, prescription, EHR, municipal, portal), each a pool of `c` identical
//! workers fed by the workload's arrivals, simulated event by event.
//!
//! - `station.rs` — one station: FIFO over `c` workers, queue limit, service-time distribution,
//!   network latency; O(log c) per arrival, no event list.
//! - `theory.rs` — Erlang C (M/M/c) and Pollaczek–Khinchine (M/G/1), which the simulation is
//!   validated against in the tests below.
//! - `stats.rs` — independent replications and Student-t confidence intervals.

pub mod calibration;
pub mod model;
pub mod rates;
pub mod run;
pub mod services;
pub mod station;
pub mod stats;
pub mod theory;

use dx_model::rng::Stream;
use station::{Fate, Running, Station, poisson_arrivals};
use stats::{Estimate, Interval};

/// Steady-state measures of a station under Poisson arrivals, over independent replications.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct SteadyState {
    /// Share of arrivals that waited.
    pub p_wait: Estimate,
    /// Mean wait in queue, seconds.
    pub wait: Estimate,
    /// Mean number waiting as seen by arrivals (by PASTA, the time average).
    pub queue: Estimate,
    /// Share of arrivals rejected by a full queue.
    pub rejected: Estimate,
}

/// Simulates `replications` independent runs of `arrivals` Poisson arrivals at `lambda` per
/// second into `station`, discarding the first `warmup` arrivals of each (the station starts
/// empty), and estimates the steady state at confidence `level`.
pub fn steady_state(
    station: Station,
    lambda: f64,
    (arrivals, warmup): (usize, usize),
    (seed, replications): (u64, usize),
    level: f64,
) -> SteadyState {
    let mut cols: [Vec<f64>; 4] = Default::default();
    for rep in 0..replications as u64 {
        let mut r_arr = Stream::new(seed, "capacity.arrivals", rep);
        let mut r_svc = Stream::new(seed, "capacity.service", rep);
        let mut s = Running::new(station);
        let (mut waited, mut wait, mut queue, mut rejected, mut n) = (0u64, 0.0, 0.0, 0u64, 0u64);
        for (i, t) in poisson_arrivals(lambda, &mut r_arr)
            .take(arrivals)
            .enumerate()
        {
            let fate = s.arrive(t, &mut r_svc);
            if i < warmup {
                continue;
            }
            n += 1;
            match fate {
                Fate::Served {
                    wait: w,
                    queue_seen,
                    ..
                } => {
                    waited += u64::from(w > 0.0);
                    wait += w;
                    queue += f64::from(queue_seen);
                }
                Fate::Rejected => rejected += 1,
            }
        }
        let served = (n - rejected).max(1) as f64;
        cols[0].push(waited as f64 / served);
        cols[1].push(wait / served);
        cols[2].push(queue / n as f64);
        cols[3].push(rejected as f64 / n as f64);
    }
    let [p, w, q, x] = cols.map(|c| Estimate::of(&c, level));
    SteadyState {
        p_wait: p,
        wait: w,
        queue: q,
        rejected: x,
    }
}

#[cfg(test)]
mod tests {
    use super::station::ServiceTime;
    use super::*;

    const LEVEL: f64 = 0.99;

    fn station(servers: u32, service: ServiceTime) -> Station {
        Station {
            servers,
            queue_limit: None,
            service,
            latency_s: 0.0,
        }
    }

    /// Little's law on a run: the mean number waiting (seen by Poisson arrivals) equals the
    /// arrival rate times the mean wait, within the two estimates' intervals.
    fn assert_little(s: &SteadyState, lambda: f64, what: &str) {
        let l = lambda * s.wait.mean;
        let tol = s.queue.half_width + lambda * s.wait.half_width;
        assert!(
            (s.queue.mean - l).abs() <= tol,
            "{what}: L = {:.4} but λW = {l:.4} (± {tol:.4})",
            s.queue.mean
        );
    }

    #[test]
    fn mmc_matches_erlang_c_and_littles_law_holds() {
        // (c, ρ) from half to 95% busy; μ = 1 per second per worker.
        for (i, (c, rho)) in [(1u32, 0.5), (2, 0.7), (4, 0.8), (16, 0.95)]
            .into_iter()
            .enumerate()
        {
            let mu = 1.0;
            let lambda = rho * f64::from(c) * mu;
            let s = steady_state(
                station(c, ServiceTime::Exponential { mean: 1.0 / mu }),
                lambda,
                (200_000, 20_000),
                (11 + i as u64, 10),
                LEVEL,
            );
            let (p, w) = theory::mmc(lambda, mu, c);
            let what = format!("M/M/{c} at ρ = {rho}");
            assert!(
                s.p_wait.contains(p),
                "{what}: P(wait) {p:.4} vs {:?}",
                s.p_wait
            );
            assert!(s.wait.contains(w), "{what}: Wq {w:.4} vs {:?}", s.wait);
            // The interval is tight enough to mean something.
            assert!(s.wait.half_width < 0.1 * w, "{what}: {:?}", s.wait);
            assert_little(&s, lambda, &what);
        }
    }

    #[test]
    fn mg1_matches_pollaczek_khinchine() {
        for (i, (service, rho)) in [
            (ServiceTime::Deterministic { value: 1.0 }, 0.8),
            (
                ServiceTime::LogNormal {
                    mu: -0.5,
                    sigma: 1.0,
                },
                0.7,
            ),
        ]
        .into_iter()
        .enumerate()
        {
            let lambda = rho / service.mean();
            let s = steady_state(
                station(1, service),
                lambda,
                (200_000, 20_000),
                (21 + i as u64, 10),
                LEVEL,
            );
            let w = theory::mg1_wait(lambda, service.mean(), service.second_moment());
            let what = format!("M/G/1 {service:?} at ρ = {rho}");
            assert!(s.wait.contains(w), "{what}: Wq {w:.4} vs {:?}", s.wait);
            // A single worker: P(wait) = ρ whatever the distribution.
            assert!(s.p_wait.contains(rho), "{what}: {:?}", s.p_wait);
            assert_little(&s, lambda, &what);
        }
    }

    #[test]
    fn a_queue_limit_rejects_what_does_not_fit() {
        // M/M/1/K with K = 3 places in all (1 in service, 2 waiting): loss = ρ^K (1−ρ)/(1−ρ^(K+1)).
        let rho: f64 = 0.9;
        let s = steady_state(
            Station {
                queue_limit: Some(2),
                ..station(1, ServiceTime::Exponential { mean: 1.0 })
            },
            rho,
            (200_000, 20_000),
            (31, 10),
            LEVEL,
        );
        let loss = rho.powi(3) * (1.0 - rho) / (1.0 - rho.powi(4));
        assert!(
            s.rejected.contains(loss),
            "loss {loss:.4} vs {:?}",
            s.rejected
        );
        let unlimited = steady_state(
            station(1, ServiceTime::Exponential { mean: 1.0 }),
            rho,
            (200_000, 20_000),
            (31, 10),
            LEVEL,
        );
        assert_eq!(unlimited.rejected.mean, 0.0);
        assert!(s.wait.mean < 0.3 * unlimited.wait.mean);
    }

    #[test]
    fn replications_are_deterministic_from_the_seed() {
        let run = |seed| {
            steady_state(
                station(3, ServiceTime::Exponential { mean: 0.5 }),
                5.0,
                (5_000, 500),
                (seed, 3),
                0.95,
            )
        };
        assert_eq!(run(7), run(7));
        assert_ne!(run(7), run(8));
    }
}
