//! SQLite storage of credential generations.

use super::credentials::CredentialStore;
use crate::audit::{AuditEvent, storage::insert as insert_audit};
use crate::store::error::StoreError;
use crate::store::sqlite::SqliteStore;
use chrono::{DateTime, Utc};

impl CredentialStore for SqliteStore {
    fn credential_generations(&self) -> Result<Vec<(String, u32)>, StoreError> {
        self.read(|c| {
            let mut stmt =
                c.prepare_cached("SELECT principal, generation FROM credential_generations")?;
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
    }

    fn revoke_credentials(
        &self,
        principal: &str,
        at: DateTime<Utc>,
        audit: &AuditEvent,
    ) -> Result<u32, StoreError> {
        self.write(|tx| {
            let generation: u32 = tx
                .prepare_cached(
                    "INSERT INTO credential_generations (principal, generation, revoked_at_ms)
                     VALUES (?1, 1, ?2)
                     ON CONFLICT (principal) DO UPDATE
                       SET generation = generation + 1, revoked_at_ms = excluded.revoked_at_ms
                     RETURNING generation",
                )?
                .query_row(rusqlite::params![principal, at.timestamp_millis()], |r| {
                    r.get(0)
                })?;
            insert_audit(tx, audit)?;
            Ok(generation)
        })
    }
}
