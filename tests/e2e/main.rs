//! End-to-end tests across crates: the `dxsim` client (dx-sim) against the reference exchange
//! (dx-exchange) served on loopback.

mod visit;
