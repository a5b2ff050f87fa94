//! `dx-protocol`: the protocol of the national medical information exchange as dxsim speaks it —
//! what a server and its clients must agree on, and nothing that performs I/O.
//!
//! - [`wire`]: every endpoint (method, path, request and response types) and every body, the
//!   FHIR shapes the exchange accepts and returns, and the canonical bytes signatures cover.
//! - [`codes`]: the check digits of insurer numbers, facility codes and municipality codes.
//! - [`refdata`]: the code tables the contract names — the drug master with its 併用禁忌 pairs,
//!   the clinical codes of EHR sharing, the vaccines with their routine schedule.
//! - [`time`]: Japan Standard Time, in which dates of service are given.
//!
//! The reference exchange (`dx-exchange`), the load driver and the conformance suite all build
//! on it, so the three cannot drift.
//!
//! Architecture invariant: this crate performs no I/O.

pub mod codes;
pub mod refdata;
pub mod time;
pub mod wire;
