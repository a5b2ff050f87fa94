//! Holding the line under connection floods: 20,000 idle connections, then 5,000 concurrent
//! clients verifying eligibility, against the reference exchange with its default bounds. Two
//! probes each open a new connection to `/healthz` every 100 ms throughout and record their
//! latency — one on the API's listener, which the flood crowds, and one on the operations
//! listener (`--ops-addr`), which it does not; the exchange's resident memory is read before, at
//! the peak of and after each flood.
//!
//! Each side runs in a process of its own (this binary, re-run in a role), so the exchange's
//! memory and file descriptors are its own: the exchange, two processes holding 10,000 idle
//! connections each (a process here may open 20,000 files), and one running the 5,000 clients;
//! the probe runs in the parent.
//!
//! `cargo bench -p dx-e2e --bench connections` (or `just bench`). `DXSIM_BENCH_SECS` sets how
//! long each flood lasts (default 8, below the 10 s header-read timeout that closes idle
//! connections anyway). Results go to stdout and to `<target>/dxsim-bench/connections.json`.

use dx_exchange::clock::{Clock, SystemClock};
use dx_exchange::codes::{FacilityTable, facility_code};
use dx_exchange::refdata::sample;
use dx_exchange::store::Durability;
use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

const IDLE: usize = 20_000;
const IDLE_PROCESSES: usize = 2;
const CLIENTS: usize = 5_000;
const PERSONS: u64 = 500;
const ROLE: &str = "DXSIM_BENCH_ROLE";

fn secs() -> u64 {
    std::env::var("DXSIM_BENCH_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(8)
}

fn rss_mb(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

/// This binary again, in `role`, with `env`.
fn spawn(role: &str, env: &[(&str, String)]) -> Child {
    let mut c = Command::new(std::env::current_exe().unwrap());
    c.env(ROLE, role)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    for (k, v) in env {
        c.env(k, v);
    }
    c.spawn().unwrap()
}

fn last_line(child: Child) -> String {
    let out = child.wait_with_output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .last()
        .unwrap_or_default()
        .to_owned()
}

/// Role `server`: the exchange with its default bounds, until stdin closes.
fn server() {
    dx_exchange::connections::default_max_connections();
    let rt = dx_exchange::server::runtime().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let exchange =
        dx_exchange::Exchange::open(dir.path(), Durability::Normal, Arc::new(SystemClock)).unwrap();
    exchange.seed_sample(PERSONS, 11).unwrap();
    let secret = exchange.admin_secret().to_owned();
    let (running, ops_url) = rt.block_on(async {
        let ops = dx_exchange::server::bind(([127, 0, 0, 1], 0).into()).unwrap();
        let ops_url = format!("http://{}", ops.local_addr().unwrap());
        let running = exchange
            .with_ops_listener(ops)
            .spawn(dx_exchange::server::bind(([127, 0, 0, 1], 0).into()).unwrap())
            .unwrap();
        (running, ops_url)
    });
    println!("READY {} {secret} {ops_url}", running.url());
    let _ = std::io::stdin().read_to_end(&mut Vec::new());
    rt.block_on(async { running.stop().await.unwrap() });
}

/// Role `idle`: holds `DXSIM_BENCH_N` connections that never send a byte, for the flood's time.
fn idle() {
    dx_exchange::connections::default_max_connections();
    let addr: std::net::SocketAddr = std::env::var("DXSIM_BENCH_ADDR").unwrap().parse().unwrap();
    let n: usize = std::env::var("DXSIM_BENCH_N").unwrap().parse().unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let held = rt.block_on(async {
        let deadline = Instant::now() + Duration::from_secs(secs());
        let mut held = Vec::with_capacity(n);
        while held.len() < n && Instant::now() < deadline {
            match tokio::net::TcpStream::connect(addr).await {
                Ok(s) => held.push(s),
                Err(_) => tokio::time::sleep(Duration::from_millis(5)).await,
            }
        }
        let opened = held.len();
        tokio::time::sleep_until(deadline.into()).await;
        opened
    });
    println!("{held}");
}

/// Role `clients`: 5,000 clients verifying as fast as they can; a shed one waits its
/// Retry-After (a second). Prints ok, shed, other.
fn clients() {
    dx_exchange::connections::default_max_connections();
    let url = std::env::var("DXSIM_BENCH_URL").unwrap();
    let token = std::env::var("DXSIM_BENCH_TOKEN").unwrap();
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
    let rt = tokio::runtime::Runtime::new().unwrap();
    let counts = [(); 3].map(|_| Arc::new(AtomicU64::new(0)));
    rt.block_on(async {
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(CLIENTS)
            .build()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(secs());
        let mut tasks = Vec::with_capacity(CLIENTS);
        for c in 0..CLIENTS {
            let (http, url, token, bodies) =
                (http.clone(), url.clone(), token.clone(), bodies.clone());
            let counts = counts.clone();
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
                    let slot = match r.map(|r| r.status().as_u16()) {
                        Ok(200) => 0,
                        Ok(503) => 1,
                        _ => 2,
                    };
                    counts[slot].fetch_add(1, Ordering::Relaxed);
                    if slot == 1 {
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                }
            }));
        }
        for t in tasks {
            let _ = t.await;
        }
    });
    let c: Vec<u64> = counts.iter().map(|c| c.load(Ordering::Relaxed)).collect();
    println!("{} {} {}", c[0], c[1], c[2]);
}

