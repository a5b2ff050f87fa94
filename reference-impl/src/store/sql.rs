//! The one SQL dialect every service's storage is written in, and what both backends give it: a
//! connection or transaction ([`Db`]) that runs a statement with [`Arg`]s and returns [`Row`]s.
//!
//! The dialect is the common ground of SQLite and PostgreSQL: positional parameters `?1`, `?2`
//! (or `?` counted from the left; PostgreSQL's backend rewrites them to `$1`, `$2`), `INSERT …
//! ON CONFLICT … DO UPDATE/NOTHING`, `RETURNING`, partial indexes, `||`. Integers are 64-bit,
//! instants are milliseconds since the epoch, dates are [`Arg::Date`] (ISO text in SQLite, `date`
//! in PostgreSQL), booleans are 0 and 1. Each backend prepares a statement once per connection
//! and keeps it, so every statement is prepared; no SQL is ever built from request text (the
//! only SQL assembled at run time joins fixed fragments and placeholders).

use super::error::StoreError;
use chrono::{DateTime, NaiveDate, Utc};

/// A statement's parameter.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Arg<'a> {
    Null,
    Int(i64),
    Text(&'a str),
    Date(NaiveDate),
}

impl Arg<'_> {
    /// The value this parameter binds, owned (a statement sent later keeps its parameters).
    pub fn to_value(&self) -> Value {
        match *self {
            Arg::Null => Value::Null,
            Arg::Int(v) => Value::Int(v),
            Arg::Text(s) => Value::Text(s.to_owned()),
            Arg::Date(d) => Value::Date(d),
        }
    }
}

/// A value that binds as a parameter.
pub trait ToArg {
    fn arg(&self) -> Arg<'_>;
}

impl ToArg for str {
    fn arg(&self) -> Arg<'_> {
        Arg::Text(self)
    }
}

impl ToArg for String {
    fn arg(&self) -> Arg<'_> {
        Arg::Text(self)
    }
}

impl ToArg for NaiveDate {
    fn arg(&self) -> Arg<'_> {
        Arg::Date(*self)
    }
}

impl ToArg for bool {
    fn arg(&self) -> Arg<'_> {
        Arg::Int(i64::from(*self))
    }
}

macro_rules! int_args {
    ($($t:ty),*) => {$(
        impl ToArg for $t {
            fn arg(&self) -> Arg<'_> {
                Arg::Int(i64::from(*self))
            }
        }
    )*};
}
int_args!(i64, i32, u32, u16, u8);

impl ToArg for DateTime<Utc> {
    /// An instant binds as its milliseconds since the epoch.
    fn arg(&self) -> Arg<'_> {
        Arg::Int(self.timestamp_millis())
    }
}

impl<T: ToArg> ToArg for Option<T> {
    fn arg(&self) -> Arg<'_> {
        self.as_ref().map_or(Arg::Null, ToArg::arg)
    }
}

impl<T: ToArg + ?Sized> ToArg for &T {
    fn arg(&self) -> Arg<'_> {
        (**self).arg()
    }
}

/// The parameters of a statement: `args![a, b, c]`.
macro_rules! args {
    ($($a:expr),* $(,)?) => {
        &[$($crate::store::sql::ToArg::arg(&$a)),*][..]
    };
}
pub(crate) use args;

/// A column's value as a backend returned it.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Int(i64),
    Text(String),
    Date(NaiveDate),
}

impl ToArg for Value {
    fn arg(&self) -> Arg<'_> {
        match self {
            Value::Null => Arg::Null,
            Value::Int(v) => Arg::Int(*v),
            Value::Text(s) => Arg::Text(s),
            Value::Date(d) => Arg::Date(*d),
        }
    }
}

/// One result row; its columns are taken by position.
#[derive(Debug)]
pub struct Row(pub Vec<Value>);

impl Row {
    fn at(&self, i: usize) -> Result<&Value, StoreError> {
        self.0
            .get(i)
            .ok_or_else(|| StoreError::Corrupt(format!("no column {i}")))
    }

