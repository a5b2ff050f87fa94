//! Revoked credentials: the storage of each principal's credential generation.

use crate::audit::AuditEvent;
use crate::store::error::StoreError;
use chrono::{DateTime, Utc};

/// Storage of revoked credentials: each principal's credential generation.
pub trait CredentialStore {
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
