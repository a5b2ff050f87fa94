//! The SQLite backend: one file in WAL mode, one writer connection, a bounded pool of readers.

use super::error::StoreError;
use super::migrations::{BULK_LOAD_INDEXES, MIGRATIONS};
use super::sql::{Arg, Db, Row, Value};
use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{Connection, OpenFlags, TransactionBehavior};
use std::path::{Path, PathBuf};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::Duration;

impl From<rusqlite::Error> for StoreError {
    /// SQLite's errors stay inside this backend: callers see a backend failure.
    fn from(e: rusqlite::Error) -> Self {
        StoreError::Backend(Box::new(e))
    }
}

impl rusqlite::ToSql for Arg<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match *self {
            Arg::Null => ToSqlOutput::Owned(rusqlite::types::Value::Null),
            Arg::Int(v) => ToSqlOutput::Owned(rusqlite::types::Value::Integer(v)),
            Arg::Text(s) => ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes())),
            Arg::Date(d) => ToSqlOutput::Owned(rusqlite::types::Value::Text(d.to_string())),
        })
    }
}

/// A unique key or primary key violated; any other error of SQLite is the backend's.
fn sqlite_error(e: rusqlite::Error) -> StoreError {
    match &e {
        rusqlite::Error::SqliteFailure(f, msg)
            if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
                || f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE =>
        {
            StoreError::Duplicate(msg.clone().unwrap_or_else(|| "a unique key".into()))
        }
        _ => StoreError::from(e),
    }
}

impl Db for Connection {
    fn execute(&self, sql: &str, args: &[Arg<'_>]) -> Result<u64, StoreError> {
        let mut stmt = self.prepare_cached(sql)?;
        let n = stmt
            .execute(rusqlite::params_from_iter(args))
            .map_err(sqlite_error)?;
        Ok(n as u64)
    }

    fn query(&self, sql: &str, args: &[Arg<'_>]) -> Result<Vec<Row>, StoreError> {
        let mut stmt = self.prepare_cached(sql)?;
        let columns = stmt.column_count();
        let mut rows = stmt
            .query(rusqlite::params_from_iter(args))
            .map_err(sqlite_error)?;
        let mut out = Vec::new();
        while let Some(r) = rows.next().map_err(sqlite_error)? {
            let mut values = Vec::with_capacity(columns);
            for i in 0..columns {
                values.push(match r.get_ref(i)? {
                    ValueRef::Null => Value::Null,
                    ValueRef::Integer(v) => Value::Int(v),
                    ValueRef::Text(t) => Value::Text(
                        std::str::from_utf8(t)
                            .map_err(|_| StoreError::Corrupt(format!("column {i} is not UTF-8")))?
                            .to_owned(),
                    ),
                    other => {
                        return Err(StoreError::Corrupt(format!(
                            "column {i} is {:?}",
                            other.data_type()
                        )));
                    }
                });
            }
            out.push(Row(values));
        }
        Ok(out)
    }
}

/// When an acknowledged write reaches the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// Every commit is fsynced before it is acknowledged (`synchronous = FULL`): survives power
    /// loss as well as a killed process.
    #[default]
    Full,
    /// Commits reach the OS before they are acknowledged and the WAL is fsynced at checkpoints
    /// (`synchronous = NORMAL`): survives a killed process, not a power loss. For load tests.
    Normal,
}

/// Page cache of the writer connection, in KiB: bulk imports insert into indexes in random
/// order (card serials, insurance numbers), which thrash SQLite's default 2 MiB cache.
const WRITER_CACHE_KIB: i64 = 256 * 1024;

/// Most reader connections open at once; further readers wait for one to be returned.
const MAX_READERS: usize = 16;
/// Statements a connection keeps prepared (the exchange has about 150; rusqlite keeps 16 by
/// default, and re-preparing an evicted one costs more than running it).
const STATEMENT_CACHE: usize = 256;
/// How long a connection waits on a lock held by another before failing with `SQLITE_BUSY`.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

pub struct SqliteStore {
    path: PathBuf,
    durability: Durability,
    writer: Mutex<Connection>,
    readers: Mutex<ReaderPool>,
    reader_returned: Condvar,
}

struct ReaderPool {
    idle: Vec<Connection>,
    open: usize,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding a connection leaves it usable: SQLite rolls back unfinished work.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` and applies pending migrations.
    pub fn open(path: &Path, durability: Durability) -> Result<Self, StoreError> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let mut writer = Connection::open(path)?;
        writer.busy_timeout(BUSY_TIMEOUT)?;
        writer.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        stable_plans(&writer)?;
        writer.pragma_update(None, "journal_mode", "WAL")?;
        let sync = match durability {
            Durability::Full => "FULL",
            Durability::Normal => "NORMAL",
        };
        writer.pragma_update(None, "synchronous", sync)?;
        writer.pragma_update(None, "foreign_keys", "ON")?;
        writer.pragma_update(None, "cache_size", -WRITER_CACHE_KIB)?;
        migrate(&mut writer)?;
        Ok(Self {
            path: path.to_owned(),
            durability,
            writer: Mutex::new(writer),
            readers: Mutex::new(ReaderPool {
                idle: Vec::new(),
                open: 0,
            }),
            reader_returned: Condvar::new(),
        })
    }

    /// Runs `f` in an immediate write transaction and commits it; any error rolls it back, so a
    /// refused or failed request leaves nothing behind.
    pub fn write<T>(
        &self,
        f: impl FnOnce(&dyn Db) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut conn = lock(&self.writer);
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let out = f(&*tx)?;
        tx.commit()?;
        Ok(out)
    }

    /// [`SqliteStore::write`] on SQLite's own transaction (schema work of this backend).
    fn raw_write<T>(
        &self,
        f: impl FnOnce(&rusqlite::Transaction<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut conn = lock(&self.writer);
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let out = f(&tx)?;
        tx.commit()?;
        Ok(out)
    }

    /// As [`SqliteStore::write`], committed without waiting for the disk (`synchronous =
    /// NORMAL` for this transaction): the commit survives a killed process at once, and power
    /// loss once the next fsynced commit or checkpoint has written the log. For the audit lines
    /// of reads, which a read waits for.
    pub fn write_unsynced<T>(
        &self,
        f: impl FnOnce(&dyn Db) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut conn = lock(&self.writer);
        let full = self.durability == Durability::Full;
        if full {
            conn.pragma_update(None, "synchronous", "NORMAL")?;
        }
        let result = (|| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let out = f(&*tx)?;
            tx.commit()?;
            Ok(out)
        })();
        if full {
            conn.pragma_update(None, "synchronous", "FULL")?;
        }
        result
    }

