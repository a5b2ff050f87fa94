//! The dialect's [`Db`] on a pooled PostgreSQL connection, in a transaction or not.
//!
//! What a caller does not wait for is queued and sent with the next statement it does wait for,
//! in one round trip: the transaction's start, statements run with [`Db::execute_later`] and
//! [`Db::insert_rows_later`], and the commit, which carries whatever is still queued. A queued
//! statement that fails fails the statement or commit it was sent with (the first failure is
//! the answer), so a transaction never commits past one.

use super::super::error::StoreError;
use super::super::sql::{Arg, Db, Kind, Later, Monthly, Row, ToArg, Value};
use super::link::Link;
use chrono::{Datelike, NaiveDate};
use std::cell::{Cell, RefCell};
use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, MutexGuard};
use tokio_postgres::types::{IsNull, ToSql, Type, to_sql_checked};
use tokio_postgres::{Client, Statement};

/// Key of the advisory lock held while migrating and while creating partitions.
pub(super) const SCHEMA_LOCK: i64 = 0x6478_7369_6d00_0001;

/// Monthly partitions known to exist, shared by a store's connections (a partition is never
/// dropped while rows of its month can still arrive: only months wholly past their retention
/// are).
pub(super) type Months = Mutex<HashSet<(Monthly, i32)>>;

