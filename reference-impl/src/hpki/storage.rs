//! Storage of the trusted HPKI roots and the revoked certificates.

use super::HpkiStore;
use crate::audit::{AuditEvent, storage::insert as insert_audit};
use crate::nodes::{CHANNEL, Change};
use crate::store::SqlStore;
use crate::store::error::StoreError;
use crate::store::sql::args;
use chrono::{DateTime, Utc};

impl HpkiStore for SqlStore {
    fn hpki_roots(&self) -> Result<Vec<String>, StoreError> {
        self.read(|c| {
            c.query("SELECT certificate FROM hpki_roots ORDER BY digest", &[])?
                .into_iter()
                .map(|mut r| r.text(0))
                .collect()
        })
    }

    fn hpki_revocations(&self) -> Result<Vec<(String, String)>, StoreError> {
        self.read(|c| {
            c.query("SELECT issuer, serial FROM hpki_revocations", &[])?
                .into_iter()
                .map(|mut r| Ok((r.text(0)?, r.text(1)?)))
                .collect()
        })
    }

    fn trust_hpki_root(
        &self,
        digest: &str,
        certificate: &str,
        subject: &str,
        at: DateTime<Utc>,
        audit: &AuditEvent,
    ) -> Result<(), StoreError> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO hpki_roots (digest, certificate, subject, trusted_at_ms)
                 VALUES (?1, ?2, ?3, ?4) ON CONFLICT (digest) DO NOTHING",
                args![digest, certificate, subject, at],
            )?;
            tx.notify(CHANNEL, &Change::Hpki.to_payload())?;
            insert_audit(tx, audit)
        })
    }

    fn revoke_hpki_certificates(
        &self,
        issuer: &str,
        serials: &[String],
        at: DateTime<Utc>,
        audit: &AuditEvent,
    ) -> Result<u64, StoreError> {
        self.write(|tx| {
            let mut added = 0;
            for s in serials {
                added += tx.execute(
                    "INSERT INTO hpki_revocations (issuer, serial, revoked_at_ms) VALUES (?1, ?2, ?3)
                     ON CONFLICT DO NOTHING",
                    args![issuer, s, at],
                )?;
            }
            tx.notify(CHANNEL, &Change::Hpki.to_payload())?;
            insert_audit(tx, audit)?;
            Ok(added)
        })
    }
}
