//! The `dxsim` command line: argument parsing and dispatch to library functions.

use clap::{Parser, Subcommand};
use dx_population::{self as population, RunOptions};
use dx_scenario::Scenario;
use dx_scenario::values::{Scale, Speedup};
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
    /// Serve the reference exchange (eligibility, consent, e-prescription, EHR sharing,
    /// municipalities and care, the portal) on its embedded store, or a PostgreSQL store it may
    /// share with other nodes, until Ctrl-C.
    #[command(
        after_help = "Examples:\n  dxsim serve --addr 127.0.0.1:8080 --data ./data --sample-persons 1000\n  \
        dxsim serve --data ./data-qs --population ./population\n  \
        dxsim serve --addr 0.0.0.0:8080 --ops-addr 0.0.0.0:9090   (probes on a listener of their own)\n  \
        dxsim serve --store postgres://dx@db:5432/dx --addr 0.0.0.0:8081 --data ./node-a   (one of several nodes)\n  \
        dxsim serve --store postgres://dx@db:5432/dx --population ./wl/population --load-only   (load, then exit)\n\n\
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
    /// Replay a scenario's workload against a running exchange (open model, goose as the load
    /// engine); exits with code 2 if an SLO is breached.
    #[command(
        after_help = "Examples:\n  dxsim drive scenarios/quickstart.toml --target http://127.0.0.1:8080 --admin-key-file ./data/admin.key\n  \
        dxsim drive scenarios/quickstart.toml --target http://127.0.0.1:8081,http://127.0.0.1:8082 --admin-key-file ./node-a/admin.key\n  \
        dxsim drive scenarios/national-weekday.toml --target https://vendor.example --workload ./weekday --speedup 10\n  \
        dxsim drive scenarios/quickstart.toml --target http://127.0.0.1:8080 --admin-key-file ./data/admin.key --shards 4\n  \
        dxsim drive scenarios/quickstart.toml --target http://exchange:8080 --workload /runs/wl --shard 2/8 --start-at 2026-12-07T09:00:00Z --out /runs/shard-2\n\n\
        The target's store must hold the scenario's population (dxsim serve --population DIR).\n\
        Without --workload, the workload (and its population) is generated into <out> first.\n\
        Results: <out>/summary.json, histograms/{latency,service,lateness,outcomes}.hlog\n\
        (HdrHistogram interval logs), timeseries.csv, report.html. The scenario's [[faults]]\n\
        are carried out on the target: outages by the driver, suspensions and a slowed store\n\
        through its admin routes; a crash is announced on stderr for your own tooling to kill\n\
        and restart the target, and the writes it acknowledged are checked after the replay\n\
        (<out>/ledger.txt, POST /v1/admin/writes). A shard (--shard I/N) replays the\n\
        events of its persons and principals only; `dxsim merge` joins the shards' directories.\n\
        --shards N runs N shards on this machine into <out>/shards/I and merges them into <out>.\n\
        Ctrl-C or SIGTERM stops the replay: the results so far are written, marked interrupted\n\
        (exit code 1); a second one exits at once."
    )]
    Drive(DriveArgs),
    /// Everything in one go: population → the reference exchange in-process on loopback, on a
    /// fresh store → import → workload → replay → summary; exits with code 2 on an SLO breach.
    #[command(
        after_help = "Examples:\n  dxsim run scenarios/quickstart.toml\n  dxsim run scenarios/national-weekday.toml --out ./runs/weekday\n  \
        dxsim run scenarios/quickstart.toml --store postgres://postgres@127.0.0.1:5432/dx --nodes 2\n  \
        dxsim run scenarios/quickstart.toml --shards 2   (two driver processes, merged)\n  \
        dxsim run scenarios/crash-restart.toml   (the exchange killed and restarted mid-replay)\n\n\
        Results go to runs/<scenario>-<UTC timestamp>/ unless --out is given. A scenario with\n\
        an exchange_crash fault runs the exchange as a supervised child process (dxsim serve,\n\
        its log in <out>/exchange.log), killed with SIGKILL and restarted on its schedule; the\n\
        report's Faults section says what each fault did.\n\
        Ctrl-C or SIGTERM during the replay stops it: the results so far are written, marked\n\
        interrupted (exit code 1); a second one exits at once."
    )]
    Run(RunArgs),
    /// Merge the run directories of the shards of one replay (`dxsim drive --shard I/N`) into
    /// one result: counts summed, histograms added, series merged by second, the SLO verdict and
    /// the report of the whole; exits with code 2 if an SLO is breached.
    #[command(
        after_help = "Examples:\n  dxsim merge runs/shard-0 runs/shard-1 runs/shard-2 --out runs/merged\n  \
        dxsim merge /runs/shards/* --out /runs/merged\n\n\
        Refuses shards of different workloads, scenarios, speedups, start instants or shard\n\
        counts, and a missing or repeated shard. Writes <out>/summary.json, histograms/*.hlog,\n\
        timeseries.csv, the Parquet series, service-times.json and report.html."
    )]
    Merge(MergeArgs),
    /// Size the central services for the scenario at national scale: a discrete-event model of
    /// each service fed by the workload's arrival rates (scaled to 1.0), with a sizing search
    /// for the least workers meeting each SLO in every hour, the busiest included.
    #[command(
        after_help = "Examples:\n  dxsim capacity scenarios/flu-peak-monday.toml\n  \
        dxsim capacity scenarios/national-weekday.toml --calibration runs/weekday/service-times.json --out ./cap\n\n\
        Rates come from a workload sample generated at [capacity] sample_scale into <out>/sample\n\
        (or from --workload). Service times: the scenario's [capacity.service_times], else\n\
        --calibration (a run's service-times.json), else the built-in measurement of the\n\
        reference exchange, else published averages. Writes <out>/capacity.json and\n\
        <out>/capacity-minutes.parquet."
    )]
    Capacity(CapacityArgs),
    /// Write the HTML report of a run directory (a replay of `run` or `drive`, a `capacity`
    /// result), or simulate a rollout scenario month by month and report it: report.html,
    /// self-contained, with every chart as SVG and its numbers as CSV.
    #[command(
        after_help = "Examples:\n  dxsim report scenarios/rollout-2025-2030.toml\n  \
        dxsim report runs/quickstart-20261201T101500Z\n  \
        dxsim report --compare scenarios/rollout-2025-2030.toml scenarios/rollout-accelerated.toml\n  \
        dxsim report --compare runs/weekday-capacity-A runs/flu-peak-capacity-B --out ./compare\n\n\
        A scenario file with a [rollout] is simulated first into --out (default:\n\
        runs/<scenario>-<UTC timestamp>): its population, rollout-months.parquet,\n\
        rollout-services.parquet and rollout.json. Its population ages month by month: deaths\n\
        and births at the published yearly rates, each month's persons, 75+ and late-elderly\n\
        members in rollout-months.parquet. --compare takes run directories or rollout\n\
        scenarios. Writes <dir>/report.html, <dir>/report/figures/<chart>.svg and\n\
        <dir>/report/tables/<chart>.csv. `dxsim run`, `dxsim drive` and `dxsim capacity` write\n\
        the report of their run themselves."
    )]
    Report(ReportArgs),
    /// Check that an exchange follows the protocol (docs/api.md, FACTS): eligibility, consent,
    /// e-prescription, refills, checks, EHR documents and items, municipal, portal, security and
    /// errors; exits with code 2 if any check fails.
    #[command(
        after_help = "Examples:\n  dxsim conformance --target http://127.0.0.1:8080 --credentials ./data/admin.key\n  \
        dxsim conformance --target https://vendor.example --credentials creds.toml --group security --group errors\n  \
        dxsim conformance --target http://127.0.0.1:8080 --credentials ./data/admin.key --fhir-schema fhir.schema.json\n  \
        dxsim conformance --list\n\n\
        --credentials is a file holding the target's admin secret (as `dxsim serve` writes\n\
        <data>/admin.key), or TOML with admin_secret = \"…\". The suite enrols its own insurer,\n\
        facilities (prefecture 47, district 99), municipalities and persons (ids CONF-…) through the\n\
        admin routes; persons cannot be removed, so they stay. It also has the target trust the\n\
        run's test card authority and test HPKI root (POST /v1/admin/card-authorities,\n\
        /v1/admin/hpki-roots: Ed25519, made from the run's nonce) and posts a CRL of that root's\n\
        CA; run it against a test target, not one whose trust matters. Checks that move time run\n\
        only on a target whose clock POST /v1/admin/clock can move, and are skipped otherwise.\n\
        Writes <out>/conformance.json, <out>/junit.xml and <out>/report.html."
    )]
    Conformance(ConformanceArgs),
}

