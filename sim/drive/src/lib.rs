//! The driver: replays a workload's event stream against any server of the exchange's API, on an
//! open model, with goose as the load engine.
//!
//! Goose runs `max_in_flight` users for the facilities' and municipalities' requests and
//! `max_in_flight_persons` for the persons' (the portal): each pulls the next due request of its
//! class from that class's dispatcher ([`class_of`]), which releases every event at its due
//! instant on the replay's [`Schedule`] whether or not earlier requests have returned. A request due while every user is busy waits, and that wait is part of
//! its latency, because latency is measured from the intended send time (no coordinated
//! omission); the driver's own lateness (actual − intended send) is reported beside it. Results
//! that later events need (access codes, prescription ids) pass between users through the
//! dependency table ([`deps`]), which drops each entry once its last dependent has taken it; an
//! event whose prerequisite failed is counted as skipped, not sent.

pub mod calibrate;
pub mod deps;
pub mod faults;
pub mod hlog;
pub mod measure;
pub mod merge;
pub mod requests;
pub mod results;
pub mod retry;
pub mod schedule;
pub mod setup;
pub mod shard;

use anyhow::Context as _;
use deps::Dependencies;
use dx_exchange::wire::endpoints::Method;
use dx_model::event::{Event, Payload};
use dx_model::route::Route;
use dx_model::rundir::summary::{RunInfo, Sharding, Summary};
use goose::config::GooseConfiguration;
use goose::prelude::*;
use measure::{Class, Happening, Recorder, Sample};
pub use schedule::{Schedule, ServerClock};
use setup::TokenSlot;
pub use shard::Shard;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};
use tokio::sync::Notify;

use dx_client::ExchangeClient;
use dx_workload as workload;

/// How a replay runs.
#[derive(Debug, Clone)]
pub struct DriveOptions {
    /// Base URLs of the target's nodes (one, or several serving one store): each goose user
    /// sends to one of them, user i to node i mod N, so the requests spread round robin per
    /// user. Set-up (credentials, tokens) goes to the first.
    pub targets: Vec<String>,
    /// The target's admin secret (it issues the facilities' credentials).
    pub admin_secret: String,
    /// When each event is due (the period's start and the speedup).
    pub schedule: Arc<Schedule>,
    pub max_in_flight: usize,
    pub out: PathBuf,
    pub server_clock: ServerClock,
    pub progress: bool,
    /// The one shard of the workload to replay (`None`: all of it, not as a shard).
    pub shard: Option<Shard>,
    /// When the replay's schedule starts.
    pub start: Start,
    /// Whether the caller kills and restarts the target for the scenario's `exchange_crash`
    /// faults (`dxsim run`); else the driver announces them for the user's own tooling.
    pub crashes_supervised: bool,
}

/// When a replay's schedule starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// Once set up (and goose's users launched).
    Now,
    /// At an instant on the wall clock that every shard shares; a shard set up after it starts
    /// late, says so, and its requests count the lateness.
    At(SystemTime),
    /// Once set up: prints `ready` on standard output, then reads the instant (RFC 3339) from
    /// standard input — the barrier `dxsim drive --shards` and `dxsim run --shards` use.
    Barrier,
}

/// The line a shard prints on standard output, set up and waiting for its start instant.
pub const READY: &str = "ready";

/// State shared by the dispatcher and the goose users.
struct Shared {
    /// The released requests of each class of client ([`class_of`]).
    rx: [tokio::sync::Mutex<tokio::sync::mpsc::Receiver<Job>>; 2],
    deps: Dependencies,
    tokens: HashMap<String, TokenSlot>,
    recorder: Mutex<Recorder>,
    schedule: Arc<Schedule>,
    clock: ServerClock,
    client: ExchangeClient,
    /// The nodes' base URLs where there are several (requests then carry absolute URLs).
    nodes: Vec<String>,
    seed: u64,
    users_ready: std::sync::atomic::AtomicUsize,
    all_ready: Notify,
    refreshes: std::sync::atomic::AtomicU64,
    /// When the last answer came, in µs from the schedule's start: the replay's end.
    last_answer_us: std::sync::atomic::AtomicU64,
    bar: indicatif::ProgressBar,
    /// How clients retry, per route.
    retry: dx_scenario::RetrySection,
    /// The scenario's faults.
    faults: faults::Faults,
    /// The ledger of acknowledged writes (where the scenario crashes the target), and the
    /// run's tag in their request ids.
    ledger: Option<Ledger>,
}

/// Every acknowledged request of a replay, by the request id it was sent with (one per line
/// of `ledger.txt`), checked after the replay against the target (`POST /v1/admin/writes`).
struct Ledger {
    tag: String,
    file: Mutex<std::io::BufWriter<std::fs::File>>,
    path: PathBuf,
}

/// The request id of an attempt.
fn request_id(tag: &str, event: u64, attempt: u32) -> String {
    format!("{tag}-{event}-{attempt}")
}

/// What one request came to, for the events after it.
enum Sent {
    /// Answered 2xx, with its body.
    Ok(Vec<u8>),
    /// Refused, with the error code.
    Refused(String),
    /// Failed, shed, or given up.
    Failed,
}

