//! Operations on the store as a whole.

use super::error::StoreError;
use crate::audit::AuditEvent;
use chrono::{DateTime, Utc};
use dx_protocol::wire::StatsResponse;

/// Operations on the store as a whole.
pub trait AdminStore {
    /// A value kept in the store's metadata (e.g. the server secret), created on first use.
    fn meta_get_or_insert(
        &self,
        key: &str,
        make: &mut dyn FnMut() -> String,
    ) -> Result<String, StoreError>;
    fn stats(&self) -> Result<StatsResponse, StoreError>;
    /// Every principal whose credentials were revoked, with its current generation.
    fn credential_generations(&self) -> Result<Vec<(String, u32)>, StoreError>;
    /// Moves the principal's generation on (its earlier secrets and tokens stop working) and
    /// stores the audit line, in one transaction. Returns the new generation.
    fn revoke_credentials(
        &self,
        principal: &str,
        at: DateTime<Utc>,
        audit: &AuditEvent,
    ) -> Result<u32, StoreError>;
}
