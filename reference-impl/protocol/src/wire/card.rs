//! The My Number card proving itself (本人確認, modelled on JPKI user authentication): each card
//! holds an Ed25519 key pair and a certificate from a card-issuing authority binding the card
//! serial to the card's public key; at the card reader the card signs the facility, the time and
//! a nonce. The exchange trusts the authorities an admin registered, so it stores nothing per
//! person beyond the card serial.
//!
//! On the wire a presented card is one string, `PersonRef.card_proof`:
//! `base64url(certificate JSON) "." base64url(authentication JSON)` (no padding), so it travels
//! in a JSON body and in a query string alike. Each JSON object carries its own `signature`:
//! base64 of the Ed25519 signature over the object's canonical bytes without `signature`
//! (see [`canonical`](super::canonical)):
//!
//! - certificate: `{"number", "issuer", "card_serial", "public_key", "not_before", "not_after",
//!   "signature"}` — signed by the issuer's key; `number` is unique per issuer (the revocation
//!   list names it), the dates are JST days, inclusive;
//! - authentication: `{"purpose": "dxsim-card-authentication/1", "card_serial", "facility",
//!   "at", "nonce", "signature"}` — signed by the card's key; `facility` is the facility code
//!   the card is presented at, `at` the instant of signing (RFC 3339), `nonce` 16–64 letters,
//!   digits, `-` or `_`, never used twice for one card.
//!
//! Keys in the simulation are derived from a seed (the run's, the sample's, the conformance
//! run's) and the card serial, so no workload stores a secret.

use super::canonical::{
    SignatureError, canonical_bytes, encode_public_key, parse_public_key, sign_bytes,
    signing_key_from_seed, verify_bytes,
};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, NaiveDate, Utc};
use ed25519_dalek::{SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

/// The `purpose` every card authentication signs, so no other signature of the card's key
/// passes as one.
pub const PURPOSE: &str = "dxsim-card-authentication/1";
/// Longest `card_proof` accepted, in bytes.
pub const MAX_PROOF_BYTES: usize = 2048;

/// A card-issuing authority's certificate of one card.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CardCertificate {
    pub number: String,
    pub issuer: String,
    pub card_serial: String,
    pub public_key: String,
    pub not_before: NaiveDate,
    pub not_after: NaiveDate,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub signature: String,
}

/// What the card signs at the reader.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CardAuthentication {
    pub purpose: String,
    pub card_serial: String,
    pub facility: String,
    pub at: DateTime<Utc>,
    pub nonce: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub signature: String,
}

/// A presented card: its certificate and its signed authentication, with the bytes each
/// signature covers as the sender wrote them (the part's JSON object without `signature`, in
/// canonical form), so a sender whose JSON spells an instant or a string otherwise than ours
/// still verifies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardProof {
    pub certificate: CardCertificate,
    pub authentication: CardAuthentication,
    certificate_signed: Vec<u8>,
    authentication_signed: Vec<u8>,
}

/// Why a `card_proof` could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofFormatError {
    #[error("card_proof is longer than {MAX_PROOF_BYTES} bytes")]
    TooLong,
    #[error("card_proof is two base64url parts joined by '.'")]
    Parts,
    #[error("card_proof's {0} is not base64url of a JSON object of the documented fields: {1}")]
    Json(&'static str, String),
}

fn unsigned<T: Serialize + Clone>(value: &T, clear: impl Fn(&mut T)) -> Vec<u8> {
    let mut v = value.clone();
    clear(&mut v);
    canonical_bytes(&v)
}

impl CardCertificate {
    /// The bytes the issuer signs: the certificate without its signature.
    pub fn signed_bytes(&self) -> Vec<u8> {
        unsigned(self, |c| c.signature.clear())
    }

    /// Checks the issuer's signature.
    pub fn verify_with(&self, issuer: &VerifyingKey) -> Result<(), SignatureError> {
        verify_bytes(issuer, &self.signed_bytes(), &self.signature)
    }

    /// The card's public key.
    pub fn card_key(&self) -> Result<VerifyingKey, SignatureError> {
        parse_public_key(&self.public_key)
    }

    /// Whether `day` (JST) lies within the certificate's validity.
    pub fn valid_on(&self, day: NaiveDate) -> bool {
        self.not_before <= day && day <= self.not_after
    }
}

