//! Starting and stopping the exchange: open the store in a data directory, derive the keys from
//! the server secret kept in the store, seed the built-in sample into a fresh store, serve until
//! Ctrl-C or SIGTERM, then flush the audit queue.

use crate::admission::Limits;
use crate::auth::credentials::CredentialStore as _;
use crate::auth::keys::Keys;
use crate::cards::CardStore as _;
use crate::clock::{Clock, FollowedClock, SystemClock};
use crate::connections::ConnectionLimits;
use crate::eligibility::EligibilityStore;
use crate::hpki::HpkiStore as _;
use crate::http::router;
use crate::municipal::MunicipalStore;
use crate::refdata::sample;
use crate::state::AppState;
use crate::store::{AdminStore, Durability, Location, SqlStore, StoreError};
use axum::Router;
use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

/// File name of the database inside the data directory.
pub const DB_FILE: &str = "exchange.db";
/// File the admin secret is written to inside the data directory (mode 0600).
pub const ADMIN_KEY_FILE: &str = "admin.key";

/// Arguments shared by `dx-exchange` and `dxsim serve`.
#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub addr: SocketAddr,
    /// Directory of the embedded store (created if missing), and of `admin.key` whatever the
    /// store.
    #[arg(long, default_value = "./data")]
    pub data: PathBuf,
    /// A PostgreSQL database to keep everything in, instead of the SQLite file in --data:
    /// `postgres://user[:password]@host:port/db`. Any number of exchange processes may serve
    /// one database together. Each keeps twice its cores and one connections open at most;
    /// `?connection_limit=N` sets another number (1–64).
    #[arg(long, env = "DXSIM_STORE", value_name = "URL")]
    pub store: Option<String>,
    /// `full`: fsync every commit (survives power loss); `normal`: survives a killed process only.
    #[arg(long, default_value = "full", value_parser = ["full", "normal"])]
    pub durability: String,
    /// Sample persons to enrol into a fresh store (0 for none). Insurers and facilities of the
    /// sample are always loaded into a store that has no facilities.
    #[arg(long, default_value_t = 200)]
    pub sample_persons: u64,
    /// Seed of the sample persons.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Requests in flight at once per service (eligibility, e-prescription, EHR, municipal,
    /// portal, admin, auth); more wait in the service's queue.
    #[arg(long, default_value_t = 64)]
    pub max_in_flight: usize,
    /// Requests waiting per service; beyond it, `503 overloaded` at once.
    #[arg(long, default_value_t = 512)]
    pub max_queued: usize,
    /// How long a request waits in its service's queue before `503 overloaded`, in ms.
    #[arg(long, default_value_t = 100)]
    pub queue_deadline_ms: u64,
    /// Bounds of one service of its own, `SERVICE=IN_FLIGHT[/QUEUED[/DEADLINE_MS]]` (e.g.
    /// `portal=8/32/20`: a portal sized apart from the pharmacies' checks); the others keep
    /// --max-in-flight, --max-queued and --queue-deadline-ms. Repeatable.
    #[arg(long, value_name = "SERVICE=N[/Q[/MS]]", value_parser = service_limit)]
    pub service_limit: Vec<ServiceLimit>,
    /// Connections open at once; one more is answered 503 and closed [default: the open-file
    /// limit (raised to its hard limit) less 256, at most 50,000].
    #[arg(long)]
    pub max_connections: Option<usize>,
    /// Seconds from connection open, or the end of the previous response, to a complete
    /// request head; then the connection is closed.
    #[arg(long, default_value_t = 10)]
    pub header_read_timeout: u64,
    /// Seconds from a request head to its complete body; then `408 request_timeout`.
    #[arg(long, default_value_t = 30)]
    pub body_timeout: u64,
    /// Seconds a connection may move no byte before it is closed (after a request in flight).
    #[arg(long, default_value_t = 60)]
    pub idle_timeout: u64,
    /// Seconds shutdown waits for in-flight requests before closing what is left.
    #[arg(long, default_value_t = 10)]
    pub drain_timeout: u64,
    /// Also serve `/healthz` and `/metrics` on this address, a listener of their own (at most
    /// 256 connections), so liveness probes and scrapers never wait behind a flood of
    /// connections to --addr.
    #[arg(long)]
    pub ops_addr: Option<SocketAddr>,
    /// The base URL clients reach this exchange at (http:// or https://), written into the
    /// absolute `link` URLs of FHIR searchset Bundles; `http://<--addr>` unless given (behind a
    /// proxy or a Kubernetes Service, give the name clients use).
    #[arg(long, value_name = "URL", value_parser = public_url)]
    pub public_url: Option<String>,
    /// Follow a replay's simulated clock instead of the wall clock, as the exchange `dxsim run`
    /// supervises does: `<period start, JST>@<speedup>`; the replay's start instant (RFC 3339)
    /// then comes as a line on standard input.
    #[arg(long, hide = true, value_name = "START@SPEEDUP")]
    pub replay_clock: Option<String>,
}

