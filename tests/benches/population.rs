//! Population generation and import speed, in persons per second.
//!
//! `cargo bench -p dx-e2e --bench population` (or `just bench`). `DXSIM_BENCH_POP_SCALE` sets the
//! share of Japan generated (default 0.01, ≈1.24 M persons); every core is used for generation;
//! the import goes into a fresh store with full durability, as `dxsim serve --population` does:
//! the SQLite file, then a PostgreSQL database (persons streamed with `COPY`; see
//! `common/postgres.rs` for the server).

#[path = "common/postgres.rs"]
mod postgres_server;

use dx_exchange::clock::SystemClock;
use dx_exchange::store::Durability;
use dx_population::{self as population, RunOptions};
use dx_scenario::Scenario;
use serde_json::json;
use std::sync::Arc;
use std::time::Instant;

fn main() {
    let scale: f64 = std::env::var("DXSIM_BENCH_POP_SCALE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.01);
    let s = Scenario::national(scale);
    let pop = tempfile::tempdir().unwrap();
    let opts = RunOptions::default();
    let t0 = Instant::now();
    let (manifest, _) = population::generate(&s, pop.path(), opts).unwrap();
    let generate_s = t0.elapsed().as_secs_f64();

    let data = tempfile::tempdir().unwrap();
    let exchange =
        dx_exchange::Exchange::open(data.path(), Durability::Full, Arc::new(SystemClock)).unwrap();
    let t1 = Instant::now();
    let done = population::import::import_fresh(pop.path(), exchange.store(), false).unwrap();
    let import_s = t1.elapsed().as_secs_f64();

    drop(exchange);
    // The same population into PostgreSQL.
    let server = postgres_server::BenchServer::start();
    let copy = server.as_ref().map(|server| {
        let store = dx_exchange::store::ScratchStore::postgres(&server.url).unwrap();
        let exchange = dx_exchange::Exchange::open_at(
            &store.location,
            Durability::Full,
            Arc::new(SystemClock),
            dx_exchange::admission::Limits::default(),
        )
        .unwrap();
        let t = Instant::now();
        let done = population::import::import_fresh(pop.path(), exchange.store(), false).unwrap();
        let secs = t.elapsed().as_secs_f64();
        (secs, done.persons as f64 / secs)
    });

    let gen_rate = manifest.persons as f64 / generate_s;
    let import_rate = done.persons as f64 / import_s;
    println!(
        "\ndxsim population benchmark — scale {scale} ({} persons), {} threads",
        manifest.persons, opts.threads
    );
    println!(
        "generate (Parquet)            {:>10.1} s {:>12.0} persons/s   all of Japan ≈ {:.0} s",
        generate_s,
        gen_rate,
        123.8e6 / gen_rate
    );
    println!(
        "import into SQLite (full)     {:>10.1} s {:>12.0} persons/s",
        import_s, import_rate
    );
    if let Some((secs, rate)) = copy {
        println!(
            "import into PostgreSQL (COPY) {:>10.1} s {:>12.0} persons/s   {:.2} of SQLite's",
            secs,
            rate,
            rate / import_rate
        );
    }
    let target = std::env::var("CARGO_TARGET_DIR")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/../target").into());
    let out = std::path::Path::new(&target).join("dxsim-bench");
    std::fs::create_dir_all(&out).unwrap();
    let result = json!({"scale": scale, "persons": manifest.persons, "threads": opts.threads,
        "generate_s": generate_s, "generate_persons_per_s": gen_rate, "import_s": import_s, "import_persons_per_s": import_rate,
        "postgres_copy_s": copy.map(|c| c.0), "postgres_copy_persons_per_s": copy.map(|c| c.1)});
    std::fs::write(
        out.join("population.json"),
        serde_json::to_string_pretty(&result).unwrap(),
    )
    .unwrap();
}
