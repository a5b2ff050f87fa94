//! SQLite storage of the audit trail.

use super::{AuditEvent, AuditStore};
use crate::store::error::StoreError;
use crate::store::sqlite::SqliteStore;
use chrono::{DateTime, Utc};
use dx_protocol::wire::{AccessLogEntry, Role};
use rusqlite::Connection;

/// Inserts one line; write paths call this inside their own transaction.
pub fn insert(conn: &Connection, e: &AuditEvent) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO audit (at_ms, actor, actor_role, action, person_id, target, outcome)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(rusqlite::params![
        e.at.timestamp_millis(),
        e.actor,
        e.actor_role.as_str(),
        e.action,
        e.person_id,
        e.target,
        e.outcome
    ])?;
    Ok(())
}

/// Whether `sql` (a `SELECT 1 … LIMIT 1` over a partial index, taking key, actor and instant)
/// finds a line.
fn seen_since(
    conn: &Connection,
    sql: &str,
    (key, actor, since): (&str, &str, DateTime<Utc>),
) -> Result<bool, StoreError> {
    Ok(conn
        .prepare_cached(sql)?
        .exists(rusqlite::params![key, actor, since.timestamp_millis()])?)
}

/// Outcomes of the person's latest `n` access-code attempts, newest first.
fn code_attempts(conn: &Connection, person_id: &str, n: u32) -> Result<Vec<String>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT outcome FROM audit
         WHERE person_id = ?1 AND action IN ('prescription.retrieve', 'prescription.unlock')
         ORDER BY id DESC LIMIT ?2",
    )?;
    let rows = stmt.query_map(rusqlite::params![person_id, n], |r| r.get(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

fn role_from_str(s: &str) -> Result<Role, StoreError> {
    serde_json::from_value(serde_json::Value::String(s.to_owned()))
        .map_err(|_| StoreError::Corrupt(format!("unknown role {s:?} in audit")))
}

impl AuditStore for SqliteStore {
    fn append_audit(&self, events: &[AuditEvent]) -> Result<(), StoreError> {
        // Survives kill -9 at commit; reaches the disk with the next fsynced commit.
        self.write_unsynced(|tx| events.iter().try_for_each(|e| insert(tx, e)))
    }

    fn access_log(
        &self,
        person_id: &str,
        before: Option<i64>,
        limit: u32,
    ) -> Result<Vec<AccessLogEntry>, StoreError> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT id, at_ms, actor, actor_role, action, outcome FROM audit
                 WHERE person_id = ?1 AND id < ?2 ORDER BY id DESC LIMIT ?3",
            )?;
            let rows = stmt.query_map(
                rusqlite::params![person_id, before.unwrap_or(i64::MAX), limit],
                |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, i64>(1)?,
                        r.get(2)?,
                        r.get::<_, String>(3)?,
                        r.get(4)?,
                        r.get(5)?,
                    ))
                },
            )?;
            rows.map(|row| {
                let (id, at_ms, actor, role, action, outcome) = row?;
                Ok(AccessLogEntry {
                    id,
                    at: DateTime::from_timestamp_millis(at_ms)
                        .ok_or_else(|| StoreError::Corrupt(format!("audit time {at_ms}")))?,
                    actor,
                    actor_role: role_from_str(&role)?,
                    action,
                    outcome,
                })
            })
            .collect()
        })
    }

    fn verified_since(
        &self,
        person_id: &str,
        actor: &str,
        since: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        self.read(|c| {
            seen_since(
                c,
                "SELECT 1 FROM audit
                 WHERE person_id = ?1 AND actor = ?2 AND at_ms >= ?3
                   AND action = 'eligibility.verify' AND outcome = 'ok'
                 LIMIT 1",
                (person_id, actor, since),
            )
        })
    }

    fn retrieved_since(
        &self,
        prescription_id: &str,
        actor: &str,
        since: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        self.read(|c| {
            seen_since(
                c,
                "SELECT 1 FROM audit
                 WHERE target = ?1 AND actor = ?2 AND at_ms >= ?3
                   AND action = 'prescription.retrieve' AND outcome = 'ok'
                 LIMIT 1",
                (prescription_id, actor, since),
            )
        })
    }

    fn code_attempts(&self, person_id: &str, n: u32) -> Result<Vec<String>, StoreError> {
        self.read(|c| code_attempts(c, person_id, n))
    }

    fn record_code_failure(
        &self,
        line: &AuditEvent,
        locked_line: &AuditEvent,
        n: u32,
        locked: fn(&[String]) -> bool,
    ) -> Result<bool, StoreError> {
        let person = line.person_id.as_deref().unwrap_or_default();
        self.write(|tx| {
            let was_locked = locked(&code_attempts(tx, person, n)?);
            insert(tx, if was_locked { locked_line } else { line })?;
            Ok(was_locked)
        })
    }
}
