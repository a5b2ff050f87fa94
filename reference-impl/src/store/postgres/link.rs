//! One connection to PostgreSQL, driven on the thread that uses it: `tokio-postgres` talks over
//! a socket that a runtime of the connection's own (current-thread) reads and writes while the
//! caller waits, as the synchronous `postgres` crate does. Unlike that crate, a caller may wait on
//! several requests at once, which `tokio-postgres` sends together: a pipeline, one round trip.

use std::collections::VecDeque;
use std::future::{Future, poll_fn};
use std::pin::{Pin, pin};
use std::task::{Context, Poll, Waker};
use std::time::Duration;
use tokio_postgres::tls::NoTlsStream;
use tokio_postgres::{AsyncMessage, Client, Config, Connection, NoTls, Socket};

/// Notifications a connection keeps for its reader at most; older ones are dropped (a pooled
/// connection never listens, a listening one is read as they arrive).
const MAX_NOTIFICATIONS: usize = 1_024;

/// A connection's socket, while it lasts.
type Driven = Option<Pin<Box<Connection<Socket, NoTlsStream>>>>;

/// The socket of one client and the runtime that drives it.
pub(super) struct Link {
    runtime: Option<tokio::runtime::Runtime>,
    /// `None` once the connection has ended: the client's requests then fail as closed.
    connection: Driven,
    notifications: VecDeque<String>,
}

/// What a listening connection heard while it waited.
pub(super) enum Next {
    Payload(String),
    Quiet,
    Lost,
}

impl Link {
    /// Connects as `config` says; off any async worker (the caller blocks).
    pub(super) fn connect(config: &Config) -> Result<(Client, Link), tokio_postgres::Error> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .enable_time()
            .build()
            .expect("a current-thread runtime for a PostgreSQL connection");
        let (client, connection) = runtime.block_on(config.connect(NoTls))?;
        Ok((
            client,
            Link {
                runtime: Some(runtime),
                connection: Some(Box::pin(connection)),
                notifications: VecDeque::new(),
            },
        ))
    }

    /// Runs `work` (requests of this link's client) to its end, driving the socket meanwhile.
    /// If the connection ends, the requests still waiting fail as closed.
    pub(super) fn block_on<F: Future>(&mut self, work: F) -> F::Output {
        let mut work = pin!(work);
        let (runtime, connection, notifications) = self.parts();
        runtime.block_on(poll_fn(|cx| {
            // The requests go first, so that the socket is written with all of them at once.
            if let Poll::Ready(out) = work.as_mut().poll(cx) {
                return Poll::Ready(out);
            }
            drive(connection, notifications, cx);
            work.as_mut().poll(cx)
        }))
    }

    /// The runtime, and what it drives, apart.
    fn parts(&mut self) -> (&tokio::runtime::Runtime, &mut Driven, &mut VecDeque<String>) {
        let runtime = self
            .runtime
            .as_ref()
            .expect("the runtime lives as long as the link");
        (runtime, &mut self.connection, &mut self.notifications)
    }

    /// Waits up to `wait` for a notification (of a connection that listens).
    pub(super) fn next_notification(&mut self, wait: Duration) -> Next {
        if let Some(n) = self.notifications.pop_front() {
            return Next::Payload(n);
        }
        let (runtime, connection, notifications) = self.parts();
        let heard = runtime.block_on(async {
            tokio::time::timeout(
                wait,
                poll_fn(|cx| {
                    drive(connection, notifications, cx);
                    if notifications.is_empty() && connection.is_some() {
                        Poll::Pending
                    } else {
                        Poll::Ready(())
                    }
                }),
            )
            .await
        });
        match (heard, self.notifications.pop_front()) {
            (_, Some(n)) => Next::Payload(n),
            (Ok(()), None) => Next::Lost,
            (Err(_), None) if self.connection.is_none() => Next::Lost,
            (Err(_), None) => Next::Quiet,
        }
    }
}

/// Reads and writes what the socket can now, keeping notifications; drops the connection when
/// it ends (which fails the requests still waiting on it).
fn drive(connection: &mut Driven, notifications: &mut VecDeque<String>, cx: &mut Context<'_>) {
    while let Some(c) = connection.as_mut() {
        match c.as_mut().poll_message(cx) {
            Poll::Ready(Some(Ok(AsyncMessage::Notification(n)))) => {
                if notifications.len() >= MAX_NOTIFICATIONS {
                    notifications.pop_front();
                }
                notifications.push_back(n.payload().to_owned());
            }
            Poll::Ready(Some(Ok(_))) => {}
            Poll::Ready(Some(Err(_)) | None) => *connection = None,
            Poll::Pending => return,
        }
    }
}

impl Drop for Link {
    /// Writes out what the client queued last (its goodbye, when the client was dropped
    /// first) without waiting for anything, then lets the runtime go without blocking, which
    /// is allowed wherever the link is dropped.
    fn drop(&mut self) {
        if let (Some(runtime), Some(c)) = (self.runtime.as_ref(), self.connection.as_mut()) {
            let _entered = runtime.enter();
            let mut cx = Context::from_waker(Waker::noop());
            let _ = c.as_mut().poll_message(&mut cx);
        }
        self.connection = None;
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}
