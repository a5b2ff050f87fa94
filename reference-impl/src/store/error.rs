//! How a storage call fails, in terms any backend can give: a refusal decided inside the write
//! transaction, a lost race, a duplicate key, inconsistent data, or the backend itself failing.
//! A backend converts its own errors (`sqlite.rs` converts `rusqlite::Error`), so no variant
//! names a backend's type.

use crate::refusal::Refusal;

/// A storage failure (not a refusal: refusals are decided by the services' rules, some of them
/// inside the write transaction, which then fails with [`StoreError::Refused`]).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The backend failed (the database, its driver or its connection).
    #[error("database error: {0}")]
    Backend(Box<dyn std::error::Error + Send + Sync>),
    /// A concurrent change won a race the caller can retry (e.g. two pharmacies dispensing the
    /// same prescription at once).
    #[error("conflict: {0}")]
    Conflict(&'static str),
    /// A unique key already exists.
    #[error("already exists: {0}")]
    Duplicate(String),
    #[error("stored data is inconsistent: {0}")]
    Corrupt(String),
    /// Where the store is, or how to reach it, was given wrongly.
    #[error("{0}")]
    Config(String),
    #[error("store I/O: {0}")]
    Io(#[from] std::io::Error),
    /// A rule checked inside the write transaction (against rows the transaction read) refused
    /// the request; nothing was written.
    #[error("refused: {0}")]
    Refused(Box<Refusal>),
}

impl From<Refusal> for StoreError {
    fn from(e: Refusal) -> Self {
        StoreError::Refused(Box::new(e))
    }
}

impl From<StoreError> for Refusal {
    /// A lost race or a duplicate key is the caller's conflict; a refusal stays itself; any
    /// other failure is the exchange's own, logged here and answered without detail.
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(what) => Refusal::conflict(
                "conflict",
                format!("{what}; the state changed concurrently, retry"),
            ),
            StoreError::Refused(e) => *e,
            StoreError::Duplicate(what) => {
                Refusal::conflict("duplicate", format!("{what} already exists"))
            }
            other => {
                tracing::error!(error = %other, "store failure");
                Refusal::internal("the store failed; nothing was changed")
            }
        }
    }
}
