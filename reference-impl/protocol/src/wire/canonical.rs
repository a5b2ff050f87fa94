//! Canonical bytes for signatures, and Ed25519 signing and verification over them.
//!
//! Canonical form: the JSON value serialised compactly with object keys in ascending byte order
//! (serde_json's default map is ordered). Signer and verifier parse and re-serialise, so
//! whitespace and key order in transit do not matter; content does.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::{Signer as _, SigningKey, Verifier as _, VerifyingKey};
use serde::Serialize;

/// The bytes a signature covers.
pub fn canonical_bytes<T: Serialize>(value: &T) -> Vec<u8> {
    // Going through `Value` sorts the keys of every object, whatever order `T` declares.
    let v = serde_json::to_value(value).expect("wire types serialise");
    serde_json::to_vec(&v).expect("a Value serialises")
}

/// Base64 of the Ed25519 signature of `value`'s canonical bytes.
pub fn sign<T: Serialize>(key: &SigningKey, value: &T) -> String {
    sign_bytes(key, &canonical_bytes(value))
}

/// Base64 of the Ed25519 signature of `bytes` (already canonical).
pub fn sign_bytes(key: &SigningKey, bytes: &[u8]) -> String {
    STANDARD.encode(key.sign(bytes).to_bytes())
}

/// Why a signature did not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("signature is not base64 of 64 bytes")]
    Malformed,
    #[error("public key is not base64 of a valid 32-byte Ed25519 key")]
    BadKey,
    #[error("signature does not match the signed content")]
    Mismatch,
}

/// Parses a base64 Ed25519 public key.
pub fn parse_public_key(b64: &str) -> Result<VerifyingKey, SignatureError> {
    let bytes = STANDARD.decode(b64).map_err(|_| SignatureError::BadKey)?;
    let arr: [u8; 32] = bytes.try_into().map_err(|_| SignatureError::BadKey)?;
    VerifyingKey::from_bytes(&arr).map_err(|_| SignatureError::BadKey)
}

/// Base64 of a public key, as [`parse_public_key`] reads it.
pub fn encode_public_key(key: &VerifyingKey) -> String {
    STANDARD.encode(key.as_bytes())
}

/// Verifies a base64 signature over `value`'s canonical bytes.
pub fn verify<T: Serialize>(
    key: &VerifyingKey,
    value: &T,
    sig_b64: &str,
) -> Result<(), SignatureError> {
    verify_bytes(key, &canonical_bytes(value), sig_b64)
}

/// Verifies a base64 signature over `bytes` (already canonical).
pub fn verify_bytes(key: &VerifyingKey, bytes: &[u8], sig_b64: &str) -> Result<(), SignatureError> {
    let sig = STANDARD
        .decode(sig_b64)
        .map_err(|_| SignatureError::Malformed)?;
    let arr: [u8; 64] = sig.try_into().map_err(|_| SignatureError::Malformed)?;
    let sig = ed25519_dalek::Signature::from_bytes(&arr);
    key.verify(bytes, &sig)
        .map_err(|_| SignatureError::Mismatch)
}

/// A practitioner's signing key derived from a 32-byte seed (tests and the load driver derive
/// seeds from the scenario seed, so keys are reproducible).
pub fn signing_key_from_seed(seed: [u8; 32]) -> SigningKey {
    SigningKey::from_bytes(&seed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn key_order_and_whitespace_do_not_change_canonical_bytes() {
        let a: serde_json::Value =
            serde_json::from_str(r#"{ "b": 1, "a": {"y": [1, 2], "x": "s"} }"#).unwrap();
        let b = json!({"a": {"x": "s", "y": [1, 2]}, "b": 1});
        assert_eq!(canonical_bytes(&a), canonical_bytes(&b));
        assert_eq!(
            canonical_bytes(&a),
            br#"{"a":{"x":"s","y":[1,2]},"b":1}"#.to_vec()
        );
    }

    #[test]
    fn a_changed_value_fails_verification() {
        let key = signing_key_from_seed([7; 32]);
        let doc = json!({"drug": "amlodipine", "days": 28});
        let sig = sign(&key, &doc);
        assert_eq!(verify(&key.verifying_key(), &doc, &sig), Ok(()));
        let tampered = json!({"drug": "amlodipine", "days": 90});
        assert_eq!(
            verify(&key.verifying_key(), &tampered, &sig),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(&key.verifying_key(), &doc, "abc"),
            Err(SignatureError::Malformed)
        );
    }
}
