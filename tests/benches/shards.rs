//! Local shards against one server: the aggregate sustained rate of 1, 2 and 4 driver processes
//! (`dxsim drive --shards N`, the path a pod of the Indexed Job runs, then `dxsim merge`) on
//! `GET /healthz` and on eligibility verify, against the same in-process exchange in the same run,
//! each as a ratio to one process. The ratios are the figures to quote (absolute rates drift on a
//! shared 2-core machine, where the shards, the server and the merge share the cores).
//!
//! `cargo bench -p dx-e2e --bench shards` (or `just bench`). `DXSIM_BENCH_HEALTHZ` (default
//! 60,000) and `DXSIM_BENCH_VERIFY` (default 12,000) are the requests of each replay, all due at
//! its start (an open model saturating each shard's 64 users). Errors are the server shedding
//! load (`503 overloaded` beyond its admission limits) and are reported, not counted as answered. The shards are this bench's own
//! executable started as `dxsim drive` (its `main` hands such a command line to the CLI). Results
//! go to stdout and `<target>/dxsim-bench/shards.json`.

use dx_exchange::store::Durability;
use dx_model::event::{Event, Payload};
use dx_model::route::Route;
use dx_scenario::Scenario;
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

const SCENARIO: &str = "name = \"shards-bench\"\nseed = 9\n\
    [population]\nscale = 0.01\nprefectures = [31]\n\
    [period]\nstart = 2025-10-06T08:30:00\nhours = 1.0\n\
    [rates]\nelectronic_share = 1.0\n\
    [replay]\nspeedup = 60.0\nmax_in_flight = 64\n";