pub(super) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The dialect's placeholders (`?1`, or `?` counted from the left) as PostgreSQL's (`$1`).
fn placeholders(sql: &str) -> String {
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

/// Statements a connection keeps prepared at most (the exchange has about 150; a statement
/// built per query shape, like an item filter, adds a few).
const MAX_STATEMENTS: usize = 1_024;
/// Statements queued at most before they are sent without waiting for a statement to carry them.
const MAX_QUEUED: usize = 64;

/// One connection of the pool. The client is declared before its link, so that it is dropped
/// first and the link, dropped next, says goodbye to the server on its behalf.
pub(super) struct Conn {
    pub(super) client: Client,
    pub(super) link: Link,
    statements: HashMap<String, Statement>,
}

impl Conn {
    pub(super) fn new(client: Client, link: Link) -> Self {
        Conn {
            client,
            link,
            statements: HashMap::new(),
        }
    }

    /// Runs SQL without parameters (statements separated by `;`) and waits for it.
    pub(super) fn batch(&mut self, sql: &str) -> Result<(), StoreError> {
        let Conn { client, link, .. } = self;
        Ok(link.block_on(client.batch_execute(sql))?)
    }
}

/// A parameter owned until its statement is sent.
type Param = Box<dyn ToSql + Sync + Send>;

fn owned<'a>(args: &'a [Arg<'_>]) -> impl Iterator<Item = Param> + 'a {
    args.iter().map(|a| Box::new(a.to_value()) as Param)
}

enum Queued {
    /// SQL without parameters, sent as a simple query (the transaction's start, its commit).
    Simple(String),
    /// A prepared statement and its parameters.
    Statement(Statement, Vec<Param>),
    /// A prepared query and its parameters, whose rows are kept in the slot numbered.
    Kept(Statement, Vec<Param>, usize),
}

/// A pooled connection, in a transaction or not, with its prepared statements.
pub(super) struct PgDb<'a> {
    conn: RefCell<&'a mut Conn>,
    months: &'a Months,
    /// Whether the statements run in a transaction; if not, each commits on its own.
    in_transaction: bool,
    queued: RefCell<Vec<Queued>>,
    /// Whether anything was sent: a transaction nothing was sent in needs no commit.
    sent: Cell<bool>,
    /// Whether the commit was sent: then the transaction is over, committed or not.
    ended: Cell<bool>,
    /// Partitions this transaction created, known to exist once it commits.
    pub(super) created: RefCell<Vec<(Monthly, i32)>>,
    /// Rows of the queries of [`Db::query_later`], by slot, once sent.
    kept: RefCell<Vec<Option<Vec<Row>>>>,
}

impl<'a> PgDb<'a> {
    /// Statements on `conn`, each committing on its own.
    pub(super) fn autocommit(conn: &'a mut Conn, months: &'a Months) -> Self {
        PgDb {
            conn: RefCell::new(conn),
            months,
            in_transaction: false,
            queued: RefCell::new(Vec::new()),
            sent: Cell::new(false),
            ended: Cell::new(false),
            created: RefCell::new(Vec::new()),
            kept: RefCell::new(Vec::new()),
        }
    }

    /// A transaction on `conn`, opened by `begin`, which is sent with its first statement.
    pub(super) fn transaction(conn: &'a mut Conn, months: &'a Months, begin: String) -> Self {
        let db = Self::autocommit(conn, months);
        db.queued.borrow_mut().push(Queued::Simple(begin));
        PgDb {
            in_transaction: true,
            ..db
        }
    }

    /// Commits what this transaction did, with what is still queued, in one round trip; nothing
    /// is sent if it did nothing at all.
    pub(super) fn commit(&self) -> Result<(), StoreError> {
        if !self.sent.get()
            && self
                .queued
                .borrow()
                .iter()
                .all(|q| matches!(q, Queued::Simple(_)))
        {
            return Ok(());
        }
        self.queued
            .borrow_mut()
            .push(Queued::Simple("COMMIT".into()));
        // A commit sent ends the transaction whatever it answers: in a transaction a statement
        // failed in, PostgreSQL takes it as a rollback.
        self.ended.set(true);
        self.send(&[]).map(|_| ())
    }

    /// The rows `later` stands for, once sent.
    pub(super) fn rows_of(&self, later: Later) -> Result<Vec<Row>, StoreError> {
        match later {
            Later::Ready(rows) => Ok(rows),
            Later::Pending(slot) => self
                .kept
                .borrow_mut()
                .get_mut(slot)
                .and_then(Option::take)
                .ok_or_else(|| StoreError::Corrupt("rows asked for before they were sent".into())),
        }
    }

    /// Rolls back what was sent of this transaction, unless its commit was sent; what is still
    /// queued is dropped unsent.
    pub(super) fn rollback(&self) {
        self.queued.borrow_mut().clear();
        if self.sent.get() && !self.ended.get() {
            // A broken connection is closed when it is given back.
            let _ = self.conn.borrow_mut().batch("ROLLBACK");
        }
    }

    /// Sends what is still queued (the end of an autocommitted closure).
    pub(super) fn flush(&self) -> Result<(), StoreError> {
        if self.queued.borrow().is_empty() {
            return Ok(());
        }
        self.send(&[]).map(|_| ())
    }

    fn statement(&self, sql: &str) -> Result<Statement, StoreError> {
        let mut conn = self.conn.borrow_mut();
        if let Some(st) = conn.statements.get(sql) {
            return Ok(st.clone());
        }
        let Conn { client, link, .. } = &mut **conn;
        let st = link.block_on(client.prepare(&placeholders(sql)))?;
        if conn.statements.len() >= MAX_STATEMENTS {
            conn.statements.clear();
        }
        conn.statements.insert(sql.to_owned(), st.clone());
        Ok(st)
    }

    fn queue(&self, q: Queued) -> Result<(), StoreError> {
        let full = {
            let mut queued = self.queued.borrow_mut();
            queued.push(q);
            queued.len() >= MAX_QUEUED
        };
        if full { self.flush() } else { Ok(()) }
    }

    /// Sends what is queued, then `calls`, in one round trip, and waits for all of them; answers
    /// each call's rows and the count of rows it changed. The first failure, in the order sent,
    /// is the answer.
    fn send(
        &self,
        calls: &[(Statement, &[&(dyn ToSql + Sync)])],
    ) -> Result<Vec<(Vec<tokio_postgres::Row>, u64)>, StoreError> {
        use futures::TryStreamExt as _;
        let queued = std::mem::take(&mut *self.queued.borrow_mut());
        self.sent.set(true);
        let mut conn = self.conn.borrow_mut();
        let Conn { client, link, .. } = &mut **conn;
        let client = &*client;
        // Each request is written when its future is first polled; joined, they are polled in
        // order, so they go out in order and together.
        fn owned(params: &[Param]) -> Vec<&(dyn ToSql + Sync)> {
            params.iter().map(|p| p.as_ref() as _).collect()
        }
        let earlier = futures::future::join_all(queued.iter().map(|q| async move {
            match q {
                Queued::Simple(sql) => client.batch_execute(sql).await.map(|()| None),
                Queued::Statement(st, params) => {
                    client.execute_raw(st, owned(params)).await.map(|_| None)
                }
                Queued::Kept(st, params, slot) => {
                    let rows = client.query(st, &owned(params)).await?;
                    Ok(Some((*slot, rows)))
                }
            }
        }));
        let now = futures::future::join_all(calls.iter().map(|(st, params)| async move {
            let rows = client.query_raw(st, params.iter().copied()).await?;
            let mut rows = std::pin::pin!(rows);
            let mut out = Vec::new();
            while let Some(r) = rows.try_next().await? {
                out.push(r);
            }
            let changed = rows.rows_affected().unwrap_or(0);
            Ok::<_, tokio_postgres::Error>((out, changed))
        }));
        let (earlier, now) = link.block_on(futures::future::join(earlier, now));
        for r in earlier {
            if let Some((slot, kept)) = r? {
                self.kept.borrow_mut()[slot] = Some(rows(kept)?);
            }
        }
        Ok(now.into_iter().collect::<Result<Vec<_>, _>>()?)
    }

    fn call(
        &self,
        sql: &str,
        args: &[Arg<'_>],
    ) -> Result<(Vec<tokio_postgres::Row>, u64), StoreError> {
        let st = self.statement(sql)?;
        let params: Vec<&(dyn ToSql + Sync)> = args.iter().map(|a| a as _).collect();
        let mut out = self.send(&[(st, &params)])?;
        Ok(out.pop().expect("one answer a call"))
    }
}

fn rows(rows: Vec<tokio_postgres::Row>) -> Result<Vec<Row>, StoreError> {
    rows.iter()
        .map(|r| {
            (0..r.len())
                .map(|i| value(r, i))
                .collect::<Result<_, _>>()
                .map(Row)
        })
        .collect()
}

fn value(row: &tokio_postgres::Row, i: usize) -> Result<Value, StoreError> {
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

impl ToSql for Value {
    /// As the [`Arg`] it binds as (a queued statement owns its parameters).
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut bytes::BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        self.arg().to_sql(ty, out)
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

/// One column of [`Db::insert_rows`], bound as an array.
#[derive(Debug)]
enum Column {
    Int(Vec<Option<i64>>),
    Text(Vec<Option<String>>),
    Date(Vec<Option<NaiveDate>>),
}

impl Column {
    /// The column `name` of `kind` from each row's value (a row too short, or a value of
    /// another kind, is a mistake of the caller's).
    fn of<'a>(
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
                    Arg::Text(t) => Some((*t).to_owned()),
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

impl ToSql for Column {
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

impl PgDb<'_> {
    /// The statement of [`Db::insert_rows`] into `table`, and its parameters: each column bound
    /// as an array (`INSERT … SELECT FROM unnest(…)`), led by the column `parent` selects, if
    /// given (see [`Db::insert_child_rows_later`]).
    fn rows_statement(
        &self,
        table: &str,
        parent: Option<(&str, &str, &[Arg<'_>])>,
        columns: &[(&str, Kind)],
        rows: &[Vec<Arg<'_>>],
    ) -> Result<(Statement, Vec<Param>), StoreError> {
        let first = parent.map_or(0, |p| p.2.len());
        let names: Vec<&str> = parent
            .iter()
            .map(|p| p.0)
            .chain(columns.iter().map(|c| c.0))
            .collect();
        let arrays: Vec<String> = columns
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let ty = match c.1 {
                    Kind::Text => "text",
                    Kind::Int => "int8",
                    Kind::Date => "date",
                };
                format!("?{}::{ty}[]", first + i + 1)
            })
            .collect();
        let lead = parent.map_or(String::new(), |p| format!("({}), ", p.1));
        let sql = format!(
            "INSERT INTO {table} ({}) SELECT {lead}* FROM unnest({})",
            names.join(", "),
            arrays.join(", ")
        );
        let parent_params = parent.into_iter().flat_map(|p| owned(p.2));
        let params = columns
            .iter()
            .enumerate()
            .map(|(i, (name, kind))| {
                Column::of(name, *kind, rows.iter().map(|r| r.get(i))).map(|c| Box::new(c) as Param)
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok((self.statement(&sql)?, parent_params.chain(params).collect()))
    }
}

impl Db for PgDb<'_> {
    fn execute(&self, sql: &str, args: &[Arg<'_>]) -> Result<u64, StoreError> {
        Ok(self.call(sql, args)?.1)
    }

    fn query(&self, sql: &str, args: &[Arg<'_>]) -> Result<Vec<Row>, StoreError> {
        rows(self.call(sql, args)?.0)
    }

    fn query_batch(&self, queries: &[(&str, &[Arg<'_>])]) -> Result<Vec<Vec<Row>>, StoreError> {
        let statements = queries
            .iter()
            .map(|(sql, _)| self.statement(sql))
            .collect::<Result<Vec<_>, _>>()?;
        let params: Vec<Vec<&(dyn ToSql + Sync)>> = queries
            .iter()
            .map(|(_, args)| args.iter().map(|a| a as _).collect())
            .collect();
        let calls: Vec<(Statement, &[&(dyn ToSql + Sync)])> = statements
            .into_iter()
            .zip(&params)
            .map(|(st, p)| (st, p.as_slice()))
            .collect();
        self.send(&calls)?
            .into_iter()
            .map(|(r, _)| rows(r))
            .collect()
    }

    fn execute_later(&self, sql: &str, args: &[Arg<'_>]) -> Result<(), StoreError> {
        let st = self.statement(sql)?;
        self.queue(Queued::Statement(st, owned(args).collect()))
    }

    fn query_later(&self, sql: &str, args: &[Arg<'_>]) -> Result<Later, StoreError> {
        let st = self.statement(sql)?;
        let params = owned(args).collect();
        let slot = {
            let mut kept = self.kept.borrow_mut();
            kept.push(None);
            kept.len() - 1
        };
        self.queue(Queued::Kept(st, params, slot))?;
        Ok(Later::Pending(slot))
    }

    fn copy_rows<'r>(
        &self,
        table: &str,
        columns: &[(&str, Kind)],
        rows: &mut dyn Iterator<Item = Vec<Arg<'r>>>,
    ) -> Result<u64, StoreError> {
        use tokio_postgres::binary_copy::BinaryCopyInWriter;
        self.flush()?;
        let names: Vec<&str> = columns.iter().map(|c| c.0).collect();
        let types: Vec<Type> = columns
            .iter()
            .map(|c| match c.1 {
                Kind::Text => Type::TEXT,
                Kind::Int => Type::INT8,
                Kind::Date => Type::DATE,
            })
            .collect();
        let sql = format!(
            "COPY {table} ({}) FROM STDIN (FORMAT binary)",
            names.join(", ")
        );
        let mut conn = self.conn.borrow_mut();
        let Conn { client, link, .. } = &mut **conn;
        let client = &*client;
        let copied = link.block_on(async {
            let sink = client.copy_in(&sql).await?;
            let mut writer = std::pin::pin!(BinaryCopyInWriter::new(sink, &types));
            for row in rows {
                let params: Vec<&(dyn ToSql + Sync)> = row.iter().map(|a| a as _).collect();
                writer.as_mut().write(&params).await?;
            }
            writer.finish().await
        });
        Ok(copied?)
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
        let (st, params) = self.rows_statement(table, None, columns, rows)?;
        let refs: Vec<&(dyn ToSql + Sync)> = params
            .iter()
            .map(|p| p.as_ref() as &(dyn ToSql + Sync))
            .collect();
        let mut out = self.send(&[(st, &refs)])?;
        Ok(out.pop().expect("one answer a call").1)
    }

    fn insert_rows_later(
        &self,
        table: &str,
        columns: &[(&str, Kind)],
        rows: &[Vec<Arg<'_>>],
    ) -> Result<(), StoreError> {
        if rows.is_empty() {
            return Ok(());
        }
        let (st, params) = self.rows_statement(table, None, columns, rows)?;
        self.queue(Queued::Statement(st, params))
    }

    fn insert_child_rows_later(
        &self,
        table: &str,
        parent: (&str, &str, &[Arg<'_>]),
        columns: &[(&str, Kind)],
        rows: &[Vec<Arg<'_>>],
    ) -> Result<(), StoreError> {
        if rows.is_empty() {
            return Ok(());
        }
        let (st, params) = self.rows_statement(table, Some(parent), columns, rows)?;
        self.queue(Queued::Statement(st, params))
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
        if lock(self.months).contains(&(table, month))
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
        // Made at once (a month's first row is rare): a queued creation would be known made
        // before it was.
        if self.in_transaction {
            self.queue(Queued::Simple(create))?;
            self.send(&[])?;
            self.created.borrow_mut().push((table, month));
        } else {
            self.queue(Queued::Simple(format!("BEGIN; {create}; COMMIT")))?;
            self.send(&[])?;
            lock(self.months).insert((table, month));
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
            self.queue(Queued::Simple(format!("DROP TABLE {name}")))?;
            self.send(&[])?;
            lock(self.months).remove(&(table, month));
        }
        Ok(dropped)
    }
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

/// The month a partition's name stands for (`audit_2026_12` → its month index).
fn parse_partition(table: Monthly, name: &str) -> Option<i32> {
    let rest = name.strip_prefix(table.table())?.strip_prefix('_')?;
    let (y, m) = rest.split_once('_')?;
    let (y, m): (i32, i32) = (y.parse().ok()?, m.parse().ok()?);
    (1..=12).contains(&m).then_some(y * 12 + m - 1)
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