impl CardAuthentication {
    pub fn signed_bytes(&self) -> Vec<u8> {
        unsigned(self, |a| a.signature.clear())
    }

    /// Checks the card's signature.
    pub fn verify_with(&self, card: &VerifyingKey) -> Result<(), SignatureError> {
        verify_bytes(card, &self.signed_bytes(), &self.signature)
    }
}

/// Whether a nonce has the documented form.
pub fn nonce_ok(nonce: &str) -> bool {
    (16..=64).contains(&nonce.len())
        && nonce
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

impl CardProof {
    /// A proof of `certificate` and `authentication` as they are.
    pub fn new(certificate: CardCertificate, authentication: CardAuthentication) -> CardProof {
        CardProof {
            certificate_signed: certificate.signed_bytes(),
            authentication_signed: authentication.signed_bytes(),
            certificate,
            authentication,
        }
    }

    /// Checks the issuer's signature over the certificate as sent.
    pub fn verify_certificate(&self, issuer: &VerifyingKey) -> Result<(), SignatureError> {
        verify_bytes(
            issuer,
            &self.certificate_signed,
            &self.certificate.signature,
        )
    }

    /// Checks the certified card key's signature over the authentication as sent.
    pub fn verify_authentication(&self) -> Result<(), SignatureError> {
        let key = self.certificate.card_key()?;
        verify_bytes(
            &key,
            &self.authentication_signed,
            &self.authentication.signature,
        )
    }

    /// The wire form (`PersonRef.card_proof`).
    pub fn encode(&self) -> String {
        let part = |bytes: Vec<u8>| URL_SAFE_NO_PAD.encode(bytes);
        format!(
            "{}.{}",
            part(canonical_bytes(&self.certificate)),
            part(canonical_bytes(&self.authentication))
        )
    }

    /// Reads the wire form; checks nothing but its shape.
    pub fn parse(text: &str) -> Result<CardProof, ProofFormatError> {
        if text.len() > MAX_PROOF_BYTES {
            return Err(ProofFormatError::TooLong);
        }
        let (cert, auth) = text.split_once('.').ok_or(ProofFormatError::Parts)?;
        /// The part read, and the canonical bytes of its object without `signature`.
        fn part<T: serde::de::DeserializeOwned>(
            b64: &str,
            name: &'static str,
        ) -> Result<(T, Vec<u8>), ProofFormatError> {
            let bytes = URL_SAFE_NO_PAD
                .decode(b64)
                .map_err(|_| ProofFormatError::Parts)?;
            let bad = |e: serde_json::Error| ProofFormatError::Json(name, e.to_string());
            let value: serde_json::Value = serde_json::from_slice(&bytes).map_err(bad)?;
            let mut unsigned = value.clone();
            let Some(object) = unsigned.as_object_mut() else {
                return Err(ProofFormatError::Json(name, "not a JSON object".into()));
            };
            object.remove("signature");
            let typed = serde_json::from_value(value).map_err(bad)?;
            Ok((typed, canonical_bytes(&unsigned)))
        }
        let (certificate, certificate_signed) = part(cert, "certificate")?;
        let (authentication, authentication_signed) = part(auth, "authentication")?;
        Ok(CardProof {
            certificate,
            authentication,
            certificate_signed,
            authentication_signed,
        })
    }
}

/// A card-issuing authority of the simulation: its id and key.
pub struct CardAuthority {
    pub id: String,
    pub key: SigningKey,
}

fn derive(label: &str, seed: u64, more: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(label.as_bytes());
    h.update([0]);
    h.update(seed.to_le_bytes());
    h.update(more);
    h.finalize().into()
}

impl CardAuthority {
    /// The authority of a seed: the same seed gives the same id and key.
    pub fn of_seed(seed: u64) -> CardAuthority {
        let key = signing_key_from_seed(derive("dxsim card authority", seed, &[]));
        let fingerprint = Sha256::digest(key.verifying_key().as_bytes());
        let id = format!(
            "DXSIM-CA-{}",
            fingerprint[..4]
                .iter()
                .map(|b| format!("{b:02X}"))
                .collect::<String>()
        );
        CardAuthority { id, key }
    }

    /// The base64 public key the exchange is told to trust.
    pub fn public_key(&self) -> String {
        encode_public_key(&self.key.verifying_key())
    }

    /// Issues the certificate of `card` (its key pair) for `serial`.
    pub fn certify(
        &self,
        card: &SimulatedCard,
        not_before: NaiveDate,
        not_after: NaiveDate,
    ) -> CardCertificate {
        let mut c = CardCertificate {
            number: card.certificate_number(),
            issuer: self.id.clone(),
            card_serial: card.serial.clone(),
            public_key: encode_public_key(&card.key.verifying_key()),
            not_before,
            not_after,
            signature: String::new(),
        };
        c.signature = sign_bytes(&self.key, &c.signed_bytes());
        c
    }
}

/// A card of the simulation: its serial and key pair, derived from a seed.
pub struct SimulatedCard {
    pub serial: String,
    pub key: SigningKey,
}

impl SimulatedCard {
    pub fn of_seed(seed: u64, serial: &str) -> SimulatedCard {
        SimulatedCard {
            serial: serial.to_owned(),
            key: signing_key_from_seed(derive("dxsim card key", seed, serial.as_bytes())),
        }
    }

    /// The certificate number its authority gives it: fixed by the card's public key.
    pub fn certificate_number(&self) -> String {
        let d = Sha256::digest(self.key.verifying_key().as_bytes());
        d[..8].iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Signs an authentication at `facility` at `at` with `nonce`.
    pub fn authenticate(
        &self,
        facility: &str,
        at: DateTime<Utc>,
        nonce: &str,
    ) -> CardAuthentication {
        let mut a = CardAuthentication {
            purpose: PURPOSE.into(),
            card_serial: self.serial.clone(),
            facility: facility.to_owned(),
            at,
            nonce: nonce.to_owned(),
            signature: String::new(),
        };
        a.signature = sign_bytes(&self.key, &a.signed_bytes());
        a
    }

    /// The card presented at `facility`: its certificate and a fresh authentication.
    pub fn present(
        &self,
        certificate: &CardCertificate,
        facility: &str,
        at: DateTime<Utc>,
        nonce: &str,
    ) -> String {
        CardProof::new(certificate.clone(), self.authenticate(facility, at, nonce)).encode()
    }
}

/// The card of `serial` in the simulation of `seed`, with its certificate from the seed's
/// authority: valid from 1 January of the year before `today` to 31 December four years after.
pub fn simulated(seed: u64, serial: &str, today: NaiveDate) -> (SimulatedCard, CardCertificate) {
    use chrono::Datelike as _;
    let card = SimulatedCard::of_seed(seed, serial);
    let from = NaiveDate::from_ymd_opt(today.year() - 1, 1, 1).expect("a date");
    let to = NaiveDate::from_ymd_opt(today.year() + 4, 12, 31).expect("a date");
    // The authority's key is derived once per thread and seed (a key derivation is a scalar
    // multiplication): a driver presents thousands of cards of one seed.
    thread_local! {
        static AUTHORITY: std::cell::RefCell<Option<(u64, std::rc::Rc<CardAuthority>)>> =
            const { std::cell::RefCell::new(None) };
    }
    let authority = AUTHORITY.with(|a| {
        let mut a = a.borrow_mut();
        match &*a {
            Some((s, ca)) if *s == seed => ca.clone(),
            _ => {
                let ca = std::rc::Rc::new(CardAuthority::of_seed(seed));
                *a = Some((seed, ca.clone()));
                ca
            }
        }
    });
    let cert = authority.certify(&card, from, to);
    (card, cert)
}

/// A nonce of the documented form from any bytes (hex of their SHA-256, 32 characters).
pub fn nonce_from(bytes: &[u8]) -> String {
    Sha256::digest(bytes)[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// `POST /v1/admin/card-authorities`: trust a card-issuing authority (or replace its key).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CardAuthorityRequest {
    /// 1–64 letters, digits, `-` or `_`; the `issuer` of its certificates.
    pub id: String,
    /// Base64 of its Ed25519 public key.
    pub public_key: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CardAuthorityResponse {
    pub id: String,
    pub public_key: String,
    pub trusted_at: DateTime<Utc>,
}

/// `POST /v1/admin/card-revocations`: add certificates to the revocation list.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CardRevocationRequest {
    /// A trusted authority's id.
    pub issuer: String,
    /// Certificate numbers it issued; 1–[`MAX_REVOCATIONS_PER_REQUEST`].
    pub numbers: Vec<String>,
}

/// Most certificate numbers in one revocation request.
pub const MAX_REVOCATIONS_PER_REQUEST: usize = 10_000;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CardRevocationResponse {
    pub issuer: String,
    /// Numbers that were not on the list before.
    pub added: u64,
    /// Entries on the whole list now.
    pub listed: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn a_presented_card_reads_back_and_verifies() {
        let ca = CardAuthority::of_seed(1);
        let card = SimulatedCard::of_seed(1, "AB12");
        let cert = ca.certify(&card, day("2026-01-01"), day("2030-12-31"));
        let at = DateTime::parse_from_rfc3339("2026-12-02T10:00:00Z")
            .unwrap()
            .to_utc();
        let text = card.present(&cert, "1311000017", at, &nonce_from(b"n"));
        let p = CardProof::parse(&text).unwrap();
        assert_eq!(p.certificate, cert);
        assert_eq!(p.verify_certificate(&ca.key.verifying_key()), Ok(()));
        assert_eq!(p.verify_authentication(), Ok(()));
        assert!(nonce_ok(&p.authentication.nonce));
        assert!(p.certificate.valid_on(day("2030-12-31")));
        assert!(!p.certificate.valid_on(day("2031-01-01")));
    }

    #[test]
    fn a_changed_field_breaks_its_signature() {
        let ca = CardAuthority::of_seed(1);
        let card = SimulatedCard::of_seed(1, "AB12");
        let mut cert = ca.certify(&card, day("2026-01-01"), day("2030-12-31"));
        cert.card_serial = "AB13".into();
        assert_eq!(
            cert.verify_with(&ca.key.verifying_key()),
            Err(SignatureError::Mismatch)
        );
        let mut auth = card.authenticate("F1", Utc::now(), "0123456789abcdef");
        auth.facility = "F2".into();
        assert_eq!(
            auth.verify_with(&card.key.verifying_key()),
            Err(SignatureError::Mismatch)
        );
        // Another seed's authority did not issue it.
        let other = CardAuthority::of_seed(2);
        assert_ne!(other.id, ca.id);
    }

    /// A sender that writes the instant with an offset, and its keys in another order, signs
    /// the bytes it sent; the proof verifies.
    #[test]
    fn a_proof_verifies_over_the_json_as_sent() {
        let ca = CardAuthority::of_seed(5);
        let card = SimulatedCard::of_seed(5, "S1");
        let cert = ca.certify(&card, day("2026-01-01"), day("2030-12-31"));
        let mut auth = serde_json::json!({"nonce": "0123456789abcdef", "facility": "F",
            "card_serial": "S1", "purpose": PURPOSE, "at": "2026-12-02T19:00:00+09:00"});
        let signature = sign_bytes(&card.key, &canonical_bytes(&auth));
        auth["signature"] = serde_json::Value::String(signature);
        let text = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(canonical_bytes(&cert)),
            URL_SAFE_NO_PAD.encode(serde_json::to_vec(&auth).unwrap())
        );
        let p = CardProof::parse(&text).unwrap();
        assert_eq!(
            p.authentication.at.to_rfc3339(),
            "2026-12-02T10:00:00+00:00"
        );
        assert_eq!(p.verify_authentication(), Ok(()));
    }

    #[test]
    fn malformed_proofs_are_told_apart() {
        assert_eq!(CardProof::parse("abc"), Err(ProofFormatError::Parts));
        assert_eq!(CardProof::parse("!!.??"), Err(ProofFormatError::Parts));
        let long = "a".repeat(MAX_PROOF_BYTES + 1);
        assert_eq!(CardProof::parse(&long), Err(ProofFormatError::TooLong));
        let not_cert = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode("[1]"),
            URL_SAFE_NO_PAD.encode("{}")
        );
        assert!(matches!(
            CardProof::parse(&not_cert),
            Err(ProofFormatError::Json("certificate", _))
        ));
        assert!(!nonce_ok("short"));
        assert!(!nonce_ok("0123456789abcdef/"));
    }
}