/// The last attempt of a request.
struct Attempt {
    class: Class,
    body: Option<Vec<u8>>,
    /// The error code of a refusal or a shed answer.
    code: Option<String>,
    /// `Retry-After`, in seconds.
    retry_after: Option<u64>,
    /// What failed, in a word (`overloaded`, `timeout`, `connection`, `500`).
    failure: String,
    started: Instant,
}

impl Attempt {
    /// An attempt that got no answer.
    fn transport(failure: &str, started: Instant) -> Attempt {
        Attempt {
            class: Class::Transport,
            body: None,
            code: None,
            retry_after: None,
            failure: failure.to_owned(),
            started,
        }
    }
}

/// The class of client an event's request comes from, each served by goose users of its own
/// and released by a dispatcher of its own: 0 facilities and municipalities, 1 persons on the
/// portal (with the municipalities' decisions on their applications, which need them). A
/// surge of one class queues in its own users, never ahead of the other's requests.
pub fn class_of(e: &Event) -> usize {
    usize::from(matches!(
        e.route(),
        Route::PortalRead | Route::PortalApply | Route::ApplicationDecide
    ))
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

    /// Prepares and sends one released request; an event whose prerequisite failed is skipped,
    /// and a needed event's result goes into the dependency table.
    async fn serve_one(&self, user: &mut GooseUser, job: Job) {
        let started = Instant::now();
        let late = started.saturating_duration_since(job.intended);
        let second = self.schedule.second_of(job.intended);
        lock(&self.recorder).record_lateness(second, late.as_micros() as u64);
        let first = &job.events[0];
        if first.route().is_batched() {
            let p = requests::batch(&job.events, self.clock.now(), self.seed);
            self.send(user, &job, p).await;
            self.bar.inc(job.events.len() as u64);
            return;
        }
        let needed = match first.needs {
            Some(n) => match self.deps.take(n, DEPENDENCY_WAIT).await {
                Some(o) => Some(o),
                None => {
                    lock(&self.recorder).skip(first.route());
                    self.deps.settle(first.id, None);
                    self.bar.inc(1);
                    return;
                }
            },
            None => None,
        };
        // A prescription issued on paper (a fault): nothing to retrieve or cancel; the pharmacy
        // registers a paper dispensing.
        if let Some(paper) = needed.as_ref().filter(|o| o.paper_prescriber.is_some()) {
            if let Payload::Dispense { drugs } = &first.payload {
                let p = requests::paper_dispensing(first, paper, drugs);
                self.send(user, &job, p).await;
            } else {
                lock(&self.recorder).happened(second, first.route(), Happening::Paper, 1);
            }
            if first.is_needed() {
                self.deps
                    .settle(first.id, Some(requests::paper_visit(first, paper)));
            }
            self.bar.inc(1);
            return;
        }
        let result = match requests::prepare(first, needed.as_ref(), self.clock.now(), self.seed) {
            Ok(p) => self.send(user, &job, p).await,
            Err(e) => {
                tracing::warn!("event {}: {e:#}", first.id);
                lock(&self.recorder).skip(first.route());
                Sent::Failed
            }
        };
        if first.is_needed() {
            let outcome = match result {
                Sent::Ok(body) => Some(requests::outcome(first.route(), &body, needed.as_ref())),
                // Issuing suspended: the prescriber hands the patient a paper prescription.
                Sent::Refused(code) if code == "suspended" && first.route() == Route::Register => {
                    lock(&self.recorder).happened(second, Route::Register, Happening::Paper, 1);
                    Some(requests::Outcome::paper(&first.facility))
                }
                Sent::Refused(_) | Sent::Failed => None,
            };
            self.deps.settle(first.id, outcome);
        }
        self.bar.inc(1);
    }

    /// Sends one request through goose, again after a failure as the route's retry policy
    /// says, and records its final answer.
    async fn send(&self, user: &mut GooseUser, job: &Job, p: requests::Prepared) -> Sent {
        let policy = self.retry.for_route(p.route);
        let second = self.schedule.second_of(job.intended);
        let mut attempt = 1u32;
        let mut gave_up = None;
        let event = job.events[0].id;
        let last = loop {
            // Writes (every POST) carry their name, for the ledger.
            let id = self
                .ledger
                .as_ref()
                .filter(|_| p.method == Method::Post)
                .map(|l| request_id(&l.tag, event, attempt));
            // The probe is anonymous; every API route carries the principal's token, renewed
            // when near its end (a renewal the target does not answer fails the attempt).
            let token = match p.route {
                Route::Healthz => Ok(None),
                _ => self.token(&p.principal).await.map(Some),
            };
            let a = match token {
                Ok(token) => {
                    self.attempt(user, &p, token.as_deref(), policy.timeout, id.as_deref())
                        .await
                }
                Err(e) => {
                    tracing::warn!("token for {}: {e:#}", p.principal);
                    Attempt::transport("token", Instant::now())
                }
            };
            if let (Some(l), Some(id), Class::Ok) = (&self.ledger, &id, a.class) {
                use std::io::Write as _;
                let mut f = lock(&l.file);
                if let Err(e) = writeln!(f, "{id}") {
                    tracing::error!("writing {}: {e}", l.path.display());
                }
            }
            let wait = match retry::next(
                &policy,
                attempt,
                a.class,
                a.retry_after,
                Instant::now().saturating_duration_since(job.intended),
                dx_model::rng::Stream::new(
                    self.seed,
                    "retry",
                    job.events[0].id.wrapping_mul(32) ^ u64::from(attempt),
                )
                .unit(),
            ) {
                retry::Step::Done => break a,
                retry::Step::GiveUp(why) => {
                    gave_up = Some(format!("{why} ({})", a.failure));
                    break a;
                }
                retry::Step::Again(wait) => wait,
            };
            lock(&self.recorder).happened(
                second,
                p.route,
                Happening::Retried,
                wait.as_micros() as u64,
            );
            if !wait_until(Instant::now() + wait).await {
                gave_up = Some(format!("stopped ({})", a.failure));
                break a;
            }
            attempt += 1;
        };
        if let Some(reason) = gave_up {
            let mut r = lock(&self.recorder);
            r.give_up(p.route, reason);
            r.happened(
                second,
                p.route,
                Happening::GivenUp,
                job.intended.elapsed().as_micros() as u64,
            );
        }
        self.record(job, p.route, last.class, last.started);
        match (last.class, last.body, last.code) {
            (Class::Ok, Some(b), _) => Sent::Ok(b),
            (Class::Refused, _, code) => {
                let code = code.unwrap_or_else(|| "unknown".into());
                lock(&self.recorder).refusal(p.route, code.clone());
                Sent::Refused(code)
            }
            _ => Sent::Failed,
        }
    }

    /// One attempt of a request: its class, body and error code; a `503 suspended` is the
    /// target's deliberate answer, a refusal rather than a shed request.
    async fn attempt(
        &self,
        user: &mut GooseUser,
        p: &requests::Prepared,
        token: Option<&str>,
        timeout: Duration,
        request_id: Option<&str>,
    ) -> Attempt {
        let started = Instant::now();
        let failed = |failure: &str| Attempt::transport(failure, started);
        let method = match p.method {
            Method::Post => GooseMethod::Post,
            Method::Get => GooseMethod::Get,
        };
        // Where several nodes serve the target, this user's node.
        let path = match self.nodes.len() {
            0 => p.path.clone(),
            n => format!("{}{}", self.nodes[user.weighted_users_index % n], p.path),
        };
        let builder = match user.get_request_builder(&method, &path) {
            Ok(b) => b.timeout(timeout),
            Err(e) => {
                tracing::warn!("{path}: {e}");
                return failed("connection");
            }
        };
        let mut builder = match token {
            Some(t) => builder.bearer_auth(t),
            None => builder,
        };
        if let Some(body) = &p.body {
            builder = builder
                .header("content-type", "application/json")
                .body(body.clone());
        }
        if let Some(id) = request_id {
            builder = builder.header(dx_exchange::wire::REQUEST_ID_HEADER, id);
        }
        let request = GooseRequest::builder()
            .method(method)
            .path(path.as_str())
            .name(p.route.as_str())
            .set_request_builder(builder)
            .build();
        let resp = match user.request(request).await {
            Ok(g) => match g.response {
                Ok(resp) => resp,
                Err(e) if e.is_timeout() => return failed("timeout"),
                Err(_) => return failed("connection"),
            },
            Err(_) => return failed("connection"),
        };
        let status = resp.status().as_u16();
        let retry_after = resp
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        let body = match resp.bytes().await {
            Ok(b) => b.to_vec(),
            Err(e) if e.is_timeout() => return failed("timeout"),
            Err(_) => return failed("connection"),
        };
        let mut class = Class::of_status(status);
        let code = (class != Class::Ok)
            .then(|| {
                serde_json::from_slice::<serde_json::Value>(&body)
                    .ok()
                    .and_then(|v| v["error"]["code"].as_str().map(str::to_owned))
            })
            .flatten();
        if status == 503 && code.as_deref() == Some("suspended") {
            class = Class::Refused;
        }
        Attempt {
            class,
            failure: code.clone().unwrap_or_else(|| status.to_string()),
            body: Some(body),
            code,
            retry_after,
            started,
        }
    }

    fn record(&self, job: &Job, route: Route, class: Class, started: Instant) {
        let done = Instant::now();
        // Due inside a fault's window and answered after it: part of its backlog.
        for (i, &(start, end)) in self.faults.windows_ms.iter().enumerate() {
            let end = self.schedule.due(end);
            if job.intended >= self.schedule.due(start) && job.intended < end && done > end {
                lock(&self.recorder).backlog(i);
            }
        }
        if let Some(t0) = self.schedule.started() {
            self.last_answer_us.fetch_max(
                done.saturating_duration_since(t0).as_micros() as u64,
                std::sync::atomic::Ordering::Relaxed,
            );
        }
        lock(&self.recorder).record(Sample {
            route,
            class,
            from_intended_us: done.saturating_duration_since(job.intended).as_micros() as u64,
            service_us: done.saturating_duration_since(started).as_micros() as u64,
            second: self.schedule.second_of(job.intended),
            items: job.events.len() as u32,
        });
    }
}

