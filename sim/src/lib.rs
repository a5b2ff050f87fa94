//! `dx-sim`: the `dxsim` command line and the simulation side of dxsim.
//!
//! Today it serves the reference exchange (`dxsim serve`) and holds the typed HTTP client of the
//! exchange's API ([`client`]), built on the shared wire contract; the population generator, the
//! workload model, the load driver and the capacity model join it as modules of their own.

pub mod cli;
pub mod client;
