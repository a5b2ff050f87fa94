//! The card that proves itself (本人確認 with the My Number card, modelled on JPKI user
//! authentication): the exchange trusts card-issuing authorities an admin registered and keeps
//! their revocation list; a presented card carries its certificate (serial ↔ public key, signed
//! by an authority) and its signature over the facility, the time and a nonce (see
//! `dx_protocol::wire::card`). The exchange stores nothing per person beyond the card serial.
//!
//! Trusted keys and the revocation list live in the store and, for checks without a store round
//! trip, in memory ([`CardTrust`], loaded at start, updated by the admin routes and, on a store
//! that several nodes share, reloaded when another node announces a change). The nonces seen
//! within the freshness window are in memory, and on a shared store also rows that every node
//! inserts into (see [`crate::nodes`]), so a proof is taken once across all nodes.

pub mod present;
pub mod routes;
mod storage;

use crate::audit::AuditEvent;
use crate::store::error::StoreError;
use chrono::{DateTime, Utc};
use dx_protocol::wire::card::CardProof;
use ed25519_dalek::VerifyingKey;
use sha2::{Digest as _, Sha256};
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock};

/// The store of a shared node, as the card checks use it.
type Shared = Arc<dyn crate::nodes::NodeStore + Send + Sync>;

/// Every how many nonces taken a node forgets the expired ones of a shared store.
const FORGET_EVERY: u32 = 1_024;

/// How far a card's signing time may lie from the exchange's clock, either way, in seconds of
/// wall time (scaled by the clock's rate on a replay's simulated clock).
pub const FRESHNESS_SECONDS: i64 = 120;
/// Most trusted authorities.
pub const MAX_AUTHORITIES: usize = 64;
/// Most entries on the revocation list.
pub const MAX_REVOKED: usize = 1_000_000;
/// Most nonces remembered at once (those of the last `2 × FRESHNESS_SECONDS`, about 120 MB at
/// most; 8,000 presentations a second sustained); beyond it a card presentation is answered
/// `503 overloaded`.
pub const MAX_NONCES: usize = 2_000_000;

/// Storage of the trusted card authorities and the revocation list.
pub trait CardStore {
    /// Every trusted authority: its id and base64 public key.
    fn card_authorities(&self) -> Result<Vec<(String, String)>, StoreError>;
    /// Every revoked certificate: issuer and number.
    fn card_revocations(&self) -> Result<Vec<(String, String)>, StoreError>;
    /// Trusts an authority's key (inserted or replaced) and stores the audit line, in one
    /// transaction.
    fn trust_card_authority(
        &self,
        id: &str,
        public_key: &str,
        at: DateTime<Utc>,
        audit: &AuditEvent,
    ) -> Result<(), StoreError>;
    /// Adds certificates to the revocation list and stores the audit line, in one transaction;
    /// answers how many were not listed before.
    fn revoke_card_certificates(
        &self,
        issuer: &str,
        numbers: &[String],
        at: DateTime<Utc>,
        audit: &AuditEvent,
    ) -> Result<u64, StoreError>;
}

/// A 128-bit digest naming an entry of a set (a revoked certificate, a used nonce).
fn digest(parts: &[&str]) -> u128 {
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_le_bytes());
        h.update(p.as_bytes());
    }
    let d = h.finalize();
    u128::from_le_bytes(d[..16].try_into().expect("16 bytes"))
}

/// What the exchange trusts and remembers about cards, in memory.
#[derive(Default)]
pub struct CardTrust {
    authorities: RwLock<HashMap<String, VerifyingKey>>,
    revoked: RwLock<HashSet<u128>>,
    nonces: Mutex<Nonces>,
    /// The shared store the nonces are taken in too, if several nodes serve it.
    shared: OnceLock<Shared>,
    taken: AtomicU32,
}

/// The nonces seen in the last `2 × FRESHNESS_SECONDS`, oldest first.
#[derive(Default)]
struct Nonces {
    seen: HashSet<u128>,
    order: VecDeque<(i64, u128)>,
}

