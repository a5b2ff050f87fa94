//! What several exchange processes serving one database share besides the records: the counts
//! of failed attempts (wrong access codes, wrong secrets), the card nonces already presented,
//! and notice of changes that every node keeps in memory (a revoked credential, a trusted card
//! authority or a revoked card certificate, an HPKI root or CRL). On SQLite one process serves the store and keeps
//! all of it in memory; on PostgreSQL ([`NodeStore::shared`]) the counts and nonces are rows
//! every node reads and writes, and a change is announced in the transaction that stores it
//! (`NOTIFY`), so every node applies it when it commits. A node that loses its listening
//! connection reloads everything when it has it back.

mod storage;

use crate::store::error::StoreError;
use serde::{Deserialize, Serialize};

/// The channel changes are announced on.
pub const CHANNEL: &str = "dxsim_changes";

/// A change that every node keeps in memory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum Change {
    /// A principal's credentials were revoked: tokens and secrets of earlier generations fail.
    Generation { principal: String, generation: u32 },
    /// The trusted card authorities or the revocation list changed.
    Cards,
    /// The trusted HPKI roots or the revoked practitioner certificates changed.
    Hpki,
    /// A service was suspended or resumed.
    Suspensions,
}

impl Change {
    pub fn to_payload(&self) -> String {
        serde_json::to_string(self).expect("a change serialises")
    }

    pub fn parse(payload: &str) -> Option<Change> {
        serde_json::from_str(payload).ok()
    }
}

/// What a node hears from the others.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// A change committed by some node (this one included).
    Changed(Change),
    /// The listening connection was (re)opened: changes may have been missed, reload.
    Resync,
    /// Nothing for a second (a chance to stop listening).
    Idle,
}

/// Storage shared between the nodes of one database.
pub trait NodeStore {
    /// Whether other exchange processes may serve this store too (PostgreSQL).
    fn shared(&self) -> bool;
    /// Failures of `key` counted under `kind` in the one-minute window `window`.
    fn failures(&self, kind: &str, key: &str, window: i64) -> Result<u32, StoreError>;
    /// Counts one failure of `key`; answers the window's count with it.
    fn count_failure(&self, kind: &str, key: &str, window: i64) -> Result<u32, StoreError>;
    /// Takes a card nonce (its digest) until `until_ms`: false if some node took it already.
    fn take_nonce(&self, digest: &str, until_ms: i64) -> Result<bool, StoreError>;
    /// Forgets nonces that expired by `now_ms` and counts of windows before `window`.
    fn forget_expired(&self, now_ms: i64, window: i64) -> Result<(), StoreError>;
    /// Calls `on` with every notice until it answers false, from a thread of its own (nothing
    /// where the store is not shared).
    fn watch(&self, on: Box<dyn FnMut(Notice) -> bool + Send>) -> Result<(), StoreError>;
}