/// Probes `/healthz` on a new connection every 100 ms and samples the exchange's memory until
/// `stop`: (latencies in ms, infinite for a failure; peak RSS in MB).
fn probe(url: String, pid: u32, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<(Vec<f64>, f64)> {
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        // No idle connection is kept: every probe opens a new one.
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(0)
            .timeout(Duration::from_secs(5))
            .build()
            .unwrap();
        rt.block_on(async move {
            let (mut out, mut peak) = (Vec::new(), 0.0f64);
            while !stop.load(Ordering::Relaxed) {
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
                peak = peak.max(rss_mb(pid));
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            (out, peak)
        })
    })
}

fn summary(latencies: &[f64]) -> Value {
    let mut v = latencies.to_vec();
    v.sort_by(f64::total_cmp);
    let at = |p: f64| {
        let i = ((v.len() as f64 * p) as usize).min(v.len().saturating_sub(1));
        v.get(i).copied().filter(|x| x.is_finite())
    };
    let failed = v.iter().filter(|x| x.is_infinite()).count();
    json!({"probes": v.len(), "failed": failed, "p50_ms": at(0.5), "p99_ms": at(0.99),
        "max_ms": v.last().copied().filter(|x| x.is_finite()),
        "all_within_100ms": failed == 0 && v.iter().all(|x| *x < 100.0)})
}

/// Runs `flood` while probing both listeners: (probe summaries of the API's and the operations
/// listener, peak RSS, RSS 4 s after).
fn flooded<T>(
    (url, ops_url): (&str, &str),
    pid: u32,
    flood: impl FnOnce() -> T,
) -> (T, Value, f64, f64) {
    let stop = Arc::new(AtomicBool::new(false));
    let probes = probe(url.to_owned(), pid, stop.clone());
    let ops_probes = probe(ops_url.to_owned(), pid, stop.clone());
    let out = flood();
    stop.store(true, Ordering::Relaxed);
    let (latencies, peak) = probes.join().unwrap();
    let (ops_latencies, ops_peak) = ops_probes.join().unwrap();
    std::thread::sleep(Duration::from_secs(4));
    let probes =
        json!({"api_listener": summary(&latencies), "ops_listener": summary(&ops_latencies)});
    (out, probes, peak.max(ops_peak), rss_mb(pid))
}