#[derive(Debug, clap::Args)]
pub struct ConformanceArgs {
    /// Base URL of the exchange to check.
    #[arg(long, required_unless_present = "list")]
    pub target: Option<String>,
    /// File with the target's admin secret (plain, or TOML `admin_secret = "…"`); or set
    /// DXSIM_ADMIN_SECRET.
    #[arg(long)]
    pub credentials: Option<PathBuf>,
    /// Output directory (default: runs/conformance-<UTC timestamp>).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Run this group's checks (repeatable; with --id, the checks of either).
    #[arg(long = "group")]
    pub groups: Vec<String>,
    /// Run the checks whose id starts with this (repeatable).
    #[arg(long = "id")]
    pub ids: Vec<String>,
    /// List the checks (those selected by --group and --id) and exit.
    #[arg(long)]
    pub list: bool,
    /// HL7's FHIR R4 JSON schema (`fhir.schema.json`): the Bundles the target answers with are
    /// also checked against it.
    #[arg(long, value_name = "FILE")]
    pub fhir_schema: Option<PathBuf>,
}

/// Raised when the target fails a conformance check: the command exits with code 2.
#[derive(Debug, thiserror::Error)]
#[error("does not conform: {0}")]
pub struct NonConformance(pub String);

/// The admin secret from a credentials file (plain, or TOML `admin_secret`), else the
/// environment.
fn admin_secret(credentials: Option<&std::path::Path>) -> anyhow::Result<String> {
    let Some(path) = credentials else {
        return std::env::var("DXSIM_ADMIN_SECRET").map_err(|_| {
            anyhow::anyhow!(
                "give --credentials FILE (the target's admin secret) or set DXSIM_ADMIN_SECRET"
            )
        });
    };
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("cannot read credentials {}: {e}", path.display()))?;
    if let Ok(t) = toml::from_str::<toml::Table>(&text) {
        if let Some(s) = t.get("admin_secret").and_then(|v| v.as_str()) {
            return Ok(s.to_owned());
        }
    }
    let secret = text.trim();
    if secret.is_empty() || secret.contains(char::is_whitespace) {
        anyhow::bail!(
            "credentials {}: expected the admin secret alone, or TOML with admin_secret = \"…\"",
            path.display()
        );
    }
    Ok(secret.to_owned())
}

/// `dxsim conformance`.
pub fn run_conformance(args: &ConformanceArgs) -> anyhow::Result<()> {
    let filter = dx_conformance::Filter {
        groups: args.groups.clone(),
        ids: args.ids.clone(),
    };
    let suite = dx_conformance::checks::all();
    filter.validate(&suite)?;
    if args.list {
        for c in suite.iter().filter(|c| filter.selects(c)) {
            println!("{:<48} {}", c.id, c.title);
        }
        return Ok(());
    }
    let target = args.target.clone().expect("clap requires it");
    let secret = admin_secret(args.credentials.as_deref())?;
    let schema = args
        .fhir_schema
        .as_deref()
        .map(dx_conformance::fhir::Schema::load)
        .transpose()?;
    let out = args.out.clone().unwrap_or_else(|| {
        PathBuf::from("runs").join(format!(
            "conformance-{}",
            chrono::Utc::now().format("%Y%m%dT%H%M%SZ")
        ))
    });
    let selected = suite.iter().filter(|c| filter.selects(c)).count() as u64;
    let bar = indicatif::ProgressBar::new(selected);
    bar.set_style(
        indicatif::ProgressStyle::with_template("conformance {pos}/{len} [{bar:40}] {msg}")
            .expect("template"),
    );
    let started = Instant::now();
    let report = tokio::runtime::Runtime::new()?.block_on(dx_conformance::run(
        &target,
        &secret,
        &filter,
        schema,
        &mut |r| {
            bar.set_message(r.id.clone());
            bar.inc(1);
            if r.result != "pass" {
                bar.println(format!("{:<5} {} — {}", r.result, r.id, r.title));
            }
        },
    ))?;
    bar.finish_and_clear();
    dx_conformance::write(&report, &out)?;
    print!("{}", dx_conformance::summary(&report));
    println!(
        "conformance of {target} in {:.1} s: {}",
        started.elapsed().as_secs_f64(),
        out.display()
    );
    write_report(&out)?;
    if report.passed() {
        Ok(())
    } else {
        Err(NonConformance(format!(
            "{} failed, {} errors (see {})",
            report.counts.fail,
            report.counts.error,
            out.join("conformance.json").display()
        ))
        .into())
    }
}

