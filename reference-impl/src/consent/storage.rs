//! SQLite storage of consents.

use super::{Consent, ConsentStore};
use crate::audit::{AuditEvent, storage::insert as insert_audit};
use crate::store::error::StoreError;
use crate::store::sqlite::SqliteStore;
use chrono::{DateTime, Utc};
use dx_protocol::wire::{ConsentKind, ConsentMethod};
use rusqlite::{OptionalExtension, params};

impl ConsentStore for SqliteStore {
    fn record_consents(&self, consents: &[Consent], audit: &AuditEvent) -> Result<(), StoreError> {
        self.write(|tx| {
            let mut stmt = tx.prepare_cached(
                "INSERT INTO consents (person_id, facility_code, kind, method, given_at_ms, expires_at_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?;
            for c in consents {
                let method = match c.method {
                    ConsentMethod::Card => "card",
                    ConsentMethod::Verbal => "verbal",
                    ConsentMethod::Portal => "portal",
                };
                stmt.execute(params![
                    c.person_id,
                    c.facility_code,
                    c.kind.as_str(),
                    method,
                    c.given_at.timestamp_millis(),
                    c.expires_at.timestamp_millis()
                ])?;
            }
            insert_audit(tx, audit)
        })
    }

    fn latest_consent_expiry(
        &self,
        person_id: &str,
        facility: &str,
        kind: ConsentKind,
    ) -> Result<Option<DateTime<Utc>>, StoreError> {
        self.read(|c| {
            let ms: Option<Option<i64>> = c
                .prepare_cached(
                    "SELECT max(expires_at_ms) FROM consents WHERE person_id = ?1 AND facility_code = ?2 AND kind = ?3",
                )?
                .query_row(params![person_id, facility, kind.as_str()], |r| r.get(0))
                .optional()?;
            ms.flatten()
                .map(|ms| DateTime::from_timestamp_millis(ms).ok_or_else(|| StoreError::Corrupt(format!("consent time {ms}"))))
                .transpose()
        })
    }
}
