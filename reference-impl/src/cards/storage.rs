//! SQLite storage of the trusted card authorities and the revocation list.

use super::CardStore;
use crate::audit::{AuditEvent, storage::insert as insert_audit};
use crate::store::error::StoreError;
use crate::store::sqlite::SqliteStore;
use chrono::{DateTime, Utc};

impl CardStore for SqliteStore {
    fn card_authorities(&self) -> Result<Vec<(String, String)>, StoreError> {
        self.read(|c| {
            let mut stmt = c.prepare_cached("SELECT id, public_key FROM card_authorities")?;
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
    }

    fn card_revocations(&self) -> Result<Vec<(String, String)>, StoreError> {
        self.read(|c| {
            let mut stmt = c.prepare_cached("SELECT issuer, number FROM card_revocations")?;
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
    }

    fn trust_card_authority(
        &self,
        id: &str,
        public_key: &str,
        at: DateTime<Utc>,
        audit: &AuditEvent,
    ) -> Result<(), StoreError> {
        self.write(|tx| {
            tx.prepare_cached(
                "INSERT INTO card_authorities (id, public_key, trusted_at_ms) VALUES (?1, ?2, ?3)
                 ON CONFLICT (id) DO UPDATE
                   SET public_key = excluded.public_key, trusted_at_ms = excluded.trusted_at_ms",
            )?
            .execute(rusqlite::params![id, public_key, at.timestamp_millis()])?;
            insert_audit(tx, audit)?;
            Ok(())
        })
    }

    fn revoke_card_certificates(
        &self,
        issuer: &str,
        numbers: &[String],
        at: DateTime<Utc>,
        audit: &AuditEvent,
    ) -> Result<u64, StoreError> {
        self.write(|tx| {
            let mut stmt = tx.prepare_cached(
                "INSERT INTO card_revocations (issuer, number, revoked_at_ms) VALUES (?1, ?2, ?3)
                 ON CONFLICT DO NOTHING",
            )?;
            let mut added = 0;
            for n in numbers {
                added += stmt.execute(rusqlite::params![issuer, n, at.timestamp_millis()])? as u64;
            }
            insert_audit(tx, audit)?;
            Ok(added)
        })
    }
}
