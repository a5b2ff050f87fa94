//! The driver's own ceiling: its sustained request rate on `/healthz` against a plain reqwest
//! loop with the same concurrency, on the same in-process server, in the same run. The ratio is
//! the figure to quote (absolute rates drift on a shared 2-core machine).
//!
//! `cargo bench -p dx-e2e --bench driver` (or `just bench`). `DXSIM_BENCH_SECS` (default 5) bounds
//! the raw loop; `DXSIM_BENCH_WORKERS` (default 64) is the concurrency of both. The driver replays
//! as many probes as the raw loop managed, all due at once (an open model saturating its users),
//! at most 200,000. Results go to stdout and `<target>/dxsim-bench/driver.json`.

use dx_drive::{self as drive, DriveOptions, ServerClock};
use dx_exchange::clock::SystemClock;
use dx_exchange::store::Durability;
use dx_model::event::{Event, Flow, Payload};
use dx_scenario::Scenario;
use dx_workload as workload;
use serde_json::json;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

const MAX_REQUESTS: u64 = 200_000;

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[tokio::main]
async fn main() {
    let secs = env("DXSIM_BENCH_SECS", 5);
    let workers = env("DXSIM_BENCH_WORKERS", 64) as usize;
    let dir = tempfile::tempdir().unwrap();
    let exchange = dx_exchange::Exchange::open(
        &dir.path().join("store"),
        Durability::Normal,
        Arc::new(SystemClock),
    )
    .unwrap();
    let admin_secret = exchange.admin_secret().to_owned();
    let running = exchange
        .spawn(tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap())
        .unwrap();
    let url = running.url();

    // Raw client: `workers` loops of GET /healthz, bounded in time and count.
    let http = reqwest::Client::new();
    let sent = Arc::new(AtomicU64::new(0));
    let ok = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(secs);
    let started = Instant::now();
    let tasks: Vec<_> = (0..workers)
        .map(|_| {
            let (http, url, sent, ok) = (http.clone(), url.clone(), sent.clone(), ok.clone());
            tokio::spawn(async move {
                while Instant::now() < deadline
                    && sent.fetch_add(1, Ordering::Relaxed) < MAX_REQUESTS
                {
                    if let Ok(r) = http.get(format!("{url}/healthz")).send().await {
                        if r.status().is_success() && r.bytes().await.is_ok() {
                            ok.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let raw_s = started.elapsed().as_secs_f64();
    let raw_ok = ok.load(Ordering::Relaxed);
    let raw_rate = raw_ok as f64 / raw_s;

    // The driver: as many probes, all due at the period's start.
    let mut s = Scenario::national(0.001);
    s.name = dx_scenario::Name::new("driver-bench").unwrap();
    s.period.hours = dx_scenario::values::Hours::new(1.0).unwrap();
    let start_ms = workload::flows::jst_ms(s.period.start);
    let n = raw_ok.clamp(1, MAX_REQUESTS);
    let events: Vec<Event> = (0..n)
        .map(|i| Event {
            id: i,
            at_ms: start_ms,
            flow: Flow::Visit,
            payload: Payload::Healthz,
            sex: dx_exchange::wire::Sex::Female,
            ..Event::default()
        })
        .collect();
    let wl = dir.path().join("workload");
    workload::write_events(&s, &wl, events).unwrap();
    let opts = DriveOptions {
        targets: vec![url.clone()],
        admin_secret,
        schedule: std::sync::Arc::new(drive::Schedule::new(s.period.start, 1.0)),
        max_in_flight: workers,
        out: dir.path().join("out"),
        server_clock: ServerClock::Real,
        progress: false,
        shard: None,
        start: drive::Start::Now,
        crashes_supervised: false,
    };
    let summary = drive::drive(&s, &wl, &opts).await.unwrap();
    let h = &summary.routes["healthz"];
    let driver_rate = h.ok as f64 / summary.elapsed_s;
    running.stop().await.unwrap();

    let ratio = driver_rate / raw_rate;
    println!(
        "\ndxsim driver benchmark — GET /healthz, {workers} concurrent, same server, same run"
    );
    println!("raw reqwest loop   {raw_ok:>9} requests in {raw_s:>6.1} s  {raw_rate:>10.0} req/s");
    println!(
        "dxsim drive        {:>9} requests in {:>6.1} s  {driver_rate:>10.0} req/s   ratio {ratio:.2}   (errors {}, driver lateness p99 {:.1} ms)",
        h.ok, summary.elapsed_s, h.errors, summary.lateness.p99_ms
    );
    let target = std::env::var("CARGO_TARGET_DIR")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/../target").into());
    let out = std::path::Path::new(&target).join("dxsim-bench");
    std::fs::create_dir_all(&out).unwrap();
    let result = json!({"workers": workers, "raw_requests": raw_ok, "raw_s": raw_s, "raw_per_s": raw_rate,
        "driver_requests": h.ok, "driver_s": summary.elapsed_s, "driver_per_s": driver_rate, "ratio": ratio});
    std::fs::write(
        out.join("driver.json"),
        serde_json::to_string_pretty(&result).unwrap(),
    )
    .unwrap();
}
