//! Storage of credential generations.

use super::credentials::CredentialStore;
use crate::audit::{AuditEvent, storage::insert as insert_audit};
use crate::nodes::{CHANNEL, Change};
use crate::store::SqlStore;
use crate::store::error::StoreError;
use crate::store::sql::args;
use chrono::{DateTime, Utc};

impl CredentialStore for SqlStore {
    fn credential_generations(&self) -> Result<Vec<(String, u32)>, StoreError> {
        self.read(|c| {
            c.query(
                "SELECT principal, generation FROM credential_generations",
                &[],
            )?
            .into_iter()
            .map(|mut r| Ok((r.text(0)?, r.num(1)?)))
            .collect()
        })
    }

    fn revoke_credentials(
        &self,
        principal: &str,
        at: DateTime<Utc>,
        audit: &AuditEvent,
    ) -> Result<u32, StoreError> {
        self.write(|tx| {
            let generation = tx
                .query_one(
                    "INSERT INTO credential_generations (principal, generation, revoked_at_ms)
                     VALUES (?1, 1, ?2)
                     ON CONFLICT (principal) DO UPDATE
                       SET generation = credential_generations.generation + 1,
                           revoked_at_ms = excluded.revoked_at_ms
                     RETURNING generation",
                    args![principal, at],
                )?
                .num(0)?;
            let change = Change::Generation {
                principal: principal.to_owned(),
                generation,
            };
            tx.notify(CHANNEL, &change.to_payload())?;
            insert_audit(tx, audit)?;
            Ok(generation)
        })
    }
}
