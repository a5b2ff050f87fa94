//! Local shards: N `dxsim drive --shard I/N` processes on this machine — the command a pod of
//! the Kubernetes Indexed Job runs — started on one instant through the start barrier
//! (`--start-at -`: each says `ready` once set up and reads the instant from standard input), then
//! waited for. Ctrl-C or SIGTERM is passed on to every shard once (each writes its results so far,
//! marked interrupted); a second one stops them at once.

use anyhow::Context as _;
use std::ffi::OsString;
use std::io::{BufRead as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

/// How long after the last shard is ready the replay starts: time for the instant to reach
/// every shard.
const START_LEAD: Duration = Duration::from_millis(500);

/// The run directory of shard `i` under `out`.
pub fn shard_dir(out: &Path, i: u32) -> PathBuf {
    out.join("shards").join(i.to_string())
}

/// Runs `count` shards of `dxsim drive`: shard i with `common` arguments and its own
/// `--shard i/count --start-at - --quiet --out <out>/shards/i`, the admin secret in its
/// environment. `on_start` learns the start instant before the shards do (`dxsim run` sets its
/// exchange's clock by it). Returns the shards' run directories, once every shard has ended;
/// fails if one ended other than with its results (exit code 0; a shard leaves the SLO verdict to
/// the merge).
pub fn run(
    count: u32,
    common: &[OsString],
    admin_secret: &str,
    out: &Path,
    on_start: impl FnOnce(SystemTime),
) -> anyhow::Result<Vec<PathBuf>> {
    run_quietly(count, common, admin_secret, out, on_start, false)
}

/// [`run`], without printing what each shard printed (its summary table) if `quiet`.
pub fn run_quietly(
    count: u32,
    common: &[OsString],
    admin_secret: &str,
    out: &Path,
    on_start: impl FnOnce(SystemTime),
    quiet: bool,
) -> anyhow::Result<Vec<PathBuf>> {
    let exe = std::env::current_exe().context("finding the dxsim executable")?;
    let pids: Arc<Mutex<Vec<u32>>> = Arc::default();
    pass_signals_on(pids.clone());
    let mut children: Vec<(u32, Child)> = Vec::new();
    let (ready_tx, ready_rx) = std::sync::mpsc::channel::<(u32, bool)>();
    let mut readers = Vec::new();
    let spawned = (|| -> anyhow::Result<()> {
        for i in 0..count {
            let dir = shard_dir(out, i);
            let mut cmd = Command::new(&exe);
            cmd.arg("drive")
                .args(common)
                .arg("--shard")
                .arg(format!("{i}/{count}"))
                .arg("--start-at")
                .arg("-")
                .arg("--quiet")
                .arg("--out")
                .arg(&dir)
                .env("DXSIM_ADMIN_SECRET", admin_secret)
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit());
            // Its own process group: a terminal's Ctrl-C reaches this process only, which
            // passes it on once.
            std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
            let mut child = cmd
                .spawn()
                .with_context(|| format!("starting shard {i}/{count}"))?;
            lock(&pids).push(child.id());
            let stdout = child.stdout.take().expect("piped");
            let tx = ready_tx.clone();
            readers.push(std::thread::spawn(move || {
                // `ready`, then the shard's summary table, kept to print once all are done.
                let mut said = Vec::new();
                let mut ready = false;
                for line in std::io::BufReader::new(stdout).lines() {
                    let Ok(line) = line else { break };
                    if !ready && line.trim() == dx_drive::READY {
                        ready = true;
                        let _ = tx.send((i, true));
                    } else {
                        said.push(line);
                    }
                }
                if !ready {
                    let _ = tx.send((i, false));
                }
                said
            }));
            children.push((i, child));
        }
        Ok(())
    })();
    drop(ready_tx);
    if let Err(e) = spawned {
        stop(&mut children);
        return Err(e);
    }
    // The barrier: every shard set up.
    let bar = if quiet {
        indicatif::ProgressBar::hidden()
    } else {
        indicatif::ProgressBar::new_spinner()
    };
    bar.set_message(format!("{count} shards setting up"));
    bar.enable_steady_tick(Duration::from_millis(200));
    let mut ready = 0;
    while ready < count {
        match ready_rx.recv() {
            Ok((_, true)) => ready += 1,
            other => {
                bar.finish_and_clear();
                stop(&mut children);
                let which =
                    other.map_or("a shard".to_owned(), |(i, _)| format!("shard {i}/{count}"));
                anyhow::bail!("{which} ended before it was set up (its messages are above)");
            }
        }
    }
    let start = SystemTime::now() + START_LEAD;
    on_start(start);
    let line = format!("{}\n", dx_drive::rfc3339(start));
    for (i, child) in &mut children {
        let stdin = child.stdin.as_mut().expect("piped");
        stdin
            .write_all(line.as_bytes())
            .and_then(|()| stdin.flush())
            .with_context(|| format!("sending shard {i}/{count} its start"))?;
    }
    bar.set_message(format!(
        "{count} shards replaying from {}",
        dx_drive::rfc3339(start)
    ));
    let mut failed = Vec::new();
    for (i, mut child) in children {
        let status = child.wait()?;
        // A shard stopped by a signal writes its results so far (marked interrupted) and
        // exits with code 1: the merge keeps them, and says the whole was interrupted.
        let wrote = shard_dir(out, i).join("summary.json").exists();
        match status.code() {
            Some(0) => {}
            Some(1) if wrote => {}
            Some(c) => failed.push(format!("shard {i}/{count} exited with code {c}")),
            None => failed.push(format!("shard {i}/{count} was killed")),
        }
    }
    bar.finish_and_clear();
    for (i, r) in readers.into_iter().enumerate() {
        let said = r.join().unwrap_or_default();
        if !said.is_empty() && !quiet {
            println!("— shard {i}/{count} —");
            for l in said {
                println!("{l}");
            }
        }
    }
    if !failed.is_empty() {
        anyhow::bail!("{}", failed.join("; "));
    }
    Ok((0..count).map(|i| shard_dir(out, i)).collect())
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Kills shards started before a failure.
fn stop(children: &mut [(u32, Child)]) {
    for (_, c) in children.iter_mut() {
        let _ = c.kill();
        let _ = c.wait();
    }
}

/// Ctrl-C or SIGTERM: the first is passed on to every shard as SIGTERM (each stops and writes
/// what it measured); the second kills them and exits.
fn pass_signals_on(pids: Arc<Mutex<Vec<u32>>>) {
    let seen = std::sync::atomic::AtomicUsize::new(0);
    let handler = move || {
        let n = seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let signal = if n == 0 { libc::SIGTERM } else { libc::SIGKILL };
        for pid in lock(&pids).iter() {
            // SAFETY: kill(2) with a pid this process spawned and a valid signal number.
            unsafe {
                libc::kill(*pid as libc::pid_t, signal);
            }
        }
        if n > 0 {
            std::process::exit(130);
        }
    };
    // Only one handler per process: a second call (a test running two commands) keeps the first.
    let _ = ctrlc::set_handler(handler);
}