#[derive(Debug, clap::Args)]
pub struct ReportArgs {
    /// A run directory (the output of `dxsim run`, `drive` or `capacity`), or a scenario file
    /// with a [rollout] to simulate and report.
    #[arg(required_unless_present = "compare", conflicts_with = "compare")]
    pub run_dir: Option<PathBuf>,
    /// Two run directories or rollout scenarios to set side by side (the views both hold).
    #[arg(long, num_args = 2, value_names = ["A", "B"])]
    pub compare: Option<Vec<PathBuf>>,
    /// Where a rollout or a comparison goes (default: runs/<scenario>-<UTC timestamp>,
    /// runs/compare-<A>-vs-<B>).
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// Whether a report argument names a scenario file rather than a run directory.
fn is_scenario(p: &std::path::Path) -> bool {
    p.extension().is_some_and(|x| x == "toml")
}

fn run_report(args: &ReportArgs) -> anyhow::Result<()> {
    match (&args.run_dir, &args.compare) {
        (Some(p), _) if is_scenario(p) => {
            let dir = run_rollout(p, args.out.clone())?;
            write_report(&dir)
        }
        (Some(dir), _) => {
            if args.out.is_some() {
                anyhow::bail!(
                    "--out is for a rollout scenario or --compare; the report of a run directory goes into it"
                );
            }
            write_report(dir)
        }
        (None, Some(ab)) => {
            let mut dirs = Vec::new();
            for p in ab {
                dirs.push(if is_scenario(p) {
                    // Each rollout gets its own report too.
                    let dir = run_rollout(p, None)?;
                    write_report(&dir)?;
                    dir
                } else {
                    p.clone()
                });
            }
            let name = |p: &PathBuf| {
                p.file_name()
                    .map_or_else(|| "run".to_owned(), |n| n.to_string_lossy().into_owned())
            };
            let out = args.out.clone().unwrap_or_else(|| {
                PathBuf::from("runs").join(format!(
                    "compare-{}-vs-{}",
                    name(&dirs[0]),
                    name(&dirs[1])
                ))
            });
            let w = dx_reports::compare(&dirs[0], &dirs[1], &out)?;
            println!(
                "comparison: {} ({} charts: {})",
                w.html.display(),
                w.charts.len(),
                w.sections.join(", ")
            );
            Ok(())
        }
        (None, None) => anyhow::bail!("give a run directory, a rollout scenario, or --compare A B"),
    }
}

/// Simulates the rollout of the scenario at `path` into `out` (its population first); prints
/// what it found and returns the directory.
pub fn run_rollout(path: &std::path::Path, out: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    let s = Scenario::load(path)?;
    if s.rollout.is_none() {
        anyhow::bail!(
            "scenario {} has no [rollout]: `dxsim report` simulates rollout scenarios (see scenarios/rollout-2025-2030.toml); for a replay use `dxsim run`",
            path.display()
        );
    }
    let out = run_dir(&s, &out);
    std::fs::create_dir_all(&out)
        .map_err(|e| anyhow::anyhow!("{} is not writable: {e}", out.display()))?;
    let threads = dx_population::all_cores();
    let started = Instant::now();
    let population = out.join("population");
    let (pm, _) = population::generate(
        &s,
        &population,
        RunOptions {
            threads,
            progress: true,
        },
    )?;
    let r = dx_rollout::run(
        &s,
        &population,
        &out,
        dx_rollout::RunOptions {
            threads,
            progress: true,
        },
    )?;
    let total = |k: &str| r.totals.get(k).copied().unwrap_or(0.0);
    println!(
        "rollout of {}: {} persons at scale {}, {} months from {} to {}, {} requests ({:.1} s)",
        r.scenario,
        pm.persons,
        r.scale,
        r.months,
        r.start,
        r.end,
        r.sample_events,
        started.elapsed().as_secs_f64()
    );
    println!(
        "national totals: {:.1} M electronic prescriptions of {:.1} M; {:.1} M paper documents avoided; {:.2} M duplicate and {:.3} M 併用禁忌 warnings; {:.1} M consented record views",
        total("electronic_prescriptions") / 1e6,
        total("prescriptions") / 1e6,
        total("paper_avoided") / 1e6,
        total("duplicate_warnings") / 1e6,
        total("contraindication_warnings") / 1e6,
        total("consented_views") / 1e6,
    );
    println!("rollout: {}", out.display());
    Ok(out)
}

/// Writes the report of a run directory and says where it is.
fn write_report(dir: &std::path::Path) -> anyhow::Result<()> {
    let w = dx_reports::write(dir)?;
    println!(
        "report: {} ({} charts: {})",
        w.html.display(),
        w.charts.len(),
        w.sections.join(", ")
    );
    Ok(())
}

#[derive(Debug, clap::Args)]
pub struct CapacityArgs {
    /// Scenario file (TOML).
    pub scenario: PathBuf,
    /// Output directory (default: runs/<scenario>-capacity-<UTC timestamp>).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Service times fitted by a replay (`service-times.json` of `dxsim drive` or `dxsim run`).
    #[arg(long)]
    pub calibration: Option<PathBuf>,
    /// A `dxsim workload` output of the scenario to take the rates from, instead of a sample.
    #[arg(long)]
    pub workload: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct DriveArgs {
    /// Scenario file (TOML).
    pub scenario: PathBuf,
    /// Base URL of the exchange to drive; several, comma-separated, for nodes that serve one
    /// store (each of the replay's users sends to one of them, round robin).
    #[arg(long, value_delimiter = ',', required = true, num_args = 1..)]
    pub target: Vec<String>,
    /// The target's admin secret (or use --admin-key-file, or DXSIM_ADMIN_SECRET).
    #[arg(long, env = "DXSIM_ADMIN_SECRET", hide_env_values = true)]
    pub admin_secret: Option<String>,
    /// File holding the target's admin secret (`dxsim serve` writes <data>/admin.key).
    #[arg(long)]
    pub admin_key_file: Option<PathBuf>,
    /// A `dxsim workload` output of the scenario (default: generate into <out>/workload).
    #[arg(long)]
    pub workload: Option<PathBuf>,
    /// Simulated seconds per real second; overrides the scenario's replay.speedup.
    #[arg(long)]
    pub speedup: Option<Speedup>,
    /// Output directory (default: runs/<scenario>-<UTC timestamp>).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Replay one shard of the workload: I (from 0) of N, e.g. 2/8 — the events of the
    /// persons and principals the shard assignment gives it (see ARCHITECTURE.md).
    #[arg(long, value_name = "I/N", conflicts_with = "shards")]
    pub shard: Option<dx_drive::Shard>,
    /// When the replay's schedule starts, shared by every shard: an RFC 3339 instant
    /// (2026-12-07T09:00:00Z), or `-` to print `ready` once set up and read the instant from
    /// standard input (the barrier --shards uses). Default: once set up.
    #[arg(long, value_name = "INSTANT")]
    pub start_at: Option<String>,
    /// Run N shards as N processes on this machine and merge them into <out>.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=i64::from(dx_drive::shard::MAX_SHARDS)))]
    pub shards: Option<u32>,
    /// What the target's clock follows: `real` (a vendor's server, `dxsim serve`) or `replay`
    /// (the replay's simulated time, as the exchange `dxsim run` starts does).
    #[arg(long, value_enum, default_value_t = TargetClock::Real)]
    pub target_clock: TargetClock,
    /// No progress bars (a shard among several).
    #[arg(long)]
    pub quiet: bool,
}

/// What the target's clock follows (`dxsim drive --target-clock`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum TargetClock {
    Real,
    Replay,
}

#[derive(Debug, clap::Args)]
pub struct MergeArgs {
    /// The shards' run directories (`dxsim drive --shard I/N --out DIR`), every shard once.
    #[arg(required = true, value_name = "RUN_DIR")]
    pub dirs: Vec<PathBuf>,
    /// Where the merged result goes (a new directory).
    #[arg(long)]
    pub out: PathBuf,
}

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Scenario file (TOML).
    pub scenario: PathBuf,
    /// Output directory (default: runs/<scenario>-<UTC timestamp>).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Simulated seconds per real second; overrides the scenario's replay.speedup.
    #[arg(long)]
    pub speedup: Option<Speedup>,
    /// An empty PostgreSQL database for the exchange's store, instead of the SQLite file in
    /// <out>/store: `postgres://user[:password]@host:port/db` (`?connection_limit=N`: the
    /// connections each node keeps open at most; twice the cores and one unless given).
    #[arg(long, value_name = "URL")]
    pub store: Option<String>,
    /// Exchange nodes to run on the store, each with its own pool, memory and listener; the
    /// replay spreads its users over them (more than one needs --store).
    #[arg(long, default_value_t = 1)]
    pub nodes: usize,
    /// Replay in N driver processes (`dxsim drive --shard I/N`, as pods run it), merged into
    /// <out>; the shards' own directories are <out>/shards/I.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=i64::from(dx_drive::shard::MAX_SHARDS)))]
    pub shards: Option<u32>,
}

