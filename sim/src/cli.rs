//! The `dxsim` command line: argument parsing and dispatch to library functions.

use crate::population::{self, RunOptions};
use crate::scenario::Scenario;
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

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
        after_help = "Examples:\n  dxsim serve --addr 127.0.0.1:8080 --data ./data --sample-persons 1000\n  \
        dxsim serve --data ./data-qs --population ./population\n\n\
        The admin secret is written to <data>/admin.key; exchange it at POST /v1/auth/token\n\
        (principal \"admin\") and see docs/api.md for every route."
    )]
    Serve(ServeCommand),
    /// Generate the synthetic population (prefectures, municipalities, insurers, facilities,
    /// persons) as Parquet files.
    #[command(
        after_help = "Examples:\n  dxsim population scenarios/quickstart.toml --out ./population\n  dxsim population --scale 0.01 --out ./japan-1pct\n\n\
        Without a scenario it generates all of Japan at --scale with the default seed.\n\
        manifest.json is written last: a directory without it is incomplete."
    )]
    Population(PopulationArgs),
    /// Turn a population into the time-sorted stream of requests of the scenario's period
    /// (Parquet), calibrated to the national volumes.
    #[command(
        after_help = "Examples:\n  dxsim workload scenarios/quickstart.toml --out ./workload\n  \
        dxsim workload scenarios/national-weekday.toml --population ./japan --out ./weekday\n\n\
        Without --population, the scenario's population is generated into <out>/population first.\n\
        manifest.json is written last: a directory without it is incomplete."
    )]
    Workload(WorkloadArgs),
}

#[derive(Debug, clap::Args)]
pub struct WorkloadArgs {
    /// Scenario file (TOML).
    pub scenario: PathBuf,
    /// A `dxsim population` output of the same scenario (default: generate one into
    /// <out>/population).
    #[arg(long)]
    pub population: Option<PathBuf>,
    /// Output directory (created if missing; must hold nothing but an earlier workload).
    #[arg(long, default_value = "./workload")]
    pub out: PathBuf,
    /// Worker threads (default: all cores); the output is the same for any number.
    #[arg(long)]
    pub threads: Option<usize>,
}

#[derive(Debug, clap::Args)]
pub struct ServeCommand {
    #[command(flatten)]
    pub serve: dx_exchange::ServeArgs,
    /// A `dxsim population` output directory to import into a fresh store (instead of the
    /// built-in sample) before serving.
    #[arg(long)]
    pub population: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct PopulationArgs {
    /// Scenario file (TOML); without one, all of Japan with the default seed.
    pub scenario: Option<PathBuf>,
    /// Fraction of Japan, in (0, 1]; overrides the scenario's population.scale.
    #[arg(long)]
    pub scale: Option<f64>,
    /// Overrides the scenario's seed.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Output directory (created if missing).
    #[arg(long, default_value = "./population")]
    pub out: PathBuf,
    /// Worker threads (default: all cores); the output is the same for any number.
    #[arg(long)]
    pub threads: Option<usize>,
    /// Persons per parallel task; the output is the same for any size.
    #[arg(long, default_value_t = 65_536)]
    pub chunk: usize,
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
        Command::Serve(cmd) => serve(cmd),
        Command::Population(args) => run_population(&args),
        Command::Workload(args) => run_workload(&args).map(|_| ()),
    }
}

/// Generates a scenario's workload (and its population, unless one is given); returns the
/// workload directory's manifest.
pub fn run_workload(args: &WorkloadArgs) -> anyhow::Result<crate::workload::Manifest> {
    let s = Scenario::load(&args.scenario)?;
    let threads = args
        .threads
        .unwrap_or_else(|| RunOptions::default().threads);
    if threads == 0 {
        anyhow::bail!("--threads must be at least 1");
    }
    let population = match &args.population {
        Some(p) => p.clone(),
        None => {
            let dir = args.out.join("population");
            let opts = RunOptions {
                threads,
                progress: true,
                ..RunOptions::default()
            };
            let (m, _) = population::generate(&s, &dir, opts)?;
            println!("population: {} persons → {}", m.persons, dir.display());
            dir
        }
    };
    let started = Instant::now();
    let m = crate::workload::generate(
        &s,
        &population,
        &args.out,
        crate::workload::RunOptions {
            threads,
            progress: true,
        },
    )?;
    println!(
        "workload {}: {} events for {} persons, {} → {} ({:.1} s) → {}",
        m.scenario,
        m.events,
        m.persons,
        m.period_start,
        m.period_end,
        started.elapsed().as_secs_f64(),
        args.out.display()
    );
    println!("{:<28} {:>14} {:>14}", "", "generated", "expected");
    println!(
        "{:<28} {:>14} {:>14.0}",
        "eligibility checks", m.eligibility_checks, m.expected_eligibility_checks
    );
    println!(
        "{:<28} {:>14} {:>14.0}",
        "prescriptions (all kinds)", m.prescriptions, m.expected_prescriptions
    );
    println!(
        "{:<28} {:>14} {:>14.0}",
        "visits", m.visits, m.expected_visits
    );
    for (route, n) in &m.routes {
        println!("  {route:<26} {n:>14}");
    }
    Ok(m)
}

