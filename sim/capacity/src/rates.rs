//! National arrival rates from a workload sample: each event of a stream generated at scale `s`
//! stands for `1/s` events at scale 1.0, counted per route and minute of the period. The model
//! then draws arrivals minute by minute as a non-homogeneous Poisson process with those rates,
//! so the national stream is never held in memory.

use dx_model::route::Route;
use dx_workload as workload;
use std::path::Path;

/// Expected arrivals per route and minute at scale 1.0.
#[derive(Debug, Clone, PartialEq)]
pub struct Rates {
    /// Epoch milliseconds of the period's first minute.
    pub start_ms: i64,
    pub minutes: usize,
    /// `per_minute[route index][minute]`, routes in `Route::ALL` order.
    pub per_minute: Vec<Vec<f64>>,
    pub sample_scale: f64,
    pub sample_events: u64,
}

impl Rates {
    /// Counts the events of the workload in `dir`, generated at `scale`.
    pub fn from_workload(dir: &Path, scale: f64) -> anyhow::Result<Self> {
        let m = workload::read_manifest(dir)?;
        let start = chrono::NaiveDateTime::parse_from_str(&m.period_start, "%Y-%m-%d %H:%M:%S")?;
        let end = chrono::NaiveDateTime::parse_from_str(&m.period_end, "%Y-%m-%d %H:%M:%S")?;
        let start_ms = workload::flows::jst_ms(start);
        let minutes = ((end - start).num_seconds() as f64 / 60.0).ceil() as usize;
        let mut per_minute = vec![vec![0.0; minutes]; Route::ALL.len()];
        let weight = 1.0 / scale;
        let mut n = 0;
        for batch in workload::stream(dir)? {
            for e in batch? {
                let minute = ((e.at_ms - start_ms) / 60_000) as usize;
                let r = slot(e.route());
                if minute < minutes {
                    per_minute[r][minute] += weight;
                    n += 1;
                }
            }
        }
        Ok(Self {
            start_ms,
            minutes,
            per_minute,
            sample_scale: scale,
            sample_events: n,
        })
    }

    pub fn of(&self, route: Route) -> &[f64] {
        &self.per_minute[slot(route)]
    }

    /// Expected arrivals of `routes` per minute.
    pub fn total(&self, routes: &[Route]) -> Vec<f64> {
        let mut t = vec![0.0; self.minutes];
        for r in routes {
            for (a, b) in t.iter_mut().zip(self.of(*r)) {
                *a += b;
            }
        }
        t
    }
}

/// A route's row in `Rates::per_minute`.
fn slot(route: Route) -> usize {
    route.index()
}

/// The first minute of the `window` consecutive minutes with the most arrivals, and that sum.
pub fn busiest(per_minute: &[f64], window: usize) -> (usize, f64) {
    let w = window.min(per_minute.len()).max(1);
    let mut sum: f64 = per_minute[..w].iter().sum();
    let mut best = (0, sum);
    for i in w..per_minute.len() {
        sum += per_minute[i] - per_minute[i - w];
        if sum > best.1 + 1e-9 {
            best = (i + 1 - w, sum);
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_busiest_window_is_found() {
        let m = [1.0, 5.0, 1.0, 9.0, 9.0, 0.0];
        assert_eq!(busiest(&m, 1), (3, 9.0));
        assert_eq!(busiest(&m, 2), (3, 18.0));
        assert_eq!(busiest(&m, 10), (0, 25.0));
    }
}