/// Raised when a replay breaches an SLO: the command fails with exit code 2.
#[derive(Debug, thiserror::Error)]
#[error("SLO breached: {0}")]
pub struct SloBreach(pub String);

fn run_dir(s: &Scenario, out: &Option<PathBuf>) -> PathBuf {
    out.clone().unwrap_or_else(|| {
        PathBuf::from("runs").join(format!(
            "{}-{}",
            s.name,
            chrono::Utc::now().format("%Y%m%dT%H%M%SZ")
        ))
    })
}

fn with_speedup(mut s: Scenario, speedup: Option<Speedup>) -> Scenario {
    if let Some(x) = speedup {
        s.replay.speedup = x;
    }
    s
}

fn verdict(
    summary: &dx_model::rundir::summary::Summary,
    out: &std::path::Path,
) -> anyhow::Result<()> {
    print!("{}", summary.table());
    println!("results: {}", out.display());
    if summary.run.interrupted {
        anyhow::bail!("interrupted; partial results are in {}", out.display());
    }
    if summary.pass {
        return Ok(());
    }
    let failed: Vec<String> = summary
        .routes
        .iter()
        .filter(|(_, r)| !r.breaches.is_empty())
        .map(|(n, r)| format!("{n} ({})", r.breaches.join("; ")))
        .collect();
    Err(SloBreach(failed.join(", ")).into())
}