/// Replays the workload in `dir` against `opts.targets`; writes the results into `opts.out` and
/// returns the summary.
pub async fn drive(
    scenario: &dx_scenario::Scenario,
    dir: &Path,
    opts: &DriveOptions,
) -> anyhow::Result<Summary> {
    let manifest = workload::read_manifest(dir)?;
    let workload_digest = digest(&dir.join("manifest.json"))?;
    std::fs::create_dir_all(&opts.out)
        .with_context(|| format!("{} is not writable", opts.out.display()))?;
    let first = opts.targets.first().context("no target to drive")?.clone();
    let client = ExchangeClient::new(&first);
    let shard = opts.shard.unwrap_or(Shard::WHOLE);
    let mut a = setup::actors(dir, shard)?;
    let tokens = setup::setup(
        &client,
        &opts.admin_secret,
        &a,
        scenario.seed,
        opts.progress,
    )
    .await?;
    let users = [
        opts.max_in_flight.max(1),
        scenario.replay.max_in_flight_persons.get(),
    ];
    let (tx, rx) = tokio::sync::mpsc::channel::<Job>(users[0] * 4);
    let (tx_persons, rx_persons) = tokio::sync::mpsc::channel::<Job>(users[1] * 4);
    let shared = Arc::new(Shared {
        rx: [
            tokio::sync::Mutex::new(rx),
            tokio::sync::Mutex::new(rx_persons),
        ],
        deps: Dependencies::default(),
        tokens,
        recorder: Mutex::new(Recorder::new(
            &opts.out,
            format!(
                "dxsim drive of {}{}",
                scenario.name,
                opts.shard
                    .map(|s| format!(", shard {s}"))
                    .unwrap_or_default()
            ),
        )),
        schedule: opts.schedule.clone(),
        clock: opts.server_clock.clone(),
        client,
        nodes: if opts.targets.len() > 1 {
            opts.targets.clone()
        } else {
            Vec::new()
        },
        seed: scenario.seed,
        users_ready: std::sync::atomic::AtomicUsize::new(0),
        all_ready: Notify::new(),
        refreshes: std::sync::atomic::AtomicU64::new(0),
        last_answer_us: std::sync::atomic::AtomicU64::new(0),
        bar: progress_bar(opts.progress, a.events),
        retry: scenario.replay.retry.clone(),
        faults: faults::Faults::of(scenario),
        ledger: match scenario
            .faults
            .iter()
            .any(|f| matches!(f.what, dx_scenario::FaultKind::ExchangeCrash))
        {
            false => None,
            true => {
                let path = opts.out.join("ledger.txt");
                let file = std::fs::File::create(&path)
                    .with_context(|| format!("creating {}", path.display()))?;
                Some(Ledger {
                    // This run's own ids: another replay against the same target never matches.
                    tag: format!(
                        "{:x}s{}",
                        SystemTime::now()
                            .duration_since(SystemTime::UNIX_EPOCH)
                            .map_or(0, |d| d.as_millis()),
                        shard.index
                    ),
                    file: Mutex::new(std::io::BufWriter::new(file)),
                    path,
                })
            }
        },
    });
    let dependents = Mutex::new(std::mem::take(&mut a.dependents));
    let dispatcher = {
        let (shared, dir, start) = (shared.clone(), dir.to_path_buf(), opts.start);
        tokio::spawn(async move {
            // The replay starts once goose has launched every user (or after 10 s), so the
            // first events are not late because users were still starting.
            let _ =
                tokio::time::timeout(Duration::from_secs(10), shared.all_ready.notified()).await;
            let late = match start {
                Start::Now => {
                    shared
                        .schedule
                        .start(Instant::now() + Duration::from_millis(20));
                    Duration::ZERO
                }
                Start::At(t) => shared.schedule.start_at(t),
                Start::Barrier => {
                    let t = barrier().await?;
                    shared.schedule.start_at(t)
                }
            };
            let wall = shared.schedule.started_wall().expect("started");
            lock(&shared.recorder).begin(wall)?;
            if late > Duration::from_millis(1) {
                eprintln!(
                    "dxsim drive{}: the replay began {:.3} s after its start instant; its requests count that lateness",
                    shard_label(shard),
                    late.as_secs_f64()
                );
            }
            // A dispatcher per class of client, each over the whole stream (decoding it twice
            // costs far less than sending its requests).
            let (a, b) = tokio::join!(
                dispatch(&dir, tx, &shared, &dependents, shard, 0),
                dispatch(&dir, tx_persons, &shared, &dependents, shard, 1)
            );
            anyhow::Ok((a? + b?, late))
        })
    };
    // One process switches the scenario's suspensions on the target: the whole replay, or the
    // first shard of it.
    let switched = shared.faults.suspensions().next().is_some()
        || shared.faults.slow_stores().next().is_some();
    if !opts.crashes_supervised && shard.index == 0 {
        let shared = shared.clone();
        tokio::spawn(async move { announce_crashes(&shared).await });
    }
    let switcher = (shard.index == 0 && switched).then(|| {
        let (shared, secret) = (shared.clone(), opts.admin_secret.clone());
        tokio::spawn(async move { switch_suspensions(&shared, &secret).await })
    });
    attack(&shared, opts, users).await?;
    if let Some(task) = switcher {
        // Whatever happened, the target is left with nothing of the scenario's suspended.
        let switched = if task.is_finished() {
            task.await.context("the suspension switch")?
        } else {
            task.abort();
            Ok(())
        };
        let resumed = resume_all(&shared, &opts.admin_secret).await;
        switched.and(resumed)?;
    }
    let lost_writes = check_ledger(&shared, &opts.admin_secret).await?;
    // The attack ends when every user has seen the stream close, or when goose was stopped
    // (Ctrl-C or SIGTERM): then the dispatcher's sends fail and it stops too.
    for rx in &shared.rx {
        rx.lock().await.close();
    }
    let (dispatched, late) = dispatcher.await.context("dispatcher")??;
    // The replay's own duration, from its first scheduled instant to its last answer (not to
    // goose's shutdown, which polls), or to now if nothing was answered.
    let last = shared
        .last_answer_us
        .load(std::sync::atomic::Ordering::Relaxed);
    let elapsed = if last > 0 {
        last as f64 / 1e6
    } else {
        shared.schedule.started().map_or(0.0, |t0| {
            Instant::now().saturating_duration_since(t0).as_secs_f64()
        })
    };
    shared.bar.finish_and_clear();
    tracing::debug!(peak = shared.deps.peak(), "dependency table");
    let info = RunInfo {
        scenario: scenario.name.to_string(),
        target: opts.targets.join(","),
        speedup: opts.schedule.speedup(),
        period_start: manifest.period_start.clone(),
        period_end: manifest.period_end.clone(),
        events: dispatched,
        max_in_flight: opts.max_in_flight,
        interrupted: goose::is_killswitch_triggered(),
        sharding: opts.shard.map(|s| Sharding {
            index: Some(s.index),
            count: s.count,
            start_at: rfc3339(shared.schedule.started_wall().expect("started")),
            workload: workload_digest,
            late_start_ms: late.as_secs_f64() * 1000.0,
        }),
    };
    finish(
        &shared,
        scenario,
        opts,
        &manifest,
        info,
        elapsed,
        lost_writes,
    )
}

