//! The PostgreSQL backend: a bounded pool of connections to one database, which any number of
//! exchange processes share. Writes run as `SERIALIZABLE` transactions, retried when PostgreSQL
//! reports a serialization failure or a deadlock, so concurrent writes on several nodes behave as
//! SQLite's one writer does: as if one after the other. Writes that all update one row queue on
//! that row's lock instead ([`PgStore::write_hot_row`]). Reads run as single statements. Round
//! trips are what a request pays most for on loopback: a transaction opens (with its commit's
//! durability) in one, a batch of rows goes in one statement.
//! Migrations are versioned in `schema_migrations` and applied under an advisory lock, so nodes
//! starting together migrate once. Audit lines and EHR items are kept in monthly partitions,
//! created as rows of a new month arrive.
//!
//! The client (the `postgres` crate) blocks its thread on a runtime of its own, which tokio
//! allows only outside async work: every call enters [`tokio::task::block_in_place`], which is
//! free on the blocking pool and off any runtime, and lets a multi-threaded runtime's task
//! block; a current-thread runtime's task must call through `spawn_blocking`.

use super::error::StoreError;
use super::migrations::{BULK_LOAD_INDEXES, PG_MIGRATIONS};
use super::sql::{Arg, Db, Kind, Monthly, Row, Value};
use super::sqlite::Durability;
use chrono::{Datelike, NaiveDate};
use postgres::error::SqlState;
use postgres::fallible_iterator::FallibleIterator as _;
use postgres::types::{IsNull, ToSql, Type, to_sql_checked};
use postgres::{Client, NoTls, Statement};
use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::Duration;

/// Connections one process keeps open at most (two nodes and their tests stay far below
/// PostgreSQL's default `max_connections` of 100); further callers wait for one to be returned.
const MAX_CONNECTIONS: usize = 24;
/// Attempts at a write that keeps losing serialization races before it fails as a conflict.
const MAX_WRITE_ATTEMPTS: u32 = 12;
/// Key of the advisory lock held while migrating and while creating partitions.
const SCHEMA_LOCK: i64 = 0x6478_7369_6d00_0001;
/// Statements a connection keeps prepared at most (the exchange has about 150; a statement
/// built per query shape, like an item filter, adds a few).
const MAX_STATEMENTS: usize = 1_024;

impl From<postgres::Error> for StoreError {
    /// PostgreSQL's errors stay inside this backend: callers see a backend failure, or a
    /// duplicate for a violated unique key.
    fn from(e: postgres::Error) -> Self {
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
    b.downcast_ref::<postgres::Error>()
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
    b.downcast_ref::<postgres::Error>()
        .and_then(|e| e.as_db_error())
        .is_some_and(|d| {
            *d.code() == SqlState::CHECK_VIOLATION
                && d.message().starts_with("no partition of relation")
        })
}

impl ToSql for Arg<'_> {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut bytes::BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match *self {
            Arg::Null => Ok(IsNull::Yes),
            Arg::Int(v) => match *ty {
                Type::INT2 => i16::try_from(v)?.to_sql(ty, out),
                Type::INT4 => i32::try_from(v)?.to_sql(ty, out),
                Type::BOOL => (v != 0).to_sql(ty, out),
                _ => v.to_sql(ty, out),
            },
            Arg::Text(s) => s.to_sql(ty, out),
            Arg::Date(d) => match *ty {
                Type::DATE => d.to_sql(ty, out),
                _ => d.to_string().to_sql(ty, out),
            },
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

/// The dialect's placeholders (`?1`, or `?` counted from the left) as PostgreSQL's (`$1`).
pub(crate) fn placeholders(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 8);
    let mut bare = 0;
    let mut quoted = false;
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                quoted = !quoted;
                out.push(c);
            }
            '?' if !quoted => {
                out.push('$');
                if chars.peek().is_some_and(char::is_ascii_digit) {
                    while let Some(d) = chars.next_if(char::is_ascii_digit) {
                        out.push(d);
                    }
                } else {
                    bare += 1;
                    out.push_str(&bare.to_string());
                }
            }
            c => out.push(c),
        }
    }
    out
}