fn serve(mut cmd: ServeCommand) -> anyhow::Result<()> {
    dx_exchange::server::init_logging();
    let runtime = tokio::runtime::Runtime::new()?;
    let Some(population) = cmd.population.take() else {
        return runtime.block_on(dx_exchange::server::run(&cmd.serve));
    };
    cmd.serve.sample_persons = 0;
    let db = cmd.serve.data.join(dx_exchange::server::DB_FILE);
    let fresh = !db.exists();
    let result = runtime.block_on(dx_exchange::server::run_with(&cmd.serve, |exchange| {
        use dx_exchange::store::AdminStore as _;
        if exchange.store().stats()?.persons > 0 {
            anyhow::bail!("the store in {} already has persons; import a population into a fresh --data directory", cmd.serve.data.display());
        }
        let started = Instant::now();
        let done = population::import::import_fresh(&population, exchange.store(), true)?;
        let secs = started.elapsed().as_secs_f64();
        println!(
            "imported {} persons ({:.0}/s), {} insurers, {} facilities from {}",
            done.persons,
            done.persons as f64 / secs.max(1e-9),
            done.insurers,
            done.facilities,
            population.display()
        );
        Ok(())
    }));
    if result.is_err() && fresh {
        // Nothing of a failed import into a new store is kept.
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
        }
    }
    result
}

/// The scenario a population command means, with its overrides applied and checked.
pub fn population_scenario(args: &PopulationArgs) -> anyhow::Result<Scenario> {
    let mut s = match &args.scenario {
        Some(path) => Scenario::load(path)?,
        None => Scenario::national(args.scale.unwrap_or(1.0)),
    };
    if let Some(scale) = args.scale {
        s.population.scale = scale;
    }
    if let Some(seed) = args.seed {
        s.seed = seed;
    }
    s.validate().map_err(|m| anyhow::anyhow!("{m}"))?;
    if args.threads == Some(0) || args.chunk == 0 {
        anyhow::bail!("--threads and --chunk must be at least 1");
    }
    Ok(s)
}

fn run_population(args: &PopulationArgs) -> anyhow::Result<()> {
    let s = population_scenario(args)?;
    let opts = RunOptions {
        threads: args
            .threads
            .unwrap_or_else(|| RunOptions::default().threads),
        chunk: args.chunk,
        progress: true,
    };
    let started = Instant::now();
    let (manifest, marginals) = population::generate(&s, &args.out, opts)?;
    let secs = started.elapsed().as_secs_f64();
    println!(
        "{} persons, {} insurers, {} facilities, {} municipalities in {:.1} s ({:.0} persons/s) → {}",
        manifest.persons,
        manifest.insurers,
        manifest.facilities,
        manifest.municipalities,
        secs,
        manifest.persons as f64 / secs.max(1e-9),
        args.out.display()
    );
    let cmp = population::expected::Comparison::new(
        &marginals,
        s.population.scale,
        &s.population.prefectures,
    );
    if cmp.rows.is_empty() {
        println!("(a subset of prefectures: national figures do not apply; see summary.json)");
    } else {
        println!(
            "{:<36} {:>14} {:>14} {:>8}",
            "measure", "generated", "published", "error"
        );
        for r in &cmp.rows {
            let mark = if r.within {
                ""
            } else {
                "  ← outside tolerance"
            };
            println!(
                "{:<36} {:>14.0} {:>14.0} {:>7.2}%{mark}",
                r.measure,
                r.generated,
                r.published,
                r.relative_error * 100.0
            );
        }
    }
    Ok(())
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
        let Command::Serve(args) = cli.command else {
            panic!("serve")
        };
        assert_eq!(args.serve.addr.port(), 9);
        assert_eq!(args.population, None);
        assert_eq!(
            args.serve.durability(),
            dx_exchange::store::Durability::Normal
        );
        assert!(Cli::try_parse_from(["dxsim", "serve", "--durability", "sometimes"]).is_err());
    }
}
