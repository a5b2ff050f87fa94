//! End-to-end tests across crates: the `dxsim` client (dx-sim) against the reference exchange
//! (dx-exchange) served on loopback, and a generated population imported into it.

mod architecture;
mod browser;
mod conformance;
mod deploy;
mod digests;
mod population;
mod visit;