/// Why a nonce was not taken.
#[derive(Debug)]
pub enum NonceRefused {
    Replayed,
    Full,
    /// The shared store could not record it.
    Unrecorded(StoreError),
}

impl PartialEq for NonceRefused {
    fn eq(&self, other: &Self) -> bool {
        matches!(
            (self, other),
            (NonceRefused::Replayed, NonceRefused::Replayed)
                | (NonceRefused::Full, NonceRefused::Full)
        )
    }
}

impl CardTrust {
    /// The trust kept in the store. Keys that do not parse are skipped (they were checked when
    /// stored).
    pub fn load(store: &dyn CardStore) -> Result<CardTrust, StoreError> {
        let trust = CardTrust::default();
        trust.reload(store)?;
        Ok(trust)
    }

    /// Replaces the trusted authorities and the revocation list with the store's (another node
    /// changed them).
    pub fn reload(&self, store: &dyn CardStore) -> Result<(), StoreError> {
        let mut authorities = HashMap::new();
        for (id, key) in store.card_authorities()? {
            if let Ok(k) = dx_protocol::wire::canonical::parse_public_key(&key) {
                authorities.insert(id, k);
            }
        }
        let revoked: HashSet<u128> = store
            .card_revocations()?
            .iter()
            .map(|(i, n)| digest(&[i, n]))
            .collect();
        *self.authorities.write().unwrap_or_else(|e| e.into_inner()) = authorities;
        *self.revoked.write().unwrap_or_else(|e| e.into_inner()) = revoked;
        Ok(())
    }

    /// Takes nonces in `store` too, which other nodes share.
    pub fn share(&self, store: Shared) {
        let _ = self.shared.set(store);
    }

    pub fn authority(&self, id: &str) -> Option<VerifyingKey> {
        let a = self.authorities.read().unwrap_or_else(|e| e.into_inner());
        a.get(id).copied()
    }

    pub fn authorities(&self) -> usize {
        self.authorities
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .len()
    }

    pub fn trust(&self, id: &str, key: VerifyingKey) {
        let mut a = self.authorities.write().unwrap_or_else(|e| e.into_inner());
        a.insert(id.to_owned(), key);
    }

    pub fn is_revoked(&self, issuer: &str, number: &str) -> bool {
        let r = self.revoked.read().unwrap_or_else(|e| e.into_inner());
        r.contains(&digest(&[issuer, number]))
    }

    /// Entries on the revocation list.
    pub fn revoked(&self) -> usize {
        self.revoked.read().unwrap_or_else(|e| e.into_inner()).len()
    }

