//! The API contract: every request and response body of the exchange, the FHIR shapes it accepts,
//! and the canonical bytes that signatures cover. The server, the load driver and the conformance
//! suite all use these types, so the three cannot drift.
//!
//! Architecture invariant: this module performs no I/O.

pub mod canonical;
pub mod clins;
pub mod fhir;
mod municipal;
mod types;

pub use municipal::*;
pub use types::*;
