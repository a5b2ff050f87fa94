//! The `dxsim` command line: argument parsing and dispatch to library functions.

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// Simulation and load-testing harness for Japan's national medical information network.
#[derive(Debug, Parser)]
#[command(name = "dxsim", version, about, long_about = None, after_help = "Example:\n  dxsim serve --addr 127.0.0.1:8080 --data ./data")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the reference exchange (eligibility, consent, e-prescription) on its embedded store
    /// until Ctrl-C.
    #[command(
        after_help = "Example:\n  dxsim serve --addr 127.0.0.1:8080 --data ./data --sample-persons 1000\n\n\
        The admin secret is written to <data>/admin.key; exchange it at POST /v1/auth/token\n\
        (principal \"admin\") and see docs/api.md for every route."
    )]
    Serve(dx_exchange::ServeArgs),
}

/// Parses the command line, runs the command, and maps failure to exit code 1.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("dxsim: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Runs a parsed command.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(args) => {
            dx_exchange::server::init_logging();
            let runtime = tokio::runtime::Runtime::new()?;
            runtime.block_on(dx_exchange::server::run(&args))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn serve_takes_the_documented_arguments() {
        let cli = Cli::try_parse_from([
            "dxsim",
            "serve",
            "--addr",
            "127.0.0.1:9",
            "--data",
            "/tmp/x",
            "--durability",
            "normal",
        ])
        .unwrap();
        let Command::Serve(args) = cli.command;
        assert_eq!(args.addr.port(), 9);
        assert_eq!(args.durability(), dx_exchange::store::Durability::Normal);
        assert!(Cli::try_parse_from(["dxsim", "serve", "--durability", "sometimes"]).is_err());
    }
}