fn main() {
    match std::env::var(ROLE).as_deref() {
        Ok("server") => return server(),
        Ok("idle") => return idle(),
        Ok("clients") => return clients(),
        _ => {}
    }
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let mut server = spawn("server", &[]);
    let pid = server.id();
    let mut ready = String::new();
    BufReader::new(server.stdout.take().unwrap())
        .read_line(&mut ready)
        .unwrap();
    let mut parts = ready.split_whitespace().skip(1);
    let (url, secret, ops_url) = (
        parts.next().unwrap().to_owned(),
        parts.next().unwrap().to_owned(),
        parts.next().unwrap().to_owned(),
    );
    let addr = url.trim_start_matches("http://").to_owned();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let token = rt.block_on(async {
        let client = dx_client::ExchangeClient::new(url.clone());
        let admin = client.token("admin", &secret).await.unwrap().token;
        let clinic = format!(
            "facility:{}",
            facility_code(13, FacilityTable::Medical, 1, 1001)
        );
        client.token_for(&admin, &clinic).await.unwrap().token
    });
    // The idle level: the exchange at rest after serving a little (16 clients for 2 s, verifying
    // an insurance number nobody holds).
    let unknown = json!({"person": {"insurer_number": dx_exchange::codes::insurer_number(Some(6), 13, 990), "symbol": "1", "number": "2", "branch": "00"}}).to_string();
    rt.block_on(async {
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(2);
        let tasks: Vec<_> = (0..16)
            .map(|_| {
                let (http, url, token) = (http.clone(), url.clone(), token.clone());
                let unknown = unknown.clone();
                tokio::spawn(async move {
                    while Instant::now() < deadline {
                        let _ = http
                            .post(format!("{url}/v1/eligibility/verify"))
                            .bearer_auth(&token)
                            .header("content-type", "application/json")
                            .body(unknown.clone())
                            .send()
                            .await;
                    }
                })
            })
            .collect();
        for t in tasks {
            let _ = t.await;
        }
    });
    std::thread::sleep(Duration::from_secs(2));
    let idle_rss = rss_mb(pid);

    let (held, idle_probes, idle_peak, idle_after) = flooded((&url, &ops_url), pid, || {
        let per = (IDLE / IDLE_PROCESSES).to_string();
        let children: Vec<Child> = (0..IDLE_PROCESSES)
            .map(|_| {
                spawn(
                    "idle",
                    &[
                        ("DXSIM_BENCH_ADDR", addr.clone()),
                        ("DXSIM_BENCH_N", per.clone()),
                    ],
                )
            })
            .collect();
        children
            .into_iter()
            .map(|c| last_line(c).parse::<usize>().unwrap_or(0))
            .sum::<usize>()
    });
    let (counts, busy_probes, busy_peak, busy_after) = flooded((&url, &ops_url), pid, || {
        let c = spawn(
            "clients",
            &[
                ("DXSIM_BENCH_URL", url.clone()),
                ("DXSIM_BENCH_TOKEN", token.clone()),
            ],
        );
        let line = last_line(c);
        let n: Vec<u64> = line
            .split_whitespace()
            .filter_map(|x| x.parse().ok())
            .collect();
        (
            n.first().copied().unwrap_or(0),
            n.get(1).copied().unwrap_or(0),
            n.get(2).copied().unwrap_or(0),
        )
    });
    drop(server.stdin.take());
    let _ = server.wait();

    let result = json!({
        "date": chrono::Utc::now().to_rfc3339(),
        "seconds_per_flood": secs(),
        "rss_idle_mb": idle_rss,
        "idle_flood": {"connections_opened": held, "healthz": idle_probes,
            "rss_peak_mb": idle_peak, "rss_after_mb": idle_after, "rss_after_over_idle": idle_after / idle_rss},
        "client_flood": {"clients": CLIENTS, "ok": counts.0, "overloaded_503": counts.1, "other": counts.2,
            "healthz": busy_probes, "rss_peak_mb": busy_peak, "rss_after_mb": busy_after,
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
    println!("written: {}", out.join("connections.json").display());
}
