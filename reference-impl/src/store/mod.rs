//! The storage boundary. Each service declares the storage it needs as a trait beside its rules
//! (`EligibilityStore`, `ConsentStore`, `PrescriptionStore`, `EhrStore`, `MunicipalStore`,
//! `AuditStore`, `CredentialStore`, `CardStore`); [`Store`] is all of them. [`SqlStore`]
//! implements each, once, in the service's own `storage.rs`, in the one SQL dialect of
//! [`sql`], over either backend: an SQLite file ([`SqliteStore`], the default) or a PostgreSQL
//! database that several exchange processes share ([`PgStore`]).
//!
//! Architecture invariant: only `storage.rs` files and this module know SQL.

pub mod admin;
pub mod error;
mod migrations;
pub mod postgres;
pub mod sql;
pub mod sqlite;

pub use admin::AdminStore;
pub use error::StoreError;
pub use postgres::PgStore;
pub use sqlite::{Durability, SqliteStore};

use sql::Db;
use std::path::{Path, PathBuf};

/// Where the store is: an SQLite file, or a PostgreSQL database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    Sqlite(PathBuf),
    /// A `postgres://user@host:port/db` URL.
    Postgres(String),
}

impl Location {
    /// `--store` as given (a `postgres://` or `postgresql://` URL), else the SQLite file in the
    /// data directory.
    pub fn of(store: Option<&str>, sqlite_file: &Path) -> Result<Self, StoreError> {
        match store {
            None => Ok(Location::Sqlite(sqlite_file.to_owned())),
            Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
                Ok(Location::Postgres(url.to_owned()))
            }
            Some(other) => Err(StoreError::Config(format!(
                "--store {other:?}: expected a postgres://user@host:port/db URL (without \
                 --store, the SQLite file in --data is used)"
            ))),
        }
    }

    /// The location as a person reads it, without a password.
    pub fn display(&self) -> String {
        match self {
            Location::Sqlite(p) => p.display().to_string(),
            Location::Postgres(url) => {
                match postgres::without_connection_limit(url).parse::<tokio_postgres::Config>() {
                    Ok(c) => {
                        let host = match c.get_hosts().first() {
                            Some(tokio_postgres::config::Host::Tcp(h)) => h.clone(),
                            Some(tokio_postgres::config::Host::Unix(p)) => p.display().to_string(),
                            None => "localhost".into(),
                        };
                        let port = c.get_ports().first().copied().unwrap_or(5432);
                        format!(
                            "postgres://{}@{host}:{port}/{}",
                            c.get_user().unwrap_or(""),
                            c.get_dbname().unwrap_or("")
                        )
                    }
                    Err(_) => "postgres://…".into(),
                }
            }
        }
    }
}

/// A store for one test or benchmark run: the SQLite file in a directory, or a scratch database
/// of its own on a PostgreSQL server (dropped with this value).
pub struct ScratchStore {
    pub location: Location,
    _db: Option<postgres::ScratchDatabase>,
}

impl ScratchStore {
    /// The SQLite file `exchange.db` in `dir`.
    pub fn sqlite(dir: &Path) -> Self {
        Self {
            location: Location::Sqlite(dir.join("exchange.db")),
            _db: None,
        }
    }

    /// A fresh database on the server at `server`.
    pub fn postgres(server: &str) -> Result<Self, StoreError> {
        let db = postgres::ScratchDatabase::create(server)?;
        Ok(Self {
            location: Location::Postgres(db.url().to_owned()),
            _db: Some(db),
        })
    }

    /// The flags that give a `dx-exchange` or `dxsim` process this store (none for the SQLite
    /// file, which is the one in its `--data`).
    pub fn flags(&self) -> Vec<String> {
        match &self.location {
            Location::Sqlite(_) => Vec::new(),
            Location::Postgres(url) => vec!["--store".into(), url.clone()],
        }
    }
}

/// The exchange's store on either backend; every service's storage trait is implemented on it.
pub enum SqlStore {
    Sqlite(SqliteStore),
    Postgres(Box<PgStore>),
}

impl SqlStore {
    /// Opens the store at `location`, creating the SQLite file or the schema if needed, and
    /// applies pending migrations.
    pub fn open(location: &Location, durability: Durability) -> Result<Self, StoreError> {
        Ok(match location {
            Location::Sqlite(path) => SqlStore::Sqlite(SqliteStore::open(path, durability)?),
            Location::Postgres(url) => {
                SqlStore::Postgres(Box::new(PgStore::open(url, durability)?))
            }
        })
    }

