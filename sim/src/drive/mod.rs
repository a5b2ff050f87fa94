//! The driver: replays a workload's event stream against any server of the exchange's API, on an
//! open model, with goose as the load engine.
//!
//! Goose runs `max_in_flight` users; each pulls the next due request from the dispatcher, which
//! releases every event at its scheduled time (simulated time ÷ speedup) whether or not earlier
//! requests have returned. A request due while every user is busy waits, and that wait is part of
//! its latency, because latency is measured from the intended send time (no coordinated
//! omission); the driver's own lateness (actual − intended send) is reported beside it. Results
//! that later events need (access codes, prescription ids) pass between users through a shared
//! table; an event whose prerequisite failed is counted as skipped, not sent.

pub mod measure;
pub mod requests;

use crate::client::ExchangeClient;
use crate::workload;
use anyhow::Context as _;
use chrono::{DateTime, Utc};
use dx_exchange::wire::PractitionerKeyRequest;
use dx_exchange::wire::endpoints::Method;
use dx_model::event::Event;
use dx_model::route::Route;
use dx_model::rundir;
use dx_model::rundir::summary::{RunInfo, Summary};
use goose::config::GooseConfiguration;
use goose::prelude::*;
use measure::{Class, Recorder, Sample};
use requests::Outcome;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};
use tokio::sync::Notify;

/// What the target's clock follows.
#[derive(Debug, Clone)]
pub enum ServerClock {
    /// The wall clock (a vendor's server, or `dxsim serve`).
    Real,
    /// The simulated time of the replay (the in-process exchange of `dxsim run`).
    Replay(Arc<ReplayClock>),
}

/// Simulated time that starts moving when the replay starts, at the replay's speed: the clock
/// `dxsim run` gives the exchange so that consent and refill windows see the scenario's time.
#[derive(Debug)]
pub struct ReplayClock {
    sim_start: DateTime<Utc>,
    speedup: f64,
    started: OnceLock<Instant>,
}

impl ReplayClock {
    pub fn new(sim_start: DateTime<Utc>, speedup: f64) -> Self {
        Self {
            sim_start,
            speedup,
            started: OnceLock::new(),
        }
    }

    fn start(&self, at: Instant) {
        let _ = self.started.set(at);
    }
}

impl dx_exchange::clock::Clock for ReplayClock {
    fn now(&self) -> DateTime<Utc> {
        let elapsed = self.started.get().map_or(0.0, |t| {
            Instant::now().saturating_duration_since(*t).as_secs_f64()
        });
        self.sim_start + chrono::TimeDelta::microseconds((elapsed * self.speedup * 1e6) as i64)
    }
}

impl ServerClock {
    fn now(&self) -> DateTime<Utc> {
        match self {
            ServerClock::Real => Utc::now(),
            ServerClock::Replay(c) => dx_exchange::clock::Clock::now(c.as_ref()),
        }
    }
}

/// How a replay runs.
#[derive(Debug, Clone)]
pub struct DriveOptions {
    /// Base URL of the target.
    pub target: String,
    /// The target's admin secret (it issues the facilities' credentials).
    pub admin_secret: String,
    pub speedup: f64,
    pub max_in_flight: usize,
    pub out: PathBuf,
    pub server_clock: ServerClock,
    pub progress: bool,
}

/// A principal's token, refreshed before it expires.
struct TokenSlot {
    principal: String,
    secret: String,
    token: tokio::sync::Mutex<(String, DateTime<Utc>)>,
}

enum Slot {
    Pending,
    Done(Outcome),
    Failed,
}

/// State shared by the dispatcher and the goose users.
struct Shared {
    rx: tokio::sync::Mutex<tokio::sync::mpsc::Receiver<Job>>,
    results: Mutex<HashMap<u64, Slot>>,
    settled: Notify,
    tokens: HashMap<String, TokenSlot>,
    recorder: Mutex<Recorder>,
    clock: ServerClock,
    client: ExchangeClient,
    seed: u64,
    /// The real instant of the period's start, fixed once every goose user is waiting for work.
    t0: OnceLock<Instant>,
    users_ready: std::sync::atomic::AtomicUsize,
    all_ready: Notify,
    refreshes: std::sync::atomic::AtomicU64,
    bar: indicatif::ProgressBar,
}

