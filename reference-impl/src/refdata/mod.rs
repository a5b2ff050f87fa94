//! Reference data the exchange loads: the protocol's code tables (`dx_protocol::refdata`: the
//! drug master with its 併用禁忌 pairs, the clinical codes, the vaccines and their schedule
//! rules), and a built-in sample of insurers, facilities and persons that a fresh store is
//! seeded with until a generated population is imported (`sample`).

pub mod sample;

pub use dx_protocol::refdata::*;
