//! Runs the `dxsim` binary as a user would, and the population generator through its library.

mod capacity;
mod conformance;
mod faults;
mod population;
mod report;
mod rollout;
mod run;
mod workload;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn dxsim() -> Command {
    Command::new(env!("CARGO_BIN_EXE_dxsim"))
}

#[test]
fn help_shows_an_example_for_every_command() {
    for (args, example) in [
        (vec!["--help"], "dxsim serve"),
        (vec!["serve", "--help"], "dxsim serve"),
        (vec!["population", "--help"], "dxsim population"),
        (vec!["workload", "--help"], "dxsim workload"),
        (vec!["drive", "--help"], "dxsim drive"),
        (vec!["run", "--help"], "dxsim run"),
        (vec!["merge", "--help"], "dxsim merge"),
        (vec!["capacity", "--help"], "dxsim capacity"),
        (vec!["report", "--help"], "dxsim report"),
        (vec!["conformance", "--help"], "dxsim conformance"),
    ] {
        let out = dxsim().args(&args).output().unwrap();
        assert!(out.status.success());
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(
            text.contains("Example") && text.contains(&format!("\n  {example}")),
            "{args:?}: {text}"
        );
    }
}

#[test]
fn a_bad_argument_fails_with_a_message() {
    let out = dxsim()
        .args(["serve", "--addr", "not-an-address"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--addr"));
}

#[test]
fn serve_answers_and_stops_cleanly_on_ctrl_c() {
    let dir = tempfile_dir();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = dxsim()
        .args(["serve", "--addr", &format!("127.0.0.1:{port}"), "--data"])
        .arg(&dir)
        .args(["--durability", "normal", "--sample-persons", "10"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    assert!(healthy(port), "dxsim serve did not answer /healthz");
    assert!(dir.join("admin.key").exists());
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = child.wait().unwrap();
    assert!(exit.success(), "graceful shutdown exits 0, got {exit:?}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Waits up to 60 s for `/healthz` on a loopback port.
fn healthy(port: u16) -> bool {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        let ok = std::net::TcpStream::connect(("127.0.0.1", port)).is_ok_and(|mut s| {
            use std::io::{Read, Write};
            let _ = s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
            let mut buf = String::new();
            let _ = s.read_to_string(&mut buf);
            buf.starts_with("HTTP/1.1 200") && buf.ends_with("ok")
        });
        if ok {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn tempfile_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("dxsim-cli-{}-{}", std::process::id(), line!()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}