/// A request released by the dispatcher.
struct Job {
    events: Vec<Event>,
    intended: Instant,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// How long a request waits for the earlier one it needs, beyond which it is skipped.
const DEPENDENCY_WAIT: Duration = Duration::from_secs(30);

impl Shared {
    async fn needed(&self, id: u64) -> Option<Outcome> {
        let deadline = tokio::time::Instant::now() + DEPENDENCY_WAIT;
        loop {
            let notified = self.settled.notified();
            match lock(&self.results).get(&id) {
                Some(Slot::Done(o)) => return Some(o.clone()),
                Some(Slot::Failed) | None => return None,
                Some(Slot::Pending) => {}
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return None;
            }
        }
    }

    fn settle(&self, id: u64, slot: Slot) {
        lock(&self.results).insert(id, slot);
        self.settled.notify_waiters();
    }

    async fn token(&self, principal: &str) -> anyhow::Result<String> {
        let slot = self
            .tokens
            .get(principal)
            .with_context(|| format!("no credentials for {principal}"))?;
        let mut t = slot.token.lock().await;
        if t.1 - self.clock.now() < chrono::TimeDelta::minutes(5) {
            let fresh = self.client.token(&slot.principal, &slot.secret).await?;
            self.refreshes
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            *t = (fresh.token, fresh.expires_at);
        }
        Ok(t.0.clone())
    }

    async fn serve_one(&self, user: &mut GooseUser, job: Job) {
        let started = Instant::now();
        let late = started.saturating_duration_since(job.intended);
        let second = self.t0.get().map_or(0, |t0| {
            job.intended.saturating_duration_since(*t0).as_secs()
        });
        lock(&self.recorder).record_lateness(second, late.as_micros() as u64);
        let first = &job.events[0];
        let prepared = if first.route().is_batched() {
            Ok(requests::batch(&job.events, self.clock.now()))
        } else {
            let needed = match first.needs {
                Some(n) => match self.needed(n).await {
                    Some(o) => Some(o),
                    None => {
                        lock(&self.recorder).skip(first.route());
                        self.settle(first.id, Slot::Failed);
                        self.bar.inc(1);
                        return;
                    }
                },
                None => None,
            };
            let out = requests::prepare(first, needed.as_ref(), self.clock.now(), self.seed)
                .map(|p| (p, needed));
            match out {
                Ok((p, n)) => {
                    let result = self.send(user, &job, p, started).await;
                    if first.is_needed() {
                        let slot = match result {
                            Some(body) => {
                                Slot::Done(requests::outcome(first.route(), &body, n.as_ref()))
                            }
                            None => Slot::Failed,
                        };
                        self.settle(first.id, slot);
                    }
                    self.bar.inc(1);
                    return;
                }
                Err(e) => Err(e),
            }
        };
        match prepared {
            Ok(p) => {
                self.send(user, &job, p, started).await;
            }
            Err(e) => {
                tracing::warn!("event {}: {e:#}", first.id);
                lock(&self.recorder).skip(first.route());
                self.settle(first.id, Slot::Failed);
            }
        }
        self.bar.inc(job.events.len() as u64);
    }

    /// Sends one request through goose and records it; returns the body of a 2xx answer.
    async fn send(
        &self,
        user: &mut GooseUser,
        job: &Job,
        p: requests::Prepared,
        started: Instant,
    ) -> Option<Vec<u8>> {
        // The probe is anonymous; every API route carries the facility's token.
        let token = if p.route == Route::Healthz {
            None
        } else {
            match self.token(&p.principal).await {
                Ok(t) => Some(t),
                Err(e) => {
                    tracing::warn!("token for {}: {e:#}", p.principal);
                    self.record(job, p.route, Class::Transport, started);
                    return None;
                }
            }
        };
        let method = match p.method {
            Method::Post => GooseMethod::Post,
            Method::Get => GooseMethod::Get,
        };
        let builder = match user.get_request_builder(&method, &p.path) {
            Ok(b) => b,
            Err(e) => {
                tracing::warn!("{}: {e}", p.path);
                self.record(job, p.route, Class::Transport, started);
                return None;
            }
        };
        let mut builder = match token {
            Some(t) => builder.bearer_auth(t),
            None => builder,
        };
        if let Some(body) = p.body {
            builder = builder
                .header("content-type", "application/json")
                .body(body);
        }
        let request = GooseRequest::builder()
            .method(method)
            .path(p.path.as_str())
            .name(p.route.as_str())
            .set_request_builder(builder)
            .build();
        let (class, body) = match user.request(request).await {
            Ok(g) => match g.response {
                Ok(resp) => {
                    let class = Class::of_status(resp.status().as_u16());
                    (class, resp.bytes().await.map(|b| b.to_vec()).ok())
                }
                Err(_) => (Class::Transport, None),
            },
            Err(_) => (Class::Transport, None),
        };
        self.record(job, p.route, class, started);
        match (class, body) {
            (Class::Ok, Some(b)) => Some(b),
            (Class::Refused, Some(b)) => {
                let code = serde_json::from_slice::<serde_json::Value>(&b)
                    .ok()
                    .and_then(|v| v["error"]["code"].as_str().map(str::to_owned))
                    .unwrap_or_else(|| "unknown".into());
                lock(&self.recorder).refusal(p.route, code);
                None
            }
            _ => None,
        }
    }

