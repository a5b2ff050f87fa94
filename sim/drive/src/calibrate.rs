//! Service times measured by the replay, fitted per route for the capacity model.
//!
//! The driver records each request's service time (actual send to response) in an HDR
//! histogram per route; [`fit`] fits a log-normal to it by the moments of `ln S` and reports the
//! Kolmogorov–Smirnov distance between the histogram and the fit, so a poor fit is visible.
//! `dxsim drive` writes the fits as `service-times.json` (`dx_model::rundir::calibration`);
//! `dxsim capacity --calibration FILE` reads them.

use dx_model::rundir::calibration::Fit;
use hdrhistogram::Histogram;
use statrs::distribution::{ContinuousCDF, LogNormal};

/// Fewer samples than this give no fit.
pub const MIN_SAMPLES: u64 = 20;

/// Fits a log-normal to a histogram of microseconds; `None` below `MIN_SAMPLES`.
pub fn fit(h: &Histogram<u64>) -> Option<Fit> {
    let n = h.len();
    if n < MIN_SAMPLES {
        return None;
    }
    let ln = |us: u64| (us.max(1) as f64 / 1e6).ln();
    let (mut s1, mut s2) = (0.0, 0.0);
    for v in h.iter_recorded() {
        let (x, k) = (
            ln(h.median_equivalent(v.value_iterated_to())),
            v.count_at_value() as f64,
        );
        s1 += k * x;
        s2 += k * x * x;
    }
    let mu = s1 / n as f64;
    // A floor keeps a histogram of one repeated value a proper distribution.
    let sigma = (s2 / n as f64 - mu * mu).max(1e-6).sqrt();
    let dist = LogNormal::new(mu, sigma).expect("sigma > 0");
    let mut ks: f64 = 0.0;
    let mut below = 0u64;
    for v in h.iter_recorded() {
        let upper = h.highest_equivalent(v.value_iterated_to()) as f64 / 1e6;
        let lower = h.lowest_equivalent(v.value_iterated_to()) as f64 / 1e6;
        let f_before = below as f64 / n as f64;
        below += v.count_at_value();
        let f_after = below as f64 / n as f64;
        ks = ks
            .max((dist.cdf(lower) - f_before).abs())
            .max((dist.cdf(upper) - f_after).abs());
    }
    Some(Fit {
        mu,
        sigma,
        samples: n,
        median_ms: mu.exp() * 1e3,
        p99_ms: (mu + 2.326_347_874 * sigma).exp() * 1e3,
        measured_p99_ms: h.value_at_quantile(0.99) as f64 / 1e3,
        ks,
        per_item_of: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use dx_model::rng::Stream;

    /// Service times to fit, in seconds.
    enum ServiceTime {
        LogNormal { mu: f64, sigma: f64 },
        Exponential { mean: f64 },
        Deterministic { value: f64 },
    }

    impl ServiceTime {
        fn sample(&self, r: &mut Stream) -> f64 {
            match *self {
                ServiceTime::LogNormal { mu, sigma } => {
                    let (u1, u2) = (r.unit().max(1e-12), r.unit());
                    let z = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
                    (mu + sigma * z).exp()
                }
                ServiceTime::Exponential { mean } => -mean * (1.0 - r.unit()).ln(),
                ServiceTime::Deterministic { value } => value,
            }
        }
    }

    fn histogram_of(d: ServiceTime, n: usize) -> Histogram<u64> {
        let mut h = Histogram::new_with_bounds(1, 60_000_000, 3).unwrap();
        let r = &mut Stream::new(3, "t", 0);
        for _ in 0..n {
            h.record((d.sample(r) * 1e6).round().max(1.0) as u64)
                .unwrap();
        }
        h
    }

    #[test]
    fn a_log_normal_is_recovered_and_an_exponential_fits_worse() {
        let h = histogram_of(
            ServiceTime::LogNormal {
                mu: (0.004f64).ln(),
                sigma: 0.6,
            },
            50_000,
        );
        let f = fit(&h).unwrap();
        assert!((f.median_ms - 4.0).abs() < 0.1, "{f:?}");
        assert!((f.sigma - 0.6).abs() < 0.02, "{f:?}");
        assert!(f.ks < 0.02, "{f:?}");
        assert!((f.p99_ms / f.measured_p99_ms - 1.0).abs() < 0.05, "{f:?}");
        let e = fit(&histogram_of(
            ServiceTime::Exponential { mean: 0.004 },
            50_000,
        ))
        .unwrap();
        assert!(e.ks > 3.0 * f.ks && e.ks > 0.05, "{e:?}");
        let few = histogram_of(ServiceTime::Deterministic { value: 0.002 }, 5);
        assert_eq!(fit(&few), None);
        let same = fit(&histogram_of(
            ServiceTime::Deterministic { value: 0.002 },
            100,
        ))
        .unwrap();
        assert!((same.median_ms - 2.0).abs() < 0.01, "{same:?}");
    }
}
