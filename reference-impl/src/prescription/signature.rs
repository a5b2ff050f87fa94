//! The signatures of the prescription service: the prescriber's `Bundle.signature` over the
//! prescription document, the pharmacist's over a dispensing result (see [`crate::hpki::verify`]).

use crate::hpki::verify::{Signed, verify};
use crate::refusal::Refusal;
use crate::state::AppState;
use dx_protocol::wire::hpki::{Signer, bundle_payload, bundle_signature};

/// Verifies the prescriber's signature of `bundle`: `Bundle.signature` well formed, its `when`
/// the JWS's signing time, its `who` the Practitioner entry `practitioner_url`, the JWS over the
/// bundle without its signature by a doctor or dentist whose certificate names
/// `practitioner_id`. Answers the signer and the JWS.
pub fn verify_prescription(
    state: &AppState,
    bundle: &serde_json::Value,
    practitioner_id: &str,
    practitioner_url: &str,
) -> Result<(Signer, String), Refusal> {
    let sig = bundle_signature(bundle).map_err(|e| {
        let missing = e.path == "bundle.signature";
        let code = if missing {
            "missing_signature"
        } else {
            "signature_malformed"
        };
        Refusal::invalid(code, e.message).at(e.path)
    })?;
    let signer = verify(
        state,
        &sig.jws,
        &bundle_payload(bundle),
        Signed::Prescription,
        "bundle.signature.data",
    )?;
    if signer.signed_at.timestamp() != sig.when.timestamp() {
        return Err(Refusal::broken_rule(
            "signing_time_mismatch",
            format!(
                "Bundle.signature.when is {} but the JWS was signed at {}",
                sig.when.to_rfc3339(),
                signer.signed_at.to_rfc3339()
            ),
        )
        .at("bundle.signature.when"));
    }
    if sig.who != practitioner_url {
        return Err(Refusal::broken_rule(
            "practitioner_mismatch",
            "Bundle.signature.who does not reference the Practitioner entry of the bundle",
        )
        .at("bundle.signature.who"));
    }
    if signer.practitioner_id != practitioner_id {
        return Err(Refusal::broken_rule(
            "practitioner_mismatch",
            format!(
                "the certificate is {}'s; the Practitioner of the bundle is {practitioner_id}",
                signer.practitioner_id
            ),
        )
        .at("bundle.signature.data"));
    }
    Ok((signer, sig.jws))
}

/// Verifies a pharmacist's signature of a dispensing result: the JWS over `payload`
/// ([`dx_protocol::wire::Dispensation::signed_bytes`]) by a pharmacist.
pub fn verify_dispensing(state: &AppState, jws: &str, payload: &[u8]) -> Result<Signer, Refusal> {
    verify(state, jws, payload, Signed::Dispensing, "signature")
}
