//! `dx-sim`: the `dxsim` command line and the simulation side of dxsim.
//!
//! It serves the reference exchange (`dxsim serve`), generates the synthetic population
//! ([`population`], `dxsim population`) from a [`scenario`] with seeded streams ([`rng`]), and
//! holds the typed HTTP client of the exchange's API ([`client`]); the workload model, the load
//! driver and the capacity model join it as modules of their own.

pub mod cli;
pub mod client;
pub mod drive;
pub mod population;
pub mod rng;
pub mod scenario;
pub mod workload;
