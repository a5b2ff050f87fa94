//! Service times a replay measured (`service-times.json`: log-normal fits per route, made by
//! `dxsim drive`), as the model's service-time distributions.

use super::station::ServiceTime;
use std::path::Path;

pub use dx_model::rundir::calibration::{Calibration, Fit};

/// A fit as the model's service-time distribution.
pub fn service_time(fit: &Fit) -> ServiceTime {
    ServiceTime::LogNormal {
        mu: fit.mu,
        sigma: fit.sigma,
    }
}

/// Reads a calibration (a run's `service-times.json`).
pub fn load(path: &Path) -> anyhow::Result<Calibration> {
    dx_model::rundir::read_file(path).map_err(|e| anyhow::anyhow!("calibration {e}"))
}