    fn mismatch(&self, i: usize, want: &str) -> StoreError {
        StoreError::Corrupt(format!("column {i} is {:?}, not {want}", self.0.get(i)))
    }

    pub fn opt_int(&self, i: usize) -> Result<Option<i64>, StoreError> {
        match self.at(i)? {
            Value::Null => Ok(None),
            Value::Int(v) => Ok(Some(*v)),
            _ => Err(self.mismatch(i, "an integer")),
        }
    }

    pub fn int(&self, i: usize) -> Result<i64, StoreError> {
        self.opt_int(i)?
            .ok_or_else(|| self.mismatch(i, "an integer"))
    }

    /// An integer column read into a narrower type (a count of uses, a dose number).
    pub fn num<T: TryFrom<i64>>(&self, i: usize) -> Result<T, StoreError> {
        let v = self.int(i)?;
        T::try_from(v).map_err(|_| StoreError::Corrupt(format!("column {i}: {v} out of range")))
    }

    pub fn opt_text(&mut self, i: usize) -> Result<Option<String>, StoreError> {
        match self.0.get_mut(i) {
            Some(Value::Null) => Ok(None),
            Some(Value::Text(s)) => Ok(Some(std::mem::take(s))),
            _ => Err(self.mismatch(i, "text")),
        }
    }

    /// A text column, moved out of the row.
    pub fn text(&mut self, i: usize) -> Result<String, StoreError> {
        self.opt_text(i)?.ok_or_else(|| self.mismatch(i, "text"))
    }

    pub fn opt_date(&self, i: usize) -> Result<Option<NaiveDate>, StoreError> {
        match self.at(i)? {
            Value::Null => Ok(None),
            Value::Date(d) => Ok(Some(*d)),
            Value::Text(s) => s
                .parse()
                .map(Some)
                .map_err(|_| StoreError::Corrupt(format!("bad date {s:?}"))),
            Value::Int(_) => Err(self.mismatch(i, "a date")),
        }
    }

    pub fn date(&self, i: usize) -> Result<NaiveDate, StoreError> {
        self.opt_date(i)?.ok_or_else(|| self.mismatch(i, "a date"))
    }

    pub fn opt_time(&self, i: usize) -> Result<Option<DateTime<Utc>>, StoreError> {
        self.opt_int(i)?.map(time).transpose()
    }

    /// An instant kept as milliseconds since the epoch.
    pub fn time(&self, i: usize) -> Result<DateTime<Utc>, StoreError> {
        time(self.int(i)?)
    }
}

/// The instant of `ms` milliseconds since the epoch.
pub fn time(ms: i64) -> Result<DateTime<Utc>, StoreError> {
    DateTime::from_timestamp_millis(ms).ok_or_else(|| StoreError::Corrupt(format!("time {ms}")))
}

/// The type of a column rows are copied into (see [`Db::copy_rows`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Text,
    Int,
    Date,
}

/// A table PostgreSQL keeps in monthly partitions, so that what outlives its retention goes a
/// month at a time (`DROP TABLE` of a partition) rather than row by row. SQLite keeps one table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Monthly {
    /// Audit lines, by the JST month of `at_ms`.
    Audit,
    /// EHR items, by the month of `retain_until`; items kept without end (long-term) are in a
    /// partition of their own.
    EhrItems,
}

/// The rows of a query run by [`Db::query_later`]: there already, or to be had once sent.
#[derive(Debug)]
pub enum Later {
    Ready(Vec<Row>),
    Pending(usize),
}