fn run_drive(args: &DriveArgs) -> anyhow::Result<()> {
    let s = with_speedup(Scenario::load(&args.scenario)?, args.speedup);
    let admin_secret = match (&args.admin_secret, &args.admin_key_file) {
        (Some(secret), _) => secret.clone(),
        (None, Some(f)) => std::fs::read_to_string(f)
            .map_err(|e| anyhow::anyhow!("reading {}: {e}", f.display()))?
            .trim()
            .to_owned(),
        (None, None) => anyhow::bail!(
            "give the target's admin secret: --admin-secret, --admin-key-file or DXSIM_ADMIN_SECRET"
        ),
    };
    let start = match args.start_at.as_deref() {
        None => dx_drive::Start::Now,
        Some("-") => dx_drive::Start::Barrier,
        Some(t) => dx_drive::Start::At(dx_drive::parse_instant(t)?),
    };
    let out = run_dir(&s, &args.out);
    let workload = match &args.workload {
        Some(w) => w.clone(),
        None => {
            let dir = out.join("workload");
            run_workload(&WorkloadArgs {
                scenario: args.scenario.clone(),
                population: None,
                out: dir.clone(),
                threads: None,
            })?;
            dir
        }
    };
    if let Some(n) = args.shards {
        // N processes of this command, each with --shard I/N, then one merge.
        let mut common: Vec<std::ffi::OsString> = vec![
            args.scenario.clone().into(),
            "--target".into(),
            args.target.join(",").into(),
            "--workload".into(),
            workload.clone().into(),
        ];
        if let Some(x) = args.speedup {
            common.extend(["--speedup".into(), x.to_string().into()]);
        }
        if args.target_clock == TargetClock::Replay {
            common.extend(["--target-clock".into(), "replay".into()]);
        }
        if start != dx_drive::Start::Now {
            anyhow::bail!("--shards starts its shards itself: leave out --start-at");
        }
        let dirs = crate::shards::run(n, &common, &admin_secret, &out, |_| {})?;
        let summary = dx_drive::merge::merge(&dirs, &out)?;
        write_report(&out)?;
        return verdict(&summary, &out);
    }
    let schedule = std::sync::Arc::new(dx_drive::Schedule::new(
        s.period.start,
        s.replay.speedup.get(),
    ));
    let opts = dx_drive::DriveOptions {
        targets: args.target.clone(),
        admin_secret,
        schedule: schedule.clone(),
        max_in_flight: s.replay.max_in_flight.get(),
        out: out.clone(),
        server_clock: match args.target_clock {
            TargetClock::Real => dx_drive::ServerClock::Real,
            TargetClock::Replay => dx_drive::ServerClock::Replay(schedule),
        },
        progress: !args.quiet,
        shard: args.shard,
        start,
        crashes_supervised: false,
    };
    let runtime = tokio::runtime::Runtime::new()?;
    let summary = runtime.block_on(dx_drive::drive(&s, &workload, &opts))?;
    if args.shard.is_some() {
        // A shard's verdict, exit code and report are the merge's (`dxsim merge`).
        print!("{}", summary.table());
        println!(
            "results: {} (a shard: `dxsim merge` gives the verdict of the whole)",
            out.display()
        );
        if summary.run.interrupted {
            anyhow::bail!("interrupted; partial results are in {}", out.display());
        }
        return Ok(());
    }
    write_report(&out)?;
    verdict(&summary, &out)
}

fn run_merge(args: &MergeArgs) -> anyhow::Result<()> {
    let summary = dx_drive::merge::merge(&args.dirs, &args.out)?;
    write_report(&args.out)?;
    verdict(&summary, &args.out)
}

