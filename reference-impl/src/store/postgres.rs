//! The PostgreSQL backend: a bounded pool of connections to one database, which any number of
//! exchange processes share. Writes run as `SERIALIZABLE` transactions, retried when PostgreSQL
//! reports a serialization failure or a deadlock, so concurrent writes on several nodes behave as
//! SQLite's one writer does: as if one after the other. Writes that all update one row queue on
//! that row's lock instead ([`PgStore::write_hot_row`]). Reads run as single statements.
//! Migrations are versioned in `schema_migrations` and applied under an advisory lock, so nodes
//! starting together migrate once. Audit lines and EHR items are kept in monthly partitions,
//! created as rows of a new month arrive.
//!
//! Round trips are what a request pays most for: each costs both processes a wake-up and the
//! kernel's socket work. So what need not be waited for is sent with what must be (`db.rs`): a
//! transaction's start goes with its first statement, statements whose outcome nobody reads
//! before the commit go with the next statement or the commit, independent reads go together.
//! The client is `tokio-postgres`, driven on the calling thread by a runtime of the connection's
//! own (`link.rs`), which tokio allows only outside async work: every call enters
//! [`tokio::task::block_in_place`], which is free on the blocking pool and off any runtime, and
//! lets a multi-threaded runtime's task block; a current-thread runtime's task must call through
//! `spawn_blocking`.

mod db;
mod link;
mod scratch;

pub use scratch::{ScratchDatabase, TEST_SERVER_ENV, test_server, test_server_or_skip};

use super::error::StoreError;
use super::migrations::{BULK_LOAD_INDEXES, PG_MIGRATIONS};
use super::sql::{Db, Later, Row};
use super::sqlite::Durability;
use db::{Conn, PgDb, SCHEMA_LOCK, lock};
use link::{Link, Next};
use std::collections::HashSet;
use std::sync::{Condvar, Mutex};
use std::time::Duration;
use tokio_postgres::error::SqlState;

/// The store URL's parameter that sets how many connections one process keeps open at most.
pub const CONNECTION_LIMIT: &str = "connection_limit";
/// The most a store URL's `connection_limit` may ask for (PostgreSQL's default
/// `max_connections` is 100, and several nodes share it).
const MAX_CONNECTION_LIMIT: usize = 64;

/// Connections one process keeps open at most unless its store URL says (`connection_limit`):
/// twice the cores, and one (a connection waiting on the disk or on a row lock leaves its core
/// to another). More only queue more work on the same cores: on two shared cores, 24 connections
/// served a quarter fewer registrations than 4 (the loopback bench, 2026-12-07). Further callers
/// wait for one to be returned.
fn default_connection_limit() -> usize {
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    (2 * cores + 1).clamp(4, MAX_CONNECTION_LIMIT)
}

/// The URL as PostgreSQL's client reads it (without `connection_limit`, which only this backend
/// knows), or the URL as given if its `connection_limit` is wrong.
pub(crate) fn without_connection_limit(url: &str) -> String {
    connection_limit(url).map_or_else(|_| url.to_owned(), |(url, _)| url)
}

/// The URL without its `connection_limit` parameter, which only this backend knows, and the
/// limit it sets.
fn connection_limit(url: &str) -> Result<(String, Option<usize>), StoreError> {
    let Some((base, query)) = url.split_once('?') else {
        return Ok((url.to_owned(), None));
    };
    let mut limit = None;
    let mut rest = form_urlencoded::Serializer::new(String::new());
    for (k, v) in form_urlencoded::parse(query.as_bytes()) {
        if k == CONNECTION_LIMIT {
            let n = v
                .parse::<usize>()
                .ok()
                .filter(|n| (1..=MAX_CONNECTION_LIMIT).contains(n))
                .ok_or_else(|| {
                    StoreError::Config(format!(
                        "{CONNECTION_LIMIT}={v}: expected a number of connections, 1 to \
                         {MAX_CONNECTION_LIMIT}"
                    ))
                })?;
            limit = Some(n);
        } else {
            rest.append_pair(&k, &v);
        }
    }
    let rest = rest.finish();
    let url = if rest.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{rest}")
    };
    Ok((url, limit))
}
/// Attempts at a write that keeps losing serialization races before it fails as a conflict.
const MAX_WRITE_ATTEMPTS: u32 = 12;