/// A connection, or a transaction, of either backend. A unique key violated by a statement is
/// [`StoreError::Duplicate`]; any other failure of the backend is [`StoreError::Backend`].
pub trait Db {
    /// Runs a statement; returns the rows it changed.
    fn execute(&self, sql: &str, args: &[Arg<'_>]) -> Result<u64, StoreError>;
    /// Runs a query; returns every row.
    fn query(&self, sql: &str, args: &[Arg<'_>]) -> Result<Vec<Row>, StoreError>;

    /// Runs queries that do not depend on one another; returns each one's rows, in order.
    /// PostgreSQL sends them together (one round trip); SQLite runs them one after the other.
    fn query_batch(&self, queries: &[(&str, &[Arg<'_>])]) -> Result<Vec<Vec<Row>>, StoreError> {
        queries
            .iter()
            .map(|(sql, args)| self.query(sql, args))
            .collect()
    }

    /// Runs a statement of a transaction whose outcome the caller does not need before the
    /// commit: an insert of rows whose keys are their own, an audit line. PostgreSQL sends it
    /// with the next statement, or with the commit, in one round trip; its failure is then that
    /// statement's or the commit's, so the transaction fails and rolls back as if it had failed
    /// at once. SQLite runs it at once.
    fn execute_later(&self, sql: &str, args: &[Arg<'_>]) -> Result<(), StoreError> {
        self.execute(sql, args).map(|_| ())
    }

    /// Runs a query of a transaction whose rows the caller needs only once it commits (an
    /// `INSERT … RETURNING`): PostgreSQL sends it as [`Db::execute_later`] sends a statement and
    /// keeps its rows; SQLite runs it at once. The rows are had from what the transaction
    /// answers (see `SqlStore::write_hot_row`).
    fn query_later(&self, sql: &str, args: &[Arg<'_>]) -> Result<Later, StoreError> {
        Ok(Later::Ready(self.query(sql, args)?))
    }

    /// The first row of a query, if any.
    fn query_opt(&self, sql: &str, args: &[Arg<'_>]) -> Result<Option<Row>, StoreError> {
        Ok(self.query(sql, args)?.into_iter().next())
    }

    /// The one row a query must return (an aggregate, `INSERT … RETURNING`).
    fn query_one(&self, sql: &str, args: &[Arg<'_>]) -> Result<Row, StoreError> {
        self.query_opt(sql, args)?
            .ok_or_else(|| StoreError::Corrupt(format!("no row from {sql}")))
    }

    /// Inserts `rows` into `columns` of `table` and answers how many: a bulk load. PostgreSQL
    /// streams them with `COPY … FROM STDIN (FORMAT binary)`, SQLite inserts them one prepared
    /// statement at a time. A violated unique key fails it as [`StoreError::Duplicate`].
    fn copy_rows<'a>(
        &self,
        table: &str,
        columns: &[(&str, Kind)],
        rows: &mut dyn Iterator<Item = Vec<Arg<'a>>>,
    ) -> Result<u64, StoreError> {
        insert_one_by_one(self, table, columns, rows)
    }

    /// Inserts a few `rows` (a batch of audit lines, a prescription's items) in one statement,
    /// so one round trip on PostgreSQL, which binds each column as an array; SQLite inserts
    /// them one prepared statement at a time. COPY ([`Db::copy_rows`]) pays more to start and
    /// is for bulk loads.
    fn insert_rows(
        &self,
        table: &str,
        columns: &[(&str, Kind)],
        rows: &[Vec<Arg<'_>>],
    ) -> Result<u64, StoreError> {
        insert_one_by_one(self, table, columns, &mut rows.iter().cloned())
    }

    /// [`Db::insert_rows`], sent as [`Db::execute_later`] sends a statement.
    fn insert_rows_later(
        &self,
        table: &str,
        columns: &[(&str, Kind)],
        rows: &[Vec<Arg<'_>>],
    ) -> Result<(), StoreError> {
        self.insert_rows(table, columns, rows).map(|_| ())
    }

    /// As [`Db::insert_rows_later`], for rows that belong to a row this transaction made and
    /// whose key the database made: each row is led by the value of column `parent.0` that the
    /// query `parent.1` selects (one row, one column; its placeholders `?1`… are `parent.2`).
    /// Where the query selects nothing, the rows' insert fails if that column is `NOT NULL`.
    fn insert_child_rows_later(
        &self,
        table: &str,
        parent: (&str, &str, &[Arg<'_>]),
        columns: &[(&str, Kind)],
        rows: &[Vec<Arg<'_>>],
    ) -> Result<(), StoreError> {
        let (column, query, parent_args) = parent;
        let names: Vec<&str> = columns.iter().map(|c| c.0).collect();
        let marks: Vec<String> = (1..=columns.len())
            .map(|i| format!("?{}", parent_args.len() + i))
            .collect();
        let sql = format!(
            "INSERT INTO {table} ({column}, {}) SELECT ({query}), {}",
            names.join(", "),
            marks.join(", ")
        );
        for row in rows {
            let args: Vec<Arg<'_>> = parent_args.iter().chain(row).copied().collect();
            self.execute_later(&sql, &args)?;
        }
        Ok(())
    }

    /// Makes sure the partition of `table` for the month of `day` exists, before a row of that
    /// month is inserted (nothing to do where the table is not partitioned).
    fn month(&self, _table: Monthly, _day: NaiveDate) -> Result<(), StoreError> {
        Ok(())
    }

    /// Drops the partitions of `table` whose every row falls before the month of `day`; returns
    /// how many rows they held (0 where the table is not partitioned).
    fn drop_months_before(&self, _table: Monthly, _day: NaiveDate) -> Result<u64, StoreError> {
        Ok(0)
    }

    /// Announces `payload` on `channel` to every process serving the store, when (and only if)
    /// this transaction commits (nothing to do where one process serves it).
    fn notify(&self, _channel: &str, _payload: &str) -> Result<(), StoreError> {
        Ok(())
    }

    /// Whether a query returns a row.
    fn exists(&self, sql: &str, args: &[Arg<'_>]) -> Result<bool, StoreError> {
        Ok(self.query_opt(sql, args)?.is_some())
    }
}

/// Inserts rows with one prepared statement each (SQLite's way, in one transaction).
fn insert_one_by_one<'a, D: Db + ?Sized>(
    db: &D,
    table: &str,
    columns: &[(&str, Kind)],
    rows: &mut dyn Iterator<Item = Vec<Arg<'a>>>,
) -> Result<u64, StoreError> {
    let names: Vec<&str> = columns.iter().map(|c| c.0).collect();
    let marks: Vec<String> = (1..=columns.len()).map(|i| format!("?{i}")).collect();
    let sql = format!(
        "INSERT INTO {table} ({}) VALUES ({})",
        names.join(", "),
        marks.join(", ")
    );
    let mut n = 0;
    for row in rows {
        n += db.execute(&sql, &row)?;
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn args_bind_by_type() {
        let d = NaiveDate::from_ymd_opt(2026, 4, 1).unwrap();
        let name = String::from("x");
        let none: Option<String> = None;
        let a = args![name, 3u8, d, none, Some("y"), true];
        assert_eq!(
            a,
            [
                Arg::Text("x"),
                Arg::Int(3),
                Arg::Date(d),
                Arg::Null,
                Arg::Text("y"),
                Arg::Int(1)
            ]
        );
    }

    #[test]
    fn rows_give_typed_columns_and_name_mismatches() {
        let mut r = Row(vec![
            Value::Int(7),
            Value::Text("2026-04-01".into()),
            Value::Null,
            Value::Text("a".into()),
        ]);
        assert_eq!(r.num::<u8>(0).unwrap(), 7);
        assert_eq!(r.date(1).unwrap().to_string(), "2026-04-01");
        assert_eq!(r.opt_text(2).unwrap(), None);
        assert_eq!(r.text(3).unwrap(), "a");
        assert!(matches!(r.int(1), Err(StoreError::Corrupt(_))));
        assert!(matches!(r.num::<u8>(9), Err(StoreError::Corrupt(_))));
        let big = Row(vec![Value::Int(300)]);
        assert!(matches!(big.num::<u8>(0), Err(StoreError::Corrupt(_))));
    }
}
