//! A practitioner's signature, verified with the key registered at their facility.

use crate::refusal::Refusal;
use crate::state::AppState;
use dx_protocol::wire::Signature;
use dx_protocol::wire::canonical::{SignatureError, parse_public_key, verify};
use serde::Serialize;

/// Verifies a practitioner's signature over `signed` with the key registered at `facility`.
pub async fn verify_signature<T: Serialize + Send + Sync + 'static>(
    state: &AppState,
    sig: &Signature,
    facility: &str,
    signed: T,
) -> Result<T, Refusal> {
    supported(sig)?;
    let (pid, fac) = (sig.practitioner_id.clone(), facility.to_owned());
    let key = state
        .blocking(move |s| s.practitioner_key(&pid, &fac))
        .await?;
    check_signature(sig, facility, key, signed)
}

fn supported(sig: &Signature) -> Result<(), Refusal> {
    if sig.algorithm != "Ed25519" {
        return Err(Refusal::invalid(
            "unsupported_algorithm",
            "signature.algorithm must be Ed25519",
        )
        .at("signature.algorithm"));
    }
    Ok(())
}

/// As [`verify_signature`], with the key registered for the signer at `facility` read already
/// (`None`: no key is).
pub fn check_signature<T: Serialize>(
    sig: &Signature,
    facility: &str,
    key: Option<String>,
    signed: T,
) -> Result<T, Refusal> {
    supported(sig)?;
    let key = key.ok_or_else(|| {
        Refusal::broken_rule(
            "unknown_practitioner_key",
            format!(
                "no key is registered for {} at {facility}",
                sig.practitioner_id
            ),
        )
        .at("signature.practitioner_id")
    })?;
    let key = parse_public_key(&key)
        .map_err(|e| Refusal::internal(format!("stored key unusable: {e}")))?;
    match verify(&key, &signed, &sig.value) {
        Ok(()) => Ok(signed),
        Err(SignatureError::Malformed) => Err(Refusal::invalid(
            "invalid_signature",
            "signature.value is not base64 of 64 bytes",
        )
        .at("signature.value")),
        Err(e) => {
            Err(Refusal::broken_rule("invalid_signature", e.to_string()).at("signature.value"))
        }
    }
}
