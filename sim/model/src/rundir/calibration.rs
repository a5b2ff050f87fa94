//! `service-times.json`: the service times a replay measured, fitted per route (log-normal,
//! with the Kolmogorov–Smirnov distance of each fit), for the capacity model.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

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
}

/// The fits of a run, by route name.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Calibration {
    /// Where the times were measured (the driver's target) and when.
    pub source: String,
    pub routes: BTreeMap<String, Fit>,
}