impl From<tokio_postgres::Error> for StoreError {
    /// PostgreSQL's errors stay inside this backend: callers see a backend failure, or a
    /// duplicate for a violated unique key.
    fn from(e: tokio_postgres::Error) -> Self {
        if e.code() == Some(&SqlState::UNIQUE_VIOLATION) {
            let what = e
                .as_db_error()
                .and_then(|d| d.constraint().map(str::to_owned))
                .unwrap_or_else(|| "a unique key".into());
            return StoreError::Duplicate(what);
        }
        StoreError::Backend(Box::new(e))
    }
}

/// Whether a failed write should run again: it lost a race that PostgreSQL detected.
fn lost_race(e: &StoreError) -> bool {
    let StoreError::Backend(b) = e else {
        return false;
    };
    b.downcast_ref::<tokio_postgres::Error>()
        .and_then(|e| e.code())
        .is_some_and(|c| {
            *c == SqlState::T_R_SERIALIZATION_FAILURE || *c == SqlState::T_R_DEADLOCK_DETECTED
        })
}

/// Whether a write failed because its row's monthly partition does not exist (any more).
fn missing_partition(e: &StoreError) -> bool {
    let StoreError::Backend(b) = e else {
        return false;
    };
    b.downcast_ref::<tokio_postgres::Error>()
        .and_then(|e| e.as_db_error())
        .is_some_and(|d| {
            *d.code() == SqlState::CHECK_VIOLATION
                && d.message().starts_with("no partition of relation")
        })
}

/// How a write transaction sees concurrent ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Isolation {
    /// As if one after the other; a lost race is retried.
    Serializable,
    /// Each statement sees what committed before it: for writes that queue on one row's lock.
    ReadCommitted,
}

struct Pool {
    idle: Vec<Conn>,
    open: usize,
}

pub struct PgStore {
    config: tokio_postgres::Config,
    durability: Durability,
    /// Connections open at most in the pool.
    max_connections: usize,
    /// The connection of unsynced statements (see [`PgStore::write_statement`]).
    unsynced: Mutex<Option<Box<Conn>>>,
    pool: Mutex<Pool>,
    returned: Condvar,
    /// Monthly partitions known to exist (a partition is never dropped while rows of its
    /// month can still arrive: only months wholly past their retention are).
    months: db::Months,
}

impl PgStore {
    /// Connects to the database at `url` (`postgres://user@host:port/db`) and applies pending
    /// migrations.
    pub fn open(url: &str, durability: Durability) -> Result<Self, StoreError> {
        let (url, limit) = connection_limit(url)?;
        let mut config: tokio_postgres::Config =
            url.parse().map_err(|e: tokio_postgres::Error| {
                StoreError::Config(format!("the store URL is not a PostgreSQL URL ({e})"))
            })?;
        if config.get_application_name().is_none() {
            config.application_name("dxsim-exchange");
        }
        config.connect_timeout(Duration::from_secs(10));
        let store = Self {
            config,
            durability,
            max_connections: limit.unwrap_or_else(default_connection_limit),
            unsynced: Mutex::new(None),
            pool: Mutex::new(Pool {
                idle: Vec::new(),
                open: 0,
            }),
            returned: Condvar::new(),
            months: Mutex::new(HashSet::new()),
        };
        tokio::task::block_in_place(|| {
            let mut conn = store.take()?;
            let migrated = migrate(&mut conn);
            store.give_back(conn);
            migrated
        })?;
        Ok(store)
    }

    /// A new connection whose commits are acknowledged before they reach the disk if
    /// `unsynced`.
    fn connect(&self, unsynced: bool) -> Result<Conn, StoreError> {
        let (client, link) = Link::connect(&self.config).map_err(|e| {
            // The cause (refused, unknown database, bad password) is the part a person needs.
            let cause = std::error::Error::source(&e).map_or(String::new(), |c| format!(": {c}"));
            StoreError::Config(format!("cannot connect to PostgreSQL ({e}{cause})"))
        })?;
        let mut conn = Conn::new(client, link);
        if unsynced {
            // Commits are acknowledged before PostgreSQL's WAL reaches the disk: a killed
            // exchange loses nothing, a crashed database server may lose the last commits.
            conn.batch("SET synchronous_commit = off")?;
        }
        Ok(conn)
    }

