//! Storage of consents.

use super::{Consent, ConsentStore};
use crate::audit::{AuditEvent, storage::insert as insert_audit};
use crate::store::SqlStore;
use crate::store::error::StoreError;
use crate::store::sql::{Row, args, time};
use chrono::{DateTime, Utc};
use dx_protocol::wire::{ConsentKind, ConsentMethod};

/// The query of the expiry of the latest consent of a kind (`?3`) a person (`?1`) gave a
/// facility (`?2`), read by [`latest_expiry`]; the prescription checks send it with their reads.
pub(crate) const LATEST_CONSENT: &str = "SELECT max(expires_at_ms) FROM consents WHERE person_id = ?1 AND facility_code = ?2 AND kind = ?3";

/// The expiry in the one row of [`LATEST_CONSENT`], if any consent was given.
pub(crate) fn latest_expiry(rows: &[Row]) -> Result<Option<DateTime<Utc>>, StoreError> {
    let row = rows
        .first()
        .ok_or_else(|| StoreError::Corrupt("no row from an aggregate".into()))?;
    row.opt_int(0)?.map(time).transpose()
}

impl ConsentStore for SqlStore {
    fn record_consents(&self, consents: &[Consent], audit: &AuditEvent) -> Result<(), StoreError> {
        self.write(|tx| {
            for c in consents {
                let method = match c.method {
                    ConsentMethod::Card => "card",
                    ConsentMethod::Verbal => "verbal",
                    ConsentMethod::Portal => "portal",
                };
                tx.execute(
                    "INSERT INTO consents (person_id, facility_code, kind, method, given_at_ms, expires_at_ms)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    args![c.person_id, c.facility_code, c.kind.as_str(), method, c.given_at, c.expires_at],
                )?;
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
            latest_expiry(&c.query(LATEST_CONSENT, args![person_id, facility, kind.as_str()])?)
        })
    }
}
