//! Storage of the audit trail.

use super::{AuditEvent, AuditStore};
use crate::store::SqlStore;
use crate::store::error::StoreError;
use crate::store::sql::{Arg, Db, Kind, Monthly, ToArg as _, args};
use chrono::{DateTime, Utc};
use dx_protocol::wire::{AccessLogEntry, Role};

/// Inserts one line; write paths call this inside their own transaction, which the line
/// travels with to its commit (nothing waits for it alone).
pub fn insert(tx: &dyn Db, e: &AuditEvent) -> Result<(), StoreError> {
    tx.month(Monthly::Audit, dx_protocol::time::jst_date(e.at))?;
    tx.execute_later(
        "INSERT INTO audit (at_ms, actor, actor_role, action, person_id, target, outcome, request_id)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        args![
            e.at,
            e.actor,
            e.actor_role.as_str(),
            e.action,
            e.person_id,
            e.target,
            e.outcome,
            e.request_id
        ],
    )?;
    Ok(())
}

/// As [`insert`], for a line whose target is a row this transaction made and whose key the
/// database made: `target.0` selects the key (one row, one column; its placeholders `?1`… are
/// `target.1`).
pub fn insert_targeting(
    tx: &dyn Db,
    e: &AuditEvent,
    target: (&str, &[Arg<'_>]),
) -> Result<(), StoreError> {
    tx.month(Monthly::Audit, dx_protocol::time::jst_date(e.at))?;
    let k = target.1.len();
    let sql = format!(
        "INSERT INTO audit (at_ms, actor, actor_role, action, person_id, target, outcome, request_id)
         SELECT ?{}, ?{}, ?{}, ?{}, ?{}, ({}), ?{}, ?{}",
        k + 1,
        k + 2,
        k + 3,
        k + 4,
        k + 5,
        target.0,
        k + 6,
        k + 7
    );
    let role = e.actor_role.as_str();
    let own = args![
        e.at,
        e.actor,
        role,
        e.action,
        e.person_id,
        e.outcome,
        e.request_id
    ];
    let all: Vec<Arg<'_>> = target.1.iter().chain(own).copied().collect();
    tx.execute_later(&sql, &all)
}

/// Of `ids`, those with no successful audit line (`outcome = 'ok'`).
pub fn missing_requests(c: &dyn Db, ids: &[String]) -> Result<Vec<String>, StoreError> {
    let mut missing = Vec::new();
    for part in ids.chunks(200) {
        let marks: Vec<String> = (1..=part.len()).map(|i| format!("?{i}")).collect();
        let sql = format!(
            "SELECT DISTINCT request_id FROM audit WHERE request_id IN ({}) AND outcome = 'ok'",
            marks.join(", ")
        );
        let args: Vec<Arg<'_>> = part.iter().map(|s| Arg::Text(s)).collect();
        let found: std::collections::HashSet<String> = c
            .query(&sql, &args)?
            .into_iter()
            .map(|mut r| r.text(0))
            .collect::<Result<_, _>>()?;
        missing.extend(part.iter().filter(|id| !found.contains(*id)).cloned());
    }
    Ok(missing)
}

/// Outcomes of the person's latest `n` access-code attempts, newest first.
fn code_attempts(c: &dyn Db, person_id: &str, n: u32) -> Result<Vec<String>, StoreError> {
    c.query(
        "SELECT outcome FROM audit
         WHERE person_id = ?1 AND action IN ('prescription.retrieve', 'prescription.unlock')
         ORDER BY id DESC LIMIT ?2",
        args![person_id, n],
    )?
    .into_iter()
    .map(|mut r| r.text(0))
    .collect()
}

fn role_from_str(s: &str) -> Result<Role, StoreError> {
    serde_json::from_value(serde_json::Value::String(s.to_owned()))
        .map_err(|_| StoreError::Corrupt(format!("unknown role {s:?} in audit")))
}

impl AuditStore for SqlStore {
    fn missing_requests(&self, ids: &[String]) -> Result<Vec<String>, StoreError> {
        self.read(|c| missing_requests(c, ids))
    }

    fn append_audit(&self, events: &[AuditEvent]) -> Result<(), StoreError> {
        // Survives kill -9 at commit; reaches the disk with the next synced commit. A batch is
        // one statement (one round trip on PostgreSQL).
        let rows: Vec<Vec<Arg<'_>>> = events
            .iter()
            .map(|e| {
                vec![
                    Arg::Int(e.at.timestamp_millis()),
                    Arg::Text(&e.actor),
                    Arg::Text(e.actor_role.as_str()),
                    Arg::Text(e.action),
                    e.person_id.arg(),
                    e.target.arg(),
                    Arg::Text(e.outcome),
                    e.request_id.arg(),
                ]
            })
            .collect();
        self.write_statement_unsynced(|tx| {
            for e in events {
                tx.month(Monthly::Audit, dx_protocol::time::jst_date(e.at))?;
            }
            tx.insert_rows(
                "audit",
                &[
                    ("at_ms", Kind::Int),
                    ("actor", Kind::Text),
                    ("actor_role", Kind::Text),
                    ("action", Kind::Text),
                    ("person_id", Kind::Text),
                    ("target", Kind::Text),
                    ("outcome", Kind::Text),
                    ("request_id", Kind::Text),
                ],
                &rows,
            )?;
            Ok(())
        })
    }

    fn access_log(
        &self,
        person_id: &str,
        before: Option<i64>,
        limit: u32,
    ) -> Result<Vec<AccessLogEntry>, StoreError> {
        self.read(|c| {
            c.query(
                "SELECT id, at_ms, actor, actor_role, action, outcome FROM audit
                 WHERE person_id = ?1 AND id < ?2 ORDER BY id DESC LIMIT ?3",
                args![person_id, before.unwrap_or(i64::MAX), limit],
            )?
            .into_iter()
            .map(|mut r| {
                Ok(AccessLogEntry {
                    id: r.int(0)?,
                    at: r.time(1)?,
                    actor: r.text(2)?,
                    actor_role: role_from_str(&r.text(3)?)?,
                    action: r.text(4)?,
                    outcome: r.text(5)?,
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
            c.exists(
                "SELECT 1 FROM audit
                 WHERE person_id = ?1 AND actor = ?2 AND at_ms >= ?3
                   AND action = 'eligibility.verify' AND outcome = 'ok'
                 LIMIT 1",
                args![person_id, actor, since],
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
            c.exists(
                "SELECT 1 FROM audit
                 WHERE target = ?1 AND actor = ?2 AND at_ms >= ?3
                   AND action = 'prescription.retrieve' AND outcome = 'ok'
                 LIMIT 1",
                args![prescription_id, actor, since],
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
