//! Integration tests of the reference exchange over real HTTP on loopback, one module per area.
//! Every refusal test also checks that the refused request stored nothing.

mod attacks;
mod audit;
mod auth;
mod consent;
mod durability;
mod ehr;
mod eligibility;
mod harness;
mod municipal;
mod ops;
mod prescription;
mod refill;
mod tokens;
