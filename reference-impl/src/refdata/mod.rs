//! Reference data the exchange loads: the drug master (compiled in) and a built-in sample of
//! insurers, facilities and persons that a fresh store is seeded with until a generated
//! population is imported; the vaccine table and schedule rules.

pub mod clinical;
pub mod drugs;
pub mod sample;
pub mod vaccines;

pub use drugs::{Drug, DrugMaster, RefillBar, Route};
