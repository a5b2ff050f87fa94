//! Storage of consents.

use super::{Consent, ConsentStore};
use crate::audit::{AuditEvent, storage::insert as insert_audit};
use crate::store::SqlStore;
use crate::store::error::StoreError;
use crate::store::sql::{Row, args, time};
use chrono::{DateTime, Utc};
use dx_protocol::wire::{ConsentKind, ConsentMethod};

/// When the latest consent of a kind (`?6`) a person (`?1`) gave a facility (`?5`) expires, as a
/// part of the prescription checks' read (prescription storage's `CHECKS`: part 3, one row of
/// its ten columns, NULL where no consent was given); read by [`latest_expiry_of_part`].
pub(crate) const LATEST_CONSENT_PART: &str =
    "SELECT 3, NULL, NULL, '', '', '', max(expires_at_ms), '', 0, 0 FROM consents
     WHERE person_id = ?1 AND facility_code = ?5 AND kind = ?6";

/// The expiry in the row of [`LATEST_CONSENT_PART`].
pub(crate) fn latest_expiry_of_part(r: &Row) -> Result<Option<DateTime<Utc>>, StoreError> {
    r.opt_int(6)?.map(time).transpose()
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
            c.query_one(
                "SELECT max(expires_at_ms) FROM consents
                 WHERE person_id = ?1 AND facility_code = ?2 AND kind = ?3",
                args![person_id, facility, kind.as_str()],
            )?
            .opt_int(0)?
            .map(time)
            .transpose()
        })
    }
}
