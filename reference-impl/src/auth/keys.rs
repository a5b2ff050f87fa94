//! The keys derived from the server secret: principals' secrets, tokens (`v1.<payload>.<mac>`,
//! verified by recomputing the MAC) and other derived values.

use super::principal::Principal;
use crate::refusal::Refusal;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use chrono::{DateTime, TimeDelta, Utc};
use dx_protocol::wire::Role;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

/// How long an issued token is valid; a token claiming to last longer is refused.
pub const TOKEN_TTL: TimeDelta = TimeDelta::hours(1);
/// Clock skew allowed on top of [`TOKEN_TTL`] when checking a token's lifetime.
const SKEW: TimeDelta = TimeDelta::seconds(60);

#[derive(Serialize, Deserialize)]
struct Claims {
    sub: String,
    role: Role,
    exp: i64,
    /// The principal's credential generation when the token was issued (0 before any
    /// revocation).
    #[serde(default, skip_serializing_if = "is_zero", rename = "gen")]
    generation: u32,
}

fn is_zero(g: &u32) -> bool {
    *g == 0
}

/// A verified token: who, and the generation it was issued under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub principal: Principal,
    pub generation: u32,
}

/// The keys derived from the server secret.
#[derive(Clone)]
pub struct Keys {
    mac_key: [u8; 32],
}

type HmacSha256 = Hmac<Sha256>;

impl Keys {
    pub fn new(server_secret: &[u8]) -> Self {
        let mut mac = HmacSha256::new_from_slice(server_secret).expect("HMAC takes any key length");
        mac.update(b"dxsim token key v1");
        Self {
            mac_key: mac.finalize().into_bytes().into(),
        }
    }

    fn mac(&self, parts: &[&[u8]]) -> [u8; 32] {
        let mut mac = HmacSha256::new_from_slice(&self.mac_key).expect("HMAC takes any key length");
        for p in parts {
            mac.update(&(p.len() as u64).to_be_bytes());
            mac.update(p);
        }
        mac.finalize().into_bytes().into()
    }

    /// A number derived from the server secret, for values that must be unpredictable to
    /// clients yet reproducible by the server (e.g. access codes).
    pub fn derive_u64(&self, label: &str, data: &str, counter: u32) -> u64 {
        let m = self.mac(&[label.as_bytes(), data.as_bytes(), &counter.to_be_bytes()]);
        u64::from_be_bytes(m[..8].try_into().expect("8 bytes"))
    }

    /// The secret of `principal` in credential generation `generation` (what
    /// `/v1/admin/credentials` hands out); a revocation moves the generation on, and with it the
    /// secret.
    pub fn credential_secret(&self, principal: &str, generation: u32) -> String {
        let mac = if generation == 0 {
            self.mac(&[b"credential", principal.as_bytes()])
        } else {
            self.mac(&[
                b"credential",
                principal.as_bytes(),
                &generation.to_be_bytes(),
            ])
        };
        B64.encode(&mac[..24])
    }

    /// Checks a presented secret in constant time.
    pub fn secret_matches(&self, principal: &str, generation: u32, presented: &str) -> bool {
        let expected = self.credential_secret(principal, generation);
        expected.len() == presented.len()
            && expected
                .bytes()
                .zip(presented.bytes())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0
    }

    /// A token for `principal` (in credential generation `generation`) valid for `ttl`, at most
    /// [`TOKEN_TTL`].
    pub fn issue(
        &self,
        principal: &Principal,
        generation: u32,
        now: DateTime<Utc>,
        ttl: TimeDelta,
    ) -> (String, DateTime<Utc>) {
        let exp = now + ttl.min(TOKEN_TTL);
        self.sign_claims(principal, generation, exp)
    }

    fn sign_claims(
        &self,
        principal: &Principal,
        generation: u32,
        exp: DateTime<Utc>,
    ) -> (String, DateTime<Utc>) {
        let claims = Claims {
            sub: principal.sub.clone(),
            role: principal.role,
            exp: exp.timestamp(),
            generation,
        };
        let payload = B64.encode(serde_json::to_vec(&claims).expect("claims serialise"));
        let mac = B64.encode(self.mac(&[b"token", payload.as_bytes()]));
        (format!("v1.{payload}.{mac}"), exp)
    }

