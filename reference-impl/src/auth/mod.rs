//! Principals, credentials and tokens.
//!
//! Every call is made as a principal: `facility:<code>` (its role is the facility's kind),
//! `municipality:<code>`, `person:<id>` or `admin`. A principal's secret is derived from the
//! server secret (HMAC), so issuing one stores nothing; a token is `v1.<payload>.<mac>` with the
//! payload `{sub, role, exp}`, verified by recomputing the MAC: no store round trip.

pub mod credentials;
pub mod keys;
pub mod principal;
pub mod routes;
mod storage;

pub use credentials::CredentialStore;
pub use keys::{Keys, TOKEN_TTL, Verified};
pub use principal::Principal;

use crate::refusal::Refusal;
use crate::state::AppState;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

/// Extracts and verifies the bearer token; 401 without a valid one.
pub struct Auth(pub Principal);

impl FromRequestParts<AppState> for Auth {
    type Rejection = Refusal;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let header = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .ok_or_else(|| {
                Refusal::unauthenticated("unauthenticated", "send Authorization: Bearer <token>")
            })?;
        let token = header
            .to_str()
            .ok()
            .and_then(|h| h.strip_prefix("Bearer "))
            .ok_or_else(|| {
                Refusal::unauthenticated(
                    "unauthenticated",
                    "the Authorization header must be Bearer",
                )
            })?;
        let verified = if state.fault(crate::faults::Fault::TokenLifetimeUncapped) {
            state
                .keys()
                .verify_within(token.trim(), state.now(), None)?
        } else {
            state.keys().verify(token.trim(), state.now())?
        };
        let revoked = verified.generation != state.generation(&verified.principal.sub);
        if revoked && !state.fault(crate::faults::Fault::RevocationIgnored) {
            return Err(Refusal::unauthenticated(
                "token_revoked",
                "the credentials this token was issued for have been revoked; get new ones",
            ));
        }
        Ok(Auth(verified.principal))
    }
}