    /// Runs `f` on a read-only connection (a consistent snapshot for its duration if it opens a
    /// transaction; single statements are atomic anyway).
    pub fn read<T>(
        &self,
        f: impl FnOnce(&dyn Db) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let conn = self.take_reader()?;
        let out = f(&conn);
        let mut pool = lock(&self.readers);
        pool.idle.push(conn);
        drop(pool);
        self.reader_returned.notify_one();
        out
    }

    /// Runs `load` with the enrolment tables' secondary indexes dropped, then rebuilds them; only
    /// into a store without persons. A duplicate card serial fails the rebuild, and so the load.
    pub fn bulk_load<T>(
        &self,
        load: impl FnOnce() -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.raw_write(|tx| {
            let persons: i64 = tx.query_row("SELECT count(*) FROM persons", [], |r| r.get(0))?;
            if persons > 0 {
                return Err(StoreError::Conflict(
                    "a bulk load needs a store without persons",
                ));
            }
            for (name, _) in BULK_LOAD_INDEXES {
                tx.execute_batch(&format!("DROP INDEX IF EXISTS {name};"))?;
            }
            Ok(())
        })?;
        // The loader inserts each person's qualifications and entitlements right after the
        // person, so the per-row foreign-key lookups (a tenth of the load) prove nothing here.
        let fk = |on: bool| lock(&self.writer).pragma_update(None, "foreign_keys", on);
        fk(false)?;
        let loaded = load();
        fk(true)?;
        // Let the index sorts use a second core (SQLite's sorter threads).
        lock(&self.writer).pragma_update(None, "threads", 2)?;
        let rebuilt = self.raw_write(|tx| {
            for (_, sql) in BULK_LOAD_INDEXES {
                tx.execute_batch(sql).map_err(|e| match e {
                    rusqlite::Error::SqliteFailure(f, _)
                        if f.code == rusqlite::ErrorCode::ConstraintViolation =>
                    {
                        StoreError::Duplicate("a card serial".into())
                    }
                    e => StoreError::from(e),
                })?;
            }
            Ok(())
        });
        let out = loaded?;
        rebuilt?;
        Ok(out)
    }

