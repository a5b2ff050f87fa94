//! Holding the line under connection floods: 20,000 idle connections, then 5,000 concurrent
//! clients verifying eligibility, against the reference exchange with its default bounds. A probe
//! opens a new connection to `/healthz` every 100 ms throughout and records its latency; the
//! process's resident memory is read before, at the peak and after each flood.
//!
//! The exchange runs on its own runtime (its threads), the flood and the probe on theirs, all in
//! this process, so the memory figures are the process's (client sockets included) and the
//! probe's latency includes the client side. The open-file limit is raised to 65,536 where the
//! process may (as root in CI); with less, the idle flood holds what the limit allows.
//!
//! `cargo bench -p dx-e2e --bench connections` (or `just bench`). `DXSIM_BENCH_SECS` sets how
//! long each flood lasts (default 8, below the 10 s header-read timeout that closes idle
//! connections). Results go to stdout and to `<target>/dxsim-bench/connections.json`.

use dx_exchange::clock::{Clock, SystemClock};
use dx_exchange::codes::{FacilityTable, facility_code};
use dx_exchange::refdata::sample;
use dx_exchange::store::Durability;
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

const IDLE: usize = 20_000;
const CLIENTS: usize = 5_000;
const PERSONS: u64 = 500;

fn rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

/// Probes `/healthz` on a new connection every 100 ms until `stop`: the latencies, in ms.
fn probe(url: String, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<Vec<f64>> {
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let mut out = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let http = reqwest::Client::builder()
                    .pool_max_idle_per_host(0)
                    .timeout(Duration::from_secs(5))
                    .build()
                    .unwrap();
                let t = Instant::now();
                let ok = http
                    .get(format!("{url}/healthz"))
                    .send()
                    .await
                    .is_ok_and(|r| r.status().is_success());
                out.push(if ok {
                    t.elapsed().as_secs_f64() * 1e3
                } else {
                    f64::INFINITY
                });
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            out
        })
    })
}

fn summary(latencies: &[f64]) -> Value {
    let mut v = latencies.to_vec();
    v.sort_by(f64::total_cmp);
    let at = |p: f64| {
        v.get(((v.len() as f64 * p) as usize).min(v.len().saturating_sub(1)))
            .copied()
            .unwrap_or(0.0)
    };
    let failed = v.iter().filter(|x| x.is_infinite()).count();
    json!({"probes": v.len(), "failed": failed, "p50_ms": at(0.5), "p99_ms": at(0.99), "max_ms": v.last().copied().unwrap_or(0.0),
        "within_100ms": v.iter().all(|x| *x < 100.0)})
}