    /// An idle connection of the pool (the last returned), a new one while fewer than the most
    /// are open, or the next one returned. Its commits are as durable as the store's.
    fn take(&self) -> Result<Conn, StoreError> {
        let mut pool = lock(&self.pool);
        loop {
            if let Some(c) = pool.idle.pop() {
                return Ok(c);
            }
            if pool.open < self.max_connections {
                pool.open += 1;
                drop(pool);
                return self
                    .connect(self.durability == Durability::Normal)
                    .inspect_err(|_| lock(&self.pool).open -= 1);
            }
            pool = self.returned.wait(pool).unwrap_or_else(|e| e.into_inner());
        }
    }

    /// Returns a connection to the pool, or closes it if it broke.
    fn give_back(&self, conn: Conn) {
        let mut pool = lock(&self.pool);
        if conn.client.is_closed() {
            pool.open -= 1;
        } else {
            pool.idle.push(conn);
        }
        drop(pool);
        self.returned.notify_one();
    }

    /// Runs `f` in a serializable transaction and commits it, running it again (up to
    /// [`MAX_WRITE_ATTEMPTS`] times) when it lost a race to a concurrent write; any error rolls
    /// it back, so a refused or failed request leaves nothing behind.
    pub fn write<T>(
        &self,
        mut f: impl FnMut(&dyn Db) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        tokio::task::block_in_place(|| {
            self.write_here(Isolation::Serializable, &mut f, &|_, v| Ok(v))
        })
    }

    /// As [`PgStore::write`], for writes that all update one row (a facility's prescription
    /// numbers of a year) and otherwise insert rows whose uniqueness a key enforces. They run
    /// `READ COMMITTED`: each waits for the row's lock, then sees the last one's commit, where
    /// serializable transactions would fail and retry against each other. Only what follows the
    /// update waits, so `f` updates the row as late as it can, and sends what follows with the
    /// commit. A unique key violated by a concurrent insert fails the write; the caller decides.
    /// The answer is the rows of the query `f` ran with [`Db::query_later`].
    pub fn write_hot_row(
        &self,
        mut f: impl FnMut(&dyn Db) -> Result<Later, StoreError>,
    ) -> Result<Vec<Row>, StoreError> {
        tokio::task::block_in_place(|| {
            self.write_here(Isolation::ReadCommitted, &mut f, &|db, later| {
                db.rows_of(later)
            })
        })
    }