    /// [`SqliteStore::read`] on the rusqlite connection itself, for tests of SQLite's own
    /// behaviour.
    #[cfg(test)]
    pub(crate) fn read_raw<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let conn = self.take_reader()?;
        let out = f(&conn);
        lock(&self.readers).idle.push(conn);
        self.reader_returned.notify_one();
        out
    }

    fn take_reader(&self) -> Result<Connection, StoreError> {
        let mut pool = lock(&self.readers);
        loop {
            if let Some(c) = pool.idle.pop() {
                return Ok(c);
            }
            if pool.open < MAX_READERS {
                pool.open += 1;
                drop(pool);
                return self
                    .open_reader()
                    .inspect_err(|_| lock(&self.readers).open -= 1);
            }
            pool = self
                .reader_returned
                .wait(pool)
                .unwrap_or_else(|e| e.into_inner());
        }
    }

    fn open_reader(&self) -> Result<Connection, StoreError> {
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
            | OpenFlags::SQLITE_OPEN_URI;
        let c = Connection::open_with_flags(&self.path, flags)?;
        c.busy_timeout(BUSY_TIMEOUT)?;
        c.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        stable_plans(&c)?;
        Ok(c)
    }
}

/// Keeps each cached statement's query plan once prepared (SQLite's query planner stability
/// guarantee). Without it, SQLite (built with STAT4) re-prepares a statement whose plan might
/// depend on a bound value — every `… WHERE person_id = ?1 ORDER BY …` — at each new binding,
/// and that re-parse was a quarter of a verification's time. The exchange runs no `ANALYZE`,
/// so no plan depends on a value anyway.
fn stable_plans(c: &Connection) -> Result<(), StoreError> {
    c.set_db_config(
        rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
        true,
    )?;
    Ok(())
}

fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let done: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    let done =
        usize::try_from(done).map_err(|_| StoreError::Corrupt(format!("schema version {done}")))?;
    if done > MIGRATIONS.len() {
        return Err(StoreError::Corrupt(format!(
            "database schema version {done} is newer than this build knows ({})",
            MIGRATIONS.len()
        )));
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(done) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", (i + 1) as i64)?;
        tx.commit()?;
    }
    Ok(())
}

#[cfg(test)]
mod plans {
    use super::*;

    /// A cached statement keeps its plan across bindings: a `WHERE … = ?1 ORDER BY …` query is
    /// not re-prepared for each person (which SQLite does without the planner stability
    /// guarantee).
    #[test]
    fn cached_statements_are_not_reprepared_per_binding() {
        use crate::eligibility::EligibilityStore;
        use crate::refdata::sample;
        let dir = tempfile::tempdir().unwrap();
        let store = super::super::SqlStore::Sqlite(
            SqliteStore::open(&dir.path().join("x.db"), Durability::Normal).unwrap(),
        );
        let today = chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
        let people: Vec<_> = (0..20).map(|i| sample::person(1, i, today)).collect();
        store.import_persons(&people).unwrap();
        let super::super::SqlStore::Sqlite(s) = &store else {
            unreachable!()
        };
        for sql in [
            "SELECT insurer_number FROM qualifications WHERE person_id = ?1 ORDER BY valid_from",
            "SELECT seq FROM care_certifications WHERE person_id = ?1 ORDER BY valid_from DESC, seq DESC",
            "SELECT id FROM audit WHERE person_id = ?1 ORDER BY id DESC LIMIT 5",
        ] {
            let (reprepared, runs) = s
                .read_raw(|c| {
                    for p in &people {
                        let mut st = c.prepare_cached(sql)?;
                        let mut rows = st.query([&p.id])?;
                        while rows.next()?.is_some() {}
                    }
                    let st = c.prepare_cached(sql)?;
                    Ok((
                        st.get_status(rusqlite::StatementStatus::RePrepare),
                        st.get_status(rusqlite::StatementStatus::Run),
                    ))
                })
                .unwrap();
            assert_eq!((reprepared, runs), (0, 20), "{sql}");
        }
    }
}