/// `dxsim run`: the whole pipeline against the in-process reference exchange.
pub fn run_all(args: &RunArgs) -> anyhow::Result<(dx_model::rundir::summary::Summary, PathBuf)> {
    let s = with_speedup(Scenario::load(&args.scenario)?, args.speedup);
    let out = run_dir(&s, &args.out);
    if out.join("summary.json").exists() || out.join("store").exists() {
        anyhow::bail!("{} already holds a run; give a new --out", out.display());
    }
    std::fs::create_dir_all(&out)
        .map_err(|e| anyhow::anyhow!("{} is not writable: {e}", out.display()))?;
    let started = Instant::now();
    let threads = dx_population::all_cores();
    let pop_dir = out.join("population");
    let (pm, _) = population::generate(
        &s,
        &pop_dir,
        RunOptions {
            threads,
            progress: true,
        },
    )?;
    println!(
        "population: {} persons ({:.1} s)",
        pm.persons,
        started.elapsed().as_secs_f64()
    );

    // One schedule: the exchange's clock and the driver's due times.
    let schedule = std::sync::Arc::new(dx_drive::Schedule::new(
        s.period.start,
        s.replay.speedup.get(),
    ));
    if !s
        .faults
        .iter()
        .all(|f| !matches!(f.what, dx_scenario::FaultKind::ExchangeCrash))
        && (args.nodes != 1 || args.shards.is_some())
    {
        anyhow::bail!(
            "an exchange_crash scenario runs one exchange, supervised, and one driver: leave out --nodes and --shards"
        );
    }
    if args.nodes == 0 || (args.nodes > 1 && args.store.is_none()) {
        anyhow::bail!(
            "--nodes {}: one node or more, and several only on a shared store (--store postgres://…)",
            args.nodes
        );
    }
    let location = dx_exchange::store::Location::of(
        args.store.as_deref(),
        &out.join("store").join(dx_exchange::server::DB_FILE),
    )?;
    let (limits, own) = admission_of(&s);
    let open = || {
        let exchange = dx_exchange::Exchange::open_at(
            &location,
            dx_exchange::store::Durability::Full,
            schedule.clone(),
            limits,
        )?;
        for (service, bounds) in &own {
            exchange.set_service_limits(*service, *bounds);
        }
        anyhow::Ok(exchange)
    };
    let exchange = open()?;
    println!("store: {}", location.display());
    let t = Instant::now();
    let imported = population::import::import_fresh(&pop_dir, exchange.store(), true)?;
    println!(
        "imported {} persons into the exchange ({:.1} s)",
        imported.persons,
        t.elapsed().as_secs_f64()
    );

    let wl_dir = out.join("workload");
    let wm = dx_workload::generate(
        &s,
        &pop_dir,
        &wl_dir,
        dx_workload::RunOptions {
            threads,
            progress: true,
        },
    )?;
    println!(
        "workload: {} events, {} → {} ({} eligibility checks, {} prescriptions)",
        wm.events, wm.period_start, wm.period_end, wm.eligibility_checks, wm.prescriptions
    );

    let admin_secret = exchange.admin_secret().to_owned();
    // The other nodes open the store the first one filled.
    let mut exchanges = vec![exchange];
    for _ in 1..args.nodes {
        exchanges.push(open()?);
    }
    let runtime = dx_exchange::server::runtime()?;
    let crashes: Vec<(i64, i64)> = dx_drive::faults::Faults::of(&s).crashes().collect();
    let summary = if !crashes.is_empty() {
        // The exchange runs as a child process, killed and restarted on the crashes' schedule.
        drop(exchanges);
        let exchange = crate::supervise::Supervised::start(
            &out.join("store"),
            args.store.as_deref(),
            &admission_flags(&s),
            s.period.start,
            s.replay.speedup.get(),
            out.join("exchange.log"),
        )?;
        let url = exchange.url();
        println!(
            "replaying {:.1} simulated hours at {}× against {url}, an exchange supervised for {} crash(es) (its log: {}; {} requests in flight at most)",
            s.period.hours,
            s.replay.speedup,
            crashes.len(),
            out.join("exchange.log").display(),
            s.replay.max_in_flight
        );
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let crasher =
            crate::supervise::crash_on_schedule(exchange, schedule.clone(), crashes, stop.clone());
        let opts = run_options(&s, &schedule, &out, vec![url], admin_secret, true);
        let summary = runtime.block_on(dx_drive::drive(&s, &wl_dir, &opts));
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let mut exchange = crasher
            .join()
            .map_err(|_| anyhow::anyhow!("the exchange's supervisor failed"))??;
        exchange.stop();
        summary?
    } else if let Some(n) = args.shards {
        // The nodes serve on the runtime's threads while this thread waits for the shards.
        let nodes = runtime.block_on(async {
            let mut nodes = Vec::new();
            for exchange in exchanges {
                let listener = dx_exchange::server::bind(([127, 0, 0, 1], 0).into())?;
                nodes.push(exchange.spawn(listener)?);
            }
            anyhow::Ok(nodes)
        })?;
        let urls: Vec<String> = nodes.iter().map(|n| n.url()).collect();
        println!(
            "replaying {:.1} simulated hours at {}× against {} in {n} shards ({} requests in flight at most each)",
            s.period.hours,
            s.replay.speedup,
            urls.join(", "),
            s.replay.max_in_flight
        );
        let mut common: Vec<std::ffi::OsString> = vec![
            args.scenario.clone().into(),
            "--target".into(),
            urls.join(",").into(),
            "--workload".into(),
            wl_dir.clone().into(),
            "--target-clock".into(),
            "replay".into(),
        ];
        if let Some(x) = args.speedup {
            common.extend(["--speedup".into(), x.to_string().into()]);
        }
        let shards = crate::shards::run(n, &common, &admin_secret, &out, |t| {
            schedule.start_at(t);
        });
        runtime.block_on(async {
            for node in nodes {
                node.stop().await?;
            }
            anyhow::Ok(())
        })?;
        dx_drive::merge::merge(&shards?, &out)?
    } else {
        runtime.block_on(async {
            let mut nodes = Vec::new();
            for exchange in exchanges {
                let listener = dx_exchange::server::bind(([127, 0, 0, 1], 0).into())?;
                nodes.push(exchange.spawn(listener)?);
            }
            let urls: Vec<String> = nodes.iter().map(|n| n.url()).collect();
            println!(
                "replaying {:.1} simulated hours at {}× against {} ({} requests in flight at most)",
                s.period.hours,
                s.replay.speedup,
                urls.join(", "),
                s.replay.max_in_flight
            );
            let opts = run_options(&s, &schedule, &out, urls, admin_secret, false);
            let summary = dx_drive::drive(&s, &wl_dir, &opts).await;
            for node in nodes {
                node.stop().await?;
            }
            summary
        })?
    };
    println!("run finished in {:.1} s", started.elapsed().as_secs_f64());
    if !summary.run.interrupted {
        // The national capacity the scenario needs, from the service times just measured.
        let calibration = dx_capacity::calibration::load(&out.join(
            <dx_model::rundir::calibration::Calibration as dx_model::rundir::RunFile>::NAME,
        ))?;
        let dir = out.join("capacity");
        std::fs::create_dir_all(&dir)?;
        capacity_of(&s, &wl_dir, s.population.scale.get(), &calibration, &dir)?;
    }
    write_report(&out)?;
    Ok((summary, out))
}

/// The admission bounds of the scenario's `[exchange]`: every service's, and the services' with
/// bounds of their own.
fn admission_of(
    s: &Scenario,
) -> (
    dx_exchange::admission::Limits,
    Vec<(
        dx_exchange::admission::Service,
        dx_exchange::admission::Limits,
    )>,
) {
    let x = &s.exchange;
    let ms = |m: dx_scenario::values::Millis| std::time::Duration::from_secs_f64(m.get() / 1000.0);
    let all = dx_exchange::admission::Limits {
        in_flight: x.max_in_flight.get(),
        queued: x.max_queued.get(),
        deadline: ms(x.queue_deadline_ms),
    };
    let own = x
        .services
        .iter()
        .map(|(name, b)| {
            (
                dx_exchange::admission::Service::parse(name.as_str())
                    .expect("the scenario's services are the exchange's"),
                dx_exchange::admission::Limits {
                    in_flight: b.max_in_flight.get(),
                    queued: b.max_queued.map_or(all.queued, |q| q.get()),
                    deadline: b.queue_deadline_ms.map_or(all.deadline, ms),
                },
            )
        })
        .collect();
    (all, own)
}

/// The same bounds as `dxsim serve` flags (for the exchange `dxsim run` supervises).
fn admission_flags(s: &Scenario) -> Vec<std::ffi::OsString> {
    let (all, own) = admission_of(s);
    let mut flags: Vec<std::ffi::OsString> = vec![
        "--max-in-flight".into(),
        all.in_flight.to_string().into(),
        "--max-queued".into(),
        all.queued.to_string().into(),
        "--queue-deadline-ms".into(),
        all.deadline.as_millis().to_string().into(),
    ];
    for (service, l) in own {
        flags.push("--service-limit".into());
        flags.push(
            format!(
                "{}={}/{}/{}",
                service.as_str(),
                l.in_flight,
                l.queued,
                l.deadline.as_millis()
            )
            .into(),
        );
    }
    flags
}