    /// Runs the write `f`, then `done` with its answer once committed.
    fn write_here<T, U>(
        &self,
        isolation: Isolation,
        f: &mut impl FnMut(&dyn Db) -> Result<T, StoreError>,
        done: &impl Fn(&PgDb<'_>, T) -> Result<U, StoreError>,
    ) -> Result<U, StoreError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut conn = self.take()?;
            let result = self.attempt(&mut conn, isolation, f, done);
            self.give_back(conn);
            match result {
                Err(e) if lost_race(&e) => {
                    if attempt >= MAX_WRITE_ATTEMPTS {
                        return Err(StoreError::Conflict(
                            "concurrent writes kept conflicting with this one",
                        ));
                    }
                    // Back off by a little more each time, spread by the attempt's own clock.
                    let spread = u64::from(
                        std::time::SystemTime::now()
                            .duration_since(std::time::UNIX_EPOCH)
                            .map_or(0, |d| d.subsec_nanos())
                            % 1_000,
                    );
                    std::thread::sleep(Duration::from_micros(
                        500 * u64::from(attempt) + spread * u64::from(attempt),
                    ));
                }
                Err(e) if missing_partition(&e) && attempt < MAX_WRITE_ATTEMPTS => {
                    // Another node dropped a month this one still knew: learn them afresh.
                    lock(&self.months).clear();
                }
                r => return r,
            }
        }
    }

    fn attempt<T, U>(
        &self,
        conn: &mut Conn,
        isolation: Isolation,
        f: &mut impl FnMut(&dyn Db) -> Result<T, StoreError>,
        done: &impl Fn(&PgDb<'_>, T) -> Result<U, StoreError>,
    ) -> Result<U, StoreError> {
        // The transaction opens with its first statement.
        let begin = match isolation {
            Isolation::Serializable => "START TRANSACTION ISOLATION LEVEL SERIALIZABLE",
            Isolation::ReadCommitted => "START TRANSACTION ISOLATION LEVEL READ COMMITTED",
        };
        let db = PgDb::transaction(conn, &self.months, begin.into());
        let out = f(&db).and_then(|v| {
            db.commit()?;
            done(&db, v)
        });
        match out {
            Ok(v) => {
                lock(&self.months).extend(db.created.take());
                Ok(v)
            }
            Err(e) => {
                // Whatever failed, the transaction is over once this returns.
                db.rollback();
                Err(e)
            }
        }
    }

    /// Runs `f`'s statements each on its own (autocommitted): an upsert or insert atomic by
    /// itself, which neither waits for nor retries against other writes. If `unsynced`, on a
    /// connection of its own outside the pool, whose commits are acknowledged before they reach
    /// the disk (the audit batches of the one audit writer: they never wait for a connection
    /// behind the reads whose lines they store). A statement that found its month's partition
    /// gone runs again once the months are learnt afresh.
    pub fn write_statement<T>(
        &self,
        unsynced: bool,
        mut f: impl FnMut(&dyn Db) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut run = |conn: &mut Conn| {
            let db = PgDb::autocommit(conn, &self.months);
            f(&db).and_then(|v| db.flush().map(|()| v))
        };
        tokio::task::block_in_place(|| {
            let mut retried = false;
            loop {
                let result = if unsynced {
                    let mut own = lock(&self.unsynced);
                    let conn = match own.take() {
                        Some(c) if !c.client.is_closed() => c,
                        _ => Box::new(self.connect(true)?),
                    };
                    let conn = own.insert(conn);
                    run(conn)
                } else {
                    let mut conn = self.take()?;
                    let result = run(&mut conn);
                    self.give_back(conn);
                    result
                };
                match result {
                    Err(e) if missing_partition(&e) && !retried => {
                        retried = true;
                        lock(&self.months).clear();
                    }
                    r => return r,
                }
            }
        })
    }

    /// Runs `f` on a pooled connection, each statement on its own.
    pub fn read<T>(
        &self,
        f: impl FnOnce(&dyn Db) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        tokio::task::block_in_place(|| self.read_here(f))
    }

    fn read_here<T>(
        &self,
        f: impl FnOnce(&dyn Db) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut conn = self.take()?;
        let out = {
            let db = PgDb::autocommit(&mut conn, &self.months);
            f(&db).and_then(|v| db.flush().map(|()| v))
        };
        self.give_back(conn);
        out
    }

    /// Runs `load` with the enrolment tables' secondary indexes dropped, then rebuilds them and
    /// analyzes the database; only into a store without persons. A duplicate card serial fails
    /// the rebuild, and so the load.
    pub fn bulk_load<T>(
        &self,
        load: impl FnOnce() -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.write(|db| {
            if db.exists("SELECT 1 FROM persons LIMIT 1", &[])? {
                return Err(StoreError::Conflict(
                    "a bulk load needs a store without persons",
                ));
            }
            for (name, _) in BULK_LOAD_INDEXES {
                db.execute(&format!("DROP INDEX IF EXISTS {name}"), &[])?;
            }
            Ok(())
        })?;
        let loaded = load();
        let rebuilt = self.write(|db| {
            for (_, sql) in BULK_LOAD_INDEXES {
                db.execute(sql.trim_end_matches(';'), &[])
                    .map_err(|e| match e {
                        StoreError::Duplicate(_) => StoreError::Duplicate("a card serial".into()),
                        e => e,
                    })?;
            }
            Ok(())
        });
        let out = loaded?;
        rebuilt?;
        // The planner's statistics of what was loaded, before the first request is planned
        // (autovacuum would take them within a minute, and each connection then plans again).
        self.write_statement(false, |db| db.execute("ANALYZE", &[]))?;
        Ok(out)
    }
}

/// What a listening connection hears.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Heard {
    /// A notification's payload.
    Payload(String),
    /// The connection was (re)opened: notifications sent while it was down are lost.
    Reconnected,
    /// Nothing for a second.
    Nothing,
}

