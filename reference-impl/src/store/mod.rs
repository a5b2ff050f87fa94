//! The storage boundary. Each service declares the storage it needs as a trait beside its rules
//! (`EligibilityStore`, `ConsentStore`, `PrescriptionStore`, `EhrStore`, `MunicipalStore`,
//! `AuditStore`); [`Store`] is all of them, and [`SqliteStore`] implements each in the service's own `storage.rs`. A PostgreSQL
//! backend implements the same traits.
//!
//! Architecture invariant: only `storage.rs` files and this module know SQL.

mod migrations;
mod sqlite;

pub use sqlite::{Durability, SqliteStore};

use crate::audit::AuditStore;
use crate::consent::ConsentStore;
use crate::ehr::EhrStore;
use crate::eligibility::EligibilityStore;
use crate::municipal::MunicipalStore;
use crate::prescription::PrescriptionStore;
use crate::wire::StatsResponse;

/// A storage failure (not a refusal: refusals are decided by the services' rules).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// A concurrent change won a race the caller can retry (e.g. two pharmacies dispensing the
    /// same prescription at once).
    #[error("conflict: {0}")]
    Conflict(&'static str),
    /// A unique key already exists.
    #[error("already exists: {0}")]
    Duplicate(String),
    #[error("stored data is inconsistent: {0}")]
    Corrupt(String),
    #[error("store I/O: {0}")]
    Io(#[from] std::io::Error),
    /// A rule checked inside the write transaction (against rows the transaction read) refused
    /// the request; nothing was written.
    #[error("refused: {0}")]
    Refused(Box<crate::error::ApiError>),
}

impl From<crate::error::ApiError> for StoreError {
    fn from(e: crate::error::ApiError) -> Self {
        StoreError::Refused(Box::new(e))
    }
}

/// Operations on the store as a whole.
pub trait AdminStore {
    /// A value kept in the store's metadata (e.g. the server secret), created on first use.
    fn meta_get_or_insert(
        &self,
        key: &str,
        make: &mut dyn FnMut() -> String,
    ) -> Result<String, StoreError>;
    fn stats(&self) -> Result<StatsResponse, StoreError>;
}

/// Everything the exchange stores.
pub trait Store:
    EligibilityStore
    + ConsentStore
    + PrescriptionStore
    + EhrStore
    + MunicipalStore
    + AuditStore
    + AdminStore
    + Send
    + Sync
{
}

impl<T> Store for T where
    T: EligibilityStore
        + ConsentStore
        + PrescriptionStore
        + EhrStore
        + MunicipalStore
        + AuditStore
        + AdminStore
        + Send
        + Sync
{
}
