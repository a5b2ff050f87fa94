//! Who is calling, as proven by a token, and the role checks every route makes.

use crate::refusal::Refusal;
use dx_protocol::wire::Role;
use serde::{Deserialize, Serialize};

/// Who is calling, as proven by a token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Principal {
    /// `facility:1311234567`, `person:P0000000001`, …
    pub sub: String,
    pub role: Role,
}

impl Principal {
    /// The part after the colon: facility code, municipality code or person id.
    pub fn subject(&self) -> &str {
        self.sub.split_once(':').map_or("", |(_, s)| s)
    }

    /// Refuses with 403 unless the principal acts in one of `roles`.
    pub fn require(&self, roles: &[Role], what: &str) -> Result<(), Refusal> {
        if roles.contains(&self.role) {
            return Ok(());
        }
        let allowed: Vec<&str> = roles.iter().map(|r| r.as_str()).collect();
        Err(Refusal::forbidden(
            "wrong_role",
            format!(
                "{what} is for {}; you are a {}",
                allowed.join(" or "),
                self.role.as_str()
            ),
        ))
    }

    /// Facility roles only.
    pub fn require_facility(&self, what: &str) -> Result<(), Refusal> {
        self.require(
            &[Role::Hospital, Role::Clinic, Role::Dental, Role::Pharmacy],
            what,
        )
    }
}