/// One service's own admission bounds (`--service-limit`); what is not given is the flags'.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServiceLimit {
    pub service: crate::admission::Service,
    pub in_flight: usize,
    pub queued: Option<usize>,
    pub deadline_ms: Option<u64>,
}

impl std::fmt::Display for ServiceLimit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}={}", self.service.as_str(), self.in_flight)?;
        if let Some(q) = self.queued {
            write!(f, "/{q}")?;
            if let Some(d) = self.deadline_ms {
                write!(f, "/{d}")?;
            }
        }
        Ok(())
    }
}

/// `SERVICE=IN_FLIGHT[/QUEUED[/DEADLINE_MS]]`.
pub fn service_limit(s: &str) -> Result<ServiceLimit, String> {
    use crate::admission::Service;
    let (name, bounds) = s
        .split_once('=')
        .ok_or("SERVICE=IN_FLIGHT[/QUEUED[/DEADLINE_MS]], e.g. portal=8/32/20")?;
    let service = Service::parse(name).ok_or_else(|| {
        format!(
            "{name:?} is not a service: {}",
            Service::ALL.map(Service::as_str).join(", ")
        )
    })?;
    let mut parts = bounds.split('/');
    let number = |p: Option<&str>, what: &str| -> Result<Option<u64>, String> {
        p.map(|v| {
            v.parse::<u64>()
                .map_err(|_| format!("{what} {v:?} is not a whole number"))
        })
        .transpose()
    };
    let in_flight = number(parts.next(), "in flight")?.unwrap_or(0);
    if !(1..=100_000).contains(&in_flight) {
        return Err("requests in flight: 1 to 100,000".into());
    }
    let queued = number(parts.next(), "queued")?.map(|q| q as usize);
    let deadline_ms = number(parts.next(), "deadline")?;
    if parts.next().is_some() {
        return Err("at most three bounds: IN_FLIGHT/QUEUED/DEADLINE_MS".into());
    }
    if queued.is_some_and(|q| q > 1_000_000) || deadline_ms.is_some_and(|d| d > 60_000) {
        return Err("queued at most 1,000,000, deadline at most 60,000 ms".into());
    }
    Ok(ServiceLimit {
        service,
        in_flight: in_flight as usize,
        queued,
        deadline_ms,
    })
}

/// A base URL: `http://` or `https://`, a host, no whitespace, query or fragment.
fn public_url(s: &str) -> Result<String, String> {
    let rest = s
        .strip_prefix("http://")
        .or_else(|| s.strip_prefix("https://"))
        .ok_or("must begin with http:// or https://")?;
    if rest.is_empty()
        || rest.starts_with('/')
        || s.chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '?' || c == '#')
    {
        return Err("must be a base URL: a host, an optional port and path, nothing else".into());
    }
    Ok(s.trim_end_matches('/').to_owned())
}

impl ServeArgs {
    /// The bounds on connections of the flags.
    pub fn connection_limits(&self) -> ConnectionLimits {
        let secs = |s: u64| std::time::Duration::from_secs(s.max(1));
        ConnectionLimits {
            max_connections: self
                .max_connections
                .unwrap_or_else(crate::connections::default_max_connections)
                .max(1),
            header_read_timeout: secs(self.header_read_timeout),
            body_timeout: secs(self.body_timeout),
            idle_timeout: secs(self.idle_timeout),
            drain_timeout: secs(self.drain_timeout),
        }
    }

    /// The admission limits of the flags.
    pub fn admission(&self) -> Limits {
        Limits {
            in_flight: self.max_in_flight.max(1),
            queued: self.max_queued,
            deadline: std::time::Duration::from_millis(self.queue_deadline_ms),
        }
    }

    /// The services given bounds of their own, with those bounds in full.
    pub fn service_limits(&self) -> Vec<(crate::admission::Service, Limits)> {
        self.service_limit
            .iter()
            .map(|l| {
                (
                    l.service,
                    Limits {
                        in_flight: l.in_flight,
                        queued: l.queued.unwrap_or(self.max_queued),
                        deadline: std::time::Duration::from_millis(
                            l.deadline_ms.unwrap_or(self.queue_deadline_ms),
                        ),
                    },
                )
            })
            .collect()
    }

