//! The reference exchange on its own: `dx-exchange --addr 127.0.0.1:8080 --data ./data`.

use clap::Parser;

/// Serve the dxsim reference exchange (eligibility, consent, e-prescription) on an embedded store.
///
/// Example: dx-exchange --addr 127.0.0.1:8080 --data ./data --sample-persons 1000
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