    /// A token whose lifetime is not capped, for the `token_lifetime_uncapped` fault only.
    pub fn issue_uncapped(
        &self,
        principal: &Principal,
        generation: u32,
        exp: DateTime<Utc>,
    ) -> (String, DateTime<Utc>) {
        self.sign_claims(principal, generation, exp)
    }

    /// Verifies a token's MAC, expiry and lifetime (at most [`TOKEN_TTL`] from now, whatever it
    /// claims).
    pub fn verify(&self, token: &str, now: DateTime<Utc>) -> Result<Verified, Refusal> {
        self.verify_within(token, now, Some(TOKEN_TTL + SKEW))
    }

    /// Verifies a token, its lifetime capped at `cap` from now (`None`: the
    /// `token_lifetime_uncapped` fault only).
    pub fn verify_within(
        &self,
        token: &str,
        now: DateTime<Utc>,
        cap: Option<TimeDelta>,
    ) -> Result<Verified, Refusal> {
        let invalid =
            || Refusal::unauthenticated("invalid_token", "the bearer token is malformed or forged");
        let rest = token.strip_prefix("v1.").ok_or_else(invalid)?;
        let (payload, mac) = rest.split_once('.').ok_or_else(invalid)?;
        let mac = B64.decode(mac).map_err(|_| invalid())?;
        let expected = self.mac(&[b"token", payload.as_bytes()]);
        if mac.len() != 32
            || mac
                .iter()
                .zip(expected)
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                != 0
        {
            return Err(invalid());
        }
        let claims: Claims = serde_json::from_slice(&B64.decode(payload).map_err(|_| invalid())?)
            .map_err(|_| invalid())?;
        if claims.exp <= now.timestamp() {
            return Err(Refusal::unauthenticated(
                "token_expired",
                "the bearer token has expired; get a new one",
            ));
        }
        if cap.is_some_and(|cap| claims.exp > (now + cap).timestamp()) {
            return Err(Refusal::unauthenticated(
                "invalid_token",
                "the bearer token claims to last longer than tokens are issued for (1 hour)",
            ));
        }
        Ok(Verified {
            principal: Principal {
                sub: claims.sub,
                role: claims.role,
            },
            generation: claims.generation,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p() -> Principal {
        Principal {
            sub: "facility:1311001019".into(),
            role: Role::Clinic,
        }
    }

    #[test]
    fn tokens_round_trip_and_expire() {
        let k = Keys::new(b"secret");
        let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let (t, exp) = k.issue(&p(), 0, now, TOKEN_TTL);
        assert_eq!(k.verify(&t, now).unwrap().principal, p());
        assert_eq!(k.verify(&t, exp).unwrap_err().code, "token_expired");
        assert_eq!(
            Keys::new(b"other").verify(&t, now).unwrap_err().code,
            "invalid_token"
        );
    }

    #[test]
    fn a_token_with_a_changed_role_is_refused() {
        let k = Keys::new(b"secret");
        let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let (t, _) = k.issue(&p(), 0, now, TOKEN_TTL);
        let parts: Vec<&str> = t.split('.').collect();
        let forged_claims = Claims {
            sub: p().sub,
            role: Role::Admin,
            exp: now.timestamp() + 60,
            generation: 0,
        };
        let forged = B64.encode(serde_json::to_vec(&forged_claims).unwrap());
        let token = format!("v1.{forged}.{}", parts[2]);
        assert_eq!(k.verify(&token, now).unwrap_err().code, "invalid_token");
    }

    #[test]
    fn secrets_differ_per_principal_and_generation() {
        let k = Keys::new(b"secret");
        let a = k.credential_secret("facility:1311001019", 0);
        assert!(k.secret_matches("facility:1311001019", 0, &a));
        assert!(!k.secret_matches("facility:1311001027", 0, &a));
        assert!(!k.secret_matches("facility:1311001019", 1, &a));
    }

    #[test]
    fn lifetimes_are_capped_at_issue_and_at_verification() {
        let k = Keys::new(b"secret");
        let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let (_, exp) = k.issue(&p(), 0, now, TimeDelta::days(3650));
        assert_eq!(exp, now + TOKEN_TTL);
        let (long, _) = k.issue_uncapped(&p(), 0, now + TimeDelta::days(3650));
        assert_eq!(k.verify(&long, now).unwrap_err().code, "invalid_token");
        let (gen2, _) = k.issue(&p(), 2, now, TOKEN_TTL);
        assert_eq!(k.verify(&gen2, now).unwrap().generation, 2);
    }
}
