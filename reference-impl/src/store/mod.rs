//! The storage boundary. Each service declares the storage it needs as a trait beside its rules
//! (`EligibilityStore`, `ConsentStore`, `PrescriptionStore`, `EhrStore`, `MunicipalStore`,
//! `AuditStore`, `CredentialStore`, `CardStore`); [`Store`] is all of them, and [`SqliteStore`] implements each in the service's own `storage.rs`. A PostgreSQL
//! backend implements the same traits.
//!
//! Architecture invariant: only `storage.rs` files and this module know SQL.

pub mod admin;
pub mod error;
mod migrations;
pub mod sqlite;

pub use admin::AdminStore;
pub use error::StoreError;
pub use sqlite::{Durability, SqliteStore};

use crate::audit::AuditStore;
use crate::auth::credentials::CredentialStore;
use crate::cards::CardStore;
use crate::consent::ConsentStore;
use crate::ehr::EhrStore;
use crate::eligibility::EligibilityStore;
use crate::municipal::MunicipalStore;
use crate::prescription::PrescriptionStore;

/// Everything the exchange stores.
pub trait Store:
    EligibilityStore
    + ConsentStore
    + PrescriptionStore
    + EhrStore
    + MunicipalStore
    + AuditStore
    + CredentialStore
    + CardStore
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
        + CredentialStore
        + CardStore
        + AdminStore
        + Send
        + Sync
{
}
