//! A PostgreSQL server of the benchmark's own, with fsync on (so "full durability" means what it
//! says on both stores): `.ci/postgres start DIR --durable`, stopped when this value is dropped.
//! `DXSIM_BENCH_POSTGRES=<server URL>` uses a server of yours instead (it should be durable too);
//! `DXSIM_BENCH_POSTGRES=off` leaves PostgreSQL out.

pub struct BenchServer {
    pub url: String,
    dir: Option<std::path::PathBuf>,
}

fn script() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../.ci/postgres")
}

impl BenchServer {
    pub fn start() -> Option<BenchServer> {
        match std::env::var("DXSIM_BENCH_POSTGRES").ok().as_deref() {
            Some("off") => return None,
            Some(url) if !url.is_empty() => {
                return Some(BenchServer {
                    url: url.to_owned(),
                    dir: None,
                });
            }
            _ => {}
        }
        let dir = std::env::temp_dir().join(format!("dxsim-bench-pg-{}", std::process::id()));
        let out = std::process::Command::new("bash")
            .arg(script())
            .arg("start")
            .arg(&dir)
            .arg("--durable")
            .output()
            .expect("run .ci/postgres");
        assert!(
            out.status.success(),
            "starting PostgreSQL for the benchmark: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let stdout = String::from_utf8(out.stdout).unwrap();
        let url = stdout
            .lines()
            .find_map(|l| l.strip_prefix("export DXSIM_TEST_POSTGRES="))
            .expect("the server's URL")
            .to_owned();
        Some(BenchServer {
            url,
            dir: Some(dir),
        })
    }
}

impl Drop for BenchServer {
    fn drop(&mut self) {
        if let Some(dir) = &self.dir {
            let _ = std::process::Command::new("bash")
                .arg(script())
                .arg("stop")
                .arg(dir)
                .output();
        }
    }
}
