//! Consent (同意): given per person, facility and kind at the card reader (or verbally, for
//! medication information only), valid for 24 hours. Every clinical read calls
//! [`guard::require_consent`].

pub mod guard;
pub mod routes;
pub(crate) mod storage;

use crate::audit::AuditEvent;
use crate::refusal::Refusal;
use crate::store::error::StoreError;
use chrono::{DateTime, TimeDelta, Utc};
use dx_protocol::wire::{ConsentKind, ConsentMethod};

/// How long consent lasts.
pub const CONSENT_VALIDITY: TimeDelta = TimeDelta::hours(24);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Consent {
    pub person_id: String,
    pub facility_code: String,
    pub kind: ConsentKind,
    pub method: ConsentMethod,
    pub given_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

impl Consent {
    pub fn new(
        person_id: &str,
        facility_code: &str,
        kind: ConsentKind,
        method: ConsentMethod,
        at: DateTime<Utc>,
    ) -> Self {
        Self {
            person_id: person_id.to_owned(),
            facility_code: facility_code.to_owned(),
            kind,
            method,
            given_at: at,
            expires_at: at + CONSENT_VALIDITY,
        }
    }
}

pub trait ConsentStore {
    /// Stores the consents and their audit line in one transaction.
    fn record_consents(&self, consents: &[Consent], audit: &AuditEvent) -> Result<(), StoreError>;
    /// When the latest consent of this kind expires(d), if one was ever given.
    fn latest_consent_expiry(
        &self,
        person_id: &str,
        facility: &str,
        kind: ConsentKind,
    ) -> Result<Option<DateTime<Utc>>, StoreError>;
}

/// Whether verbal consent may stand for this kind.
pub fn verbal_allowed(kind: ConsentKind) -> bool {
    kind == ConsentKind::Medication
}

/// Decides from the latest consent's expiry: 403 `consent_required` if none was ever given,
/// 403 `consent_expired` if the latest has lapsed.
pub fn check(
    latest_expiry: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
    kind: ConsentKind,
) -> Result<(), Refusal> {
    match latest_expiry {
        Some(exp) if now < exp => Ok(()),
        Some(exp) => Err(Refusal::forbidden(
            "consent_expired",
            format!(
                "{} consent expired at {exp}; ask the patient again at the card reader",
                kind.as_str()
            ),
        )),
        None => Err(Refusal::forbidden(
            "consent_required",
            format!(
                "the patient has not consented to this facility viewing {} information",
                kind.as_str()
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn consent_lasts_exactly_24_hours() {
        let t0 = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let c = Consent::new(
            "P1",
            "1311001019",
            ConsentKind::Medication,
            ConsentMethod::Card,
            t0,
        );
        assert!(check(Some(c.expires_at), t0 + TimeDelta::hours(23), c.kind).is_ok());
        assert_eq!(
            check(Some(c.expires_at), t0 + TimeDelta::hours(24), c.kind)
                .unwrap_err()
                .code,
            "consent_expired"
        );
        assert_eq!(
            check(None, t0, c.kind).unwrap_err().code,
            "consent_required"
        );
    }
}
