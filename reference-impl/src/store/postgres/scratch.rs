//! Scratch databases for the tests and benchmarks, on the server `DXSIM_TEST_POSTGRES` names.

use super::super::error::StoreError;
use super::db::Conn;
use super::link::Link;

/// The environment variable that names a PostgreSQL server for the tests and benchmarks: the URL
/// of a role that may create databases (`.ci/run` sets it to a throwaway cluster it starts).
pub const TEST_SERVER_ENV: &str = "DXSIM_TEST_POSTGRES";

/// The test server of [`TEST_SERVER_ENV`], if one is set.
pub fn test_server() -> Option<String> {
    std::env::var(TEST_SERVER_ENV)
        .ok()
        .filter(|s| !s.is_empty())
}

/// The test server for a test that must run on PostgreSQL: `None` (after saying so on stderr)
/// where [`TEST_SERVER_ENV`] is unset, so that a machine without PostgreSQL still runs every
/// other test; but where `DXSIM_REQUIRE_POSTGRES` is set too (as `.ci/run` sets it), a missing
/// server fails the test.
pub fn test_server_or_skip(test: &str) -> Option<String> {
    let server = test_server();
    if server.is_none() {
        assert!(
            std::env::var_os("DXSIM_REQUIRE_POSTGRES").is_none(),
            "{test}: DXSIM_REQUIRE_POSTGRES is set but {TEST_SERVER_ENV} names no server"
        );
        eprintln!("{test}: not run on PostgreSQL ({TEST_SERVER_ENV} is not set)");
    }
    server
}

/// A database of its own on a server, for one test or benchmark; dropped, with any connection
/// still open to it, when this value is.
pub struct ScratchDatabase {
    server: String,
    name: String,
    url: String,
}

/// `url` with its database replaced by `name`.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, format!("?{q}")),
        None => (url, String::new()),
    };
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let authority_end = base[scheme_end..]
        .find('/')
        .map_or(base.len(), |i| scheme_end + i);
    format!("{}/{name}{query}", &base[..authority_end])
}

/// Runs `sql` (no parameters) on the server at `url`, from a thread of its own, where the client
/// may block whatever runtime the caller is on.
fn run_on_server(url: &str, sql: &str) -> Result<(), StoreError> {
    std::thread::scope(|s| {
        s.spawn(|| {
            let config: tokio_postgres::Config = url.parse()?;
            let (client, link) = Link::connect(&config)?;
            let mut conn = Conn::new(client, link);
            conn.batch(sql)
        })
        .join()
        .expect("database setup thread")
    })
}

impl ScratchDatabase {
    /// Creates a fresh, empty database on the server at `server` (any database URL of it).
    pub fn create(server: &str) -> Result<Self, StoreError> {
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let name = format!("dxsim_{}_{n}_{nanos}", std::process::id());
        run_on_server(server, &format!("CREATE DATABASE {name}"))?;
        Ok(Self {
            server: server.to_owned(),
            url: with_database(server, &name),
            name,
        })
    }

    /// The URL of the database, for `--store`.
    pub fn url(&self) -> &str {
        &self.url
    }
}

impl Drop for ScratchDatabase {
    fn drop(&mut self) {
        let (server, name) = (&self.server, &self.name);
        let dropped = run_on_server(
            server,
            &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
        );
        if let Err(e) = dropped {
            eprintln!("dropping the scratch database {name}: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scratch_urls_name_their_database() {
        assert_eq!(
            with_database("postgres://u@127.0.0.1:5432/postgres", "x"),
            "postgres://u@127.0.0.1:5432/x"
        );
        assert_eq!(with_database("postgres://u@h:1", "x"), "postgres://u@h:1/x");
        assert_eq!(
            with_database("postgresql://u:p@h/db?sslmode=disable", "x"),
            "postgresql://u:p@h/x?sslmode=disable"
        );
    }
}
