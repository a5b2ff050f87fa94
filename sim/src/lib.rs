//! `dx-sim`: the `dxsim` command line and the simulation side of dxsim.
//!
//! It serves the reference exchange (`dxsim serve`), generates the synthetic population
//! ([`population`], `dxsim population`) and the event stream ([`workload`], `dxsim workload`)
//! from a [`scenario`] with seeded streams ([`rng`]), replays the stream against a server
//! ([`drive`], `dxsim drive`, `dxsim run`), and holds the typed HTTP client of the exchange's API
//! ([`client`]); the capacity model joins it as a module of its own.

pub mod capacity;
pub mod cli;
pub mod client;
pub mod conformance;
pub mod drive;
pub mod population;
pub mod rollout;
pub mod tables;
pub mod workload;

/// Worker threads when none are asked for: every core.
pub fn all_cores() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}
