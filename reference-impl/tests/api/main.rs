//! Integration tests of the reference exchange over real HTTP on loopback, one module per area.
//! Every refusal test also checks that the refused request stored nothing.

mod admission;
mod attacks;
mod audit;
mod auth;
mod cards;
mod connections;
mod consent;
mod durability;
mod ehr;
mod eligibility;
mod fhir_schema;
mod guides;
mod harness;
mod hpki;
mod municipal;
mod nodes;
mod ops;
mod prescription;
mod refill;
mod tokens;