    fn record(&self, job: &Job, route: Route, class: Class, started: Instant) {
        let done = Instant::now();
        lock(&self.recorder).record(Sample {
            route,
            class,
            from_intended_us: done.saturating_duration_since(job.intended).as_micros() as u64,
            service_us: done.saturating_duration_since(started).as_micros() as u64,
            second: self.t0.get().map_or(0, |t0| {
                job.intended.saturating_duration_since(*t0).as_secs()
            }),
            items: job.events.len() as u32,
        });
    }
}

/// Principals that act in a stream (facilities, municipalities, persons on the portal), and
/// which facilities sign.
#[derive(Default)]
struct Actors {
    principals: BTreeSet<String>,
    prescribers: BTreeSet<String>,
    pharmacies: BTreeSet<String>,
    events: u64,
}

fn actors(dir: &Path) -> anyhow::Result<Actors> {
    let mut a = Actors::default();
    for batch in workload::stream(dir)? {
        for e in batch? {
            a.events += 1;
            match e.route() {
                Route::Register => {
                    a.prescribers.insert(e.facility.clone());
                }
                Route::Dispense => {
                    a.pharmacies.insert(e.facility.clone());
                }
                Route::Healthz => continue,
                _ => {}
            }
            a.principals.insert(e.principal());
        }
    }
    Ok(a)
}

/// Principals set up at once: a run with many persons on the portal has thousands.
const SETUP_WORKERS: usize = 16;

/// Issues every acting principal's credentials and registers the driver's signing keys, a few
/// principals at a time, with a progress bar when there are many.
async fn setup(
    client: &ExchangeClient,
    admin_secret: &str,
    a: &Actors,
    seed: u64,
    progress: bool,
) -> anyhow::Result<HashMap<String, TokenSlot>> {
    let admin = client
        .token("admin", admin_secret)
        .await
        .context("the target refused the admin secret")?
        .token;
    let bar = if progress && a.principals.len() > 1_000 {
        indicatif::ProgressBar::new(a.principals.len() as u64)
    } else {
        indicatif::ProgressBar::hidden()
    };
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "credentials {human_pos}/{human_len} principals [{bar:40}] eta {eta}",
        )
        .expect("template"),
    );
    let shared = std::sync::Arc::new((
        client.clone(),
        admin,
        a.prescribers.clone(),
        a.pharmacies.clone(),
        bar.clone(),
    ));
    let principals: Vec<String> = a.principals.iter().cloned().collect();
    let mut workers = tokio::task::JoinSet::new();
    for k in 0..SETUP_WORKERS {
        let shared = shared.clone();
        let mine: Vec<String> = principals
            .iter()
            .skip(k)
            .step_by(SETUP_WORKERS)
            .cloned()
            .collect();
        workers.spawn(async move {
            let (client, admin, prescribers, pharmacies, bar) = &*shared;
            let mut slots = Vec::with_capacity(mine.len());
            for principal in mine {
                let slot =
                    setup_one(client, admin, &principal, (prescribers, pharmacies), seed).await?;
                slots.push((principal, slot));
                bar.inc(1);
            }
            anyhow::Ok(slots)
        });
    }
    let mut tokens = HashMap::new();
    while let Some(done) = workers.join_next().await {
        tokens.extend(done.context("a setup task panicked")??);
    }
    bar.finish_and_clear();
    Ok(tokens)
}

