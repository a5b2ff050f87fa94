//! Operations on the store as a whole.

use super::error::StoreError;
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
}
