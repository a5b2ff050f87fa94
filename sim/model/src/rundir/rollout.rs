//! `rollout.json`: a rollout's waypoints, totals, service-time sources and method.

use crate::adoption::AdoptionState;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What `rollout.json` holds.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RolloutSummary {
    pub scenario: String,
    pub seed: u64,
    /// The population's scale; every count is divided by it.
    pub scale: f64,
    pub persons: u64,
    /// Requests of the sample over the whole rollout.
    pub sample_events: u64,
    /// First day simulated and the day after the last.
    pub start: String,
    pub end: String,
    pub months: u32,
    /// The scenario's start values and waypoints: (date, adoption there).
    pub waypoints: Vec<(String, AdoptionState)>,
    /// Sums over the rollout at scale 1.0.
    pub totals: BTreeMap<String, f64>,
    /// Where each route's service time comes from.
    pub service_times: BTreeMap<String, String>,
    /// How the numbers are made, one sentence each.
    pub method: Vec<String>,
    /// The scenario's suspensions, in words (their months' `suspended_*` columns count what
    /// they refused).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub faults: Vec<String>,
}