/// How `dxsim run` replays against the exchange it runs: on the replay's clock, from now, one
/// process (`crashes_supervised`: it kills and restarts the exchange itself).
fn run_options(
    s: &Scenario,
    schedule: &std::sync::Arc<dx_drive::Schedule>,
    out: &std::path::Path,
    targets: Vec<String>,
    admin_secret: String,
    crashes_supervised: bool,
) -> dx_drive::DriveOptions {
    dx_drive::DriveOptions {
        targets,
        admin_secret,
        schedule: schedule.clone(),
        max_in_flight: s.replay.max_in_flight.get(),
        out: out.to_path_buf(),
        server_clock: dx_drive::ServerClock::Replay(schedule.clone()),
        progress: true,
        shard: None,
        start: dx_drive::Start::Now,
        crashes_supervised,
    }
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
    /// Load --population into the store and exit without serving (a cluster's one step before
    /// its nodes start); a store that already holds persons is left as it is.
    #[arg(long, requires = "population")]
    pub load_only: bool,
}

#[derive(Debug, clap::Args)]
pub struct PopulationArgs {
    /// Scenario file (TOML); without one, all of Japan with the default seed.
    pub scenario: Option<PathBuf>,
    /// Fraction of Japan, in (0, 1]; overrides the scenario's population.scale.
    #[arg(long)]
    pub scale: Option<Scale>,
    /// Overrides the scenario's seed.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Output directory (created if missing).
    #[arg(long, default_value = "./population")]
    pub out: PathBuf,
    /// Worker threads (default: all cores); the output is the same for any number.
    #[arg(long)]
    pub threads: Option<usize>,
}

/// Parses the command line, runs the command, and maps failure to exit code 1 (an SLO breach
/// or a failed conformance check to 2).
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        // A value out of its range (`--scale 0`) is refused like a bad scenario value: exit 1;
        // code 2 stays for SLO breaches, non-conformance and clap's usage errors.
        Err(e) if e.kind() == clap::error::ErrorKind::ValueValidation => {
            let _ = e.print();
            return ExitCode::FAILURE;
        }
        Err(e) => e.exit(),
    };
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.is::<SloBreach>() || e.is::<NonConformance>() => {
            eprintln!("dxsim: {e:#}");
            ExitCode::from(2)
        }
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
        Command::Drive(args) => run_drive(&args),
        Command::Merge(args) => run_merge(&args),
        Command::Run(args) => {
            let (summary, out) = run_all(&args)?;
            verdict(&summary, &out)
        }
        Command::Capacity(args) => run_capacity(&args).map(|_| ()),
        Command::Report(args) => run_report(&args),
        Command::Conformance(args) => run_conformance(&args),
    }
}

/// `dxsim capacity`: the rates (from a sample workload unless one is given), the calibration,
/// the model; prints the sizing table.
pub fn run_capacity(args: &CapacityArgs) -> anyhow::Result<dx_capacity::run::CapacityReport> {
    let s = Scenario::load(&args.scenario)?;
    let out = args.out.clone().unwrap_or_else(|| {
        PathBuf::from("runs").join(format!(
            "{}-capacity-{}",
            s.name,
            chrono::Utc::now().format("%Y%m%dT%H%M%SZ")
        ))
    });
    std::fs::create_dir_all(&out)
        .map_err(|e| anyhow::anyhow!("{} is not writable: {e}", out.display()))?;
    let calibration = match &args.calibration {
        Some(p) => dx_capacity::calibration::load(p)?,
        None => serde_json::from_str(dx_capacity::run::BUILT_IN_CALIBRATION)?,
    };
    let started = Instant::now();
    let (workload, scale) = match &args.workload {
        Some(w) => (w.clone(), dx_workload::read_manifest(w)?.scale),
        None => {
            let mut sample = s.clone();
            sample.population.scale = s.capacity.sample_scale;
            let dir = out.join("sample");
            let threads = dx_population::all_cores();
            let (pm, _) = population::generate(
                &sample,
                &dir.join("population"),
                RunOptions {
                    threads,
                    progress: true,
                },
            )?;
            let wm = dx_workload::generate(
                &sample,
                &dir.join("population"),
                &dir.join("workload"),
                dx_workload::RunOptions {
                    threads,
                    progress: true,
                },
            )?;
            println!(
                "sample at scale {}: {} persons, {} events ({:.1} s)",
                sample.population.scale,
                pm.persons,
                wm.events,
                started.elapsed().as_secs_f64()
            );
            (dir.join("workload"), sample.population.scale.get())
        }
    };
    let report = capacity_of(&s, &workload, scale, &calibration, &out)?;
    write_report(&out)?;
    Ok(report)
}

/// The capacity model of `s` from the workload in `workload` (generated at `scale`), written
/// into `out`, with its table printed.
fn capacity_of(
    s: &Scenario,
    workload: &std::path::Path,
    scale: f64,
    calibration: &dx_capacity::calibration::Calibration,
    out: &std::path::Path,
) -> anyhow::Result<dx_capacity::run::CapacityReport> {
    let t = Instant::now();
    let rates = dx_capacity::rates::Rates::from_workload(workload, scale)?;
    let report = dx_capacity::run::run(s, &rates, calibration, out)?;
    println!(
        "capacity of {} at scale 1.0: {:.0} arrivals per replication × {} replications, {} → {} ({:.1} s)",
        report.scenario,
        report.arrivals_per_replication,
        report.replications,
        report.period_start,
        report.period_end,
        t.elapsed().as_secs_f64()
    );
    print!("{}", dx_capacity::run::table(&report));
    println!("capacity: {}", out.display());
    Ok(report)
}