struct Conn {
    client: Client,
    statements: HashMap<String, Statement>,
    /// Whether the session's commits are acknowledged before they reach the disk
    /// (`synchronous_commit = off`): always on a store of normal durability; on a fully durable
    /// one, once the connection ran an unsynced statement (audit lines).
    unsynced: bool,
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

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

pub struct PgStore {
    config: postgres::Config,
    durability: Durability,
    pool: Mutex<Pool>,
    returned: Condvar,
    /// Monthly partitions known to exist (a partition is never dropped while rows of its
    /// month can still arrive: only months wholly past their retention are).
    months: Mutex<HashSet<(Monthly, i32)>>,
}

impl PgStore {
    /// Connects to the database at `url` (`postgres://user@host:port/db`) and applies pending
    /// migrations.
    pub fn open(url: &str, durability: Durability) -> Result<Self, StoreError> {
        let mut config: postgres::Config = url.parse().map_err(|e: postgres::Error| {
            StoreError::Config(format!("the store URL is not a PostgreSQL URL ({e})"))
        })?;
        if config.get_application_name().is_none() {
            config.application_name("dxsim-exchange");
        }
        config.connect_timeout(Duration::from_secs(10));
        let store = Self {
            config,
            durability,
            pool: Mutex::new(Pool {
                idle: Vec::new(),
                open: 0,
            }),
            returned: Condvar::new(),
            months: Mutex::new(HashSet::new()),
        };
        tokio::task::block_in_place(|| {
            let mut conn = store.take()?;
            let migrated = migrate(&mut conn.client);
            store.give_back(conn);
            migrated
        })?;
        Ok(store)
    }

    fn connect(&self) -> Result<Conn, StoreError> {
        let mut client = self.config.connect(NoTls).map_err(|e| {
            // The cause (refused, unknown database, bad password) is the part a person needs.
            let cause = std::error::Error::source(&e).map_or(String::new(), |c| format!(": {c}"));
            StoreError::Config(format!("cannot connect to PostgreSQL ({e}{cause})"))
        })?;
        let unsynced = self.durability == Durability::Normal;
        if unsynced {
            // Commits are acknowledged before PostgreSQL's WAL reaches the disk: a killed
            // exchange loses nothing, a crashed database server may lose the last commits.
            client.batch_execute("SET synchronous_commit = off")?;
        }
        Ok(Conn {
            client,
            statements: HashMap::new(),
            unsynced,
        })
    }

    fn take(&self) -> Result<Conn, StoreError> {
        self.take_preferring(None)
    }

    /// An idle connection (the last returned, or the last whose session is `unsynced` as asked,
    /// so the audit writer keeps finding its own), a new one while fewer than
    /// [`MAX_CONNECTIONS`] are open, or the next one returned.
    fn take_preferring(&self, unsynced: Option<bool>) -> Result<Conn, StoreError> {
        let mut pool = lock(&self.pool);
        loop {
            let matching = unsynced.and_then(|u| pool.idle.iter().rposition(|c| c.unsynced == u));
            if let Some(i) = matching {
                return Ok(pool.idle.swap_remove(i));
            }
            if let Some(c) = pool.idle.pop() {
                return Ok(c);
            }
            if pool.open < MAX_CONNECTIONS {
                pool.open += 1;
                drop(pool);
                return self.connect().inspect_err(|_| lock(&self.pool).open -= 1);
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
        unsynced: bool,
        mut f: impl FnMut(&dyn Db) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        tokio::task::block_in_place(|| self.write_here(Isolation::Serializable, unsynced, &mut f))
    }

    /// As [`PgStore::write`], for writes that all update one row (a facility's prescription
    /// numbers of a year) and otherwise insert rows whose uniqueness a key enforces. They run
    /// `READ COMMITTED`: each waits for the row's lock, then sees the last one's commit, where
    /// serializable transactions would fail and retry against each other. Only what follows the
    /// update waits, so `f` updates the row as late as it can. A unique key violated by a
    /// concurrent insert (two facilities drawing one access code) runs the write once more; the
    /// second run sees the row that won and answers accordingly.
    pub fn write_hot_row<T>(
        &self,
        mut f: impl FnMut(&dyn Db) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        tokio::task::block_in_place(|| self.write_here(Isolation::ReadCommitted, false, &mut f))
    }

    fn write_here<T>(
        &self,
        isolation: Isolation,
        unsynced: bool,
        f: &mut impl FnMut(&dyn Db) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut conn = self.take()?;
            let result = self.attempt(&mut conn, isolation, unsynced, f);
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
                Err(StoreError::Duplicate(_))
                    if isolation == Isolation::ReadCommitted && attempt == 1 => {}
                Err(e) if missing_partition(&e) && attempt < MAX_WRITE_ATTEMPTS => {
                    // Another node dropped a month this one still knew: learn them afresh.
                    lock(&self.months).clear();
                }
                r => return r,
            }
        }
    }

