//! Checking a presented card: the certificate's chain to a trusted authority, its validity and
//! the revocation list; the card's signature over this facility, a fresh time and a nonce not
//! seen before.

use super::{FRESHNESS_SECONDS, NonceRefused};
use crate::auth::principal::Principal;
use crate::faults::Fault;
use crate::refusal::Refusal;
use crate::state::AppState;
use dx_protocol::wire::PersonRef;
use dx_protocol::wire::card::{CardProof, PURPOSE, nonce_ok};

/// Checks that the card `r.card_serial` names is present at the caller's facility, proven by
/// `r.card_proof`. `field` is the path of the reference in the request, for error messages.
/// A proof is used once: its nonce is taken here.
pub fn present(
    state: &AppState,
    caller: &Principal,
    r: &PersonRef,
    field: &str,
) -> Result<(), Refusal> {
    let serial = r.card_serial.as_deref().unwrap_or_default();
    let at = |what: &str| format!("{field}.card_proof{what}");
    let Some(text) = r.card_proof.as_deref() else {
        if state.fault(Fault::CardProofOptional) {
            return Ok(());
        }
        return Err(Refusal::invalid(
            "card_proof_missing",
            "a card serial is accepted here only with the card present: send card_proof, the card's certificate and its signature at this facility",
        )
        .at(at("")));
    };
    let proof = CardProof::parse(text)
        .map_err(|e| Refusal::invalid("invalid_card_proof", e.to_string()).at(at("")))?;
    let (cert, auth) = (&proof.certificate, &proof.authentication);
    if auth.purpose != PURPOSE || !nonce_ok(&auth.nonce) {
        return Err(Refusal::invalid(
            "invalid_card_proof",
            format!(
                "the authentication's purpose is \"{PURPOSE}\" and its nonce 16–64 letters, digits, '-' or '_'"
            ),
        )
        .at(at(".authentication")));
    }
    if cert.card_serial != serial || auth.card_serial != serial {
        return Err(Refusal::forbidden(
            "card_proof_mismatch",
            "the card proof is of another card than card_serial",
        )
        .at(at("")));
    }
    let unchecked = state.fault(Fault::CardSignatureUnchecked);
    let trust = state.cards();
    let Some(issuer) = trust.authority(&cert.issuer) else {
        return Err(Refusal::forbidden(
            "card_issuer_untrusted",
            format!("no trusted card authority is named {:?}", cert.issuer),
        )
        .at(at(".certificate.issuer")));
    };
    if !unchecked && proof.verify_certificate(&issuer).is_err() {
        return Err(Refusal::forbidden(
            "card_certificate_invalid",
            "the certificate's signature is not its issuer's",
        )
        .at(at(".certificate.signature")));
    }
    let today = state.clock().today_jst();
    if today > cert.not_after {
        return Err(Refusal::forbidden(
            "card_certificate_expired",
            format!("the card's certificate expired after {}", cert.not_after),
        )
        .at(at(".certificate.not_after")));
    }
    if today < cert.not_before {
        return Err(Refusal::forbidden(
            "card_certificate_not_yet_valid",
            format!("the card's certificate is valid from {}", cert.not_before),
        )
        .at(at(".certificate.not_before")));
    }
    if !state.fault(Fault::CardRevocationIgnored) && trust.is_revoked(&cert.issuer, &cert.number) {
        return Err(Refusal::forbidden(
            "card_revoked",
            "the card's certificate is on the revocation list",
        )
        .at(at(".certificate.number")));
    }
    if auth.facility != caller.subject() {
        return Err(Refusal::forbidden(
            "card_proof_wrong_facility",
            "the card signed for another facility",
        )
        .at(at(".authentication.facility")));
    }
    let now = state.now();
    let window_ms = (FRESHNESS_SECONDS as f64 * 1000.0 * state.clock().rate().max(1.0)) as i64;
    if (now - auth.at).num_milliseconds().abs() > window_ms {
        return Err(Refusal::forbidden(
            "card_proof_stale",
            format!(
                "the card signed at {}, more than {FRESHNESS_SECONDS} s from the exchange's clock ({})",
                auth.at, now
            ),
        )
        .at(at(".authentication.at")));
    }
    if !unchecked && proof.verify_authentication().is_err() {
        return Err(Refusal::forbidden(
            "card_signature_invalid",
            "the authentication's signature is not the certified card key's",
        )
        .at(at(".authentication.signature")));
    }
    if state.fault(Fault::CardReplayAllowed) {
        return Ok(());
    }
    match trust.take_nonce(&proof, now, window_ms) {
        Ok(()) => Ok(()),
        Err(NonceRefused::Replayed) => Err(Refusal::forbidden(
            "card_proof_replayed",
            "this card signature was presented before: each presentation signs a new nonce",
        )
        .at(at(".authentication.nonce"))),
        Err(NonceRefused::Full) => Err(Refusal::overloaded(
            "too many card presentations within the freshness window",
            1,
        )),
        Err(NonceRefused::Unrecorded(e)) => Err(e.into()),
    }
}
