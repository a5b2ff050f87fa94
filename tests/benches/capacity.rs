//! Capacity-model speed: simulated arrivals per second, and the whole `dxsim capacity` of a
//! national weekday.
//!
//! `cargo bench -p dx-e2e --bench capacity` (or `just bench`). The rates come from a 1% sample of
//! `scenarios/national-weekday.toml` (`DXSIM_BENCH_CAP_SCALE` changes it); each service is
//! simulated once over the day at 64 workers (enough for every service with the built-in
//! service times), timed alone; then the whole model (sizing searches and replications) is timed.

use dx_capacity::{self as capacity, calibration::Calibration, rates::Rates};
use dx_model::route::Service;
use dx_population::{self as population, RunOptions};
use dx_scenario::Scenario;
use dx_workload as workload;
use serde_json::json;
use std::time::Instant;

fn main() {
    let scale: f64 = std::env::var("DXSIM_BENCH_CAP_SCALE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.01);
    let mut s = Scenario::load(std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../scenarios/national-weekday.toml"
    )))
    .unwrap();
    s.population.scale = dx_scenario::values::Scale::new(scale).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (pop, wl) = (dir.path().join("population"), dir.path().join("workload"));
    population::generate(&s, &pop, RunOptions::default()).unwrap();
    workload::generate(&s, &pop, &wl, workload::RunOptions::default()).unwrap();
    let rates = Rates::from_workload(&wl, scale).unwrap();
    let calibration: Calibration =
        serde_json::from_str(capacity::run::BUILT_IN_CALIBRATION).unwrap();
    let known = capacity::run::times_for(&s, &calibration);
    let times = |r| known(r).expect("a time for every route of the weekday");
    let (mut arrivals, mut secs) = (0u64, 0.0);
    for svc in Service::ALL {
        if let Some(m) = capacity::model::service_model(svc, &rates, &times, &s) {
            let t = Instant::now();
            let o = m.simulate(Some(64), 0..rates.minutes, 0..rates.minutes, 0, true);
            secs += t.elapsed().as_secs_f64();
            arrivals += o.arrivals;
        }
    }
    let out_dir = tempfile::tempdir().unwrap();
    let t = Instant::now();
    let report = capacity::run::run(&s, &rates, &calibration, out_dir.path()).unwrap();
    let whole = t.elapsed().as_secs_f64();
    let per_s = arrivals as f64 / secs;
    println!(
        "\ndxsim capacity benchmark — national weekday from a {scale} sample, {} arrivals a replication",
        arrivals
    );
    println!(
        "one replication, every service, one thread  {secs:>8.1} s {per_s:>14.0} simulated arrivals/s"
    );
    println!(
        "the whole model ({} replications + sizing)   {whole:>8.1} s   a national 30-day month ≈ {:.0} min",
        report.replications,
        whole * 30.0 / 60.0
    );
    let target = std::env::var("CARGO_TARGET_DIR")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/../target").into());
    let out = std::path::Path::new(&target).join("dxsim-bench");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(
        out.join("capacity.json"),
        serde_json::to_string_pretty(&json!({"sample_scale": scale, "arrivals": arrivals,
            "simulate_s": secs, "arrivals_per_s": per_s, "whole_model_s": whole,
            "replications": report.replications}))
        .unwrap(),
    )
    .unwrap();
}