    /// The commit durability a write asks of a session that has `session_unsynced`, as SQL to
    /// run in the transaction (nothing when the session's is the one asked for).
    fn commit_durability(&self, unsynced: bool, session_unsynced: bool) -> Option<&'static str> {
        let unsynced = unsynced || self.durability == Durability::Normal;
        (unsynced != session_unsynced).then_some(if unsynced {
            "SET LOCAL synchronous_commit = off"
        } else {
            "SET LOCAL synchronous_commit = on"
        })
    }

    fn attempt<T>(
        &self,
        conn: &mut Conn,
        isolation: Isolation,
        unsynced: bool,
        f: &mut impl FnMut(&dyn Db) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        // The transaction opens, with its commit's durability, in one round trip.
        let mut begin = String::from(match isolation {
            Isolation::Serializable => "START TRANSACTION ISOLATION LEVEL SERIALIZABLE",
            Isolation::ReadCommitted => "START TRANSACTION ISOLATION LEVEL READ COMMITTED",
        });
        if let Some(set) = self.commit_durability(unsynced, conn.unsynced) {
            begin.push_str("; ");
            begin.push_str(set);
        }
        conn.client.batch_execute(&begin)?;
        let (out, created) = {
            let db = PgDb::new(conn, self, true);
            let out = f(&db);
            (out, db.created.take())
        };
        match out {
            Ok(v) => {
                conn.client.batch_execute("COMMIT")?;
                lock(&self.months).extend(created);
                Ok(v)
            }
            Err(e) => {
                // A broken connection is closed when it is given back.
                let _ = conn.client.batch_execute("ROLLBACK");
                Err(e)
            }
        }
    }

