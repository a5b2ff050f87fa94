//! Workers a central service needs in a month's busiest hour, in closed form: a rollout has tens of
//! months × ten services, too many for the discrete-event sizing of `dxsim capacity`, which
//! sizes one chosen period exactly.
//!
//! The wait is that of M/M/c (Erlang C) with its decay slowed or sped by the service time's
//! variability (Allen–Cunneen: the mean wait scales by (1 + Cs²)/2); the response is the wait
//! plus the service time, whose distribution is the month's mix of the service's routes. The
//! size is the least `c` with P(response > SLO p99) ≤ 1 %. A test holds it to the simulation.

use dx_capacity::station::ServiceTime;
use dx_capacity::theory::erlang_c;

/// The share of responses allowed above the SLO's p99 bound.
const TAIL: f64 = 0.01;
/// Steps of the convolution of wait and service time.
const STEPS: usize = 400;

/// A mix of service times, weighted by each route's share of the arrivals.
#[derive(Debug, Clone, PartialEq)]
pub struct Mix {
    pub parts: Vec<(f64, ServiceTime)>,
}

impl Mix {
    fn total(&self) -> f64 {
        self.parts.iter().map(|p| p.0).sum()
    }

    pub fn mean(&self) -> f64 {
        self.parts.iter().map(|(w, t)| w * t.mean()).sum::<f64>() / self.total()
    }

    fn second_moment(&self) -> f64 {
        self.parts
            .iter()
            .map(|(w, t)| w * t.second_moment())
            .sum::<f64>()
            / self.total()
    }

    /// Squared coefficient of variation.
    pub fn cs2(&self) -> f64 {
        let m = self.mean();
        self.second_moment() / (m * m) - 1.0
    }

    pub fn cdf(&self, x: f64) -> f64 {
        self.parts.iter().map(|(w, t)| w * t.cdf(x)).sum::<f64>() / self.total()
    }
}

/// P(response > `bound_s`) with `c` workers at `lambda` arrivals per second.
pub fn p_late(c: u32, lambda: f64, mix: &Mix, bound_s: f64) -> f64 {
    let es = mix.mean();
    let a = lambda * es;
    if f64::from(c) <= a {
        return 1.0;
    }
    let waits = erlang_c(c, a);
    let decay = (f64::from(c) / es - lambda) * 2.0 / (1.0 + mix.cs2());
    let h = bound_s / STEPS as f64;
    let mut p = 1.0 - mix.cdf(bound_s);
    let mut below = mix.cdf(0.0);
    for k in 0..STEPS {
        let s1 = (k + 1) as f64 * h;
        let next = mix.cdf(s1);
        let mid = s1 - h / 2.0;
        p += waits * (-decay * (bound_s - mid)).exp() * (next - below);
        below = next;
    }
    p.min(1.0)
}

/// The least workers meeting the bound at `lambda` (at least 1), or `None` when the service
/// time alone breaks it.
pub fn workers(lambda: f64, mix: &Mix, bound_s: f64) -> Option<u32> {
    if 1.0 - mix.cdf(bound_s) > TAIL {
        return None;
    }
    if lambda <= 0.0 {
        return Some(0);
    }
    let meets = |c: u32| p_late(c, lambda, mix, bound_s) <= TAIL;
    let mut lo = ((lambda * mix.mean()).floor() as u32).max(1);
    let mut hi = lo;
    while !meets(hi) {
        lo = hi + 1;
        hi = hi.checked_mul(2)?;
    }
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if meets(mid) {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    Some(hi)
}

#[cfg(test)]
mod tests {
    use super::*;
    use dx_capacity::model::ServiceModel;
    use dx_capacity::services::{RouteTime, log_normal_ms};
    use dx_capacity::station::Discipline;
    use dx_model::route::Route;
    use dx_model::route::Service;

    /// The simulation's size for a constant rate over one hour.
    fn simulated(lambda: f64, time: ServiceTime, slo_ms: f64) -> u32 {
        let m = ServiceModel {
            service: Service::PrescriptionRegister,
            routes: vec![(
                Route::Register,
                RouteTime {
                    time,
                    source: "test".into(),
                },
                vec![lambda * 60.0; 60],
            )],
            queue_limit: None,
            latency_s: 0.0,
            discipline: Discipline::Fifo,
            class: vec![0],
            slo_p99_ms: slo_ms,
            slo_error_rate: 0.001,
            seed: 5,
        };
        m.size(0..60, 0..60).unwrap()
    }

    #[test]
    fn the_closed_form_agrees_with_the_simulation() {
        for (lambda, time, slo_ms) in [
            // Registration at national scale: ≈2 s, a few hundred workers.
            (150.0, log_normal_ms(1800.0, 5000.0), 6000.0),
            (20.0, ServiceTime::Exponential { mean: 0.2 }, 1000.0),
            (400.0, log_normal_ms(5.0, 40.0), 100.0),
            (2.0, log_normal_ms(300.0, 900.0), 1000.0),
        ] {
            let mix = Mix {
                parts: vec![(1.0, time)],
            };
            let formula = workers(lambda, &mix, slo_ms / 1e3).unwrap();
            let sim = simulated(lambda, time, slo_ms);
            let gap = (f64::from(formula) - f64::from(sim)).abs();
            assert!(
                gap <= (0.1 * f64::from(sim)).max(2.0),
                "λ {lambda}/s, {time:?}: closed form {formula}, simulation {sim}"
            );
        }
    }

    #[test]
    fn a_service_time_above_the_bound_has_no_size_and_more_load_needs_more() {
        let mix = Mix {
            parts: vec![
                (3.0, log_normal_ms(5.0, 20.0)),
                (1.0, log_normal_ms(200.0, 800.0)),
            ],
        };
        assert!(
            (mix.mean() - (3.0 * mix.parts[0].1.mean() + mix.parts[1].1.mean()) / 4.0).abs()
                < 1e-12
        );
        assert_eq!(workers(10.0, &mix, 0.5), None);
        let small = workers(10.0, &mix, 2.0).unwrap();
        let large = workers(1000.0, &mix, 2.0).unwrap();
        assert!(small >= 1 && large > 20 * small, "{small} {large}");
        assert_eq!(workers(0.0, &mix, 2.0), Some(0));
    }
}
