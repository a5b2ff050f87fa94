//! The exchange's accept loop: axum's router served over hyper's HTTP/1 connections with bounds
//! a hostile client cannot stretch — a cap on open connections (one over it is answered
//! `503 overloaded` and closed), a time limit for a request head to arrive (hyper's header
//! read timeout, which also runs while a kept-alive connection waits for its next request), an
//! idle timeout (a connection that moves no byte for it is closed, after any request in flight;
//! over 90% of the cap, one that has not sent a byte within a second is closed too),
//! and a bounded drain at shutdown (in-flight requests finish, then what is left is closed). The
//! request-body timeout is applied where bodies are read (`extract.rs`).

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};

/// The bounds on connections, with their defaults (the flags of `ServeArgs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// Connections open at once.
    pub max_connections: usize,
    /// From connection open (or the end of the previous response) to a complete request head.
    pub header_read_timeout: Duration,
    /// From a complete head to a complete body.
    pub body_timeout: Duration,
    /// A connection that moves no byte for this long is closed.
    pub idle_timeout: Duration,
    /// How long shutdown waits for in-flight requests before closing what is left.
    pub drain_timeout: Duration,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        Self {
            max_connections: default_max_connections(),
            header_read_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(60),
            drain_timeout: Duration::from_secs(10),
        }
    }
}

/// File descriptors kept for the store, the listener and the logs.
const RESERVED_FDS: u64 = 256;
/// The cap when the file limit allows more.
const MAX_DEFAULT_CONNECTIONS: u64 = 50_000;

/// Raises the soft limit on open files to the hard limit (and, where the process may, the hard
/// limit to 65,536), and answers how many connections fit under it.
pub fn default_max_connections() -> usize {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit only read and write the struct passed.
    let soft = unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return 1_024;
        }
        let wanted = lim.rlim_max.max(65_536);
        let raised = libc::rlimit {
            rlim_cur: wanted,
            rlim_max: wanted,
        };
        if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
            wanted
        } else {
            let soft = libc::rlimit {
                rlim_cur: lim.rlim_max,
                rlim_max: lim.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &soft) == 0 {
                lim.rlim_max
            } else {
                lim.rlim_cur
            }
        }
    };
    usize::try_from(
        soft.saturating_sub(RESERVED_FDS)
            .clamp(64, MAX_DEFAULT_CONNECTIONS),
    )
    .unwrap_or(1_024)
}

/// Largest request head read; beyond it hyper answers a bare 431 and closes.
const HEAD_BUFFER_BYTES: usize = 256 * 1024;

/// What the connections are told: keep serving, finish and close, or close now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stop {
    Serving,
    Draining,
    Closing,
}

/// The answer to a connection over the cap.
const OVER_CAP: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nretry-after: 1\r\nconnection: close\r\ncontent-length: 93\r\n\r\n{\"error\":{\"code\":\"overloaded\",\"message\":\"the exchange is at its bound of open connections\"}}\n";

/// Serves `router` on `listener` until `shutdown` resolves, then drains for at most
/// `drain_timeout` and closes what is left.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()> + Send,
) -> io::Result<()> {
    let cap = limits.max_connections.max(1);
    let permits = Arc::new(Semaphore::new(cap));
    let (stop_tx, stop_rx) = watch::channel(Stop::Serving);
    let service = TowerToHyperService::new(router);
    let trimmer = tokio::spawn(release_after_floods(permits.clone(), cap));
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(e) => {
                // Out of file descriptors, or the peer gave up: wait a little and go on.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
        };
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            tokio::spawn(refuse(stream));
            continue;
        };
        let _ = stream.set_nodelay(true);
        let (service, stop, permits) = (service.clone(), stop_rx.clone(), permits.clone());
        tokio::spawn(async move {
            connection(stream, service, limits, stop, Crowding { permits, cap }).await;
            drop(permit);
        });
    }
    drop(listener);
    trimmer.abort();
    let _ = stop_tx.send(Stop::Draining);
    let all = u32::try_from(cap).unwrap_or(u32::MAX);
    if tokio::time::timeout(limits.drain_timeout, permits.acquire_many(all))
        .await
        .is_err()
    {
        tracing::warn!(
            open = cap - permits.available_permits(),
            "drain timeout: closing the connections left"
        );
        let _ = stop_tx.send(Stop::Closing);
        let _ = tokio::time::timeout(Duration::from_secs(1), permits.acquire_many(all)).await;
    }
    Ok(())
}

