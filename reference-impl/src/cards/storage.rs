//! Storage of the trusted card authorities and the revocation list.

use super::CardStore;
use crate::audit::{AuditEvent, storage::insert as insert_audit};
use crate::nodes::{CHANNEL, Change};
use crate::store::SqlStore;
use crate::store::error::StoreError;
use crate::store::sql::{Db, args};
use chrono::{DateTime, Utc};

fn pairs(c: &dyn Db, sql: &str) -> Result<Vec<(String, String)>, StoreError> {
    c.query(sql, &[])?
        .into_iter()
        .map(|mut r| Ok((r.text(0)?, r.text(1)?)))
        .collect()
}

impl CardStore for SqlStore {
    fn card_authorities(&self) -> Result<Vec<(String, String)>, StoreError> {
        self.read(|c| pairs(c, "SELECT id, public_key FROM card_authorities"))
    }

    fn card_revocations(&self) -> Result<Vec<(String, String)>, StoreError> {
        self.read(|c| pairs(c, "SELECT issuer, number FROM card_revocations"))
    }

    fn trust_card_authority(
        &self,
        id: &str,
        public_key: &str,
        at: DateTime<Utc>,
        audit: &AuditEvent,
    ) -> Result<(), StoreError> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO card_authorities (id, public_key, trusted_at_ms) VALUES (?1, ?2, ?3)
                 ON CONFLICT (id) DO UPDATE
                   SET public_key = excluded.public_key, trusted_at_ms = excluded.trusted_at_ms",
                args![id, public_key, at],
            )?;
            tx.notify(CHANNEL, &Change::Cards.to_payload())?;
            insert_audit(tx, audit)
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
            let mut added = 0;
            for n in numbers {
                added += tx.execute(
                    "INSERT INTO card_revocations (issuer, number, revoked_at_ms) VALUES (?1, ?2, ?3)
                     ON CONFLICT DO NOTHING",
                    args![issuer, n, at],
                )?;
            }
            tx.notify(CHANNEL, &Change::Cards.to_payload())?;
            insert_audit(tx, audit)?;
            Ok(added)
        })
    }
}