/// Generates a scenario's workload (and its population, unless one is given); returns the
/// workload directory's manifest.
pub fn run_workload(args: &WorkloadArgs) -> anyhow::Result<dx_workload::Manifest> {
    let s = Scenario::load(&args.scenario)?;
    let threads = args.threads.unwrap_or_else(dx_population::all_cores);
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
            };
            let (m, _) = population::generate(&s, &dir, opts)?;
            println!("population: {} persons → {}", m.persons, dir.display());
            dir
        }
    };
    let started = Instant::now();
    let m = dx_workload::generate(
        &s,
        &population,
        &args.out,
        dx_workload::RunOptions {
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
    println!(
        "{:<28} {:>14} {:>14.0}",
        "flu doses given", m.flu_doses, m.expected_flu_doses
    );
    println!(
        "{:<28} {:>14} {:>14.0}",
        "childhood doses given", m.childhood_doses, m.expected_childhood_doses
    );
    for (route, n) in &m.routes {
        println!("  {route:<26} {n:>14}");
    }
    Ok(m)
}

fn serve(mut cmd: ServeCommand) -> anyhow::Result<()> {
    dx_exchange::server::init_logging();
    let runtime = dx_exchange::server::runtime()?;
    let Some(population) = cmd.population.take() else {
        return runtime.block_on(dx_exchange::server::run(&cmd.serve));
    };
    cmd.serve.sample_persons = 0;
    let db = cmd.serve.data.join(dx_exchange::server::DB_FILE);
    let fresh = !db.exists();
    if cmd.load_only {
        return load_only(&cmd.serve, &population);
    }
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

/// `dxsim serve --population DIR --load-only`: the population into the store, then exit.
fn load_only(args: &dx_exchange::ServeArgs, population: &std::path::Path) -> anyhow::Result<()> {
    use dx_exchange::store::AdminStore as _;
    let exchange = dx_exchange::Exchange::open_at(
        &args.location()?,
        args.durability(),
        std::sync::Arc::new(dx_exchange::clock::SystemClock),
        args.admission(),
    )?;
    let held = exchange.store().stats()?.persons;
    if held > 0 {
        println!("the store already holds {held} persons: nothing loaded");
    } else {
        let started = Instant::now();
        let done = population::import::import_fresh(population, exchange.store(), true)?;
        println!(
            "loaded {} persons ({:.0}/s), {} insurers, {} facilities from {}",
            done.persons,
            done.persons as f64 / started.elapsed().as_secs_f64().max(1e-9),
            done.insurers,
            done.facilities,
            population.display()
        );
    }
    let key = exchange.write_admin_key(&args.data)?;
    println!("admin secret in {}", key.display());
    Ok(())
}

/// The scenario a population command means, with its overrides applied and checked.
pub fn population_scenario(args: &PopulationArgs) -> anyhow::Result<Scenario> {
    let mut s = match &args.scenario {
        Some(path) => Scenario::load(path)?,
        None => Scenario::national(1.0),
    };
    if let Some(scale) = args.scale {
        s.population.scale = scale;
    }
    if let Some(seed) = args.seed {
        s.seed = seed;
    }
    if args.threads == Some(0) {
        anyhow::bail!("--threads must be at least 1");
    }
    Ok(s)
}

fn run_population(args: &PopulationArgs) -> anyhow::Result<()> {
    let s = population_scenario(args)?;
    let opts = RunOptions {
        threads: args.threads.unwrap_or_else(dx_population::all_cores),
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
        s.population.scale.get(),
        &s.population.prefecture_codes(),
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
    print_prefecture_ages(&cmp.prefectures);
    Ok(())
}

/// Each prefecture's 65+ and 75+ shares against its published ones: every prefecture of a regional
/// run, the youngest and the oldest of a national one.
fn print_prefecture_ages(prefectures: &[population::expected::PrefectureAges]) {
    let line = |p: &population::expected::PrefectureAges| {
        let published_75 = p
            .published_75_plus
            .map_or_else(|| "—".to_string(), |v| format!("{v:.1}%"));
        println!(
            "{:<14} 65+ {:>5.1}% (published 2022 {:>4.1}%, aimed {:>4.1}%)  75+ {:>5.1}% (published 2023 {:>5}, aimed {:>4.1}%){}",
            dx_exchange::codes::prefecture_name_en(p.prefecture).unwrap_or("?"),
            p.aged_65_plus,
            p.published_65_plus,
            p.aimed_65_plus,
            p.aged_75_plus,
            published_75,
            p.aimed_75_plus,
            if p.within {
                ""
            } else {
                "  ← outside tolerance"
            }
        );
    };
    if prefectures.len() <= 5 {
        prefectures.iter().for_each(line);
        return;
    }
    let by_65 = |a: &&population::expected::PrefectureAges,
                 b: &&population::expected::PrefectureAges| {
        a.aged_65_plus.total_cmp(&b.aged_65_plus)
    };
    if let (Some(young), Some(old)) = (
        prefectures.iter().min_by(by_65),
        prefectures.iter().max_by(by_65),
    ) {
        println!("ages by prefecture, youngest and oldest (all in summary.json):");
        line(young);
        line(old);
    }
    let outside = prefectures.iter().filter(|p| !p.within).count();
    if outside > 0 {
        println!("{outside} prefectures' ages outside tolerance (summary.json: prefectures)");
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

    #[test]
    fn a_scenarios_admission_bounds_reach_the_exchange_as_servings_flags() {
        let s = Scenario::from_toml(
            "x.toml",
            "[exchange]\nmax_queued = 100\n[exchange.services.portal]\nmax_in_flight = 8\nqueue_deadline_ms = 20.0\n",
        )
        .unwrap();
        let (all, own) = admission_of(&s);
        assert_eq!((all.in_flight, all.queued), (64, 100));
        assert_eq!(own.len(), 1);
        assert_eq!(own[0].0, dx_exchange::admission::Service::Portal);
        assert_eq!((own[0].1.in_flight, own[0].1.queued), (8, 100));
        let flags: Vec<String> = admission_flags(&s)
            .iter()
            .map(|f| f.to_string_lossy().into_owned())
            .collect();
        let mut argv = vec!["dxsim".to_owned(), "serve".to_owned()];
        argv.extend(flags);
        let Command::Serve(args) = Cli::try_parse_from(argv).unwrap().command else {
            panic!("serve")
        };
        assert_eq!(args.serve.service_limits(), own);
        assert_eq!(args.serve.admission(), all);
        // Every service a scenario may name is one of the exchange's.
        for name in [
            "auth",
            "eligibility",
            "eprescription",
            "ehr",
            "municipal",
            "portal",
            "admin",
        ] {
            let s = Scenario::from_toml(
                "x.toml",
                &format!("[exchange.services.{name}]\nmax_in_flight = 1\n"),
            )
            .unwrap();
            assert_eq!(admission_of(&s).1[0].0.as_str(), name);
        }
        for bad in [
            "portal",
            "portal=0",
            "billing=4",
            "portal=4/x",
            "portal=4/1/2/3",
        ] {
            assert!(dx_exchange::server::service_limit(bad).is_err(), "{bad}");
        }
    }
}