/// One principal's credentials and first token; a prescriber's or pharmacy's signing key.
async fn setup_one(
    client: &ExchangeClient,
    admin: &str,
    principal: &str,
    (prescribers, pharmacies): (&BTreeSet<String>, &BTreeSet<String>),
    seed: u64,
) -> anyhow::Result<TokenSlot> {
    let cred = client
        .credentials(admin, principal)
        .await
        .with_context(|| format!("issuing credentials for {principal}"))?;
    let t = client.token(&cred.principal, &cred.secret).await?;
    let f = principal.strip_prefix("facility:").unwrap_or("");
    for (set, pharmacist) in [(prescribers, false), (pharmacies, true)] {
        if set.contains(f) {
            let key = requests::signing_key(seed, f, pharmacist);
            let req = PractitionerKeyRequest {
                practitioner_id: requests::practitioner_id(f, pharmacist),
                public_key: dx_exchange::wire::canonical::encode_public_key(&key.verifying_key()),
            };
            client
                .put_practitioner_key(&t.token, &req)
                .await
                .with_context(|| format!("registering the signing key of {f}"))?;
        }
    }
    Ok(TokenSlot {
        principal: cred.principal,
        secret: cred.secret,
        token: tokio::sync::Mutex::new((t.token, t.expires_at)),
    })
}

/// Replays the workload in `dir` against `opts.target`; writes the results into `opts.out` and
/// returns the summary.
pub async fn drive(
    scenario: &dx_scenario::Scenario,
    dir: &Path,
    opts: &DriveOptions,
) -> anyhow::Result<Summary> {
    let manifest = workload::read_manifest(dir)?;
    std::fs::create_dir_all(&opts.out)
        .with_context(|| format!("{} is not writable", opts.out.display()))?;
    let client = ExchangeClient::new(&opts.target);
    let a = actors(dir)?;
    let tokens = setup(
        &client,
        &opts.admin_secret,
        &a,
        scenario.seed,
        opts.progress,
    )
    .await?;

    let (tx, rx) = tokio::sync::mpsc::channel::<Job>(opts.max_in_flight.max(1) * 4);
    let bar = if opts.progress {
        indicatif::ProgressBar::new(a.events)
    } else {
        indicatif::ProgressBar::hidden()
    };
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "replay {human_pos}/{human_len} events [{bar:40}] {per_sec} eta {eta}",
        )
        .expect("template"),
    );
    let shared = Arc::new(Shared {
        rx: tokio::sync::Mutex::new(rx),
        results: Mutex::new(HashMap::new()),
        settled: Notify::new(),
        tokens,
        recorder: Mutex::new(Recorder::default()),
        clock: opts.server_clock.clone(),
        client,
        seed: scenario.seed,
        t0: OnceLock::new(),
        users_ready: std::sync::atomic::AtomicUsize::new(0),
        all_ready: Notify::new(),
        refreshes: std::sync::atomic::AtomicU64::new(0),
        bar: bar.clone(),
    });

    let period_start_ms = workload::flows::jst_ms(scenario.period.start);
    let speedup = opts.speedup;
    let dispatch_shared = shared.clone();
    let dispatch_dir = dir.to_path_buf();
    let users_wanted = opts.max_in_flight.max(1);
    let replay_clock = opts.server_clock.clone();
    let dispatcher = tokio::spawn(async move {
        // The replay starts once goose has launched every user (or after 10 s), so the first
        // events are not late because users were still starting.
        let _ = tokio::time::timeout(
            Duration::from_secs(10),
            dispatch_shared.all_ready.notified(),
        )
        .await;
        let t0 = Instant::now() + Duration::from_millis(20);
        let _ = dispatch_shared.t0.set(t0);
        if let ServerClock::Replay(c) = &replay_clock {
            c.start(t0);
        }
        dispatch(
            &dispatch_dir,
            period_start_ms,
            speedup,
            t0,
            tx,
            &dispatch_shared,
        )
        .await
    });

    let report = opts.out.join("goose-report.html");
    let users = opts.max_in_flight.max(1).to_string();
    let launch_rate = (opts.max_in_flight.max(1) * 20).to_string();
    let config = GooseConfiguration::parse_args_default(&[
        "--host",
        opts.target.as_str(),
        "--users",
        users.as_str(),
        "--increase-rate",
        launch_rate.as_str(),
        "--iterations",
        "1",
        "--report-file",
        report.to_str().context("output path is not UTF-8")?,
        "--no-print-metrics",
        "--no-error-summary",
        "--quiet",
    ])?;
    let worker = shared.clone();
    let transaction = Transaction::new(Arc::new(move |user: &mut GooseUser| {
        let shared = worker.clone();
        Box::pin(async move {
            let ready = shared
                .users_ready
                .fetch_add(1, std::sync::atomic::Ordering::SeqCst)
                + 1;
            if ready == users_wanted {
                shared.all_ready.notify_one();
            }
            loop {
                let job = shared.rx.lock().await.recv().await;
                let Some(job) = job else { break };
                shared.serve_one(user, job).await;
            }
            Ok(())
        })
    }))
    .set_name("replay");
    GooseAttack::initialize_with_config(config)?
        .register_scenario(scenario!("replay").register_transaction(transaction))
        .execute()
        .await
        .context("goose")?;
    // The attack ends when every user has seen the stream close, or when goose was stopped
    // (Ctrl-C): then the dispatcher's sends fail and it stops too.
    shared.rx.lock().await.close();
    let dispatched = dispatcher.await.context("dispatcher")??;
    // The replay's own duration, from its first scheduled instant to its last answer.
    let elapsed = shared.t0.get().map_or(0.0, |t0| {
        Instant::now().saturating_duration_since(*t0).as_secs_f64()
    });
    bar.finish_and_clear();

    let info = RunInfo {
        scenario: scenario.name.to_string(),
        target: opts.target.clone(),
        speedup,
        period_start: manifest.period_start.clone(),
        period_end: manifest.period_end.clone(),
        events: dispatched,
        max_in_flight: opts.max_in_flight,
        interrupted: goose::is_killswitch_triggered(),
    };
    let recorder = lock(&shared.recorder);
    let mut summary = recorder.summary(&scenario.slo, elapsed, info);
    summary.totals.token_refreshes = shared.refreshes.load(std::sync::atomic::Ordering::Relaxed);
    recorder.write_files(&opts.out)?;
    let calibration = recorder.calibration(format!(
        "dxsim drive of {} against {} ({} → {}, {speedup}×)",
        scenario.name, opts.target, manifest.period_start, manifest.period_end
    ));
    rundir::write(&opts.out, &calibration)?;
    rundir::write(&opts.out, &summary)?;
    Ok(summary)
}