fn main() {
    let secs = std::env::var("DXSIM_BENCH_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(8u64);
    let max_connections = dx_exchange::connections::default_max_connections();
    // The exchange, on its own runtime and threads.
    let server_rt = dx_exchange::server::runtime().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let exchange =
        dx_exchange::Exchange::open(dir.path(), Durability::Normal, Arc::new(SystemClock)).unwrap();
    exchange.seed_sample(PERSONS, 11).unwrap();
    let admin_secret = exchange.admin_secret().to_owned();
    let running = server_rt.block_on(async {
        exchange
            .spawn(tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap())
            .unwrap()
    });
    let url = running.url();
    let addr = running.addr;
    let client_rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let token = client_rt.block_on(async {
        let client = dx_client::ExchangeClient::new(url.clone());
        let admin = client.token("admin", &admin_secret).await.unwrap().token;
        let clinic = format!(
            "facility:{}",
            facility_code(13, FacilityTable::Medical, 1, 1001)
        );
        client.token_for(&admin, &clinic).await.unwrap().token
    });
    let today = SystemClock.today_jst();
    let bodies: Arc<Vec<String>> = Arc::new(
        (0..PERSONS)
            .filter_map(|i| {
                let p = sample::person(11, i, today);
                let q = p.qualifications.iter().find(|q| q.valid_to.is_none())?.clone();
                Some(json!({"person": {"insurer_number": q.insurer_number, "symbol": q.symbol, "number": q.number, "branch": q.branch}}).to_string())
            })
            .collect(),
    );
    std::thread::sleep(Duration::from_millis(500));
    let idle_rss = rss_mb();

    // 1. Idle connections that never send a byte.
    let stop = Arc::new(AtomicBool::new(false));
    let probes = probe(url.clone(), stop.clone());
    let (held, idle_peak) = client_rt.block_on(async {
        let mut held = Vec::with_capacity(IDLE);
        let deadline = Instant::now() + Duration::from_secs(secs);
        for _ in 0..IDLE {
            match tokio::net::TcpStream::connect(addr).await {
                Ok(s) => held.push(s),
                Err(_) => break,
            }
            if Instant::now() > deadline {
                break;
            }
        }
        let opened = held.len();
        let mut peak = rss_mb();
        while Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(250)).await;
            peak = peak.max(rss_mb());
        }
        drop(held);
        (opened, peak)
    });
    stop.store(true, Ordering::Relaxed);
    let idle_probes = probes.join().unwrap();
    std::thread::sleep(Duration::from_secs(3));
    let idle_after = rss_mb();

    // 2. Concurrent clients verifying as fast as they can, each on a connection of its own.
    let stop = Arc::new(AtomicBool::new(false));
    let probes = probe(url.clone(), stop.clone());
    let (ok, shed, other) = (
        Arc::new(AtomicU64::new(0)),
        Arc::new(AtomicU64::new(0)),
        Arc::new(AtomicU64::new(0)),
    );
    let busy_peak = client_rt.block_on(async {
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(CLIENTS)
            .build()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(secs);
        let mut tasks = Vec::with_capacity(CLIENTS);
        for c in 0..CLIENTS {
            let (http, url, token, bodies) =
                (http.clone(), url.clone(), token.clone(), bodies.clone());
            let (ok, shed, other) = (ok.clone(), shed.clone(), other.clone());
            tasks.push(tokio::spawn(async move {
                let mut n = c;
                while Instant::now() < deadline {
                    n += 1;
                    let r = http
                        .post(format!("{url}/v1/eligibility/verify"))
                        .bearer_auth(&token)
                        .header("content-type", "application/json")
                        .body(bodies[n % bodies.len()].clone())
                        .send()
                        .await;
                    match r.map(|r| r.status().as_u16()) {
                        Ok(200) => ok.fetch_add(1, Ordering::Relaxed),
                        Ok(503) => {
                            let n = shed.fetch_add(1, Ordering::Relaxed);
                            // A shed client waits as Retry-After says, a second.
                            tokio::time::sleep(Duration::from_secs(1)).await;
                            n
                        }
                        _ => other.fetch_add(1, Ordering::Relaxed),
                    };
                }
            }));
        }
        let mut peak = rss_mb();
        while Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(250)).await;
            peak = peak.max(rss_mb());
        }
        for t in tasks {
            let _ = t.await;
        }
        peak
    });
    stop.store(true, Ordering::Relaxed);
    let busy_probes = probes.join().unwrap();
    std::thread::sleep(Duration::from_secs(3));
    let busy_after = rss_mb();

    let result = json!({
        "date": chrono::Utc::now().to_rfc3339(),
        "max_connections": max_connections,
        "rss_idle_mb": idle_rss,
        "idle_flood": {"connections_held": held, "seconds": secs, "healthz": summary(&idle_probes),
            "rss_peak_mb": idle_peak, "rss_after_mb": idle_after, "rss_after_over_idle": idle_after / idle_rss},
        "client_flood": {"clients": CLIENTS, "seconds": secs, "ok": ok.load(Ordering::Relaxed),
            "overloaded_503": shed.load(Ordering::Relaxed), "other": other.load(Ordering::Relaxed),
            "healthz": summary(&busy_probes), "rss_peak_mb": busy_peak, "rss_after_mb": busy_after,
            "rss_after_over_idle": busy_after / idle_rss},
    });
    println!("{}", serde_json::to_string_pretty(&result).unwrap());
    let target = std::env::var("CARGO_TARGET_DIR")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/../target").into());
    let out = std::path::Path::new(&target).join("dxsim-bench");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(
        out.join("connections.json"),
        serde_json::to_string_pretty(&result).unwrap(),
    )
    .unwrap();
    server_rt.block_on(async { running.stop().await.unwrap() });
}