    pub fn revoke<'a>(&self, entries: impl IntoIterator<Item = (&'a str, &'a str)>) {
        let mut r = self.revoked.write().unwrap_or_else(|e| e.into_inner());
        r.extend(entries.into_iter().map(|(i, n)| digest(&[i, n])));
    }

    /// Takes the proof's nonce for its card, once: a second presentation of the same nonce
    /// within the window is a replay. A nonce is remembered for twice the freshness window
    /// (`window_ms`) from now, which outlasts every signing time the freshness check still
    /// accepts.
    pub fn take_nonce(
        &self,
        proof: &CardProof,
        now: DateTime<Utc>,
        window_ms: i64,
    ) -> Result<(), NonceRefused> {
        let a = &proof.authentication;
        let key = digest(&[&proof.certificate.issuer, &a.card_serial, &a.nonce]);
        let now_ms = now.timestamp_millis();
        let mut n = self.nonces.lock().unwrap_or_else(|e| e.into_inner());
        while let Some(&(until, old)) = n.order.front() {
            if until > now_ms {
                break;
            }
            n.order.pop_front();
            n.seen.remove(&old);
        }
        if n.seen.contains(&key) {
            return Err(NonceRefused::Replayed);
        }
        if n.seen.len() >= MAX_NONCES {
            return Err(NonceRefused::Full);
        }
        let until = now_ms + 2 * window_ms;
        n.seen.insert(key);
        n.order.push_back((until, key));
        drop(n);
        let Some(shared) = self.shared.get() else {
            return Ok(());
        };
        if self.taken.fetch_add(1, Ordering::Relaxed) % FORGET_EVERY == 0 {
            let _ = shared.forget_expired(now_ms, i64::MIN);
        }
        match shared.take_nonce(&format!("{key:032x}"), until) {
            Ok(true) => Ok(()),
            Ok(false) => Err(NonceRefused::Replayed),
            Err(e) => Err(NonceRefused::Unrecorded(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::principal::Principal;
    use crate::nodes::NodeStore as _;
    use crate::store::testing::backends;
    use dx_protocol::wire::Role;
    use dx_protocol::wire::card::{CardAuthority, nonce_from, simulated};

    #[test]
    fn trust_and_revocations_persist_and_nonces_are_taken_once() {
        for t in backends() {
            trust_persists_and_nonces_are_taken_once(t);
        }
    }

    fn trust_persists_and_nonces_are_taken_once(mut t: crate::store::testing::TestStore) {
        let admin = Principal {
            sub: "admin".into(),
            role: Role::Admin,
        };
        let now = Utc::now();
        let audit = AuditEvent::new(now, &admin, "cards.revoke", None, None, "ok");
        let ca = CardAuthority::of_seed(3);
        {
            let s = &t.store;
            s.trust_card_authority(&ca.id, &ca.public_key(), now, &audit)
                .unwrap();
            let numbers = vec!["n1".to_owned(), "n2".to_owned(), "n1".to_owned()];
            assert_eq!(
                s.revoke_card_certificates(&ca.id, &numbers, now, &audit)
                    .unwrap(),
                2
            );
        }
        t.reopen();
        let trust = CardTrust::load(&t.store).unwrap();
        assert_eq!(trust.authority(&ca.id), Some(ca.key.verifying_key()));
        assert!(trust.is_revoked(&ca.id, "n2") && !trust.is_revoked(&ca.id, "n3"));
        assert!(!trust.is_revoked("other", "n1"));

        let today = now.date_naive();
        let (card, cert) = simulated(3, "C1", today);
        let proof = CardProof::parse(&card.present(&cert, "F", now, &nonce_from(b"1"))).unwrap();
        let window = FRESHNESS_SECONDS * 1000;
        assert_eq!(trust.take_nonce(&proof, now, window), Ok(()));
        assert_eq!(
            trust.take_nonce(&proof, now, window),
            Err(NonceRefused::Replayed)
        );
        let later = now + chrono::TimeDelta::seconds(2 * FRESHNESS_SECONDS + 1);
        if t.store.shared() {
            // A second node on the same database: the nonce one node took is taken for it too.
            let other = crate::store::SqlStore::open(&t.location, crate::store::Durability::Normal)
                .unwrap();
            let (one, two) = (
                CardTrust::load(&t.store).unwrap(),
                CardTrust::load(&other).unwrap(),
            );
            let shared = |s: crate::store::SqlStore| -> Shared { Arc::new(s) };
            one.share(shared(
                crate::store::SqlStore::open(&t.location, crate::store::Durability::Normal)
                    .unwrap(),
            ));
            two.share(shared(other));
            let fresh =
                CardProof::parse(&card.present(&cert, "F", now, &nonce_from(b"2"))).unwrap();
            assert_eq!(one.take_nonce(&fresh, now, window), Ok(()));
            assert_eq!(
                two.take_nonce(&fresh, now, window),
                Err(NonceRefused::Replayed)
            );
            // Expired nonces are forgotten by the store as by memory.
            t.store.forget_expired(later.timestamp_millis(), 0).unwrap();
            assert_eq!(two.take_nonce(&fresh, later, window), Ok(()));
            return;
        }
        assert_eq!(
            trust.take_nonce(&proof, later, window),
            Ok(()),
            "forgotten after the window"
        );
    }
}
