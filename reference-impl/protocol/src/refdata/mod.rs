//! The code tables the contract names: the drug master (compiled in) with its 併用禁忌 pairs,
//! the clinical codes of EHR sharing, the vaccine table with the routine schedule's rules, and
//! the synthetic names and addresses written into Patient resources.

pub mod clinical;
pub mod drugs;
pub mod names;
pub mod vaccines;

pub use drugs::{Drug, DrugMaster, RefillBar, Route};