    /// Runs `f`'s statements each on its own (autocommitted), on a session whose commits are
    /// `unsynced` or not as asked: an upsert or insert atomic by itself, which neither waits for
    /// nor retries against other writes. A statement that found its month's partition gone
    /// runs again once the months are learnt afresh.
    pub fn write_statement<T>(
        &self,
        unsynced: bool,
        mut f: impl FnMut(&dyn Db) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let unsynced = unsynced || self.durability == Durability::Normal;
        tokio::task::block_in_place(|| {
            let mut retried = false;
            loop {
                let mut conn = self.take_preferring(Some(unsynced))?;
                let result = (|| {
                    if conn.unsynced != unsynced {
                        conn.client.batch_execute(if unsynced {
                            "SET synchronous_commit = off"
                        } else {
                            "SET synchronous_commit = on"
                        })?;
                        conn.unsynced = unsynced;
                    }
                    f(&PgDb::new(&mut conn, self, false))
                })();
                self.give_back(conn);
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
        let out = f(&PgDb::new(&mut conn, self, false));
        self.give_back(conn);
        out
    }

    /// Runs `load` with the enrolment tables' secondary indexes dropped, then rebuilds them; only
    /// into a store without persons. A duplicate card serial fails the rebuild, and so the load.
    pub fn bulk_load<T>(
        &self,
        load: impl FnOnce() -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.write(false, |db| {
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
        let rebuilt = self.write(false, |db| {
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
        Ok(out)
    }
}

impl Drop for PgStore {
    /// A client owns a runtime, which may not be dropped from async work: the connections are
    /// closed on a thread of their own.
    fn drop(&mut self) {
        let idle = std::mem::take(&mut lock(&self.pool).idle);
        if idle.is_empty() {
            return;
        }
        if tokio::runtime::Handle::try_current().is_ok() {
            let _ = std::thread::Builder::new()
                .name("pg-close".into())
                .spawn(move || drop(idle));
        } else {
            drop(idle);
        }
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
        let connect = move || -> Result<Client, postgres::Error> {
            let mut c = config.connect(NoTls)?;
            c.batch_execute(&listen)?;
            Ok(c)
        };
        // The first connection is made here, so a store that cannot be listened to fails to open.
        let first = tokio::task::block_in_place(&connect)?;
        std::thread::Builder::new()
            .name("pg-listen".into())
            .spawn(move || {
                let mut client = Some(first);
                loop {
                    let Some(c) = client.as_mut() else {
                        std::thread::sleep(RELISTEN_AFTER);
                        client = connect().ok();
                        if client.is_some() && !on(Heard::Reconnected) {
                            return;
                        }
                        continue;
                    };
                    // Each notice as it arrives; a second without one is a chance to stop.
                    let lost = {
                        let mut notes = c.notifications();
                        let mut it = notes.timeout_iter(Duration::from_secs(1));
                        match it.next() {
                            Ok(Some(n)) => {
                                if !on(Heard::Payload(n.payload().to_owned())) {
                                    return;
                                }
                                false
                            }
                            Ok(None) => {
                                if !on(Heard::Nothing) {
                                    return;
                                }
                                false
                            }
                            Err(_) => true,
                        }
                    };
                    if lost || c.is_closed() {
                        client = None;
                    }
                }
            })?;
        Ok(())
    }
}

/// A pooled connection, in a transaction or not, with its prepared statements.
struct PgDb<'a> {
    client: RefCell<&'a mut Client>,
    statements: RefCell<&'a mut HashMap<String, Statement>>,
    store: &'a PgStore,
    /// Whether the statements run in a transaction; if not, each commits on its own.
    in_transaction: bool,
    /// Partitions this transaction created, known to exist once it commits.
    created: RefCell<Vec<(Monthly, i32)>>,
}

impl<'a> PgDb<'a> {
    fn new(conn: &'a mut Conn, store: &'a PgStore, in_transaction: bool) -> Self {
        let Conn {
            client, statements, ..
        } = conn;
        PgDb {
            client: RefCell::new(client),
            statements: RefCell::new(statements),
            store,
            in_transaction,
            created: RefCell::new(Vec::new()),
        }
    }

    fn statement(&self, sql: &str) -> Result<Statement, StoreError> {
        if let Some(st) = self.statements.borrow().get(sql) {
            return Ok(st.clone());
        }
        let st = self.client.borrow_mut().prepare(&placeholders(sql))?;
        let mut cache = self.statements.borrow_mut();
        if cache.len() >= MAX_STATEMENTS {
            cache.clear();
        }
        cache.insert(sql.to_owned(), st.clone());
        Ok(st)
    }
}

fn params<'a>(args: &'a [Arg<'a>]) -> Vec<&'a (dyn ToSql + Sync)> {
    args.iter().map(|a| a as &(dyn ToSql + Sync)).collect()
}

fn value(row: &postgres::Row, i: usize) -> Result<Value, StoreError> {
    let ty = row.columns()[i].type_();
    let v = match *ty {
        Type::INT8 => row.try_get::<_, Option<i64>>(i)?.map(Value::Int),
        Type::INT4 => row
            .try_get::<_, Option<i32>>(i)?
            .map(|v| Value::Int(v.into())),
        Type::INT2 => row
            .try_get::<_, Option<i16>>(i)?
            .map(|v| Value::Int(v.into())),
        Type::BOOL => row
            .try_get::<_, Option<bool>>(i)?
            .map(|v| Value::Int(v.into())),
        Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME => {
            row.try_get::<_, Option<String>>(i)?.map(Value::Text)
        }
        Type::DATE => row.try_get::<_, Option<NaiveDate>>(i)?.map(Value::Date),
        _ => {
            return Err(StoreError::Corrupt(format!(
                "column {} is of type {ty}",
                row.columns()[i].name()
            )));
        }
    };
    Ok(v.unwrap_or(Value::Null))
}

/// One column of [`Db::insert_rows`], bound as an array.
#[derive(Debug)]
enum Column<'a> {
    Int(Vec<Option<i64>>),
    Text(Vec<Option<&'a str>>),
    Date(Vec<Option<NaiveDate>>),
}

impl<'a> Column<'a> {
    /// The column `name` of `kind` from each row's value (a row too short, or a value of
    /// another kind, is a mistake of the caller's).
    fn of(
        name: &str,
        kind: Kind,
        values: impl Iterator<Item = Option<&'a Arg<'a>>>,
    ) -> Result<Self, StoreError> {
        let wrong = || StoreError::Corrupt(format!("a row's value for {name} is not of its kind"));
        fn pick<'a, T>(
            values: impl Iterator<Item = Option<&'a Arg<'a>>>,
            of_kind: impl Fn(&Arg<'a>) -> Option<T>,
            wrong: impl Fn() -> StoreError,
        ) -> Result<Vec<Option<T>>, StoreError> {
            values
                .map(|v| match v {
                    Some(Arg::Null) => Ok(None),
                    Some(a) => of_kind(a).map(Some).ok_or_else(&wrong),
                    None => Err(wrong()),
                })
                .collect()
        }
        Ok(match kind {
            Kind::Int => Column::Int(pick(
                values,
                |a| match a {
                    Arg::Int(i) => Some(*i),
                    _ => None,
                },
                wrong,
            )?),
            Kind::Text => Column::Text(pick(
                values,
                |a| match a {
                    Arg::Text(t) => Some(*t),
                    _ => None,
                },
                wrong,
            )?),
            Kind::Date => Column::Date(pick(
                values,
                |a| match a {
                    Arg::Date(d) => Some(*d),
                    _ => None,
                },
                wrong,
            )?),
        })
    }
}

impl ToSql for Column<'_> {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut bytes::BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match self {
            Column::Int(v) => v.to_sql(ty, out),
            Column::Text(v) => v.to_sql(ty, out),
            Column::Date(v) => v.to_sql(ty, out),
        }
    }

    fn accepts(ty: &Type) -> bool {
        matches!(*ty, Type::INT8_ARRAY | Type::TEXT_ARRAY | Type::DATE_ARRAY)
    }

    to_sql_checked!();
}

/// The month of `day` as a count of months (year × 12 + month − 1).
fn month_index(day: NaiveDate) -> i32 {
    day.year() * 12 + day.month0() as i32
}

fn month_start(index: i32) -> NaiveDate {
    NaiveDate::from_ymd_opt(index.div_euclid(12), index.rem_euclid(12) as u32 + 1, 1)
        .expect("a month in range")
}

impl Monthly {
    fn table(self) -> &'static str {
        match self {
            Monthly::Audit => "audit",
            Monthly::EhrItems => "ehr_items",
        }
    }

    fn partition(self, month: i32) -> String {
        let start = month_start(month);
        format!("{}_{:04}_{:02}", self.table(), start.year(), start.month())
    }

    /// The partition's bounds as SQL literals: JST midnights in milliseconds for audit lines,
    /// dates for EHR items.
    fn bounds(self, month: i32) -> (String, String) {
        let (from, to) = (month_start(month), month_start(month + 1));
        match self {
            Monthly::Audit => {
                let ms = |d: NaiveDate| {
                    dx_protocol::time::jst_ms(d.and_hms_opt(0, 0, 0).expect("midnight"))
                };
                (ms(from).to_string(), ms(to).to_string())
            }
            Monthly::EhrItems => (format!("'{from}'"), format!("'{to}'")),
        }
    }
}

impl Db for PgDb<'_> {
    fn execute(&self, sql: &str, args: &[Arg<'_>]) -> Result<u64, StoreError> {
        let st = self.statement(sql)?;
        Ok(self.client.borrow_mut().execute(&st, &params(args))?)
    }

    fn query(&self, sql: &str, args: &[Arg<'_>]) -> Result<Vec<Row>, StoreError> {
        let st = self.statement(sql)?;
        let rows = self.client.borrow_mut().query(&st, &params(args))?;
        rows.iter()
            .map(|r| {
                (0..r.len())
                    .map(|i| value(r, i))
                    .collect::<Result<_, _>>()
                    .map(Row)
            })
            .collect()
    }

    fn copy_rows<'a>(
        &self,
        table: &str,
        columns: &[(&str, Kind)],
        rows: &mut dyn Iterator<Item = Vec<Arg<'a>>>,
    ) -> Result<u64, StoreError> {
        let names: Vec<&str> = columns.iter().map(|c| c.0).collect();
        let types: Vec<Type> = columns
            .iter()
            .map(|c| match c.1 {
                Kind::Text => Type::TEXT,
                Kind::Int => Type::INT8,
                Kind::Date => Type::DATE,
            })
            .collect();
        let mut client = self.client.borrow_mut();
        let writer = client.copy_in(&format!(
            "COPY {table} ({}) FROM STDIN (FORMAT binary)",
            names.join(", ")
        ))?;
        let mut writer = postgres::binary_copy::BinaryCopyInWriter::new(writer, &types);
        for row in rows {
            writer.write(&params(&row))?;
        }
        Ok(writer.finish()?)
    }

    fn insert_rows(
        &self,
        table: &str,
        columns: &[(&str, Kind)],
        rows: &[Vec<Arg<'_>>],
    ) -> Result<u64, StoreError> {
        if rows.is_empty() {
            return Ok(0);
        }
        let names: Vec<&str> = columns.iter().map(|c| c.0).collect();
        let arrays: Vec<String> = columns
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let ty = match c.1 {
                    Kind::Text => "text",
                    Kind::Int => "int8",
                    Kind::Date => "date",
                };
                format!("?{}::{ty}[]", i + 1)
            })
            .collect();
        let sql = format!(
            "INSERT INTO {table} ({}) SELECT * FROM unnest({})",
            names.join(", "),
            arrays.join(", ")
        );
        let columns = columns
            .iter()
            .enumerate()
            .map(|(i, (name, kind))| Column::of(name, *kind, rows.iter().map(|r| r.get(i))))
            .collect::<Result<Vec<_>, _>>()?;
        let st = self.statement(&sql)?;
        let params: Vec<&(dyn ToSql + Sync)> =
            columns.iter().map(|c| c as &(dyn ToSql + Sync)).collect();
        Ok(self.client.borrow_mut().execute(&st, &params)?)
    }

    fn notify(&self, channel: &str, payload: &str) -> Result<(), StoreError> {
        self.execute(
            "SELECT pg_notify(?1, ?2)",
            &[Arg::Text(channel), Arg::Text(payload)],
        )?;
        Ok(())
    }

    fn month(&self, table: Monthly, day: NaiveDate) -> Result<(), StoreError> {
        let month = month_index(day);
        if lock(&self.store.months).contains(&(table, month))
            || self.created.borrow().contains(&(table, month))
        {
            return Ok(());
        }
        let name = table.partition(month);
        let (from, to) = table.bounds(month);
        // One creator at a time across every node; a creator that waited finds it made.
        let create = format!(
            "SELECT pg_advisory_xact_lock({SCHEMA_LOCK});
             CREATE TABLE IF NOT EXISTS {name} PARTITION OF {} FOR VALUES FROM ({from}) TO ({to})",
            table.table()
        );
        if self.in_transaction {
            self.client.borrow_mut().batch_execute(&create)?;
            self.created.borrow_mut().push((table, month));
        } else {
            self.client
                .borrow_mut()
                .batch_execute(&format!("BEGIN; {create}; COMMIT"))?;
            lock(&self.store.months).insert((table, month));
        }
        Ok(())
    }

    fn drop_months_before(&self, table: Monthly, day: NaiveDate) -> Result<u64, StoreError> {
        let current = month_index(day);
        // Partitions are named by month, so their names say which months lie wholly before.
        let parts = self.query(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
             WHERE i.inhparent = ?1::text::regclass",
            &[Arg::Text(table.table())],
        )?;
        let mut dropped = 0;
        for mut row in parts {
            let name = row.text(0)?;
            let Some(month) = parse_partition(table, &name) else {
                continue;
            };
            if month >= current {
                continue;
            }
            let n = self.query_one(&format!("SELECT count(*) FROM {name}"), &[])?;
            dropped += n.num::<u64>(0)?;
            self.client
                .borrow_mut()
                .batch_execute(&format!("DROP TABLE {name}"))?;
            lock(&self.store.months).remove(&(table, month));
        }
        Ok(dropped)
    }
}

/// The month a partition's name stands for (`audit_2026_12` → its month index).
fn parse_partition(table: Monthly, name: &str) -> Option<i32> {
    let rest = name.strip_prefix(table.table())?.strip_prefix('_')?;
    let (y, m) = rest.split_once('_')?;
    let (y, m): (i32, i32) = (y.parse().ok()?, m.parse().ok()?);
    (1..=12).contains(&m).then_some(y * 12 + m - 1)
}

fn migrate(client: &mut Client) -> Result<(), StoreError> {
    let mut tx = client.transaction()?;
    tx.batch_execute(&format!(
        "SELECT pg_advisory_xact_lock({SCHEMA_LOCK});
         CREATE TABLE IF NOT EXISTS schema_migrations (
             version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now());"
    ))?;
    let done: i32 = tx
        .query_one(
            "SELECT coalesce(max(version), 0) FROM schema_migrations",
            &[],
        )?
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
        tx.batch_execute(sql)?;
        tx.execute(
            "INSERT INTO schema_migrations (version) VALUES ($1)",
            &[&(i as i32 + 1)],
        )?;
    }
    tx.commit()?;
    Ok(())
}

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

/// Runs `f` on a thread of its own, where the client may block whatever runtime the caller is on.
fn on_own_thread<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|s| s.spawn(f).join().expect("database setup thread"))
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
        on_own_thread(|| {
            let mut c = server.parse::<postgres::Config>()?.connect(NoTls)?;
            c.batch_execute(&format!("CREATE DATABASE {name}"))?;
            Ok::<_, StoreError>(())
        })?;
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
        let dropped = on_own_thread(|| {
            let mut c = server.parse::<postgres::Config>()?.connect(NoTls)?;
            c.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))?;
            Ok::<_, StoreError>(())
        });
        if let Err(e) = dropped {
            eprintln!("dropping the scratch database {name}: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_become_numbered_outside_quotes() {
        assert_eq!(
            placeholders("SELECT a FROM t WHERE b = ?1 AND c = ?12 AND d = '?'"),
            "SELECT a FROM t WHERE b = $1 AND c = $12 AND d = '?'"
        );
        assert_eq!(
            placeholders("x IN (?, ?) AND y < ?"),
            "x IN ($1, $2) AND y < $3"
        );
    }

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

    #[test]
    fn partitions_are_named_and_bounded_by_month() {
        let d = NaiveDate::from_ymd_opt(2026, 12, 31).unwrap();
        let m = month_index(d);
        assert_eq!(Monthly::Audit.partition(m), "audit_2026_12");
        assert_eq!(parse_partition(Monthly::Audit, "audit_2026_12"), Some(m));
        assert_eq!(
            parse_partition(Monthly::EhrItems, "ehr_items_long_term"),
            None
        );
        assert_eq!(
            Monthly::EhrItems.bounds(m),
            ("'2026-12-01'".into(), "'2027-01-01'".into())
        );
        // JST midnight of 1 December 2026 is 15:00 UTC on 30 November.
        let (from, _) = Monthly::Audit.bounds(m);
        let from: i64 = from.parse().unwrap();
        assert_eq!(
            chrono::DateTime::from_timestamp_millis(from)
                .unwrap()
                .to_rfc3339(),
            "2026-11-30T15:00:00+00:00"
        );
    }
}
