//! `capacity.json`: the national capacity model's result — per central service its peak
//! arrivals, the workers it needs for its SLO, and what the simulation at that size measured.

use crate::route::{Route, Service};
use serde::{Deserialize, Deserializer, Serialize};

/// A mean over replications with its two-sided confidence interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Estimate {
    pub mean: f64,
    /// Half-width of the interval at `level` (written as null, and read as NaN, with a single
    /// replication).
    #[serde(deserialize_with = "nan_for_null")]
    pub half_width: f64,
    pub level: f64,
    pub replications: usize,
}

fn nan_for_null<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RouteReport {
    pub route: Route,
    pub arrivals: f64,
    pub mean_service_ms: f64,
    pub service_time_source: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ServiceReport {
    pub service: Service,
    pub routes: Vec<RouteReport>,
    pub arrivals: f64,
    pub slo_p99_ms: f64,
    pub slo_error_rate: f64,
    /// JST wall time of the busiest minute and its arrivals per second.
    pub peak_minute: String,
    pub peak_per_s: f64,
    pub peak_hour: String,
    pub peak_hour_arrivals: f64,
    /// Busy workers the peak hour needs on average (Erlangs).
    pub peak_hour_load: f64,
    /// The least workers meeting the SLO in the peak hour; none when the service time alone
    /// breaks it (`unreachable_p99_ms` then says by how much).
    pub sized_servers: Option<u32>,
    pub unreachable_p99_ms: Option<f64>,
    /// The size simulated over the period: the scenario's, else the sized one.
    pub servers: Option<u32>,
    /// `scenario`, `sizing` or `none`.
    pub servers_from: String,
    /// Over replications at `servers`: the largest hourly p99 of the period (the SLO's
    /// measure), the mean wait and the rejected share over the period.
    pub worst_hour_p99_ms: Option<Estimate>,
    /// The hour of that p99 in replication 0.
    pub worst_hour: Option<String>,
    pub mean_wait_ms: Option<Estimate>,
    pub rejected_share: Option<Estimate>,
    /// Expected utilisation of `servers` in the peak hour (load / servers).
    pub peak_hour_utilisation: Option<f64>,
    /// Spare capacity at `servers` in the peak hour: workers / load − 1.
    pub headroom: Option<f64>,
    pub meets_slo: Option<bool>,
    /// The peak hour simulated at sizes around `servers` (replication 0): how latency falls
    /// and utilisation with it as workers are added.
    #[serde(default)]
    pub size_curve: Vec<SizePoint>,
}

/// One size of a service's curve: its peak hour at `servers` workers.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SizePoint {
    pub servers: u32,
    pub utilisation: f64,
    pub p99_ms: f64,
    pub rejected_share: f64,
    pub meets_slo: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CapacityReport {
    pub scenario: String,
    pub seed: u64,
    pub period_start: String,
    pub period_end: String,
    pub sample_scale: f64,
    pub sample_events: u64,
    pub replications: usize,
    pub calibration: String,
    /// Arrivals simulated per replication over the whole period, all services.
    pub arrivals_per_replication: f64,
    pub services: Vec<ServiceReport>,
    /// The prefectures the model is scaled to (the scenario's population); empty: all of Japan.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub prefectures: Vec<u8>,
}

impl CapacityReport {
    /// What the model is scaled to, in words: "all of Japan", or the prefectures by name
    /// ("Tottori").
    pub fn scope(&self) -> String {
        if self.prefectures.is_empty() || self.prefectures.len() >= 47 {
            return "all of Japan".to_owned();
        }
        let names: Vec<String> = self
            .prefectures
            .iter()
            .map(|p| {
                dx_protocol::codes::prefecture_name_en(*p)
                    .map_or_else(|| format!("prefecture {p}"), str::to_owned)
            })
            .collect();
        names.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scope_names_the_prefectures_or_japan() {
        let mut r: CapacityReport = serde_json::from_str(
            r#"{"scenario": "s", "seed": 1, "period_start": "a", "period_end": "b",
                "sample_scale": 0.1, "sample_events": 1, "replications": 1, "calibration": "c",
                "arrivals_per_replication": 1.0, "services": []}"#,
        )
        .unwrap();
        assert_eq!(r.scope(), "all of Japan");
        assert!(!serde_json::to_string(&r).unwrap().contains("prefectures"));
        r.prefectures = vec![31, 32];
        assert_eq!(r.scope(), "Tottori, Shimane");
    }

    #[test]
    fn an_interval_of_one_replication_is_null_and_reads_back_as_nan() {
        let e = Estimate {
            mean: 1.0,
            half_width: f64::NAN,
            level: 0.95,
            replications: 1,
        };
        let text = serde_json::to_string(&e).unwrap();
        assert!(text.contains("\"half_width\":null"), "{text}");
        let back: Estimate = serde_json::from_str(&text).unwrap();
        assert!(back.half_width.is_nan() && back.mean == 1.0);
    }
}