/// Switches the scenario's suspensions on the target through its admin route, on at each
/// window's start and off at its end.
async fn switch_suspensions(shared: &Shared, admin_secret: &str) -> anyhow::Result<()> {
    while shared.schedule.started().is_none() {
        if goose::is_killswitch_triggered() {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    enum Switch {
        Suspension(dx_exchange::wire::SuspensionTarget, Option<String>),
        SlowStore(u32),
    }
    let mut switches: Vec<(i64, bool, Switch)> = Vec::new();
    for (target, reason, (start, end)) in shared.faults.suspensions() {
        switches.push((
            start,
            true,
            Switch::Suspension(target, Some(reason.to_owned())),
        ));
        switches.push((end, false, Switch::Suspension(target, None)));
    }
    for (delay_ms, (start, end)) in shared.faults.slow_stores() {
        switches.push((start, true, Switch::SlowStore(delay_ms.round() as u32)));
        switches.push((end, false, Switch::SlowStore(0)));
    }
    // In time order; at one instant, what ends before what begins.
    switches.sort_by_key(|s| (s.0, s.1));
    for (at, _, switch) in switches {
        if !wait_until(shared.schedule.due(at)).await {
            break;
        }
        let admin = shared
            .client
            .token("admin", admin_secret)
            .await
            .context("an admin token to switch a fault")?
            .token;
        match switch {
            Switch::Suspension(target, reason) => {
                shared
                    .client
                    .suspend(&admin, target, reason.as_deref())
                    .await
                    .with_context(|| {
                        format!(
                            "{} {} on the target",
                            if reason.is_some() {
                                "suspending"
                            } else {
                                "resuming"
                            },
                            target.as_str()
                        )
                    })?;
            }
            Switch::SlowStore(delay_ms) => slow_store(shared, &admin, delay_ms).await?,
        }
    }
    Ok(())
}

/// Slows the target's store by `delay_ms` per transaction (0: no more).
async fn slow_store(shared: &Shared, admin: &str, delay_ms: u32) -> anyhow::Result<()> {
    let body = dx_exchange::wire::SlowStoreRequest { delay_ms };
    match shared
        .client
        .call::<dx_exchange::wire::endpoints::SlowStore>(Some(admin), &[], &(), &body)
        .await
    {
        Ok(_) => Ok(()),
        Err(e) if e.code() == Some("no_route") => anyhow::bail!(
            "the target cannot slow its store: a slow_store fault needs an exchange built with the `faults` feature (cargo build --features dx-exchange/faults; `cargo test --workspace` builds one)"
        ),
        Err(e) => Err(anyhow::anyhow!("slowing the target's store: {e}")),
    }
}

/// Says when the scenario's crashes begin and end, for a target the driver does not supervise:
/// the user's own tooling kills and restarts it.
async fn announce_crashes(shared: &Shared) {
    while shared.schedule.started().is_none() {
        if goose::is_killswitch_triggered() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let crashes: Vec<(i64, i64)> = shared.faults.crashes().collect();
    for (start, end) in crashes {
        if !wait_until(shared.schedule.due(start)).await {
            return;
        }
        let secs = (end - start) as f64 / 1000.0 / shared.schedule.speedup();
        eprintln!(
            "dxsim drive: exchange_crash begins now: kill the target (SIGKILL) and restart it in {secs:.1} s"
        );
        if !wait_until(shared.schedule.due(end)).await {
            return;
        }
        eprintln!("dxsim drive: exchange_crash ends now: restart the target");
    }
}

/// Asks the target whether every acknowledged write of the ledger is stored; how many are not
/// (written to `lost-writes.txt`), or `None` if the target cannot say.
async fn check_ledger(shared: &Shared, admin_secret: &str) -> anyhow::Result<Option<u64>> {
    let Some(l) = &shared.ledger else {
        return Ok(None);
    };
    {
        use std::io::Write as _;
        lock(&l.file).flush()?;
    }
    // Once the last crash is over, and the target answers again (up to a minute).
    if let Some(end) = shared.faults.crashes().map(|w| w.1).max() {
        wait_until(shared.schedule.due(end)).await;
    }
    let mut tries = 0;
    let admin = loop {
        match shared.client.token("admin", admin_secret).await {
            Ok(t) => break t.token,
            Err(e) if tries < 300 && matches!(e, dx_client::ClientError::Transport(_)) => {
                tries += 1;
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => return Err(anyhow::anyhow!("an admin token to check the writes: {e}")),
        }
    };
    // The ledger is read a request's worth of ids at a time; what is lost is written as found.
    use std::io::{BufRead as _, Write as _};
    let mut lines = std::io::BufReader::new(std::fs::File::open(&l.path)?).lines();
    let lost_path = l.path.with_file_name("lost-writes.txt");
    let mut lost_file: Option<std::fs::File> = None;
    let mut lost = 0u64;
    loop {
        let part: Vec<String> = lines
            .by_ref()
            .take(dx_exchange::wire::MAX_WRITES_CHECKED)
            .collect::<Result<_, _>>()?;
        if part.is_empty() {
            break;
        }
        let body = dx_exchange::wire::WritesRequest { request_ids: part };
        match shared
            .client
            .call::<dx_exchange::wire::endpoints::CheckWrites>(Some(&admin), &[], &(), &body)
            .await
        {
            Ok(r) => {
                for id in &r.missing {
                    let f = match &mut lost_file {
                        Some(f) => f,
                        None => lost_file.insert(std::fs::File::create(&lost_path)?),
                    };
                    writeln!(f, "{id}")?;
                }
                lost += r.missing.len() as u64;
            }
            Err(e) if e.code() == Some("no_route") => {
                eprintln!(
                    "dxsim drive: the target cannot say whether acknowledged writes were kept (no POST /v1/admin/writes); they are listed in {}",
                    l.path.display()
                );
                return Ok(None);
            }
            Err(e) => return Err(anyhow::anyhow!("checking the acknowledged writes: {e}")),
        }
    }
    Ok(Some(lost))
}

/// Resumes every target the scenario suspends and ends a slowed store (after the replay, or its
/// interruption).
async fn resume_all(shared: &Shared, admin_secret: &str) -> anyhow::Result<()> {
    let admin = shared.client.token("admin", admin_secret).await?.token;
    if shared.faults.slow_stores().next().is_some() {
        slow_store(shared, &admin, 0).await?;
    }
    for (target, _, _) in shared.faults.suspensions() {
        shared
            .client
            .suspend(&admin, target, None)
            .await
            .with_context(|| format!("resuming {} on the target", target.as_str()))?;
    }
    Ok(())
}

/// " (shard I/N)" for messages, or nothing when the replay is whole.
fn shard_label(shard: Shard) -> String {
    if shard.is_whole() {
        String::new()
    } else {
        format!(" (shard {shard})")
    }
}

/// An instant as the run directories write it: RFC 3339, UTC, milliseconds.
pub fn rfc3339(t: SystemTime) -> String {
    chrono::DateTime::<chrono::Utc>::from(t).to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Reads an RFC 3339 instant.
pub fn parse_instant(s: &str) -> anyhow::Result<SystemTime> {
    let t = chrono::DateTime::parse_from_rfc3339(s.trim()).with_context(|| {
        format!(
            "{:?} is not an RFC 3339 instant (e.g. 2026-12-07T09:00:00Z)",
            s.trim()
        )
    })?;
    Ok(t.with_timezone(&chrono::Utc).into())
}

/// The start barrier: says `ready` on standard output and waits for the start instant on
/// standard input.
async fn barrier() -> anyhow::Result<SystemTime> {
    println!("{READY}");
    use std::io::Write as _;
    std::io::stdout().flush()?;
    let line = tokio::task::spawn_blocking(|| {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line).map(|_| line)
    })
    .await
    .context("reading the start instant")??;
    if line.trim().is_empty() {
        anyhow::bail!("standard input closed before the start instant came");
    }
    parse_instant(&line)
}

/// The SHA-256 of a file, in hex.
pub fn digest(path: &Path) -> anyhow::Result<String> {
    use sha2::Digest as _;
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    Ok(sha2::Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

fn progress_bar(show: bool, events: u64) -> indicatif::ProgressBar {
    let bar = if show {
        indicatif::ProgressBar::new(events)
    } else {
        indicatif::ProgressBar::hidden()
    };
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "replay {human_pos}/{human_len} events [{bar:40}] {per_sec} eta {eta}",
        )
        .expect("template"),
    );
    bar
}

/// The `log` logger of a replay: goose's errors only. Goose warns of every request that found
/// no connection; the replay counts those (transport failures, retries, give-ups) instead.
struct GooseErrors;

impl log::Log for GooseErrors {
    fn enabled(&self, m: &log::Metadata<'_>) -> bool {
        m.level() <= log::Level::Error
    }

    fn log(&self, r: &log::Record<'_>) {
        if self.enabled(r.metadata()) {
            eprintln!("goose: {}", r.args());
        }
    }

    fn flush(&self) {}
}

static GOOSE_ERRORS: GooseErrors = GooseErrors;

/// Runs goose's `users` users, each serving released requests until the stream closes.
async fn attack(
    shared: &Arc<Shared>,
    opts: &DriveOptions,
    pools: [usize; 2],
) -> anyhow::Result<()> {
    let users = pools[0] + pools[1];
    // Before goose installs its own logger (it keeps one installed first).
    if log::set_logger(&GOOSE_ERRORS).is_ok() {
        log::set_max_level(log::LevelFilter::Error);
    }
    let user_count = users.to_string();
    let launch_rate = (users * 20).to_string();
    let config = GooseConfiguration::parse_args_default(&[
        "--host",
        opts.targets[0].as_str(),
        "--users",
        user_count.as_str(),
        "--increase-rate",
        launch_rate.as_str(),
        "--iterations",
        "1",
        // No goose-report.html: it loads its charts from a CDN and is blank offline; report.html
        // holds the same figures and more.
        "--no-print-metrics",
        "--no-error-summary",
        // No controllers: they listen on fixed ports, which shards on one machine would share
        // (goose's WebSocket controller is off unless asked for; the telnet one is on).
        "--no-telnet",
        "--quiet",
    ])?;
    let worker = shared.clone();
    let transaction = Transaction::new(Arc::new(move |user: &mut GooseUser| {
        let shared = worker.clone();
        Box::pin(async move {
            let index = shared
                .users_ready
                .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            if index + 1 == users {
                shared.all_ready.notify_one();
            }
            // The first users serve facilities and municipalities, the others persons.
            let rx = &shared.rx[usize::from(index >= pools[0])];
            loop {
                let job = rx.lock().await.recv().await;
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
    Ok(())
}

/// Writes the replay's files (histogram logs, series, `service-times.json`, `summary.json`) and
/// returns the summary.
fn finish(
    shared: &Shared,
    scenario: &dx_scenario::Scenario,
    opts: &DriveOptions,
    manifest: &workload::Manifest,
    info: RunInfo,
    elapsed: f64,
    lost_writes: Option<u64>,
) -> anyhow::Result<Summary> {
    let mut recorder = lock(&shared.recorder);
    recorder.tallies.token_refreshes = shared.refreshes.load(std::sync::atomic::Ordering::Relaxed);
    recorder.finish()?;
    let mut intervals = hlog::Intervals::default();
    intervals.read(&opts.out)?;
    results::write(
        &opts.out,
        &intervals,
        None,
        &recorder.tallies,
        results::About {
            info,
            elapsed_s: elapsed,
            slo: &|route| scenario.slo.for_route(route),
            faults: shared
                .faults
                .windows(
                    dx_protocol::time::jst_ms(scenario.period.start),
                    opts.schedule.speedup(),
                )
                .into_iter()
                .map(|mut w| {
                    // Acknowledged writes are checked over the whole replay, for each crash.
                    if w.kind == "exchange_crash" {
                        w.lost_writes = lost_writes;
                    }
                    w
                })
                .collect(),
            calibration_source: format!(
                "dxsim drive of {} against {} ({} → {}, {}×)",
                scenario.name,
                opts.targets.join(","),
                manifest.period_start,
                manifest.period_end,
                opts.schedule.speedup()
            ),
        },
    )
}

/// Sleeps until `t`, waking every 100 ms to see whether goose was stopped (Ctrl-C or SIGTERM); returns
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

/// Releases the events at their due instants; returns how many were released. A needed event
/// opens its entry in the dependency table with the count of its dependents (`dependents`,
/// from the pass before the replay, from which it then leaves). An event of a facility a network
/// outage cuts off is held and released when the outage ends, issued on paper, or given up
/// ([`faults::cut_off`]).
async fn dispatch(
    dir: &Path,
    tx: tokio::sync::mpsc::Sender<Job>,
    shared: &Shared,
    dependents: &Mutex<HashMap<u64, u32>>,
    shard: Shard,
    class: usize,
) -> anyhow::Result<u64> {
    let due = |at_ms: i64| shared.schedule.due(at_ms);
    // Batch pre-checks and municipal uploads due at the same moment travel as one request per
    // route and principal.
    let mut batches: BTreeMap<String, Vec<Event>> = BTreeMap::new();
    let mut batch_at = i64::MIN;
    let mut released = 0u64;
    // Events held by an outage, by the instant (simulated ms) it ends.
    let mut held: BTreeMap<i64, Vec<Event>> = BTreeMap::new();
    for chunk in workload::stream(dir)? {
        for e in chunk?
            .into_iter()
            .filter(|e| shard.holds(e) && class_of(e) == class)
        {
            if e.at_ms != batch_at && !batches.is_empty() {
                if !release_held(&mut held, batch_at, shared, &tx).await {
                    return Ok(released);
                }
                let due_at = due(batch_at);
                if !release_batches(std::mem::take(&mut batches), due_at, &tx, &mut released).await
                {
                    return Ok(released);
                }
            }
            if !release_held(&mut held, e.at_ms, shared, &tx).await {
                return Ok(released);
            }
            if e.is_needed() {
                let n = lock(dependents).remove(&e.id).unwrap_or(0);
                shared.deps.open(e.id, n);
            }
            if let Some(i) = shared.faults.outage_of(&e) {
                released += 1;
                cut_off(e, i, shared, &mut held);
                continue;
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
        if !release_held(&mut held, batch_at, shared, &tx).await {
            return Ok(released);
        }
        release_batches(batches, due(batch_at), &tx, &mut released).await;
    }
    release_held(&mut held, i64::MAX, shared, &tx).await;
    Ok(released)
}

/// Requests one dispatcher holds for outages at most; beyond, a cut-off facility's request is
/// given up as its system's local queue would be full.
const MAX_HELD: usize = 1_000_000;

/// What a facility cut off by outage `fault` does with event `e`: holds it until the outage
/// ends, issues paper, or gives it up — counted in the second it was due.
fn cut_off(e: Event, fault: usize, shared: &Shared, held: &mut BTreeMap<i64, Vec<Event>>) {
    let second = shared.schedule.second_of(shared.schedule.due(e.at_ms));
    let route = e.route();
    let mut recorder = lock(&shared.recorder);
    let full = held.values().map(Vec::len).sum::<usize>() >= MAX_HELD;
    match faults::cut_off(route) {
        faults::CutOff::Defer if full => {
            recorder.happened(second, route, Happening::Abandoned, 1);
            shared.deps.settle(e.id, None);
            shared.bar.inc(1);
        }
        faults::CutOff::Defer => {
            let end = shared.faults.windows_ms[fault].1;
            let held_us = ((end - e.at_ms) as f64 * 1000.0 / shared.schedule.speedup()) as u64;
            recorder.happened(second, route, Happening::Deferred, held_us);
            recorder.backlog(fault);
            held.entry(end).or_default().push(e);
        }
        faults::CutOff::Paper => {
            recorder.happened(second, route, Happening::Paper, 1);
            shared
                .deps
                .settle(e.id, Some(requests::Outcome::paper(&e.facility)));
            shared.bar.inc(1);
        }
        faults::CutOff::Abandon => {
            recorder.happened(second, route, Happening::Abandoned, 1);
            shared.deps.settle(e.id, None);
            shared.bar.inc(1);
        }
    }
}

/// Releases the events held by outages that ended by `until_ms` (simulated), at the instant
/// each ended: the backlog arrives at once (batched events as batches); false if the replay
/// was stopped.
async fn release_held(
    held: &mut BTreeMap<i64, Vec<Event>>,
    until_ms: i64,
    shared: &Shared,
    tx: &tokio::sync::mpsc::Sender<Job>,
) -> bool {
    while let Some(entry) = held.first_entry() {
        if *entry.key() > until_ms {
            break;
        }
        let (end, events) = entry.remove_entry();
        let intended = shared.schedule.due(end);
        let mut batches: BTreeMap<String, Vec<Event>> = BTreeMap::new();
        let mut singles = Vec::new();
        for e in events {
            if e.route().is_batched() {
                let key = format!("{} {}", e.route().as_str(), e.principal());
                batches.entry(key).or_default().push(e);
            } else {
                singles.push(e);
            }
        }
        // Counted as released when they were held.
        let mut ignored = 0;
        if !release_batches(batches, intended, tx, &mut ignored).await {
            return false;
        }
        for e in singles {
            let job = Job {
                events: vec![e],
                intended,
            };
            if tx.send(job).await.is_err() {
                return false;
            }
        }
    }
    true
}
