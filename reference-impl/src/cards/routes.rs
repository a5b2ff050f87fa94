//! `POST /v1/admin/card-authorities` and `POST /v1/admin/card-revocations`.

use super::{MAX_AUTHORITIES, MAX_REVOKED};
use crate::audit::AuditEvent;
use crate::auth::Auth;
use crate::extract::{Answer, Body, Routes};
use crate::refusal::Refusal;
use crate::state::AppState;
use axum::Router;
use axum::extract::State;
use dx_protocol::wire::Role;
use dx_protocol::wire::canonical::parse_public_key;
use dx_protocol::wire::card::{
    CardAuthorityResponse, CardRevocationResponse, MAX_REVOCATIONS_PER_REQUEST,
};
use dx_protocol::wire::endpoints::{RevokeCardCertificates, TrustCardAuthority};

pub fn router() -> Router<AppState> {
    Router::new()
        .endpoint(TrustCardAuthority, trust)
        .endpoint(RevokeCardCertificates, revoke)
}

/// An authority id or certificate number: 1–64 letters, digits, `-` or `_`.
fn name_ok(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

async fn trust(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Body(req): Body<TrustCardAuthority>,
) -> Result<Answer<TrustCardAuthority>, Refusal> {
    let result = async {
        caller.require(&[Role::Admin], "trusting a card authority")?;
        if !name_ok(&req.id) {
            return Err(
                Refusal::invalid("invalid_field", "id: 1–64 letters, digits, '-' or '_'").at("id"),
            );
        }
        let key = parse_public_key(&req.public_key)
            .map_err(|e| Refusal::invalid("invalid_public_key", e.to_string()).at("public_key"))?;
        let cards = state.cards();
        if cards.authority(&req.id).is_none() && cards.authorities() >= MAX_AUTHORITIES {
            return Err(Refusal::conflict(
                "too_many_authorities",
                format!("at most {MAX_AUTHORITIES} card authorities are trusted"),
            ));
        }
        let now = state.now();
        let audit = AuditEvent::new(
            now,
            &caller,
            "cards.trust_authority",
            None,
            Some(req.id.clone()),
            "ok",
        );
        let (id, pk) = (req.id.clone(), req.public_key.clone());
        state
            .blocking(move |s| s.trust_card_authority(&id, &pk, now, &audit))
            .await?;
        cards.trust(&req.id, key);
        Ok(CardAuthorityResponse {
            id: req.id,
            public_key: req.public_key,
            trusted_at: now,
        })
    }
    .await;
    let result = state
        .audited(&caller, "cards.trust_authority", None, result)
        .await;
    result.map(Answer)
}

async fn revoke(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Body(req): Body<RevokeCardCertificates>,
) -> Result<Answer<RevokeCardCertificates>, Refusal> {
    let result = async {
        caller.require(&[Role::Admin], "revoking card certificates")?;
        if req.numbers.is_empty() || req.numbers.len() > MAX_REVOCATIONS_PER_REQUEST {
            return Err(Refusal::invalid(
                "invalid_batch_size",
                format!("numbers must hold 1–{MAX_REVOCATIONS_PER_REQUEST} entries"),
            )
            .at("numbers"));
        }
        if let Some(i) = req.numbers.iter().position(|n| !name_ok(n)) {
            return Err(Refusal::invalid(
                "invalid_field",
                "a certificate number is 1–64 letters, digits, '-' or '_'",
            )
            .at(format!("numbers[{i}]")));
        }
        let cards = state.cards();
        if cards.authority(&req.issuer).is_none() {
            return Err(Refusal::not_found(
                "unknown_card_authority",
                "no trusted card authority has that id",
            )
            .at("issuer"));
        }
        if cards.revoked() + req.numbers.len() > MAX_REVOKED {
            return Err(Refusal::conflict(
                "revocation_list_full",
                format!("the revocation list holds at most {MAX_REVOKED} certificates"),
            ));
        }
        let now = state.now();
        let audit = AuditEvent::new(
            now,
            &caller,
            "cards.revoke",
            None,
            Some(format!(
                "{} ({} certificates)",
                req.issuer,
                req.numbers.len()
            )),
            "ok",
        );
        let (issuer, numbers) = (req.issuer.clone(), req.numbers.clone());
        let added = state
            .blocking(move |s| s.revoke_card_certificates(&issuer, &numbers, now, &audit))
            .await?;
        cards.revoke(
            req.numbers
                .iter()
                .map(|n| (req.issuer.as_str(), n.as_str())),
        );
        Ok(CardRevocationResponse {
            issuer: req.issuer,
            added,
            listed: cards.revoked() as u64,
        })
    }
    .await;
    let result = state.audited(&caller, "cards.revoke", None, result).await;
    result.map(Answer)
}