/// Sleeps until `t`, waking every 100 ms to see whether goose was stopped (Ctrl-C); returns
/// false if it was.
async fn wait_until(t: Instant) -> bool {
    loop {
        if goose::is_killswitch_triggered() {
            return false;
        }
        let now = Instant::now();
        if now >= t {
            return true;
        }
        tokio::time::sleep((t - now).min(Duration::from_millis(100))).await;
    }
}

/// Releases the batched events due at one moment, one request per route and principal (split
/// at the batch limit); false if the replay was stopped.
async fn release_batches(
    batches: BTreeMap<String, Vec<Event>>,
    intended: Instant,
    tx: &tokio::sync::mpsc::Sender<Job>,
    released: &mut u64,
) -> bool {
    if !wait_until(intended).await {
        return false;
    }
    for (_, mut group) in batches {
        while !group.is_empty() {
            let rest = group.split_off(group.len().min(dx_exchange::wire::MAX_BATCH_VERIFY));
            let part = std::mem::replace(&mut group, rest);
            *released += part.len() as u64;
            let job = Job {
                events: part,
                intended,
            };
            if tx.send(job).await.is_err() {
                return false;
            }
        }
    }
    true
}

/// Releases the events at their scheduled times; returns how many were released.
async fn dispatch(
    dir: &Path,
    period_start_ms: i64,
    speedup: f64,
    t0: Instant,
    tx: tokio::sync::mpsc::Sender<Job>,
    shared: &Shared,
) -> anyhow::Result<u64> {
    let due = |at_ms: i64| {
        let sim = (at_ms - period_start_ms).max(0) as f64 / 1000.0;
        t0 + Duration::from_secs_f64(sim / speedup)
    };
    // Batch pre-checks and municipal uploads due at the same moment travel as one request per
    // route and principal.
    let mut batches: BTreeMap<String, Vec<Event>> = BTreeMap::new();
    let mut batch_at = i64::MIN;
    let mut released = 0u64;
    for chunk in workload::stream(dir)? {
        for e in chunk? {
            if e.at_ms != batch_at && !batches.is_empty() {
                let due_at = due(batch_at);
                if !release_batches(std::mem::take(&mut batches), due_at, &tx, &mut released).await
                {
                    return Ok(released);
                }
            }
            if e.route().is_batched() {
                batch_at = e.at_ms;
                let key = format!("{} {}", e.route().as_str(), e.principal());
                batches.entry(key).or_default().push(e);
                continue;
            }
            let intended = due(e.at_ms);
            if !wait_until(intended).await {
                return Ok(released);
            }
            if e.is_needed() {
                lock(&shared.results).insert(e.id, Slot::Pending);
            }
            released += 1;
            let job = Job {
                events: vec![e],
                intended,
            };
            if tx.send(job).await.is_err() {
                return Ok(released);
            }
        }
    }
    if !batches.is_empty() {
        release_batches(batches, due(batch_at), &tx, &mut released).await;
    }
    Ok(released)
}