    /// Runs `f` in one write transaction and commits it; any error rolls it back, so a refused
    /// or failed request leaves nothing behind. PostgreSQL may run `f` more than once (a lost
    /// serialization race is retried), so `f` acts only through `db`.
    pub fn write<T>(
        &self,
        mut f: impl FnMut(&dyn Db) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        match self {
            SqlStore::Sqlite(s) => s.write(f),
            SqlStore::Postgres(p) => p.write(&mut f),
        }
    }

    /// As [`SqlStore::write`], for writes that all update one row (a facility's prescription
    /// numbers of a year) and otherwise only insert rows whose uniqueness a key enforces: on
    /// PostgreSQL they queue on that row's lock, across every node, rather than race (see
    /// [`PgStore::write_hot_row`]); SQLite's one writer takes every write in turn anyway. The
    /// answer is the rows of the query `f` ran with [`Db::query_later`], had once committed.
    pub fn write_hot_row(
        &self,
        mut f: impl FnMut(&dyn Db) -> Result<sql::Later, StoreError>,
    ) -> Result<Vec<sql::Row>, StoreError> {
        match self {
            SqlStore::Sqlite(s) => s.write(|tx| match f(tx)? {
                sql::Later::Ready(rows) => Ok(rows),
                sql::Later::Pending(_) => {
                    Err(StoreError::Corrupt("SQLite runs a query at once".into()))
                }
            }),
            SqlStore::Postgres(p) => p.write_hot_row(f),
        }
    }

    /// Runs one statement that is atomic on its own (an upsert, an insert of a unique key), and
    /// whatever [`Db::month`] it needs first: SQLite's write transaction (unsynced, as the
    /// counters it keeps need not outlive a power loss); on PostgreSQL one
    /// autocommitted statement, no transaction around it (so it neither waits for nor retries
    /// against other writes, and costs one round trip).
    pub fn write_statement<T>(
        &self,
        f: impl FnMut(&dyn Db) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        match self {
            SqlStore::Sqlite(s) => s.write_unsynced(f),
            SqlStore::Postgres(p) => p.write_statement(false, f),
        }
    }

    /// As [`SqlStore::write_statement`], acknowledged before the commit reaches the disk (it
    /// survives a killed exchange at once, a power loss once a later commit is synced): for a
    /// batch of audit lines.
    pub fn write_statement_unsynced<T>(
        &self,
        f: impl FnMut(&dyn Db) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        match self {
            SqlStore::Sqlite(s) => s.write_unsynced(f),
            SqlStore::Postgres(p) => p.write_statement(true, f),
        }
    }

    /// Runs `f` on a connection of the read pool.
    pub fn read<T>(
        &self,
        f: impl FnOnce(&dyn Db) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        match self {
            SqlStore::Sqlite(s) => s.read(f),
            SqlStore::Postgres(p) => p.read(f),
        }
    }

    /// Runs `load` (an import into this store) with the enrolment tables' secondary indexes
    /// dropped, then rebuilds them; only into a store without persons. A duplicate card serial
    /// fails the rebuild, and so the load.
    pub fn bulk_load<T>(
        &self,
        load: impl FnOnce(&Self) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        match self {
            SqlStore::Sqlite(s) => s.bulk_load(|| load(self)),
            SqlStore::Postgres(p) => p.bulk_load(|| load(self)),
        }
    }

    /// Which backend this is, for logs and reports: `sqlite` or `postgres`.
    pub fn backend(&self) -> &'static str {
        match self {
            SqlStore::Sqlite(_) => "sqlite",
            SqlStore::Postgres(_) => "postgres",
        }
    }
}

use crate::audit::AuditStore;
use crate::auth::credentials::CredentialStore;
use crate::cards::CardStore;
use crate::consent::ConsentStore;
use crate::ehr::EhrStore;
use crate::eligibility::EligibilityStore;
use crate::hpki::HpkiStore;
use crate::municipal::MunicipalStore;
use crate::nodes::NodeStore;
use crate::prescription::PrescriptionStore;
use crate::suspension::SuspensionStore;

/// Everything the exchange stores.
pub trait Store:
    EligibilityStore
    + ConsentStore
    + PrescriptionStore
    + EhrStore
    + MunicipalStore
    + AuditStore
    + CredentialStore
    + CardStore
    + HpkiStore
    + SuspensionStore
    + AdminStore
    + NodeStore
    + Send
    + Sync
{
}

