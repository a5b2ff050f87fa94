//! Service times measured by `dxsim drive`, fitted per route for the capacity model.
//!
//! The driver records each request's service time (actual send to response) in an HDR
//! histogram per route; `fit` fits a log-normal to it by the moments of `ln S` and reports the
//! Kolmogorov–Smirnov distance between the histogram and the fit, so a poor fit is visible.
//! `dxsim drive` writes the fits as `service-times.json`; `dxsim capacity --calibration FILE`
//! reads them.

use super::station::ServiceTime;
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};
use statrs::distribution::{ContinuousCDF, LogNormal};
use std::collections::BTreeMap;
use std::path::Path;

/// Fewer samples than this give no fit.
pub const MIN_SAMPLES: u64 = 20;

/// A log-normal fitted to one route's service times.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Fit {
    /// `ln S ~ N(mu, sigma²)`, S in seconds.
    pub mu: f64,
    pub sigma: f64,
    pub samples: u64,
    pub median_ms: f64,
    pub p99_ms: f64,
    /// The measured p99, for comparison with the fit's.
    pub measured_p99_ms: f64,
    /// Kolmogorov–Smirnov distance between the measured distribution and the fit (0 = exact;
    /// above ≈0.1 the log-normal describes the route poorly).
    pub ks: f64,
    /// For a batched route, the mean events per request the times were divided by (the model
    /// counts one arrival per event).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_item_of: Option<f64>,
}

impl Fit {
    /// The time per event of requests carrying `items` events on average: the distribution
    /// scaled by `1/items` (1 leaves the fit as it is).
    pub fn per_item(self, items: f64) -> Self {
        if items <= 1.0 {
            return self;
        }
        let shift = items.ln();
        Self {
            mu: self.mu - shift,
            median_ms: self.median_ms / items,
            p99_ms: self.p99_ms / items,
            measured_p99_ms: self.measured_p99_ms / items,
            per_item_of: Some(items),
            ..self
        }
    }

    pub fn service_time(&self) -> ServiceTime {
        ServiceTime::LogNormal {
            mu: self.mu,
            sigma: self.sigma,
        }
    }
}

/// The fits of a run, by route name.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Calibration {
    /// Where the times were measured (the driver's target) and when.
    pub source: String,
    pub routes: BTreeMap<String, Fit>,
}

impl Calibration {
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("reading calibration {}: {e}", path.display()))?;
        serde_json::from_str(&text)
            .map_err(|e| anyhow::anyhow!("calibration {} is not valid: {e}", path.display()))
    }
}

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
