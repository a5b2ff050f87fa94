//! Flows: each turns one person's attributes into the requests their care causes in the period.
//! A flow is a module implementing [`Flow`]; the generator runs every registered flow for every
//! person, so later flows (EHR sharing, municipal data) plug in beside these without touching them.

pub mod base;
pub mod context;
pub mod drugs;
pub mod ehr;
pub mod ehr_rates;
pub mod emit;
pub mod ident;
pub mod insurer;
pub mod municipal;
pub mod municipal_rates;
pub mod prescription;
pub mod visit;

pub use base::{
    Day, Facilities, Facility, FlowCounts, Note, PersonRow, day_masses, jst_ms, poisson,
    stochastic_round,
};
pub use context::{GenContext, StreamKeys};
pub use emit::{Emitter, Flow};

/// The flows every generation runs, in order.
pub fn registry() -> Vec<Box<dyn Flow>> {
    vec![
        Box::new(visit::VisitFlow),
        Box::new(ehr::EhrFlow),
        Box::new(municipal::MunicipalFlow),
        Box::new(insurer::InsurerFlow),
    ]
}