    /// Where the flags put the store: `--store`, else the SQLite file in `--data`.
    pub fn location(&self) -> Result<Location, StoreError> {
        Location::of(self.store.as_deref(), &self.data.join(DB_FILE))
    }

    pub fn durability(&self) -> Durability {
        if self.durability == "normal" {
            Durability::Normal
        } else {
            Durability::Full
        }
    }
}

/// Why the exchange could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("opening the store {location}: {cause}")]
    Store { location: String, cause: StoreError },
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// An opened exchange, ready to serve.
pub struct Exchange {
    state: AppState,
    store: Arc<SqlStore>,
    admin_secret: String,
    connections: ConnectionLimits,
    /// The listener of the operations routes alone, if any.
    ops: Option<TcpListener>,
}

/// Connections the operations listener keeps open at once.
pub const OPS_CONNECTIONS: usize = 256;

fn random_hex(bytes: usize) -> std::io::Result<String> {
    use std::io::Read as _;
    let mut buf = vec![0u8; bytes];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut buf)?;
    Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
}

impl Exchange {
    /// Opens the store in `data_dir` with the given clock and the default admission limits.
    pub fn open(
        data_dir: &Path,
        durability: Durability,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, StartError> {
        Self::open_with(data_dir, durability, clock, Limits::default())
    }

    /// [`Exchange::open`] with the given admission limits.
    pub fn open_with(
        data_dir: &Path,
        durability: Durability,
        clock: Arc<dyn Clock>,
        admission: Limits,
    ) -> Result<Self, StartError> {
        let location = Location::Sqlite(data_dir.join(DB_FILE));
        Self::open_at(&location, durability, clock, admission)
    }

    /// Opens the store at `location` (an SQLite file, or a PostgreSQL database that other
    /// exchange processes may share: the server secret, and so every key and token, is the
    /// database's).
    pub fn open_at(
        location: &Location,
        durability: Durability,
        clock: Arc<dyn Clock>,
        admission: Limits,
    ) -> Result<Self, StartError> {
        let failed = |cause| StartError::Store {
            location: location.display(),
            cause,
        };
        let store = Arc::new(SqlStore::open(location, durability).map_err(failed)?);
        let fresh = random_hex(32)?;
        let secret = store
            .meta_get_or_insert("server_secret", &mut || fresh.clone())
            .map_err(failed)?;
        let keys = Keys::new(secret.as_bytes());
        let generations = store.credential_generations().map_err(failed)?;
        let cards = crate::cards::CardTrust::load(store.as_ref()).map_err(failed)?;
        let admin_generation = generations
            .iter()
            .find(|(p, _)| p == "admin")
            .map_or(0, |g| g.1);
        let admin_secret = keys.credential_secret("admin", admin_generation);
        let state = AppState::new(store.clone(), clock, keys, generations, cards, admission);
        state.hpki().reload(store.as_ref()).map_err(failed)?;
        state.suspended().reload(store.as_ref()).map_err(failed)?;
        state.join_nodes().map_err(failed)?;
        Ok(Self {
            state,
            store,
            admin_secret,
            connections: ConnectionLimits::default(),
            ops: None,
        })
    }

    /// Loads the built-in sample into a store without facilities (and `persons` sample persons
    /// into a store without persons, with the sample's card authority and HPKI root trusted: the
    /// cards of sample persons and the sample's practitioner certificates are derived from
    /// `seed`, see [`sample::card_authority`] and [`sample::hpki`]). Returns how many persons
    /// were enrolled.
    pub fn seed_sample(&self, persons: u64, seed: u64) -> Result<u64, StoreError> {
        let stats = self.store.stats()?;
        if stats.facilities == 0 {
            self.store.import_insurers(&sample::insurers())?;
            self.store.import_facilities(&sample::facilities())?;
            self.store
                .import_municipalities(&sample::municipalities())?;
        }
        if stats.persons > 0 || persons == 0 {
            return Ok(0);
        }
        let today = self.state.clock().today_jst();
        let records: Vec<_> = (0..persons)
            .map(|i| sample::person(seed, i, today))
            .collect();
        let authority = sample::card_authority(seed);
        let admin = crate::auth::principal::Principal {
            sub: "admin".into(),
            role: dx_protocol::wire::Role::Admin,
        };
        let now = self.state.now();
        let audit = crate::audit::AuditEvent::new(
            now,
            &admin,
            "cards.trust_authority",
            None,
            Some(authority.id.clone()),
            "ok",
        );
        self.store
            .trust_card_authority(&authority.id, &authority.public_key(), now, &audit)?;
        self.state
            .cards()
            .trust(&authority.id, authority.key.verifying_key());
        let root = sample::hpki(seed).root;
        let mut trust = dx_protocol::wire::hpki::Trust::default();
        let subject = trust
            .add_root(root.clone())
            .expect("the sample's root is a self-signed CA");
        let audit = crate::audit::AuditEvent::new(
            now,
            &admin,
            "hpki.trust_root",
            None,
            Some(subject.clone()),
            "ok",
        );
        let (digest, b64) = crate::hpki::root_row(&root);
        self.store
            .trust_hpki_root(&digest, &b64, &subject, now, &audit)?;
        self.state.hpki().update(|t| {
            let _ = t.add_root(root);
        });
        self.store.import_persons(&records)
    }

    /// The admin principal's secret (exchange it at `/v1/auth/token` for an admin token).
    /// Gives one service admission bounds of its own (before serving).
    pub fn set_service_limits(&self, service: crate::admission::Service, limits: Limits) {
        self.state.admission().set_limits(service, limits);
    }

    pub fn admin_secret(&self) -> &str {
        &self.admin_secret
    }

    /// Writes the admin secret to `<data_dir>/admin.key`, readable by the owner only.
    pub fn write_admin_key(&self, data_dir: &Path) -> std::io::Result<PathBuf> {
        // On PostgreSQL nothing else lives in the data directory: it may not exist yet.
        std::fs::create_dir_all(data_dir)?;
        let path = data_dir.join(ADMIN_KEY_FILE);
        std::fs::write(&path, format!("{}\n", self.admin_secret))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
        }
        Ok(path)
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    pub fn store(&self) -> &Arc<SqlStore> {
        &self.store
    }

    pub fn router(&self) -> Router {
        router(self.state.clone()).layer(axum::Extension(crate::extract::BodyTimeout(
            self.connections.body_timeout,
        )))
    }

    /// Sets the bounds on connections (the default ones otherwise).
    pub fn with_connection_limits(mut self, limits: ConnectionLimits) -> Self {
        self.connections = limits;
        self
    }

    /// Also serves `/healthz` and `/metrics` on `listener`, apart from the API's connections.
    pub fn with_ops_listener(mut self, listener: TcpListener) -> Self {
        self.ops = Some(listener);
        self
    }

    /// Serves on `listener` (and the operations listener, if any) until `shutdown` resolves,
    /// then drains in-flight requests for at most the drain timeout, closes what is left, and
    /// flushes the audit queue. The operations listener answers until the drain is over.
    pub async fn serve(
        mut self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        if let Ok(addr) = listener.local_addr() {
            self.state.set_public_base(format!("http://{addr}"));
        }
        let (ops_stop, ops_stopped) = tokio::sync::watch::channel(());
        let ops = match self.ops.take() {
            Some(l) => Some(self.serve_ops(l, ops_stopped)?),
            None => None,
        };
        let served =
            crate::connections::serve(listener, self.router(), self.connections, shutdown).await;
        drop(ops_stop);
        if let Some(ops) = ops {
            ops.await.map_err(std::io::Error::other)??;
        }
        served?;
        self.state.audit().flush().await;
        Ok(())
    }

    /// Serves the operations routes on `listener` from a thread and runtime of their own, so
    /// a flood that keeps the API's threads busy does not delay a probe; until `stop` changes or
    /// is dropped. Answers when that serving has ended.
    fn serve_ops(
        &self,
        listener: TcpListener,
        mut stop: tokio::sync::watch::Receiver<()>,
    ) -> std::io::Result<oneshot::Receiver<std::io::Result<()>>> {
        let limits = ConnectionLimits {
            max_connections: OPS_CONNECTIONS,
            ..self.connections
        };
        let router = crate::http::ops_router(self.state.clone());
        let listener = listener.into_std()?;
        let (done, ended) = oneshot::channel();
        std::thread::Builder::new()
            .name("ops-listener".into())
            .spawn(move || {
                let served = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .and_then(|rt| {
                        rt.block_on(async move {
                            let listener = TcpListener::from_std(listener)?;
                            crate::connections::serve(listener, router, limits, async move {
                                let _ = stop.changed().await;
                            })
                            .await
                        })
                    });
                let _ = done.send(served);
            })?;
        Ok(ended)
    }

    /// Serves in the background on `listener`; for tests and for `dxsim run`.
    pub fn spawn(self, listener: TcpListener) -> std::io::Result<Running> {
        let addr = listener.local_addr()?;
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(self.serve(listener, async move {
            let _ = stopped.await;
        }));
        Ok(Running {
            addr,
            stop: Some(stop),
            task,
        })
    }
}

/// An exchange serving in the background; stops when [`Running::stop`] is awaited or dropped.
pub struct Running {
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Running {
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops accepting, finishes in-flight requests, flushes the audit queue.
    pub async fn stop(mut self) -> std::io::Result<()> {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        (&mut self.task).await.map_err(std::io::Error::other)?
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}

/// Connections the kernel may queue for accepting (capped by `net.core.somaxconn`): a burst of
/// new connections waits there rather than having its SYNs dropped (a second's retransmit).
pub const LISTEN_BACKLOG: u32 = 4_096;

/// A listener on `addr` with [`LISTEN_BACKLOG`].
pub fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)
}

/// Most threads of the blocking pool (store work): bounded, so a burst queues rather than
/// growing threads — and their memory — without limit. Admission control bounds the queue.
pub const BLOCKING_THREADS: usize = 64;

/// The runtime the exchange is served on: multi-threaded, with a bounded blocking pool.
pub fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .max_blocking_threads(BLOCKING_THREADS)
        .build()
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}

