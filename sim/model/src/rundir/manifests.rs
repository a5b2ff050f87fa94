//! The manifests of a population and of a workload: what was generated, for which scenario,
//! seed and scale, and which files hold it. Each is written last, so its presence marks a
//! complete directory.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What a population generation produced (`population/manifest.json`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PopulationManifest {
    pub schema_version: u32,
    pub generator: String,
    pub scenario: String,
    pub seed: u64,
    pub scale: f64,
    /// The date ages, qualifications and entitlements refer to.
    pub as_of: String,
    pub prefectures: Vec<u8>,
    pub persons: u64,
    pub municipalities: usize,
    pub insurers: usize,
    pub facilities: usize,
    pub person_files: Vec<String>,
}

/// What a workload generation produced (`workload/manifest.json`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct WorkloadManifest {
    pub schema_version: u32,
    pub generator: String,
    pub scenario: String,
    pub seed: u64,
    pub scale: f64,
    pub period_start: String,
    pub period_end: String,
    pub persons: u64,
    pub events: u64,
    pub routes: BTreeMap<String, u64>,
    pub eligibility_checks: u64,
    pub visits: u64,
    pub prescriptions: u64,
    pub electronic_prescriptions: u64,
    pub pharmacy_visits: u64,
    pub expected_eligibility_checks: f64,
    pub expected_prescriptions: f64,
    pub expected_visits: f64,
    /// Vaccine doses given in the period (recorded then or uploaded later) and the model's
    /// expectation.
    #[serde(default)]
    pub flu_doses: u64,
    #[serde(default)]
    pub childhood_doses: u64,
    #[serde(default)]
    pub expected_flu_doses: f64,
    #[serde(default)]
    pub expected_childhood_doses: f64,
    pub files: Vec<String>,
}