fn main() -> ExitCode {
    // A shard: this executable started by `dxsim drive --shards N` as `<exe> drive …`.
    if std::env::args().nth(1).as_deref() == Some("drive") {
        return dx_sim::cli::main();
    }
    let healthz = env("DXSIM_BENCH_HEALTHZ", 60_000);
    let verifies = env("DXSIM_BENCH_VERIFY", 12_000);
    let dir = tempfile::tempdir().unwrap();
    let scenario_file = dir.path().join("shards-bench.toml");
    std::fs::write(&scenario_file, SCENARIO).unwrap();
    let s = Scenario::load(&scenario_file).unwrap();
    let threads = dx_population::all_cores();

    // The server: the scenario's population in a fresh store, on loopback.
    let pop = dir.path().join("population");
    dx_population::generate(
        &s,
        &pop,
        dx_population::RunOptions {
            threads,
            progress: false,
        },
    )
    .unwrap();
    let exchange = dx_exchange::Exchange::open(
        &dir.path().join("store"),
        Durability::Normal,
        Arc::new(dx_exchange::clock::SystemClock),
    )
    .unwrap();
    dx_population::import::import_fresh(&pop, exchange.store(), false).unwrap();
    let admin_secret = exchange.admin_secret().to_owned();
    let runtime = dx_exchange::server::runtime().unwrap();
    let running = runtime
        .block_on(async {
            let listener = dx_exchange::server::bind(([127, 0, 0, 1], 0).into())?;
            exchange.spawn(listener)
        })
        .unwrap();
    let url = running.url();

    // Two workloads, every request due at the start: probes, and the scenario's verifications
    // repeated (each copy a person of its own to the shard assignment, a card presented with a
    // nonce of its own).
    let full = dir.path().join("workload");
    dx_workload::generate(
        &s,
        &pop,
        &full,
        dx_workload::RunOptions {
            threads,
            progress: false,
        },
    )
    .unwrap();
    let start_ms = dx_workload::flows::jst_ms(s.period.start);
    let mut seen = Vec::new();
    for chunk in dx_workload::stream(&full).unwrap() {
        seen.extend(
            chunk
                .unwrap()
                .into_iter()
                .filter(|e| e.route() == Route::Verify),
        );
    }
    assert!(!seen.is_empty(), "the workload has no verification");
    let at_start = |i: u64, mut e: Event| {
        e.id = i << 20;
        e.at_ms = start_ms;
        e.needs = None;
        if let Payload::Verify { consent } = &mut e.payload {
            *consent = false;
        }
        e
    };
    let verify_events: Vec<Event> = (0..verifies)
        .map(|i| at_start(i, seen[(i as usize) % seen.len()].clone()))
        .collect();
    let probe = Event {
        payload: Payload::Healthz,
        sex: dx_exchange::wire::Sex::Female,
        ..Event::default()
    };
    let healthz_events: Vec<Event> = (0..healthz).map(|i| at_start(i, probe.clone())).collect();
    let workloads = [
        ("healthz", dir.path().join("wl-healthz"), healthz_events),
        ("verify", dir.path().join("wl-verify"), verify_events),
    ];
    let mut results = Vec::new();
    println!(
        "\ndxsim shards benchmark — local driver processes against one in-process exchange, same run"
    );
    for (name, wl, events) in workloads {
        dx_workload::write_events(&s, &wl, events).unwrap();
        let mut one = 0.0;
        for n in [1u32, 2, 4] {
            let out = dir.path().join(format!("run-{name}-{n}"));
            let (rate, cpu_s, summary) = replay(&scenario_file, &url, &wl, &admin_secret, n, &out);
            if n == 1 {
                one = rate;
            }
            let r = &summary.routes[name];
            // The shards' own CPU per request: what a shard on a core of its own could send.
            let cpu_us = cpu_s * 1e6 / r.count.max(1) as f64;
            println!(
                "{name:<8} {n} shard{} {:>8} requests in {:>6.2} s  {rate:>9.0} req/s   ÷ one process {:.2}   shard CPU {cpu_us:>5.1} µs/request   (errors {}, refused {}, lateness p99 {:.1} ms)",
                if n == 1 { " " } else { "s" },
                r.count,
                summary.elapsed_s,
                rate / one,
                r.errors,
                r.refused,
                summary.lateness.p99_ms
            );
            results.push(
                json!({"route": name, "shards": n, "requests": r.count, "ok": r.ok,
                "elapsed_s": summary.elapsed_s, "per_s": rate, "ratio_to_one": rate / one}),
            );
        }
    }
    runtime.block_on(running.stop()).unwrap();
    let target = std::env::var("CARGO_TARGET_DIR")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/../target").into());
    let out = Path::new(&target).join("dxsim-bench");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(
        out.join("shards.json"),
        serde_json::to_string_pretty(&json!({"cores": threads, "runs": results})).unwrap(),
    )
    .unwrap();
    ExitCode::SUCCESS
}

/// `dxsim drive --shards n` of `wl` against `url` into `out`, merged: the rate of answered
/// requests over the replay's elapsed time, the CPU seconds the shard processes used (set-up
/// included), and the merged summary.
fn replay(
    scenario: &Path,
    url: &str,
    wl: &Path,
    admin_secret: &str,
    n: u32,
    out: &Path,
) -> (f64, f64, dx_model::rundir::summary::Summary) {
    let common: Vec<std::ffi::OsString> = vec![
        scenario.into(),
        "--target".into(),
        url.into(),
        "--workload".into(),
        PathBuf::from(wl).into(),
    ];
    let cpu_before = children_cpu_s();
    let dirs = dx_sim::shards::run_quietly(n, &common, admin_secret, out, |_| {}, true).unwrap();
    let cpu = children_cpu_s() - cpu_before;
    let summary = dx_drive::merge::merge(&dirs, out).unwrap();
    let answered = summary.totals.requests - summary.totals.errors;
    (answered as f64 / summary.elapsed_s, cpu, summary)
}

/// CPU seconds (user and system) of the child processes ended and waited for so far.
fn children_cpu_s() -> f64 {
    // SAFETY: getrusage(2) fills the zeroed struct it is given.
    let u = unsafe {
        let mut u: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_CHILDREN, &mut u);
        u
    };
    let s = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    s(u.ru_utime) + s(u.ru_stime)
}
