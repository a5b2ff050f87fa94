//! Practitioners' signatures as HPKI makes them (電子署名): the exchange trusts HPKI root
//! certificates an admin registered and the revocation lists (CRLs) posted for their CAs, and
//! checks a signature's chain, validity on the date of signing, revocation and role (see
//! `dx_protocol::wire::hpki`). Which role may sign what, and when, is decided in [`verify`]: a
//! doctor or dentist signs a prescription, a pharmacist a dispensing.
//!
//! The roots and the revoked serials live in the store and, for checks without a store round
//! trip, in memory ([`HpkiTrust`], loaded at start, updated by the admin routes and, on a store
//! that several nodes share, reloaded when another node announces a change).

pub mod routes;
mod storage;
pub mod verify;

use crate::audit::AuditEvent;
use crate::store::error::StoreError;
use chrono::{DateTime, Utc};
use dx_protocol::wire::hpki::Trust;
use std::sync::RwLock;

/// Storage of the trusted HPKI roots and the revoked certificates.
pub trait HpkiStore {
    /// Every trusted root: base64 of its DER.
    fn hpki_roots(&self) -> Result<Vec<String>, StoreError>;
    /// Every revoked certificate: issuer DN and serial (hex).
    fn hpki_revocations(&self) -> Result<Vec<(String, String)>, StoreError>;
    /// Trusts a root (named by the SHA-256 of its DER; trusting it again changes nothing) and
    /// stores the audit line, in one transaction.
    fn trust_hpki_root(
        &self,
        digest: &str,
        certificate: &str,
        subject: &str,
        at: DateTime<Utc>,
        audit: &AuditEvent,
    ) -> Result<(), StoreError>;
    /// Lists serials of `issuer` as revoked and stores the audit line, in one transaction;
    /// answers how many were not listed before.
    fn revoke_hpki_certificates(
        &self,
        issuer: &str,
        serials: &[String],
        at: DateTime<Utc>,
        audit: &AuditEvent,
    ) -> Result<u64, StoreError>;
}

/// How a root is stored: the hex SHA-256 of its DER (its name) and the base64 of its DER.
pub fn root_row(der: &[u8]) -> (String, String) {
    use base64::Engine as _;
    use sha2::Digest as _;
    let digest = sha2::Sha256::digest(der)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    (
        digest,
        base64::engine::general_purpose::STANDARD.encode(der),
    )
}

/// What the exchange trusts for signatures, in memory.
#[derive(Default)]
pub struct HpkiTrust(RwLock<Trust>);

impl HpkiTrust {
    /// Replaces the trust with the store's (at start, or another node changed it). Roots that
    /// do not read are skipped (they were checked when stored).
    pub fn reload(&self, store: &dyn HpkiStore) -> Result<(), StoreError> {
        use base64::Engine as _;
        let mut trust = Trust::default();
        for b in store.hpki_roots()? {
            if let Ok(der) = base64::engine::general_purpose::STANDARD.decode(b) {
                let _ = trust.add_root(der);
            }
        }
        for (issuer, serial) in store.hpki_revocations()? {
            trust.revoke_serial(issuer, serial);
        }
        *self.0.write().unwrap_or_else(|e| e.into_inner()) = trust;
        Ok(())
    }

    /// Reads the trust as it stands.
    pub fn read<T>(&self, f: impl FnOnce(&Trust) -> T) -> T {
        f(&self.0.read().unwrap_or_else(|e| e.into_inner()))
    }

    /// Changes the trust in memory (after the store took the change).
    pub fn update(&self, f: impl FnOnce(&mut Trust)) {
        f(&mut self.0.write().unwrap_or_else(|e| e.into_inner()))
    }
}
