//! Bounded connections over real sockets: a client sending its head a byte a second is cut off,
//! a connection over the cap is answered 503 and closed, an idle kept-alive connection is closed,
//! a body that does not arrive is 408, and shutdown drains for a bounded time.

use dx_exchange::admission::Limits;
use dx_exchange::clock::ManualClock;
use dx_exchange::connections::ConnectionLimits;
use dx_exchange::store::Durability;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn limits() -> ConnectionLimits {
    ConnectionLimits {
        max_connections: 4,
        header_read_timeout: Duration::from_secs(1),
        body_timeout: Duration::from_secs(1),
        idle_timeout: Duration::from_secs(1),
        drain_timeout: Duration::from_secs(1),
    }
}

async fn start(limits: ConnectionLimits) -> (dx_exchange::Running, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(crate::harness::start_time()));
    let exchange =
        dx_exchange::Exchange::open_with(dir.path(), Durability::Normal, clock, Limits::default())
            .unwrap()
            .with_connection_limits(limits);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    (exchange.spawn(listener).unwrap(), dir)
}

/// Reads until the peer closes (or `within` passes): what was read, and whether it closed.
fn read_to_close(s: &mut TcpStream, within: Duration) -> (String, bool) {
    s.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let (start, mut out, mut buf) = (Instant::now(), Vec::new(), [0u8; 4096]);
    while start.elapsed() < within {
        match s.read(&mut buf) {
            Ok(0) => return (String::from_utf8_lossy(&out).into_owned(), true),
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {
                return (String::from_utf8_lossy(&out).into_owned(), true);
            }
            Err(_) => {}
        }
    }
    (String::from_utf8_lossy(&out).into_owned(), false)
}

fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> tokio::task::JoinHandle<T> {
    tokio::task::spawn_blocking(f)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_head_sent_a_byte_a_second_is_cut_off() {
    let (running, _dir) = start(limits()).await;
    let addr = running.addr;
    let closed = blocking(move || {
        let mut s = TcpStream::connect(addr).unwrap();
        let start = Instant::now();
        for b in b"GET /healthz HTTP/1.1\r\nHost: x\r\n" {
            if s.write_all(&[*b]).is_err() {
                break;
            }
            std::thread::sleep(Duration::from_millis(300));
            if start.elapsed() > Duration::from_secs(4) {
                break;
            }
        }
        read_to_close(&mut s, Duration::from_secs(3)).1
    })
    .await
    .unwrap();
    assert!(closed, "a slow head kept its connection");
    running.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_over_the_cap_is_answered_503_and_closed() {
    let (running, _dir) = start(ConnectionLimits {
        idle_timeout: Duration::from_secs(30),
        header_read_timeout: Duration::from_secs(30),
        ..limits()
    })
    .await;
    let addr = running.addr;
    let (answer, closed, held) = blocking(move || {
        let held: Vec<TcpStream> = (0..4).map(|_| TcpStream::connect(addr).unwrap()).collect();
        std::thread::sleep(Duration::from_millis(200));
        let mut fifth = TcpStream::connect(addr).unwrap();
        let _ = fifth.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
        let (answer, closed) = read_to_close(&mut fifth, Duration::from_secs(3));
        (answer, closed, held.len())
    })
    .await
    .unwrap();
    assert_eq!(held, 4);
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.contains("retry-after: 1"), "{answer}");
    assert!(answer.contains("\"code\":\"overloaded\""), "{answer}");
    assert!(closed);
    // Once the held connections are gone, new ones are served.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let r = reqwest::get(format!("{}/healthz", running.url()))
        .await
        .unwrap();
    assert_eq!(r.status(), reqwest::StatusCode::OK);
    running.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_kept_alive_connection_is_closed() {
    let (running, _dir) = start(ConnectionLimits {
        header_read_timeout: Duration::from_secs(30),
        ..limits()
    })
    .await;
    let addr = running.addr;
    let (first, closed) = blocking(move || {
        let mut s = TcpStream::connect(addr).unwrap();
        s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        let mut buf = [0u8; 1024];
        s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        let n = s.read(&mut buf).unwrap();
        let first = String::from_utf8_lossy(&buf[..n]).into_owned();
        (first, read_to_close(&mut s, Duration::from_secs(4)).1)
    })
    .await
    .unwrap();
    assert!(first.starts_with("HTTP/1.1 200"), "{first}");
    assert!(closed, "an idle connection stayed open");
    running.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_does_not_arrive_is_408() {
    let (running, _dir) = start(ConnectionLimits {
        idle_timeout: Duration::from_secs(30),
        ..limits()
    })
    .await;
    let addr = running.addr;
    let answer = blocking(move || {
        let mut s = TcpStream::connect(addr).unwrap();
        s.write_all(b"POST /v1/auth/token HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{\"princ")
            .unwrap();
        read_to_close(&mut s, Duration::from_secs(4)).0
    })
    .await
    .unwrap();
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("\"code\":\"request_timeout\""), "{answer}");
    running.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_drains_for_a_bounded_time() {
    let (running, _dir) = start(ConnectionLimits {
        header_read_timeout: Duration::from_secs(60),
        idle_timeout: Duration::from_secs(60),
        ..limits()
    })
    .await;
    let addr: SocketAddr = running.addr;
    // A client that sends half a head and then nothing.
    let mut stuck = TcpStream::connect(addr).unwrap();
    stuck.write_all(b"GET /healthz HTTP/1.1\r\nHo").unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = Instant::now();
    tokio::time::timeout(Duration::from_secs(5), running.stop())
        .await
        .expect("stop waited on a stuck client")
        .unwrap();
    assert!(started.elapsed() < Duration::from_secs(5));
    let (_, closed) = blocking(move || read_to_close(&mut stuck, Duration::from_secs(2)))
        .await
        .unwrap();
    assert!(closed, "the stuck connection was left open");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_connections_give_way_when_the_server_is_crowded() {
    let (running, _dir) = start(ConnectionLimits {
        max_connections: 10,
        idle_timeout: Duration::from_secs(60),
        header_read_timeout: Duration::from_secs(60),
        ..limits()
    })
    .await;
    let addr = running.addr;
    let answer = blocking(move || {
        // Ten connections that never send a byte fill the cap.
        let silent: Vec<TcpStream> = (0..10).map(|_| TcpStream::connect(addr).unwrap()).collect();
        std::thread::sleep(Duration::from_millis(2_500));
        let mut s = TcpStream::connect(addr).unwrap();
        s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .unwrap();
        let answer = read_to_close(&mut s, Duration::from_secs(3)).0;
        drop(silent);
        answer
    })
    .await
    .unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    running.stop().await.unwrap();
}

/// One request on a fresh connection: the status line of the answer.
fn status_line(addr: SocketAddr, path: &str) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    // A connection over the cap may be answered and closed before the request is written.
    let _ = write!(
        s,
        "GET {path} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n"
    );
    let (text, _) = read_to_close(&mut s, Duration::from_secs(3));
    text.lines().next().unwrap_or_default().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_operations_listener_answers_when_the_api_is_full() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(crate::harness::start_time()));
    let ops = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let ops_addr = ops.local_addr().unwrap();
    let exchange =
        dx_exchange::Exchange::open_with(dir.path(), Durability::Normal, clock, Limits::default())
            .unwrap()
            .with_connection_limits(ConnectionLimits {
                max_connections: 2,
                header_read_timeout: Duration::from_secs(30),
                ..limits()
            })
            .with_ops_listener(ops);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let running = exchange.spawn(listener).unwrap();
    let addr = running.addr;
    blocking(move || {
        // The API's two connections held silent: a third is turned away at once.
        let held: Vec<TcpStream> = (0..2).map(|_| TcpStream::connect(addr).unwrap()).collect();
        std::thread::sleep(Duration::from_millis(200));
        assert!(status_line(addr, "/healthz").contains("503"));
        // The operations listener still answers, its two routes only.
        assert!(status_line(ops_addr, "/healthz").contains("200"));
        assert!(status_line(ops_addr, "/metrics").contains("200"));
        assert!(status_line(ops_addr, "/v1/admin/stats").contains("404"));
        drop(held);
    })
    .await
    .unwrap();
    running.stop().await.unwrap();
    // Stopped with the API: nothing listens there any more.
    assert!(TcpStream::connect(ops_addr).is_err());
}
