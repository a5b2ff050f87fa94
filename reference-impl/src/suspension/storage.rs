//! Storage of the suspensions in force.

use super::SuspensionStore;
use crate::audit::AuditEvent;
use crate::audit::storage::insert as insert_audit;
use crate::nodes::{CHANNEL, Change};
use crate::store::SqlStore;
use crate::store::error::StoreError;
use crate::store::sql::args;
use chrono::{DateTime, Utc};
use dx_protocol::wire::{Suspension, SuspensionTarget};

impl SuspensionStore for SqlStore {
    fn suspensions(&self) -> Result<Vec<Suspension>, StoreError> {
        self.read(|c| {
            c.query(
                "SELECT target, reason, since_ms FROM suspensions ORDER BY target",
                &[],
            )?
            .into_iter()
            .filter_map(|mut r| {
                let target = match r.text(0) {
                    Ok(t) => SuspensionTarget::parse(&t)?,
                    Err(e) => return Some(Err(e)),
                };
                Some((|| {
                    Ok(Suspension {
                        target,
                        reason: r.text(1)?,
                        since: r.time(2)?,
                    })
                })())
            })
            .collect()
        })
    }

    fn set_suspension(
        &self,
        target: SuspensionTarget,
        suspension: Option<(&str, DateTime<Utc>)>,
        audit: &AuditEvent,
    ) -> Result<(), StoreError> {
        self.write(|tx| {
            match suspension {
                Some((reason, since)) => tx.execute(
                    "INSERT INTO suspensions (target, reason, since_ms) VALUES (?1, ?2, ?3)
                     ON CONFLICT (target) DO UPDATE SET reason = excluded.reason",
                    args![target.as_str(), reason, since],
                )?,
                None => tx.execute(
                    "DELETE FROM suspensions WHERE target = ?1",
                    args![target.as_str()],
                )?,
            };
            tx.notify(CHANNEL, &Change::Suspensions.to_payload())?;
            insert_audit(tx, audit)
        })
    }
}
