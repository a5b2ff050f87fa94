//! `dx-model`: the model dxsim's stages share — the one source of randomness ([`rng`]), the
//! routes the workload drives and the central services that serve them, with their endpoints
//! and default SLOs ([`route`]), the events of a workload with a typed payload per route
//! ([`event`]), adoption at an instant ([`adoption`]), and the files of a run directory
//! ([`rundir`]), declared once for the stage that writes them and the reports that read them.
//!
//! Architecture invariant: this crate performs no I/O but reading and writing the run
//! directory's JSON files.

pub mod adoption;
pub mod event;
pub mod rng;
pub mod route;
pub mod rundir;
