//! The SQLite backend: one file in WAL mode, one writer connection, a bounded pool of readers.

use super::admin::AdminStore;
use super::error::StoreError;
use super::migrations::{BULK_LOAD_INDEXES, MIGRATIONS};
use dx_protocol::wire::StatsResponse;
use rusqlite::{Connection, OpenFlags, OptionalExtension, Transaction, TransactionBehavior};
use std::path::{Path, PathBuf};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::Duration;

impl From<rusqlite::Error> for StoreError {
    /// SQLite's errors stay inside this backend: callers see a backend failure.
    fn from(e: rusqlite::Error) -> Self {
        StoreError::Backend(Box::new(e))
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
        f: impl FnOnce(&Transaction<'_>) -> Result<T, StoreError>,
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
        f: impl FnOnce(&Transaction<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut conn = lock(&self.writer);
        let full = self.durability == Durability::Full;
        if full {
            conn.pragma_update(None, "synchronous", "NORMAL")?;
        }
        let result = (|| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let out = f(&tx)?;
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
        f: impl FnOnce(&Connection) -> Result<T, StoreError>,
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
        load: impl FnOnce(&Self) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.write(|tx| {
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
        let loaded = load(self);
        fk(true)?;
        // Let the index sorts use a second core (SQLite's sorter threads).
        lock(&self.writer).pragma_update(None, "threads", 2)?;
        let rebuilt = self.write(|tx| {
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

impl AdminStore for SqliteStore {
    fn meta_get_or_insert(
        &self,
        key: &str,
        make: &mut dyn FnMut() -> String,
    ) -> Result<String, StoreError> {
        self.write(|tx| {
            let found: Option<String> = tx
                .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
                .optional()?;
            if let Some(v) = found {
                return Ok(v);
            }
            let v = make();
            tx.execute(
                "INSERT INTO meta (key, value) VALUES (?1, ?2)",
                [key, v.as_str()],
            )?;
            Ok(v)
        })
    }

    fn stats(&self) -> Result<StatsResponse, StoreError> {
        self.read(|c| {
            let count = |table: &str| -> Result<u64, StoreError> {
                let n: i64 =
                    c.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))?;
                Ok(n as u64)
            };
            Ok(StatsResponse {
                persons: count("persons")?,
                qualifications: count("qualifications")?,
                insurers: count("insurers")?,
                facilities: count("facilities")?,
                consents: count("consents")?,
                practitioner_keys: count("practitioner_keys")?,
                prescriptions: count("prescriptions")?,
                dispensations: count("dispensations")?,
                ehr_documents: count("ehr_documents")?,
                ehr_items: count("ehr_items")?,
                municipalities: count("municipalities")?,
                vaccinations: count("vaccinations")?,
                maternal_records: count("maternal_records")?,
                care_certifications: count("care_certifications")?,
                public_expenses: count("public_expenses")?,
                applications: count("applications")?,
                audit: count("audit")?,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_apply_once_and_reopen_cleanly() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.db");
        let s = SqliteStore::open(&path, Durability::Normal).unwrap();
        let v = s.meta_get_or_insert("k", &mut || "first".into()).unwrap();
        drop(s);
        let s = SqliteStore::open(&path, Durability::Normal).unwrap();
        assert_eq!(
            v,
            s.meta_get_or_insert("k", &mut || "second".into()).unwrap()
        );
        assert_eq!(s.stats().unwrap(), StatsResponse::default());
    }

    #[test]
    fn bulk_load_rebuilds_indexes_and_refuses_duplicates_and_non_empty_stores() {
        use crate::eligibility::EligibilityStore;
        use crate::refdata::sample;
        let dir = tempfile::tempdir().unwrap();
        let s = SqliteStore::open(&dir.path().join("x.db"), Durability::Normal).unwrap();
        let today = chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
        let mut people: Vec<_> = (0..20).map(|i| sample::person(1, i, today)).collect();
        let with_card = people.iter().position(|p| p.card_serial.is_some()).unwrap();
        let mut twin = people[with_card].clone();
        twin.id = "TWIN".into();
        twin.qualifications[0].number = "999".into();
        people.push(twin);
        let err = s.bulk_load(|s| s.import_persons(&people)).unwrap_err();
        assert!(matches!(err, StoreError::Duplicate(_)), "{err}");
        // The indexes are back, and a clean load works into a store that is still empty of others.
        people.pop();
        let dir2 = tempfile::tempdir().unwrap();
        let s2 = SqliteStore::open(&dir2.path().join("x.db"), Durability::Normal).unwrap();
        assert_eq!(s2.bulk_load(|s| s.import_persons(&people)).unwrap(), 20);
        let card = people[with_card].card_serial.clone().unwrap();
        assert_eq!(
            s2.person_by_card(&card).unwrap().unwrap().id,
            people[with_card].id
        );
        let indexes: i64 = s2
            .read(|c| Ok(c.query_row("SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name IN ('persons_card', 'qualifications_person', 'public_expenses_person')", [], |r| r.get(0))?))
            .unwrap();
        assert_eq!(indexes, 3);
        // Foreign keys, off during the load, are enforced again after it.
        let orphan = s2.write(|tx| {
            tx.execute("INSERT INTO public_expenses (person_id, law_code, payer_number, recipient_number, valid_from) VALUES ('NOBODY', '54', '54130015', '0000001', '2026-01-01')", [])?;
            Ok(())
        });
        assert!(orphan.is_err(), "an entitlement of no person was stored");
        assert!(matches!(
            s2.bulk_load(|_| Ok(())),
            Err(StoreError::Conflict(_))
        ));
    }

    #[test]
    fn a_failed_write_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let s = SqliteStore::open(&dir.path().join("x.db"), Durability::Normal).unwrap();
        let r: Result<(), _> = s.write(|tx| {
            tx.execute("INSERT INTO meta (key, value) VALUES ('a', 'b')", [])?;
            Err(StoreError::Conflict("test"))
        });
        assert!(r.is_err());
        let n: i64 = s
            .read(|c| Ok(c.query_row("SELECT count(*) FROM meta", [], |r| r.get(0))?))
            .unwrap();
        assert_eq!(n, 0);
    }
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
        let s = SqliteStore::open(&dir.path().join("x.db"), Durability::Normal).unwrap();
        let today = chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
        let people: Vec<_> = (0..20).map(|i| sample::person(1, i, today)).collect();
        s.import_persons(&people).unwrap();
        for sql in [
            "SELECT insurer_number FROM qualifications WHERE person_id = ?1 ORDER BY valid_from",
            "SELECT seq FROM care_certifications WHERE person_id = ?1 ORDER BY valid_from DESC, seq DESC",
            "SELECT id FROM audit WHERE person_id = ?1 ORDER BY id DESC LIMIT 5",
        ] {
            let (reprepared, runs) = s
                .read(|c| {
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