/// What both binaries do: open, seed, bind, print where to find things, serve until a signal.
pub async fn run(args: &ServeArgs) -> anyhow::Result<()> {
    run_with(args, |_| Ok(())).await
}

/// As [`run`], with `prepare` run on the opened store before the sample is seeded (a store that
/// `prepare` fills with facilities or persons gets no sample of them).
pub async fn run_with(
    args: &ServeArgs,
    prepare: impl FnOnce(&Exchange) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let location = args.location()?;
    let clock: Arc<dyn Clock> = match &args.replay_clock {
        None => Arc::new(SystemClock),
        Some(spec) => {
            let followed = Arc::new(
                FollowedClock::parse(spec).map_err(|e| anyhow::anyhow!("--replay-clock: {e}"))?,
            );
            let reader = followed.clone();
            // Unless the spec named it, the replay's start instant comes on standard input.
            std::thread::spawn(move || {
                if reader.started() {
                    return;
                }
                let mut line = String::new();
                if std::io::stdin().read_line(&mut line).is_ok() {
                    match chrono::DateTime::parse_from_rfc3339(line.trim()) {
                        Ok(t) => reader.start_at(t.with_timezone(&chrono::Utc).into()),
                        Err(_) => {
                            tracing::error!(line = %line.trim(), "not an RFC 3339 start instant")
                        }
                    }
                }
            });
            followed
        }
    };
    // Opening, preparing and seeding block on the store: off the async workers.
    let (exchange, enrolled, key_file, stats) = tokio::task::block_in_place(|| {
        let exchange = Exchange::open_at(&location, args.durability(), clock, args.admission())?
            .with_connection_limits(args.connection_limits());
        for (service, limits) in args.service_limits() {
            exchange.set_service_limits(service, limits);
        }
        prepare(&exchange)?;
        if let Some(url) = &args.public_url {
            exchange
                .state
                .set_public_base(url.trim_end_matches('/').to_owned());
        }
        let enrolled = exchange.seed_sample(args.sample_persons, args.seed)?;
        let key_file = exchange.write_admin_key(&args.data)?;
        let stats = exchange.store().stats()?;
        anyhow::Ok((exchange, enrolled, key_file, stats))
    })?;
    let listener = bind(args.addr).map_err(|e| anyhow::anyhow!("binding {}: {e}", args.addr))?;
    let addr = listener.local_addr()?;
    let mut exchange = exchange;
    if let Some(ops) = args.ops_addr {
        let l = bind(ops).map_err(|e| anyhow::anyhow!("binding {ops}: {e}"))?;
        println!(
            "dx-exchange serves /healthz and /metrics also on http://{}",
            l.local_addr()?
        );
        exchange = exchange.with_ops_listener(l);
    }
    tracing::info!(
        %addr,
        store = %location.display(),
        persons = stats.persons,
        facilities = stats.facilities,
        enrolled_now = enrolled,
        admin_key = %key_file.display(),
        "dx-exchange listening; Ctrl-C stops it"
    );
    println!(
        "dx-exchange listening on http://{addr} (store: {}, admin secret in {})",
        location.display(),
        key_file.display()
    );
    exchange.serve(listener, shutdown_signal()).await?;
    tracing::info!("stopped cleanly");
    Ok(())
}

/// Logs to stderr; `RUST_LOG` overrides the default `info` level.
pub fn init_logging() {
    let filter =
        tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
