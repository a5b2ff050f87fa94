//! The exchange `dxsim run` supervises for a scenario's `exchange_crash` faults: `dxsim serve`
//! as a child process on the run's store, following the replay's simulated clock (its start
//! instant written to the child's standard input), killed with SIGKILL at each crash's start and
//! started again on the same store and port at its end. Its output goes to `<out>/exchange.log`.

use anyhow::Context as _;
use std::ffi::OsString;
use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// How long a started exchange may take to answer `/healthz`.
const START_WITHIN: Duration = Duration::from_secs(60);

/// The supervised exchange.
pub struct Supervised {
    args: Vec<OsString>,
    log: PathBuf,
    port: u16,
    child: Option<Child>,
    /// When the exchange was restarted after each crash, and how long it took to answer.
    pub restarts: Vec<Duration>,
}

impl Supervised {
    /// Starts `dxsim serve` on the store in `data` (or `store`, a PostgreSQL URL) with the
    /// `admission` flags, following the replay of `period_start` (JST) at `speedup`.
    pub fn start(
        data: &Path,
        store: Option<&str>,
        admission: &[OsString],
        period_start: chrono::NaiveDateTime,
        speedup: f64,
        log: PathBuf,
    ) -> anyhow::Result<Supervised> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let mut args: Vec<OsString> = vec![
            "serve".into(),
            "--addr".into(),
            format!("127.0.0.1:{port}").into(),
            "--data".into(),
            data.into(),
            "--durability".into(),
            "full".into(),
            "--sample-persons".into(),
            "0".into(),
        ];
        if let Some(url) = store {
            args.extend(["--store".into(), url.into()]);
        }
        args.extend(admission.iter().cloned());
        args.extend([
            "--replay-clock".into(),
            format!("{}@{speedup}", period_start.format("%Y-%m-%dT%H:%M:%S")).into(),
        ]);
        let mut s = Supervised {
            args,
            log,
            port,
            child: None,
            restarts: Vec::new(),
        };
        s.spawn(None)?;
        Ok(s)
    }

    /// The exchange's base URL.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn spawn(&mut self, start: Option<&str>) -> anyhow::Result<Duration> {
        let started = Instant::now();
        let mut args = self.args.clone();
        if let Some(at) = start {
            // A restart knows the replay's start: its clock runs from its first request on.
            let clock = args.last_mut().expect("the clock is the last argument");
            let mut spec = clock.clone();
            spec.push(format!("@{at}"));
            *clock = spec;
        }
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .with_context(|| format!("opening {}", self.log.display()))?;
        let child = Command::new(std::env::current_exe()?)
            .args(&args)
            .stdin(Stdio::piped())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .context("starting the supervised exchange")?;
        self.child = Some(child);
        while !healthy(self.port) {
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                anyhow::bail!(
                    "the supervised exchange ended ({status}) before it answered; see {}",
                    self.log.display()
                );
            }
            if started.elapsed() > START_WITHIN {
                anyhow::bail!(
                    "the supervised exchange did not answer within {} s; see {}",
                    START_WITHIN.as_secs(),
                    self.log.display()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(started.elapsed())
    }

    /// Tells the exchange the replay's start instant (its clock moves from then on).
    pub fn tell_start(&mut self, at: &str) -> anyhow::Result<()> {
        let stdin = self
            .child
            .as_mut()
            .and_then(|c| c.stdin.as_mut())
            .context("the supervised exchange has no input")?;
        writeln!(stdin, "{at}")?;
        stdin.flush()?;
        Ok(())
    }

    /// Kills the exchange at once (SIGKILL): what it acknowledged must already be stored.
    pub fn kill(&mut self) -> anyhow::Result<()> {
        if let Some(mut c) = self.child.take() {
            c.kill()?;
            c.wait()?;
        }
        Ok(())
    }

    /// Starts the exchange again on the same store and port, on the replay's clock.
    pub fn restart(&mut self, start: &str) -> anyhow::Result<()> {
        let took = self.spawn(Some(start))?;
        self.restarts.push(took);
        Ok(())
    }

    /// Stops the exchange as an operator would (SIGTERM: it drains what is in flight).
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            // SAFETY: kill(2) with a child's pid and SIGTERM; no memory is touched.
            unsafe {
                libc::kill(c.id() as libc::pid_t, libc::SIGTERM);
            }
            let deadline = Instant::now() + Duration::from_secs(15);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = c.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Supervised {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Whether the exchange on `port` answers `/healthz`.
fn healthy(port: u16) -> bool {
    let Ok(mut s) = std::net::TcpStream::connect_timeout(
        &([127, 0, 0, 1], port).into(),
        Duration::from_millis(200),
    ) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(1)));
    if s.write_all(b"GET /healthz HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut answer = String::new();
    let _ = s.read_to_string(&mut answer);
    answer.starts_with("HTTP/1.1 200")
}

/// Carries out the crashes of a replay on `schedule` (windows in simulated epoch ms) in a
/// thread of its own: tells the exchange the start instant, kills it at each crash's start and
/// restarts it at its end; stops early when `stop` is set. Returns the supervised exchange.
pub fn crash_on_schedule(
    mut exchange: Supervised,
    schedule: Arc<dx_drive::Schedule>,
    crashes: Vec<(i64, i64)>,
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<anyhow::Result<Supervised>> {
    std::thread::spawn(move || {
        let wait_until = |t: Instant| -> bool {
            while Instant::now() < t {
                if stop.load(Ordering::Relaxed) {
                    return false;
                }
                std::thread::sleep((t - Instant::now()).min(Duration::from_millis(5)));
            }
            true
        };
        let start = loop {
            if let Some(t) = schedule.started_wall() {
                break dx_drive::rfc3339(t);
            }
            if stop.load(Ordering::Relaxed) {
                return Ok(exchange);
            }
            std::thread::sleep(Duration::from_millis(2));
        };
        exchange.tell_start(&start)?;
        for (from, to) in crashes {
            if !wait_until(schedule.due(from)) {
                break;
            }
            exchange.kill()?;
            println!("exchange_crash: killed the exchange (SIGKILL)");
            if !wait_until(schedule.due(to)) {
                exchange.restart(&start)?;
                break;
            }
            exchange.restart(&start)?;
            println!(
                "exchange_crash: restarted the exchange; it answered after {:.2} s",
                exchange.restarts.last().map_or(0.0, Duration::as_secs_f64)
            );
        }
        Ok(exchange)
    })
}
