//! `dx-sim`: the `dxsim` command line ([`cli`]). Each command calls the library of its stage:
//! `dx-population`, `dx-workload`, `dx-drive`, `dx-capacity`, `dx-rollout`, `dx-conformance`,
//! `dx-reports`, and `dx-exchange` for `dxsim serve`; `main.rs` only calls [`cli::main`].

pub mod cli;
pub mod shards;
pub mod supervise;
