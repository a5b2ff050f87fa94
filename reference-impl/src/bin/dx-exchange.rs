//! The reference exchange on its own: `dx-exchange --addr 127.0.0.1:8080 --data ./data`.

use clap::Parser;

/// Serve the dxsim reference exchange (eligibility, consent, e-prescription) on an embedded
/// SQLite store, or on a PostgreSQL store that several nodes may share.
///
/// Example: dx-exchange --addr 127.0.0.1:8080 --data ./data --sample-persons 1000
///          dx-exchange --store postgres://dx@db:5432/dx --addr 0.0.0.0:8081 --data ./node-a
#[derive(Parser)]
#[command(version, about, long_about = None)]
struct Cli {
    #[command(flatten)]
    serve: dx_exchange::ServeArgs,
}

fn main() -> anyhow::Result<()> {
    dx_exchange::server::init_logging();
    let cli = Cli::parse();
    dx_exchange::server::runtime()?.block_on(dx_exchange::server::run(&cli.serve))
}
