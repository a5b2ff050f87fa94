//! `dx-exchange`: the reference implementation of Japan's national medical information exchange —
//! online eligibility verification, consent, and the electronic prescription service — served
//! over HTTP/JSON on an embedded SQLite store.
//!
//! Modules are by service (`eligibility`, `consent`, `prescription`), each holding its routes,
//! rules and storage; cross-cutting concerns live once beside them (`auth`, `audit`, `store`,
//! `http`, `error`, `metrics`). [`wire`] is the API contract shared with the load driver and the
//! conformance suite. See ARCHITECTURE.md and docs/api.md.

pub mod admission;
pub mod audit;
pub mod auth;
pub mod cards;
pub mod clock;
pub mod connections;
pub mod consent;
pub mod ehr;
pub mod eligibility;
pub mod error;
pub mod extract;
pub mod faults;
pub mod fhir_read;
pub mod hpki;
pub mod http;
pub mod limits;
pub mod metrics;
pub mod municipal;
pub mod nodes;
pub mod prescription;
pub mod refdata;
pub mod refusal;
pub mod server;
pub mod state;
pub mod store;
pub mod strict;
pub mod suspension;

pub use dx_protocol::{codes, wire};
pub use refusal::Refusal;
pub use server::{Exchange, Running, ServeArgs};