impl<T> Store for T where
    T: EligibilityStore
        + ConsentStore
        + PrescriptionStore
        + EhrStore
        + MunicipalStore
        + AuditStore
        + CredentialStore
        + CardStore
        + HpkiStore
        + SuspensionStore
        + AdminStore
        + NodeStore
        + Send
        + Sync
{
}

impl AdminStore for SqlStore {
    fn meta_get_or_insert(
        &self,
        key: &str,
        make: &mut dyn FnMut() -> String,
    ) -> Result<String, StoreError> {
        let fresh = make();
        self.write(|db| {
            // A node starting at the same moment may insert first; then its value is kept.
            db.execute(
                "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO NOTHING",
                sql::args![key, fresh],
            )?;
            db.query_one("SELECT value FROM meta WHERE key = ?1", sql::args![key])?
                .text(0)
        })
    }

    fn stats(&self) -> Result<dx_protocol::wire::StatsResponse, StoreError> {
        self.read(|db| {
            let count = |table: &str| -> Result<u64, StoreError> {
                db.query_one(&format!("SELECT count(*) FROM {table}"), &[])?
                    .num(0)
            };
            Ok(dx_protocol::wire::StatsResponse {
                persons: count("persons")?,
                qualifications: count("qualifications")?,
                insurers: count("insurers")?,
                facilities: count("facilities")?,
                consents: count("consents")?,
                hpki_roots: count("hpki_roots")?,
                hpki_revocations: count("hpki_revocations")?,
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

/// Stores of every backend the tests can reach: an SQLite file always, and a scratch PostgreSQL
/// database when [`postgres::TEST_SERVER_ENV`] names a server.
#[cfg(test)]
pub(crate) mod testing {
    use super::*;

    /// A store and what keeps it alive (its directory or its scratch database).
    pub struct TestStore {
        pub store: SqlStore,
        pub location: Location,
        _dir: tempfile::TempDir,
        _db: Option<postgres::ScratchDatabase>,
    }

    impl TestStore {
        /// The same store opened again (a restart).
        pub fn reopen(&mut self) {
            let fresh = SqlStore::open(&self.location, Durability::Normal).unwrap();
            self.store = fresh;
        }
    }

    pub fn backends() -> Vec<TestStore> {
        let dir = tempfile::tempdir().unwrap();
        let location = Location::Sqlite(dir.path().join("x.db"));
        let mut out = vec![TestStore {
            store: SqlStore::open(&location, Durability::Normal).unwrap(),
            location,
            _dir: dir,
            _db: None,
        }];
        if let Some(server) = postgres::test_server() {
            let db = postgres::ScratchDatabase::create(&server).unwrap();
            let location = Location::Postgres(db.url().to_owned());
            out.push(TestStore {
                store: SqlStore::open(&location, Durability::Normal).unwrap(),
                location,
                _dir: tempfile::tempdir().unwrap(),
                _db: Some(db),
            });
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::sql::args;
    use super::testing::backends;
    use super::*;
    use crate::eligibility::EligibilityStore;
    use crate::refdata::sample;
    use dx_protocol::wire::StatsResponse;

    #[test]
    fn migrations_apply_once_and_reopen_cleanly() {
        for mut t in backends() {
            let v = t
                .store
                .meta_get_or_insert("k", &mut || "first".into())
                .unwrap();
            t.reopen();
            let again = t
                .store
                .meta_get_or_insert("k", &mut || "second".into())
                .unwrap();
            assert_eq!(v, again, "{}", t.store.backend());
            assert_eq!(t.store.stats().unwrap(), StatsResponse::default());
        }
    }

    #[test]
    fn bulk_load_rebuilds_indexes_and_refuses_duplicates_and_non_empty_stores() {
        let today = chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
        let mut people: Vec<_> = (0..20).map(|i| sample::person(1, i, today)).collect();
        let with_card = people.iter().position(|p| p.card_serial.is_some()).unwrap();
        let mut twin = people[with_card].clone();
        twin.id = "TWIN".into();
        twin.qualifications[0].number = "999".into();
        people.push(twin);
        for t in backends() {
            let err = t
                .store
                .bulk_load(|s| s.import_persons(&people))
                .unwrap_err();
            assert!(matches!(err, StoreError::Duplicate(_)), "{err}");
        }
        // A clean load works, and the indexes are back after it.
        people.pop();
        for t in backends() {
            let s = &t.store;
            assert_eq!(s.bulk_load(|s| s.import_persons(&people)).unwrap(), 20);
            let card = people[with_card].card_serial.clone().unwrap();
            assert_eq!(
                s.person_by_card(&card).unwrap().unwrap().id,
                people[with_card].id
            );
            let mut twin = people[with_card].clone();
            twin.id = "TWIN2".into();
            twin.qualifications.clear();
            let dup = s.import_persons(&[twin]).unwrap_err();
            assert!(
                matches!(dup, StoreError::Duplicate(_)),
                "{}: {dup}",
                s.backend()
            );
            // Foreign keys hold after the load.
            let orphan = s.write(|tx| {
                tx.execute(
                    "INSERT INTO public_expenses (person_id, law_code, payer_number, recipient_number, valid_from)
                     VALUES ('NOBODY', '54', '54130015', '0000001', ?1)",
                    args![today],
                )?;
                Ok(())
            });
            assert!(
                orphan.is_err(),
                "{}: an entitlement of no person was stored",
                s.backend()
            );
            assert!(matches!(
                s.bulk_load(|_| Ok(())),
                Err(StoreError::Conflict(_))
            ));
        }
    }

    #[test]
    fn a_failed_write_leaves_nothing() {
        for t in backends() {
            let s = &t.store;
            let r: Result<(), _> = s.write(|tx| {
                tx.execute("INSERT INTO meta (key, value) VALUES ('a', 'b')", &[])?;
                Err(StoreError::Conflict("test"))
            });
            assert!(r.is_err());
            let n: u64 = s
                .read(|c| c.query_one("SELECT count(*) FROM meta", &[])?.num(0))
                .unwrap();
            assert_eq!(n, 0, "{}", s.backend());
        }
    }

    /// A batch of rows goes in as one statement on PostgreSQL (arrays, one per column) and one
    /// insert a row on SQLite: the same rows, in order, nulls and dates kept; a value of another
    /// kind than its column's is refused and nothing is stored.
    #[test]
    fn a_batch_of_rows_is_inserted_in_order_with_its_nulls_and_dates() {
        use sql::{Arg, Kind};
        let day = chrono::NaiveDate::from_ymd_opt(2026, 12, 2).unwrap();
        let columns = [
            ("person_id", Kind::Text),
            ("law_code", Kind::Text),
            ("payer_number", Kind::Text),
            ("recipient_number", Kind::Text),
            ("valid_from", Kind::Date),
            ("valid_to", Kind::Date),
            ("registered_by", Kind::Text),
        ];
        for t in backends() {
            let s = &t.store;
            s.import_persons(&[sample::person(1, 0, day)]).unwrap();
            let who = s
                .read(|c| c.query_one("SELECT id FROM persons", &[])?.text(0))
                .unwrap();
            let before: u64 = s
                .read(|c| {
                    c.query_one("SELECT count(*) FROM public_expenses", &[])?
                        .num(0)
                })
                .unwrap();
            let rows: Vec<Vec<Arg<'_>>> = ["0000001", "0000002", "0000003"]
                .iter()
                .enumerate()
                .map(|(i, recipient)| {
                    vec![
                        Arg::Text(&who),
                        Arg::Text("54"),
                        Arg::Text("54130015"),
                        Arg::Text(recipient),
                        Arg::Date(day),
                        if i == 1 { Arg::Null } else { Arg::Date(day) },
                        if i == 2 {
                            Arg::Text("131016")
                        } else {
                            Arg::Null
                        },
                    ]
                })
                .collect();
            let n = s
                .write_statement(|tx| tx.insert_rows("public_expenses", &columns, &rows))
                .unwrap();
            assert_eq!(n, 3, "{}", s.backend());
            let stored: Vec<(String, Option<chrono::NaiveDate>, Option<String>)> = s
                .read(|c| {
                    c.query(
                        "SELECT recipient_number, valid_to, registered_by FROM public_expenses
                         WHERE person_id = ?1 AND payer_number = '54130015' ORDER BY rowid",
                        args![who],
                    )?
                    .into_iter()
                    .map(|mut r| Ok((r.text(0)?, r.opt_date(1)?, r.opt_text(2)?)))
                    .collect()
                })
                .unwrap();
            assert_eq!(
                stored,
                [
                    ("0000001".to_owned(), Some(day), None),
                    ("0000002".to_owned(), None, None),
                    ("0000003".to_owned(), Some(day), Some("131016".to_owned()))
                ],
                "{}",
                s.backend()
            );
            if let SqlStore::Postgres(_) = s {
                let mut wrong = rows.clone();
                wrong[1][6] = Arg::Int(3);
                let err = s
                    .write(|tx| tx.insert_rows("public_expenses", &columns, &wrong))
                    .unwrap_err();
                assert!(matches!(err, StoreError::Corrupt(_)), "{err}");
            }
            let after: u64 = s
                .read(|c| {
                    c.query_one("SELECT count(*) FROM public_expenses", &[])?
                        .num(0)
                })
                .unwrap();
            assert_eq!(after, before + 3, "{}", s.backend());
        }
    }

    /// The columns that refer to a prescription compare as its id does (bytewise), so the
    /// items of a person's prescriptions are found by their index, not by reading them all.
    #[test]
    fn a_prescriptions_items_are_joined_by_their_index() {
        for t in backends() {
            let SqlStore::Postgres(_) = &t.store else {
                continue;
            };
            let plan: Vec<String> = t
                .store
                .write(|tx| {
                    tx.execute("SET LOCAL enable_seqscan = off", &[])?;
                    tx.query(
                        "EXPLAIN SELECT p.id, i.code FROM prescriptions p
                         JOIN prescription_items i ON i.prescription_id = p.id
                         WHERE p.person_id = 'P1'",
                        &[],
                    )?
                    .into_iter()
                    .map(|mut r| r.text(0))
                    .collect()
                })
                .unwrap();
            assert!(
                !plan.iter().any(|l| l.contains("Seq Scan")),
                "{}",
                plan.join("\n")
            );
        }
    }

    /// Both backends' migrations give the same tables with the same columns (PostgreSQL names
    /// the rowid SQLite keeps implicitly; its partitions and migration table are its own).
    #[test]
    fn both_schemas_have_the_same_tables_and_columns() {
        let stores = backends();
        if stores.len() < 2 {
            eprintln!("not compared with PostgreSQL: DXSIM_TEST_POSTGRES is not set");
            return;
        }
        let columns = |s: &SqlStore| -> std::collections::BTreeSet<(String, String)> {
            let sql = match s {
                SqlStore::Sqlite(_) => {
                    "SELECT m.name, p.name FROM sqlite_master m JOIN pragma_table_info(m.name) p
                     WHERE m.type = 'table'"
                }
                SqlStore::Postgres(_) => {
                    "SELECT c.relname, a.attname FROM pg_class c
                     JOIN pg_namespace n ON n.oid = c.relnamespace
                     JOIN pg_attribute a ON a.attrelid = c.oid
                     WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p')
                       AND NOT c.relispartition AND a.attnum > 0 AND NOT a.attisdropped
                       AND c.relname <> 'schema_migrations'
                       AND NOT (c.relname = 'public_expenses' AND a.attname = 'rowid')"
                }
            };
            s.read(|c| {
                c.query(sql, &[])?
                    .into_iter()
                    .map(|mut r| Ok((r.text(0)?, r.text(1)?)))
                    .collect()
            })
            .unwrap()
        };
        let (sqlite, postgres) = (columns(&stores[0].store), columns(&stores[1].store));
        assert!(sqlite.len() > 100, "{sqlite:?}");
        let only_sqlite: Vec<_> = sqlite.difference(&postgres).collect();
        let only_postgres: Vec<_> = postgres.difference(&sqlite).collect();
        assert!(
            only_sqlite.is_empty() && only_postgres.is_empty(),
            "only in SQLite: {only_sqlite:?}; only in PostgreSQL: {only_postgres:?}"
        );
    }

    /// A PostgreSQL store keeps no more connections open than its URL's `connection_limit`,
    /// however many callers read at once: the others wait for one to be returned.
    #[test]
    fn the_pool_keeps_to_its_connection_limit() {
        let Some(server) = postgres::test_server() else {
            return;
        };
        let db = postgres::ScratchDatabase::create(&server).unwrap();
        let location = Location::Postgres(format!("{}?connection_limit=2", db.url()));
        let store = SqlStore::open(&location, Durability::Normal).unwrap();
        let most_seen = std::sync::atomic::AtomicI64::new(0);
        std::thread::scope(|scope| {
            for _ in 0..8 {
                scope.spawn(|| {
                    store
                        .read(|c| {
                            // Connections open to this database while this one is held.
                            let open = c
                                .query_one(
                                    "SELECT count(*) FROM pg_stat_activity, pg_sleep(0.05)
                                     WHERE datname = current_database()",
                                    &[],
                                )?
                                .int(0)?;
                            most_seen.fetch_max(open, std::sync::atomic::Ordering::Relaxed);
                            Ok(())
                        })
                        .unwrap();
                });
            }
        });
        let most = most_seen.into_inner();
        assert!(
            (1..=2).contains(&most),
            "{most} connections were open at once"
        );
    }

    /// On PostgreSQL, EHR items are kept by the month of their retention: a purge drops the
    /// months wholly past and deletes the rest row by row; long-term items stay; audit lines go
    /// to their JST month's partition, made as its first line arrives.
    #[test]
    fn months_past_their_retention_are_dropped_whole() {
        use sql::Monthly;
        let day = |y, m, d| chrono::NaiveDate::from_ymd_opt(y, m, d).unwrap();
        for t in backends() {
            let s = &t.store;
            let items = [
                Some(day(2031, 1, 10)),
                Some(day(2031, 1, 20)),
                Some(day(2031, 2, 5)),
                Some(day(2031, 3, 1)),
                None,
            ];
            s.write(|tx| {
                for (i, until) in items.iter().enumerate() {
                    if let Some(u) = until {
                        tx.month(Monthly::EhrItems, *u)?;
                    }
                    tx.execute(
                        "INSERT INTO ehr_items (person_id, facility_code, submission_id, kind, system, code,
                            recorded_on, registered_at_ms, retain_until, undisclosed, resource)
                         VALUES ('P1', 'F', ?1, 'diagnosis', 's', 'c', ?2, 0, ?3, 0, '{}')",
                        sql::args![format!("s{i}"), day(2026, 1, 1), until],
                    )?;
                }
                Ok(())
            })
            .unwrap();
            let left = |s: &SqlStore| -> u64 {
                s.read(|c| c.query_one("SELECT count(*) FROM ehr_items", &[])?.num(0))
                    .unwrap()
            };
            assert_eq!(left(s), 5);
            // On 15 February 2031: January's items are past (a whole month), one of February's
            // too; March's and the long-term item stay.
            let (dropped, deleted) = s
                .write(|tx| {
                    let dropped = tx.drop_months_before(Monthly::EhrItems, day(2031, 2, 15))?;
                    let deleted = tx.execute(
                        "DELETE FROM ehr_items WHERE retain_until IS NOT NULL AND retain_until < ?1",
                        sql::args![day(2031, 2, 15)],
                    )?;
                    Ok((dropped, deleted))
                })
                .unwrap();
            assert_eq!(left(s), 2, "{}", s.backend());
            assert_eq!(dropped + deleted, 3);
            if let SqlStore::Postgres(_) = s {
                assert_eq!((dropped, deleted), (2, 1), "January went as one partition");
                let parts: Vec<String> = s
                    .read(|c| {
                        c.query(
                            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
                             WHERE i.inhparent = 'ehr_items'::regclass ORDER BY 1",
                            &[],
                        )?
                        .into_iter()
                        .map(|mut r| r.text(0))
                        .collect()
                    })
                    .unwrap();
                assert_eq!(
                    parts,
                    [
                        "ehr_items_2031_02",
                        "ehr_items_2031_03",
                        "ehr_items_long_term"
                    ]
                );
                // A month dropped and written again is made again.
                s.write(|tx| {
                    tx.month(Monthly::EhrItems, day(2031, 1, 31))?;
                    tx.month(Monthly::Audit, day(2031, 1, 31))?;
                    Ok(())
                })
                .unwrap();
            }
        }
    }

    #[test]
    fn a_location_is_a_postgres_url_or_the_sqlite_file() {
        let file = Path::new("/d/exchange.db");
        assert_eq!(
            Location::of(None, file).unwrap(),
            Location::Sqlite(file.into())
        );
        let pg = Location::of(Some("postgres://u:secret@h:5433/db"), file).unwrap();
        assert_eq!(pg.display(), "postgres://u@h:5433/db");
        assert!(Location::of(Some("mysql://x"), file).is_err());
    }
}