/// How long a listener waits before connecting again after losing its connection.
const RELISTEN_AFTER: Duration = Duration::from_secs(1);

impl PgStore {
    /// Listens on `channel` from a thread of its own, calling `on` with what it hears until `on`
    /// answers false; reconnects (and says so) when the connection drops.
    pub fn listen(
        &self,
        channel: &str,
        mut on: Box<dyn FnMut(Heard) -> bool + Send>,
    ) -> Result<(), StoreError> {
        let config = self.config.clone();
        let listen = format!("LISTEN {channel}");
        let connect = move || -> Result<Conn, StoreError> {
            let (client, link) = Link::connect(&config)?;
            let mut conn = Conn::new(client, link);
            conn.batch(&listen)?;
            Ok(conn)
        };
        // The first connection is made here, so a store that cannot be listened to fails to open.
        let first = tokio::task::block_in_place(&connect)?;
        std::thread::Builder::new()
            .name("pg-listen".into())
            .spawn(move || {
                let mut conn = Some(first);
                loop {
                    let Some(c) = conn.as_mut() else {
                        std::thread::sleep(RELISTEN_AFTER);
                        conn = connect().ok();
                        if conn.is_some() && !on(Heard::Reconnected) {
                            return;
                        }
                        continue;
                    };
                    // Each notice as it arrives; a second without one is a chance to stop.
                    let heard = match c.link.next_notification(Duration::from_secs(1)) {
                        Next::Payload(p) => Heard::Payload(p),
                        Next::Quiet => Heard::Nothing,
                        Next::Lost => {
                            conn = None;
                            continue;
                        }
                    };
                    if !on(heard) {
                        return;
                    }
                }
            })?;
        Ok(())
    }
}

/// Applies the migrations this database has not had yet, in one transaction, under the schema
/// lock (nodes starting together migrate once).
fn migrate(conn: &mut Conn) -> Result<(), StoreError> {
    conn.batch(&format!(
        "BEGIN;
         SELECT pg_advisory_xact_lock({SCHEMA_LOCK});
         CREATE TABLE IF NOT EXISTS schema_migrations (
             version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now());"
    ))?;
    let applied = apply_migrations(conn);
    match applied {
        Ok(()) => conn.batch("COMMIT"),
        Err(e) => {
            let _ = conn.batch("ROLLBACK");
            Err(e)
        }
    }
}

fn apply_migrations(conn: &mut Conn) -> Result<(), StoreError> {
    let Conn { client, link, .. } = conn;
    let done: i32 = link
        .block_on(client.query_one(
            "SELECT coalesce(max(version), 0) FROM schema_migrations",
            &[],
        ))?
        .get(0);
    let done =
        usize::try_from(done).map_err(|_| StoreError::Corrupt(format!("schema version {done}")))?;
    if done > PG_MIGRATIONS.len() {
        return Err(StoreError::Corrupt(format!(
            "database schema version {done} is newer than this build knows ({})",
            PG_MIGRATIONS.len()
        )));
    }
    for (i, sql) in PG_MIGRATIONS.iter().enumerate().skip(done) {
        link.block_on(client.batch_execute(sql))?;
        link.block_on(client.execute(
            "INSERT INTO schema_migrations (version) VALUES ($1)",
            &[&(i as i32 + 1)],
        ))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_connection_limit_is_taken_out_of_the_url() {
        let (url, n) = connection_limit("postgres://u@h:5/db?connection_limit=8").unwrap();
        assert_eq!((url.as_str(), n), ("postgres://u@h:5/db", Some(8)));
        let (url, n) =
            connection_limit("postgres://u@h/db?sslmode=disable&connection_limit=2").unwrap();
        assert_eq!(
            (url.as_str(), n),
            ("postgres://u@h/db?sslmode=disable", Some(2))
        );
        let (url, n) = connection_limit("postgres://u@h/db").unwrap();
        assert_eq!((url.as_str(), n), ("postgres://u@h/db", None));
        for bad in ["0", "65", "many"] {
            let url = format!("postgres://u@h/db?connection_limit={bad}");
            assert!(
                matches!(connection_limit(&url), Err(StoreError::Config(_))),
                "{bad}"
            );
        }
        assert!((4..=MAX_CONNECTION_LIMIT).contains(&default_connection_limit()));
    }
}