/// Gives the memory of a flood of connections back to the system once it has ebbed: when the
/// open connections fall to a quarter of their peak (of at least 256), the allocator returns its
/// free pages (`malloc_trim`), so a burst does not ratchet the resident size up.
async fn release_after_floods(permits: Arc<Semaphore>, cap: usize) {
    let mut peak = 0;
    loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let open = cap - permits.available_permits();
        peak = peak.max(open);
        if peak >= 256 && open * 4 <= peak {
            release_free_memory();
            peak = open;
        }
    }
}

/// Returns the allocator's free pages to the system (glibc); elsewhere nothing.
pub fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only walks the allocator's own free lists.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// How full the server is, for the connections to see.
struct Crowding {
    permits: Arc<Semaphore>,
    cap: usize,
}

impl Crowding {
    /// Over 90% of the cap: connections that have not sent a byte are closed after a second,
    /// so an idle flood cannot keep new clients out.
    fn crowded(&self) -> bool {
        let open = self.cap - self.permits.available_permits();
        open * 10 > self.cap * 9
    }
}

/// A connection that has sent nothing for this long is closed while the server is crowded.
const SILENT_WHEN_CROWDED: Duration = Duration::from_secs(1);

/// Answers a connection over the cap and closes it, within a second.
async fn refuse(stream: TcpStream) {
    let write = async {
        let mut sent = 0;
        while sent < OVER_CAP.len() {
            stream.writable().await?;
            match stream.try_write(&OVER_CAP[sent..]) {
                Ok(n) => sent += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(e),
            }
        }
        Ok::<_, io::Error>(())
    };
    let _ = tokio::time::timeout(Duration::from_secs(1), write).await;
}

async fn connection<S>(
    stream: TcpStream,
    service: S,
    limits: ConnectionLimits,
    mut stop: watch::Receiver<Stop>,
    crowding: Crowding,
) where
    S: hyper::service::Service<
            hyper::Request<hyper::body::Incoming>,
            Response = axum::response::Response,
        > + Send
        + 'static,
    S::Future: Send + 'static,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let opened = Instant::now();
    let activity = Arc::new(AtomicU64::new(0));
    let io = Watched {
        inner: stream,
        opened,
        activity: activity.clone(),
    };
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .keep_alive(true)
        // Heads up to 256 KiB reach the router, which answers those over its own limits
        // (`error::head_limits`) with the JSON error body.
        .max_buf_size(HEAD_BUFFER_BYTES)
        .max_headers(1_000);
    let conn = builder.serve_connection(TokioIo::new(io), service);
    tokio::pin!(conn);
    let check = (limits.idle_timeout / 4)
        .min(SILENT_WHEN_CROWDED)
        .max(Duration::from_millis(50));
    let mut shutting = false;
    loop {
        tokio::select! {
            _ = conn.as_mut() => return,
            changed = stop.changed() => {
                let now = if changed.is_ok() { *stop.borrow() } else { Stop::Closing };
                match now {
                    Stop::Serving => {}
                    Stop::Draining if !shutting => {
                        shutting = true;
                        conn.as_mut().graceful_shutdown();
                    }
                    Stop::Draining => {}
                    Stop::Closing => return,
                }
            }
            () = tokio::time::sleep(check), if !shutting => {
                let moved = activity.load(Ordering::Relaxed);
                let last = Duration::from_millis(moved.saturating_sub(1));
                let age = opened.elapsed();
                let silent = moved == 0 && age >= SILENT_WHEN_CROWDED && crowding.crowded();
                if silent || age.saturating_sub(last) >= limits.idle_timeout {
                    // Finishes a request in flight, then closes.
                    shutting = true;
                    conn.as_mut().graceful_shutdown();
                }
            }
        }
    }
}

/// A stream that notes when it last moved a byte (1 + milliseconds since it opened; 0 for never).
struct Watched {
    inner: TcpStream,
    opened: Instant,
    activity: Arc<AtomicU64>,
}

impl Watched {
    fn touch(&self) {
        let ms = u64::try_from(self.opened.elapsed().as_millis()).unwrap_or(u64::MAX - 1);
        self.activity.store(ms + 1, Ordering::Relaxed);
    }
}

impl AsyncRead for Watched {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let r = Pin::new(&mut this.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            this.touch();
        }
        r
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let r = Pin::new(&mut this.inner).poll_write(cx, buf);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            this.touch();
        }
        r
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let r = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            this.touch();
        }
        r
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_over_cap_answer_is_well_formed() {
        let text = std::str::from_utf8(super::OVER_CAP).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        let length: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length: "))
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(body.len(), length);
        let v: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(v["error"]["code"], "overloaded");
    }
}
