//! The conformance suite (`dxsim conformance --target URL`): checks that an exchange follows the
//! protocol of docs/api.md and FACTS, before a vendor load-tests it.
//!
//! Each [`Check`] has an id (`group.name`), a title, the rule it checks and where the rule is
//! written, and a result: pass, fail (with the request, the response and what was expected),
//! skip (with why) or error (the check could not run). The suite sets up its own insurer,
//! facilities, municipalities and persons through the admin routes ([`target::Fixture`]), then
//! runs the checks one by one; each enrols the persons it needs, so checks do not depend on each
//! other. Checks that move time (consent expiry, token expiry, the 4-day window of a first use)
//! need a target whose clock can be moved (`POST /v1/admin/clock`, which a test exchange on a
//! manual clock offers) and are skipped otherwise.
//!
//! Outputs: a console summary, `conformance.json`, `junit.xml` (one test suite per group) and the
//! report's conformance section.

pub mod check;
pub mod checks;
pub mod fhir;
pub mod finding;
pub mod run;
pub mod target;

pub use check::{Check, Ctx, GROUPS};
pub use dx_model::rundir::conformance::{CheckResult, Counts, Report};
pub use finding::{Finding, Outcome, ensure, error, fail, status};
pub use run::{Filter, details, junit, run, summary, write};
