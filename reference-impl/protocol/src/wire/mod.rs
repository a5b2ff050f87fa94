//! The API contract: every endpoint of the exchange ([`endpoints`]), every request and response
//! body (a module per area, all re-exported here), the FHIR shapes it accepts (`fhir` for
//! prescriptions, `clins` for EHR sharing), and the canonical bytes that signatures cover
//! (`canonical`). The server, the load driver and the conformance suite all use these types, so
//! the three cannot drift.
//!
//! Architecture invariant: this module performs no I/O, and its files import each other only
//! downwards (`common` ← `consent`, `ehr` ← `municipal` ← `enrolment`, `eligibility`).

pub mod audit;
pub mod canonical;
pub mod card;
pub mod clins;
pub mod common;
pub mod consent;
pub mod ehr;
pub mod eligibility;
pub mod endpoints;
pub mod enrolment;
pub mod fhir;
pub mod guides;
pub mod hpki;
pub mod municipal;
pub mod prescription;

pub use audit::*;
pub use common::*;
pub use consent::*;
pub use ehr::*;
pub use eligibility::*;
pub use enrolment::*;
pub use municipal::*;
pub use prescription::*;
