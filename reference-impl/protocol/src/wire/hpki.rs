//! Signatures as HPKI makes them (電子署名): a practitioner signs with the key of an X.509
//! certificate from a healthcare PKI — a root, an issuing CA, the practitioner's certificate
//! carrying their healthcare role and validity — and the signature travels as a JWS whose header
//! carries the certificate chain (`x5c`).
//!
//! - [`sign`] makes a compact JWS with a detached payload (`<header>..<signature>`, RFC 7515
//!   Appendix F) over bytes the caller chooses (the canonical bytes of what is signed), `alg`
//!   `EdDSA`, `x5c` = [practitioner, issuing CA] (standard base64 DER).
//! - [`Trust::verify`] checks such a JWS: the chain up to a trusted root, each certificate valid on
//!   the date of signing, none on the revocation lists, the signature over the payload, and
//!   returns the signer's id and role; the caller decides which role may sign what.
//! - [`TestHierarchy`] issues a test hierarchy from a seed (the driver, the conformance suite,
//!   the sample and the tests), deterministically: the same seed gives the same certificates.
//!
//! The role is carried as ISO 17090-2 does it: the `subjectDirectoryAttributes` extension
//! (2.5.29.9) holding the `hcRole` attribute ([`HC_ROLE`]) whose value names the role by its HPKI
//! code ("Medical Doctor", "Dentist", "Pharmacist"). dxsim writes and reads that one form; a
//! vendor bringing its own CA encodes the role the same way (docs/api.md § Signatures).

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chrono::{DateTime, TimeZone, Utc};
use ed25519_dalek::{Signer as _, SigningKey};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;

/// `subjectDirectoryAttributes`.
pub const SUBJECT_DIRECTORY_ATTRIBUTES: &[u64] = &[2, 5, 29, 9];
/// ISO 17090-2's healthcare-actor attribute (`hcRole`).
pub const HC_ROLE: &[u64] = &[1, 0, 17090, 0, 1];
/// Most certificates in a chain (`x5c`).
pub const MAX_CHAIN: usize = 4;
/// Most bytes of a JWS.
pub const MAX_JWS_BYTES: usize = 16 * 1024;

/// A healthcare role, as the practitioner's certificate carries it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Doctor,
    Dentist,
    Pharmacist,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Doctor, Role::Dentist, Role::Pharmacist];

    /// The role's HPKI code.
    pub fn code(self) -> &'static str {
        match self {
            Role::Doctor => "Medical Doctor",
            Role::Dentist => "Dentist",
            Role::Pharmacist => "Pharmacist",
        }
    }

    pub fn from_code(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.code() == s)
    }

    /// Whether the role may sign a prescription (doctors and dentists).
    pub fn prescribes(self) -> bool {
        matches!(self, Role::Doctor | Role::Dentist)
    }
}

/// Why a signature is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error(
        "the signature is not a compact JWS with a detached payload, alg EdDSA, ES256 or RS256, sigT and an x5c chain: {0}"
    )]
    Malformed(String),
    #[error("the certificate chain does not lead to a trusted HPKI root: {0}")]
    BrokenChain(String),
    #[error("certificate {subject} is not valid on {at} (valid {from} to {until})")]
    OutsideValidity {
        subject: String,
        at: String,
        from: String,
        until: String,
    },
    #[error("certificate {subject} (serial {serial}) is revoked")]
    Revoked { subject: String, serial: String },
    #[error("the practitioner's certificate carries no healthcare role")]
    NoRole,
    #[error("the signature does not verify over this content")]
    BadSignature,
}

/// What a verified signature says of its signer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signer {
    /// The practitioner's id: the certificate subject's common name.
    pub practitioner_id: String,
    pub role: Role,
    /// Serial of the practitioner's certificate (hex).
    pub serial: String,
    /// When they signed: the JWS's `sigT`, which the signature covers.
    pub signed_at: DateTime<Utc>,
}

/// The JWS protected header: `alg`, the chain, and the signing time (JAdES's `sigT`, which the
/// signature covers, so the instant a certificate's validity is judged on cannot be changed).
#[derive(Serialize, Deserialize)]
struct Header {
    alg: String,
    x5c: Vec<String>,
    #[serde(rename = "sigT")]
    sig_t: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    crit: Vec<String>,
}

/// The form of `sigT`: UTC to the second.
fn sig_time(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// A private key that signs a JWS: its `alg` and its signature over the signing input.
pub trait JwsKey {
    fn alg(&self) -> &'static str;
    fn sign_input(&self, input: &[u8]) -> Vec<u8>;
}

impl JwsKey for SigningKey {
    fn alg(&self) -> &'static str {
        "EdDSA"
    }

    fn sign_input(&self, input: &[u8]) -> Vec<u8> {
        self.sign(input).to_bytes().to_vec()
    }
}

// The operating system's randomness, which ring's RSA signing takes for blinding (the signature
// itself is deterministic). Not a draw of the simulation: those come from `dx_model::rng`.
use ring::rand as entropy;

/// An RSA private key (as Japan's HPKI issues them) signing RS256 (RSASSA-PKCS1-v1_5, SHA-256).
pub struct RsaKey(ring::signature::RsaKeyPair);

impl RsaKey {
    /// From PKCS#8 DER (`openssl pkcs8 -topk8 -nocrypt -outform der`).
    pub fn from_pkcs8(der: &[u8]) -> Result<Self, String> {
        ring::signature::RsaKeyPair::from_pkcs8(der)
            .map(Self)
            .map_err(|e| format!("not an RSA PKCS#8 key: {e}"))
    }
}

impl JwsKey for RsaKey {
    fn alg(&self) -> &'static str {
        "RS256"
    }

    fn sign_input(&self, input: &[u8]) -> Vec<u8> {
        let mut sig = vec![0; self.0.public().modulus_len()];
        self.0
            .sign(
                &ring::signature::RSA_PKCS1_SHA256,
                &entropy::SystemRandom::new(),
                input,
                &mut sig,
            )
            .expect("an RSA key signs");
        sig
    }
}

/// A compact JWS with a detached payload over `payload`, signed with `key` at `signed_at`,
/// carrying `chain` (DER: the signer's certificate first).
pub fn sign(
    key: &impl JwsKey,
    chain: &[Vec<u8>],
    payload: &[u8],
    signed_at: DateTime<Utc>,
) -> String {
    let header = Header {
        alg: key.alg().into(),
        x5c: chain.iter().map(|c| STANDARD.encode(c)).collect(),
        sig_t: sig_time(signed_at),
        crit: vec!["sigT".into()],
    };
    let h = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&header).expect("a header serialises"));
    let input = format!("{h}.{}", URL_SAFE_NO_PAD.encode(payload));
    let sig = key.sign_input(input.as_bytes());
    format!("{h}..{}", URL_SAFE_NO_PAD.encode(sig))
}

/// A certificate's public key: the algorithms dxsim verifies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KeyKind {
    Ed25519,
    /// ECDSA on P-256.
    P256,
    /// RSA, 2048 to 8192 bits (Japan's HPKI CAs).
    Rsa,
}

#[derive(Debug, Clone)]
struct PublicKey {
    kind: KeyKind,
    bytes: Vec<u8>,
}

impl PublicKey {
    /// Whether `sig` over `msg` verifies with this key under the certificate signature algorithm
    /// `sig_oid` (DER-encoded ECDSA signatures) or, for a JWS, the `alg` name (fixed-size ones).
    fn verifies(&self, alg: SigAlg, msg: &[u8], sig: &[u8]) -> bool {
        use ring::signature as rs;
        let algorithm: &dyn rs::VerificationAlgorithm = match (self.kind, alg) {
            (KeyKind::Ed25519, SigAlg::Ed25519) => &rs::ED25519,
            (KeyKind::P256, SigAlg::EcdsaP256Der) => &rs::ECDSA_P256_SHA256_ASN1,
            (KeyKind::P256, SigAlg::EcdsaP256Fixed) => &rs::ECDSA_P256_SHA256_FIXED,
            (KeyKind::Rsa, SigAlg::RsaSha256) => &rs::RSA_PKCS1_2048_8192_SHA256,
            _ => return false,
        };
        rs::UnparsedPublicKey::new(algorithm, &self.bytes)
            .verify(msg, sig)
            .is_ok()
    }
}

/// A signature algorithm dxsim verifies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SigAlg {
    Ed25519,
    /// ecdsa-with-SHA256, DER (certificates and CRLs).
    EcdsaP256Der,
    /// ES256, r‖s (JWS).
    EcdsaP256Fixed,
    /// sha256WithRSAEncryption (certificates and CRLs), RS256 (JWS): RSASSA-PKCS1-v1_5.
    RsaSha256,
}

impl SigAlg {
    /// A certificate's or CRL's `signatureAlgorithm`.
    fn of_oid(oid: &str) -> Option<Self> {
        match oid {
            "1.3.101.112" => Some(Self::Ed25519),
            "1.2.840.10045.4.3.2" => Some(Self::EcdsaP256Der),
            "1.2.840.113549.1.1.11" => Some(Self::RsaSha256),
            _ => None,
        }
    }

    /// A JWS `alg`.
    fn of_jws(alg: &str) -> Option<Self> {
        match alg {
            "EdDSA" => Some(Self::Ed25519),
            "ES256" => Some(Self::EcdsaP256Fixed),
            "RS256" => Some(Self::RsaSha256),
            _ => None,
        }
    }
}

/// A certificate read for verification.
#[derive(Debug, Clone)]
struct Cert {
    subject: String,
    issuer: String,
    serial: String,
    not_before: i64,
    not_after: i64,
    is_ca: bool,
    key: Option<PublicKey>,
    sig_alg: Option<SigAlg>,
    tbs: Vec<u8>,
    signature: Vec<u8>,
    role: Option<Role>,
}

fn public_key(spki: &x509_parser::x509::SubjectPublicKeyInfo) -> Option<PublicKey> {
    let kind = match spki.algorithm.algorithm.to_id_string().as_str() {
        "1.3.101.112" => KeyKind::Ed25519,
        "1.2.840.113549.1.1.1" => KeyKind::Rsa,
        "1.2.840.10045.2.1" => {
            let curve = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.as_oid().ok())
                .map(|o| o.to_id_string());
            (curve.as_deref() == Some("1.2.840.10045.3.1.7")).then_some(KeyKind::P256)?
        }
        _ => return None,
    };
    Some(PublicKey {
        kind,
        bytes: spki.subject_public_key.data.to_vec(),
    })
}

fn read_cert(der: &[u8]) -> Result<Cert, String> {
    use x509_parser::prelude::*;
    let (rest, c) =
        X509Certificate::from_der(der).map_err(|e| format!("not a DER certificate: {e}"))?;
    if !rest.is_empty() {
        return Err("bytes after the certificate".into());
    }
    let role = c
        .extensions()
        .iter()
        .find(|e| e.oid.to_id_string() == "2.5.29.9")
        .and_then(|e| role_of(e.value));
    Ok(Cert {
        subject: c.subject().to_string(),
        issuer: c.issuer().to_string(),
        serial: c.raw_serial_as_string(),
        not_before: c.validity().not_before.timestamp(),
        not_after: c.validity().not_after.timestamp(),
        is_ca: c.is_ca(),
        key: public_key(c.public_key()),
        sig_alg: SigAlg::of_oid(&c.signature_algorithm.algorithm.to_id_string()),
        tbs: c.tbs_certificate.as_ref().to_vec(),
        signature: c.signature_value.data.to_vec(),
        role,
    })
}

/// The common name of a distinguished name as x509-parser prints it (`CN=…, O=…`).
fn common_name(dn: &str) -> Option<&str> {
    dn.split(", ").find_map(|part| part.strip_prefix("CN="))
}

// ---------------------------------------------------------------------------------------------
// DER of the role attribute: SEQUENCE OF Attribute { OID, SET OF UTF8String }.

fn der_len(n: usize) -> Vec<u8> {
    if n < 0x80 {
        vec![n as u8]
    } else {
        let bytes: Vec<u8> = n
            .to_be_bytes()
            .into_iter()
            .skip_while(|b| *b == 0)
            .collect();
        let mut out = vec![0x80 | bytes.len() as u8];
        out.extend(bytes);
        out
    }
}

fn der(tag: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    out.extend(der_len(body.len()));
    out.extend_from_slice(body);
    out
}

fn der_oid(arcs: &[u64]) -> Vec<u8> {
    let mut body = vec![(arcs[0] * 40 + arcs[1]) as u8];
    for &a in &arcs[2..] {
        let mut chunk = vec![(a & 0x7f) as u8];
        let mut v = a >> 7;
        while v > 0 {
            chunk.push(0x80 | (v & 0x7f) as u8);
            v >>= 7;
        }
        chunk.reverse();
        body.extend(chunk);
    }
    der(0x06, &body)
}

/// The `subjectDirectoryAttributes` value carrying `role`.
fn role_extension(role: Role) -> Vec<u8> {
    let value = der(0x31, &der(0x0c, role.code().as_bytes()));
    let attribute = der(0x30, &[der_oid(HC_ROLE), value].concat());
    der(0x30, &attribute)
}

/// One TLV of `b`: (tag, body, rest).
fn tlv(b: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, b) = b.split_first()?;
    let (&first, b) = b.split_first()?;
    let (len, b) = if first < 0x80 {
        (first as usize, b)
    } else {
        let n = (first & 0x7f) as usize;
        if n == 0 || n > 4 || b.len() < n {
            return None;
        }
        let len = b[..n].iter().fold(0usize, |a, x| (a << 8) | *x as usize);
        (len, &b[n..])
    };
    (b.len() >= len).then(|| (tag, &b[..len], &b[len..]))
}

/// The role in a `subjectDirectoryAttributes` value, if it carries `hcRole`.
fn role_of(ext: &[u8]) -> Option<Role> {
    let want = der_oid(HC_ROLE);
    let (0x30, mut attrs, _) = tlv(ext)? else {
        return None;
    };
    while !attrs.is_empty() {
        let (tag, attr, rest) = tlv(attrs)?;
        attrs = rest;
        if tag != 0x30 {
            return None;
        }
        let (0x06, oid, values) = tlv(attr)? else {
            return None;
        };
        if der(0x06, oid) != want {
            continue;
        }
        let (0x31, set, _) = tlv(values)? else {
            return None;
        };
        let (0x0c, text, _) = tlv(set)? else {
            return None;
        };
        return Role::from_code(std::str::from_utf8(text).ok()?);
    }
    None
}

// ---------------------------------------------------------------------------------------------
// The admin API's bodies.

/// Most trusted HPKI roots.
pub const MAX_ROOTS: usize = 64;
/// Most revoked certificates listed.
pub const MAX_REVOKED: usize = 1_000_000;
/// Most bytes of a certificate or CRL posted (base64 excluded).
pub const MAX_DER_BYTES: usize = 4 * 1024 * 1024;

/// `POST /v1/admin/hpki-roots`: a root certificate to trust.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrustRootRequest {
    /// Standard base64 of the root's DER.
    pub certificate: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TrustRootResponse {
    /// The root's subject DN.
    pub subject: String,
    pub trusted_at: DateTime<Utc>,
    /// How many roots are trusted now.
    pub roots: u64,
}

/// `POST /v1/admin/hpki-crls`: a CRL and the certificate of the CA that signed it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CrlRequest {
    /// Standard base64 of the CRL's DER.
    pub crl: String,
    /// Standard base64 of the issuing CA's certificate (DER): a trusted root, or a CA a trusted
    /// root issued.
    pub issuer: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CrlResponse {
    /// The CA's subject DN.
    pub issuer: String,
    /// Serials the CRL listed that were not listed before.
    pub added: u64,
    /// Revoked certificates listed now, of every issuer.
    pub listed: u64,
}

// ---------------------------------------------------------------------------------------------
// Trust.

/// What the exchange trusts: root certificates, and the revoked serials each issuer's CRL lists.
#[derive(Debug, Default)]
pub struct Trust {
    /// DER, and as read (read once, here, not on every verification).
    roots: Vec<(Vec<u8>, Cert)>,
    /// (issuer DN, serial hex).
    revoked: HashSet<(String, String)>,
    /// Chains already found to lead to a trusted root, by the SHA-256 of their `x5c`: a
    /// practitioner signs many documents with one chain, which is then read and its certificate
    /// signatures verified once. Roots are only ever added, so a chain found good stays good;
    /// validity and revocation are checked on every signature.
    chains: std::sync::Mutex<std::collections::HashMap<[u8; 32], std::sync::Arc<[Cert]>>>,
}

/// Most chains [`Trust`] remembers; when full it forgets them all and starts again.
pub const MAX_CACHED_CHAINS: usize = 10_000;

impl Clone for Trust {
    fn clone(&self) -> Self {
        Trust {
            roots: self.roots.clone(),
            revoked: self.revoked.clone(),
            chains: Default::default(),
        }
    }
}

/// A CRL read and checked against its issuer: the issuer's DN and the revoked serials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevocationList {
    pub issuer: String,
    pub serials: Vec<String>,
}

impl Trust {
    /// Trusts `roots` (DER).
    pub fn new(roots: Vec<Vec<u8>>) -> Result<Self, Refused> {
        let mut trust = Self::default();
        for der in roots {
            trust.add_root(der)?;
        }
        Ok(trust)
    }

    /// Trusts one more root (DER), if it is a self-signed CA certificate; answers its subject.
    pub fn add_root(&mut self, der: Vec<u8>) -> Result<String, Refused> {
        let c = read_root(&der)?;
        let subject = c.subject.clone();
        if !self.roots.iter().any(|(d, _)| *d == der) {
            self.roots.push((der, c));
        }
        Ok(subject)
    }

    /// The trusted roots (DER).
    pub fn roots(&self) -> impl Iterator<Item = &[u8]> {
        self.roots.iter().map(|(der, _)| der.as_slice())
    }

    /// Reads a CRL (DER) whose signature verifies with the key of `issuer` (DER, a CA certificate
    /// whose chain leads to a trusted root).
    pub fn read_crl(&self, crl: &[u8], issuer: &[u8]) -> Result<RevocationList, Refused> {
        use x509_parser::prelude::*;
        let ca = read_cert(issuer).map_err(Refused::BrokenChain)?;
        self.chain_to_root(&ca)?;
        let (_, list) = CertificateRevocationList::from_der(crl)
            .map_err(|e| Refused::Malformed(format!("not a DER CRL: {e}")))?;
        if list.issuer().to_string() != ca.subject {
            return Err(Refused::BrokenChain(format!(
                "the CRL's issuer {} is not {}",
                list.issuer(),
                ca.subject
            )));
        }
        let alg = SigAlg::of_oid(&list.signature_algorithm.algorithm.to_id_string());
        let verified = match (&ca.key, alg) {
            (Some(key), Some(alg)) => {
                key.verifies(alg, list.tbs_cert_list.as_ref(), &list.signature_value.data)
            }
            _ => false,
        };
        if !verified {
            return Err(Refused::BadSignature);
        }
        Ok(RevocationList {
            issuer: ca.subject,
            serials: list
                .iter_revoked_certificates()
                .map(|r| r.raw_serial_as_string())
                .collect(),
        })
    }

    /// Takes a revocation list read by [`Trust::read_crl`]: its serials are revoked from now on.
    pub fn revoke(&mut self, list: &RevocationList) {
        for s in &list.serials {
            self.revoked.insert((list.issuer.clone(), s.clone()));
        }
    }

    /// The revoked (issuer, serial) pairs.
    pub fn revoked(&self) -> impl Iterator<Item = &(String, String)> {
        self.revoked.iter()
    }

    /// The same roots, nothing revoked.
    pub fn without_revocations(&self) -> Trust {
        Trust {
            roots: self.roots.clone(),
            ..Trust::default()
        }
    }

    /// Revokes one (issuer DN, serial hex) pair, as stored.
    pub fn revoke_serial(&mut self, issuer: String, serial: String) {
        self.revoked.insert((issuer, serial));
    }

    /// The certificates of `x5c`, each issued by the next and the last by a trusted root (read
    /// and checked once per chain, then remembered).
    fn chain(&self, x5c: &[String]) -> Result<std::sync::Arc<[Cert]>, Refused> {
        use sha2::{Digest as _, Sha256};
        let mut h = Sha256::new();
        for c in x5c {
            h.update((c.len() as u64).to_le_bytes());
            h.update(c.as_bytes());
        }
        let key: [u8; 32] = h.finalize().into();
        let cache = || self.chains.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(chain) = cache().get(&key) {
            return Ok(chain.clone());
        }
        let chain: Vec<Cert> = x5c
            .iter()
            .map(|c| {
                STANDARD
                    .decode(c)
                    .map_err(|_| "an x5c entry is not base64".to_owned())
                    .and_then(|der| read_cert(&der))
            })
            .collect::<Result<_, _>>()
            .map_err(Refused::Malformed)?;
        for pair in chain.windows(2) {
            let (c, issuer) = (&pair[0], &pair[1]);
            if !issuer.is_ca || issuer.subject != c.issuer || !signed_by(c, issuer) {
                return Err(Refused::BrokenChain(format!(
                    "{} is not issued by {}",
                    c.subject, issuer.subject
                )));
            }
        }
        self.chain_to_root(chain.last().expect("x5c is not empty"))?;
        let chain: std::sync::Arc<[Cert]> = chain.into();
        let mut cached = cache();
        if cached.len() >= MAX_CACHED_CHAINS {
            cached.clear();
        }
        cached.insert(key, chain.clone());
        Ok(chain)
    }

    /// `c` is signed by a trusted root directly, or by a CA certificate that is.
    fn chain_to_root(&self, c: &Cert) -> Result<(), Refused> {
        for (_, root) in &self.roots {
            if root.subject == c.issuer && signed_by(c, root) {
                return Ok(());
            }
        }
        Err(Refused::BrokenChain(format!(
            "{} is not issued by a trusted root",
            c.subject
        )))
    }

    /// Verifies a compact JWS with a detached payload over `payload`: the chain on the date of
    /// signing its `sigT` names, revocation, the signer's role and the signature.
    pub fn verify(&self, jws: &str, payload: &[u8]) -> Result<Signer, Refused> {
        if jws.len() > MAX_JWS_BYTES {
            return Err(Refused::Malformed(format!(
                "longer than {MAX_JWS_BYTES} bytes"
            )));
        }
        let mut parts = jws.split('.');
        let (Some(h), Some(""), Some(s), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(Refused::Malformed("not <header>..<signature>".into()));
        };
        let header: Header = URL_SAFE_NO_PAD
            .decode(h)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .ok_or_else(|| {
                Refused::Malformed("the header is not base64url JSON with alg, x5c, sigT".into())
            })?;
        let alg = SigAlg::of_jws(&header.alg).ok_or_else(|| {
            Refused::Malformed(format!("alg {} (EdDSA, ES256 or RS256)", header.alg))
        })?;
        if let Some(c) = header.crit.iter().find(|c| *c != "sigT") {
            return Err(Refused::Malformed(format!(
                "crit names {c}, which dxsim does not understand"
            )));
        }
        let at = DateTime::parse_from_rfc3339(&header.sig_t)
            .map_err(|_| Refused::Malformed("sigT is not an instant".into()))?
            .with_timezone(&Utc);
        if header.x5c.is_empty() || header.x5c.len() > MAX_CHAIN {
            return Err(Refused::Malformed(format!(
                "x5c holds 1–{MAX_CHAIN} certificates"
            )));
        }
        let chain = self.chain(&header.x5c)?;
        let at_s = at.timestamp();
        for c in chain.iter() {
            if at_s < c.not_before || at_s > c.not_after {
                let fmt = |t: i64| {
                    Utc.timestamp_opt(t, 0)
                        .single()
                        .map_or_else(|| t.to_string(), |d| d.to_rfc3339())
                };
                return Err(Refused::OutsideValidity {
                    subject: c.subject.clone(),
                    at: at.to_rfc3339(),
                    from: fmt(c.not_before),
                    until: fmt(c.not_after),
                });
            }
            if self.revoked.contains(&(c.issuer.clone(), c.serial.clone())) {
                return Err(Refused::Revoked {
                    subject: c.subject.clone(),
                    serial: c.serial.clone(),
                });
            }
        }
        let leaf = &chain[0];
        let role = leaf.role.ok_or(Refused::NoRole)?;
        let key = leaf.key.as_ref().ok_or_else(|| {
            Refused::Malformed("the practitioner's key is not Ed25519, P-256 or RSA".into())
        })?;
        let sig = URL_SAFE_NO_PAD
            .decode(s)
            .map_err(|_| Refused::BadSignature)?;
        let input = format!("{h}.{}", URL_SAFE_NO_PAD.encode(payload));
        if !key.verifies(alg, input.as_bytes(), &sig) {
            return Err(Refused::BadSignature);
        }
        Ok(Signer {
            practitioner_id: common_name(&leaf.subject).unwrap_or_default().to_owned(),
            role,
            serial: leaf.serial.clone(),
            signed_at: at,
        })
    }
}

/// Whether `issuer`'s key verifies `c`'s signature.
/// A root certificate: a CA whose signature its own key verifies.
fn read_root(der: &[u8]) -> Result<Cert, Refused> {
    let c = read_cert(der).map_err(Refused::BrokenChain)?;
    if !c.is_ca || c.subject != c.issuer || !signed_by(&c, &c) {
        return Err(Refused::BrokenChain(format!(
            "{} is not a self-signed CA certificate (with an Ed25519, P-256 or RSA key)",
            c.subject
        )));
    }
    Ok(c)
}

fn signed_by(c: &Cert, issuer: &Cert) -> bool {
    match (&issuer.key, c.sig_alg) {
        (Some(key), Some(alg)) => key.verifies(alg, &c.tbs, &c.signature),
        _ => false,
    }
}

// ---------------------------------------------------------------------------------------------
// Signed FHIR documents: `Bundle.signature`.

/// `Bundle.signature.type`: ASTM E1762 "Author's Signature".
pub const AUTHOR_SIGNATURE_SYSTEM: &str = "urn:iso-astm:E1762-95:2013";
pub const AUTHOR_SIGNATURE_CODE: &str = "1.2.840.10065.1.12.1.1";

/// What a document's signature covers: the canonical bytes of the Bundle without its
/// `signature` element.
pub fn bundle_payload(bundle: &serde_json::Value) -> Vec<u8> {
    /// The Bundle's members but `signature`, serialised in place (a Value's maps are ordered, so
    /// this is its canonical form without copying the document).
    struct Unsigned<'a>(&'a serde_json::Map<String, serde_json::Value>);
    impl Serialize for Unsigned<'_> {
        fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            s.collect_map(self.0.iter().filter(|(k, _)| *k != "signature"))
        }
    }
    match bundle.as_object() {
        Some(o) => serde_json::to_vec(&Unsigned(o)).expect("a Value serialises"),
        None => super::canonical::canonical_bytes(bundle),
    }
}

/// Signs `bundle` as `who`, who signed `when` (to the second): `Bundle.signature` with the
/// author-signature type, `when`, `who` (a reference to the fullUrl of the bundle's Practitioner
/// entry), `sigFormat` `application/jose` and `data` the base64 of the JWS over
/// [`bundle_payload`], whose `sigT` is `when`.
pub fn sign_bundle(
    bundle: &mut serde_json::Value,
    who: &Practitioner,
    when: DateTime<chrono::FixedOffset>,
) {
    sign_bundle_with(bundle, &who.key, &who.chain, when);
}

/// As [`sign_bundle`], with any key and its chain (a vendor's RSA key, say).
pub fn sign_bundle_with(
    bundle: &mut serde_json::Value,
    key: &impl JwsKey,
    chain: &[Vec<u8>],
    when: DateTime<chrono::FixedOffset>,
) {
    let who_url = bundle["entry"]
        .as_array()
        .and_then(|es| {
            es.iter()
                .find(|e| e["resource"]["resourceType"] == "Practitioner")
        })
        .and_then(|e| e["fullUrl"].as_str())
        .unwrap_or_default()
        .to_owned();
    let jws = sign(
        key,
        chain,
        &bundle_payload(bundle),
        when.with_timezone(&Utc),
    );
    bundle["signature"] = serde_json::json!({
        "type": [{"system": AUTHOR_SIGNATURE_SYSTEM, "code": AUTHOR_SIGNATURE_CODE, "display": "Author's Signature"}],
        "when": when.to_rfc3339_opts(chrono::SecondsFormat::Secs, false),
        "who": {"reference": who_url},
        "sigFormat": "application/jose",
        "data": STANDARD.encode(jws.as_bytes())
    });
}

/// Why a document's signature element is refused before its JWS is looked at.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct SignatureElement {
    pub path: &'static str,
    pub message: String,
}

/// `Bundle.signature` as read by [`bundle_signature`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BundleSignature {
    /// The compact JWS `data` holds.
    pub jws: String,
    /// `when`, which must be the JWS's `sigT`.
    pub when: DateTime<Utc>,
    /// `who.reference`: the signer's entry.
    pub who: String,
}

/// Reads `Bundle.signature`: the JWS, the instant of signing and the signer's entry.
pub fn bundle_signature(bundle: &serde_json::Value) -> Result<BundleSignature, SignatureElement> {
    let sig = &bundle["signature"];
    let fault = |path: &'static str, message: &str| SignatureElement {
        path,
        message: message.to_owned(),
    };
    if !sig.is_object() {
        return Err(fault(
            "bundle.signature",
            "a signed document carries Bundle.signature",
        ));
    }
    if sig["sigFormat"] != "application/jose" {
        return Err(fault(
            "bundle.signature.sigFormat",
            "must be application/jose (a JWS)",
        ));
    }
    let typed = sig["type"].as_array().is_some_and(|a| {
        a.iter()
            .any(|t| t["system"] == AUTHOR_SIGNATURE_SYSTEM && t["code"] == AUTHOR_SIGNATURE_CODE)
    });
    if !typed {
        return Err(fault(
            "bundle.signature.type",
            "must hold the author's signature (1.2.840.10065.1.12.1.1 of urn:iso-astm:E1762-95:2013)",
        ));
    }
    let when = sig["when"]
        .as_str()
        .and_then(|w| DateTime::parse_from_rfc3339(w).ok())
        .ok_or_else(|| {
            fault(
                "bundle.signature.when",
                "must be an instant with its time zone",
            )
        })?;
    let jws = sig["data"]
        .as_str()
        .and_then(|d| STANDARD.decode(d).ok())
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(|| fault("bundle.signature.data", "must be base64 of a compact JWS"))?;
    let who = sig["who"]["reference"]
        .as_str()
        .ok_or_else(|| {
            fault(
                "bundle.signature.who",
                "must reference the signing Practitioner's entry",
            )
        })?
        .to_owned();
    Ok(BundleSignature {
        jws,
        when: when.with_timezone(&Utc),
        who,
    })
}

// ---------------------------------------------------------------------------------------------
// A test hierarchy.

/// The PKCS#8 (v2) DER of an Ed25519 key, as rcgen reads it.
fn pkcs8(key: &SigningKey) -> Vec<u8> {
    let mut out = vec![
        0x30, 0x53, 0x02, 0x01, 0x01, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04,
        0x20,
    ];
    out.extend_from_slice(key.as_bytes());
    out.extend_from_slice(&[0xa1, 0x23, 0x03, 0x21, 0x00]);
    out.extend_from_slice(key.verifying_key().as_bytes());
    out
}

fn key_pair(key: &SigningKey) -> rcgen::KeyPair {
    rcgen::KeyPair::try_from(pkcs8(key).as_slice()).expect("an Ed25519 PKCS#8 key")
}

/// A key derived from a seed and a label.
pub fn derived_key(seed: &[u8], label: &str) -> SigningKey {
    use sha2::{Digest as _, Sha256};
    let digest = Sha256::new()
        .chain_update(b"dxsim hpki\0")
        .chain_update(seed)
        .chain_update([0])
        .chain_update(label.as_bytes())
        .finalize();
    SigningKey::from_bytes(&digest.into())
}

fn time_of(t: DateTime<Utc>) -> time::OffsetDateTime {
    time::OffsetDateTime::from_unix_timestamp(t.timestamp()).expect("an instant time can hold")
}

fn dn(cn: &str, organisation: &str) -> rcgen::DistinguishedName {
    let mut d = rcgen::DistinguishedName::new();
    d.push(rcgen::DnType::CountryName, "JP");
    d.push(rcgen::DnType::OrganizationName, organisation);
    d.push(rcgen::DnType::CommonName, cn);
    d
}

fn ca_params(
    cn: &str,
    organisation: &str,
    serial: u64,
    depth: Option<u8>,
) -> rcgen::CertificateParams {
    let mut p = rcgen::CertificateParams::default();
    p.distinguished_name = dn(cn, organisation);
    p.is_ca = rcgen::IsCa::Ca(match depth {
        Some(d) => rcgen::BasicConstraints::Constrained(d),
        None => rcgen::BasicConstraints::Unconstrained,
    });
    p.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::CrlSign,
        rcgen::KeyUsagePurpose::DigitalSignature,
    ];
    p.not_before = time_of(Utc.with_ymd_and_hms(2020, 1, 1, 0, 0, 0).unwrap());
    p.not_after = time_of(Utc.with_ymd_and_hms(2045, 1, 1, 0, 0, 0).unwrap());
    p.serial_number = Some(rcgen::SerialNumber::from(serial));
    p
}

/// A test HPKI hierarchy — a root and an issuing CA — derived from a seed: the same seed gives
/// the same keys and certificates.
pub struct TestHierarchy {
    seed: Vec<u8>,
    organisation: String,
    issuing_key: SigningKey,
    issuing_params: rcgen::CertificateParams,
    /// The root's certificate (DER).
    pub root: Vec<u8>,
    /// The issuing CA's certificate (DER).
    pub issuing: Vec<u8>,
}

/// A practitioner's id, key and certificate chain (DER: theirs, then the issuing CA's).
pub struct Practitioner {
    /// Their id: the certificate subject's common name.
    pub id: String,
    pub key: SigningKey,
    pub chain: Vec<Vec<u8>>,
}

impl Practitioner {
    /// A JWS over `payload` with this practitioner's key and chain, signed `at`.
    pub fn sign(&self, payload: &[u8], at: DateTime<Utc>) -> String {
        sign(&self.key, &self.chain, payload, at)
    }
}

impl TestHierarchy {
    /// The hierarchy of `organisation` (its certificates' O), from `seed`.
    pub fn from_seed(seed: &[u8], organisation: &str) -> Self {
        let root_key = derived_key(seed, "root");
        let issuing_key = derived_key(seed, "issuing");
        let root_params = ca_params(
            &format!("{organisation} HPKI Root CA"),
            organisation,
            1,
            None,
        );
        let root_kp = key_pair(&root_key);
        let root = root_params
            .self_signed(&root_kp)
            .expect("the root certificate")
            .der()
            .to_vec();
        let issuing_params = ca_params(
            &format!("{organisation} HPKI Issuing CA"),
            organisation,
            2,
            Some(0),
        );
        let root_issuer = rcgen::Issuer::new(root_params, root_kp);
        let issuing = issuing_params
            .signed_by(&key_pair(&issuing_key), &root_issuer)
            .expect("the issuing CA's certificate")
            .der()
            .to_vec();
        Self {
            seed: seed.to_vec(),
            organisation: organisation.to_owned(),
            issuing_key,
            issuing_params,
            root,
            issuing,
        }
    }

    fn issuer(&self) -> rcgen::Issuer<'static, rcgen::KeyPair> {
        rcgen::Issuer::new(self.issuing_params.clone(), key_pair(&self.issuing_key))
    }

    /// A practitioner's certificate with `role`, valid `from` to `until`, numbered `serial`; the
    /// key is derived from the seed, the id and the serial.
    pub fn practitioner(
        &self,
        id: &str,
        role: Role,
        from: DateTime<Utc>,
        until: DateTime<Utc>,
        serial: u64,
    ) -> Practitioner {
        let key = derived_key(&self.seed, &format!("practitioner {id} {serial}"));
        let mut p = rcgen::CertificateParams::default();
        p.distinguished_name = dn(id, &self.organisation);
        p.is_ca = rcgen::IsCa::ExplicitNoCa;
        p.key_usages = vec![
            rcgen::KeyUsagePurpose::DigitalSignature,
            rcgen::KeyUsagePurpose::ContentCommitment,
        ];
        p.not_before = time_of(from);
        p.not_after = time_of(until);
        p.serial_number = Some(rcgen::SerialNumber::from(serial));
        p.custom_extensions = vec![rcgen::CustomExtension::from_oid_content(
            SUBJECT_DIRECTORY_ATTRIBUTES,
            role_extension(role),
        )];
        let cert = p
            .signed_by(&key_pair(&key), &self.issuer())
            .expect("a practitioner's certificate")
            .der()
            .to_vec();
        Practitioner {
            id: id.to_owned(),
            key,
            chain: vec![cert, self.issuing.clone()],
        }
    }

    /// The test practitioner of a facility: `PH-<facility>` (a pharmacist) or `DR-<facility>` (a
    /// dentist at a dental clinic, a doctor elsewhere), valid from 2020 to 2044, numbered by a
    /// digest of the id.
    pub fn facility_practitioner(&self, facility: &str, pharmacist: bool) -> Practitioner {
        use sha2::{Digest as _, Sha256};
        let id = format!("{}-{facility}", if pharmacist { "PH" } else { "DR" });
        let dental = crate::codes::validate_facility_code(facility)
            == Ok(crate::codes::FacilityTable::Dental);
        let role = match (pharmacist, dental) {
            (true, _) => Role::Pharmacist,
            (false, true) => Role::Dentist,
            (false, false) => Role::Doctor,
        };
        let d = Sha256::digest(id.as_bytes());
        let serial = u64::from_be_bytes(d[..8].try_into().expect("8 bytes")) >> 1;
        self.practitioner(
            &id,
            role,
            Utc.with_ymd_and_hms(2020, 1, 1, 0, 0, 0).unwrap(),
            Utc.with_ymd_and_hms(2044, 12, 31, 0, 0, 0).unwrap(),
            serial,
        )
    }

    /// The issuing CA's CRL listing `serials`, issued `at`.
    pub fn crl(&self, serials: &[u64], at: DateTime<Utc>) -> Vec<u8> {
        let params = rcgen::CertificateRevocationListParams {
            this_update: time_of(at),
            next_update: time_of(at + chrono::TimeDelta::days(1)),
            crl_number: rcgen::SerialNumber::from(at.timestamp().max(1) as u64),
            issuing_distribution_point: None,
            revoked_certs: serials
                .iter()
                .map(|s| rcgen::RevokedCertParams {
                    serial_number: rcgen::SerialNumber::from(*s),
                    revocation_time: time_of(at),
                    reason_code: Some(rcgen::RevocationReason::KeyCompromise),
                    invalidity_date: None,
                })
                .collect(),
            key_identifier_method: rcgen::KeyIdMethod::Sha256,
        };
        params
            .signed_by(&self.issuer())
            .expect("a CRL")
            .der()
            .to_vec()
    }

    /// A trust store holding this hierarchy's root.
    pub fn trust(&self) -> Trust {
        Trust::new(vec![self.root.clone()]).expect("the root is a self-signed CA")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(y: i32, m: u32, d: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, 9, 0, 0).unwrap()
    }

    fn hierarchy() -> TestHierarchy {
        TestHierarchy::from_seed(b"seed", "dxsim test")
    }

    #[test]
    fn a_practitioner_signs_and_the_signature_names_them_and_their_role() {
        let h = hierarchy();
        let trust = h.trust();
        for (role, serial) in Role::ALL.into_iter().zip(10..) {
            let p = h.practitioner("DR-1", role, at(2026, 1, 1), at(2028, 1, 1), serial);
            let jws = p.sign(b"the canonical bundle", at(2026, 11, 25));
            let who = trust.verify(&jws, b"the canonical bundle").unwrap();
            assert_eq!(who.signed_at, at(2026, 11, 25));
            assert_eq!((who.practitioner_id.as_str(), who.role), ("DR-1", role));
            assert_eq!(
                trust.verify(&jws, b"another bundle"),
                Err(Refused::BadSignature)
            );
        }
        assert!(Role::Doctor.prescribes() && Role::Dentist.prescribes());
        assert!(!Role::Pharmacist.prescribes());
    }

    #[test]
    fn the_same_seed_issues_the_same_certificates() {
        let (a, b) = (hierarchy(), hierarchy());
        assert_eq!((&a.root, &a.issuing), (&b.root, &b.issuing));
        let p = |h: &TestHierarchy| {
            h.practitioner("PH-1", Role::Pharmacist, at(2026, 1, 1), at(2027, 1, 1), 7)
                .chain
        };
        assert_eq!(p(&a), p(&b));
        assert_ne!(
            TestHierarchy::from_seed(b"other", "dxsim test").root,
            a.root
        );
    }

    #[test]
    fn validity_is_checked_on_the_date_of_signing() {
        let h = hierarchy();
        let p = h.practitioner("DR-2", Role::Doctor, at(2026, 1, 1), at(2026, 6, 30), 11);
        // One trust throughout: the chain remembered after the first signature is still judged
        // on each signature's time.
        let trust = h.trust();
        assert!(trust.verify(&p.sign(b"x", at(2026, 3, 1)), b"x").is_ok());
        for when in [at(2026, 7, 1), at(2025, 12, 31)] {
            assert!(matches!(
                trust.verify(&p.sign(b"x", when), b"x"),
                Err(Refused::OutsideValidity { .. })
            ));
        }
        // The signing time is signed: moving it into the validity breaks the signature.
        let jws = p.sign(b"x", at(2026, 7, 1));
        let (h64, rest) = jws.split_once('.').unwrap();
        let mut header: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(h64).unwrap()).unwrap();
        header["sigT"] = "2026-03-01T09:00:00Z".into();
        let moved = format!(
            "{}.{rest}",
            URL_SAFE_NO_PAD.encode(serde_json::to_vec(&header).unwrap())
        );
        assert_eq!(h.trust().verify(&moved, b"x"), Err(Refused::BadSignature));
    }

    #[test]
    fn a_revoked_certificate_signs_nothing_once_its_crl_is_read() {
        let h = hierarchy();
        let mut trust = h.trust();
        let p = h.practitioner("DR-3", Role::Doctor, at(2026, 1, 1), at(2028, 1, 1), 12);
        let jws = p.sign(b"x", at(2026, 6, 1));
        // Verified once (its chain is remembered), then revoked: the revocation holds.
        assert!(trust.verify(&jws, b"x").is_ok());
        let list = trust
            .read_crl(&h.crl(&[12, 99], at(2026, 5, 1)), &h.issuing)
            .unwrap();
        assert_eq!(list.serials.len(), 2);
        trust.revoke(&list);
        assert!(matches!(
            trust.verify(&jws, b"x"),
            Err(Refused::Revoked { .. })
        ));
        // A CRL from another hierarchy, or not signed by the CA it names, is not read.
        let other = TestHierarchy::from_seed(b"other", "dxsim test");
        assert!(
            trust
                .read_crl(&other.crl(&[13], at(2026, 5, 1)), &other.issuing)
                .is_err()
        );
        assert!(
            trust
                .read_crl(&other.crl(&[13], at(2026, 5, 1)), &h.issuing)
                .is_err()
        );
    }

    #[test]
    fn a_chain_that_does_not_reach_the_trusted_root_is_refused() {
        let h = hierarchy();
        let other = TestHierarchy::from_seed(b"other", "dxsim test");
        let foreign = other.practitioner("DR-4", Role::Doctor, at(2026, 1, 1), at(2028, 1, 1), 14);
        assert!(matches!(
            h.trust().verify(&foreign.sign(b"x", at(2026, 6, 1)), b"x"),
            Err(Refused::BrokenChain(_))
        ));
        // The practitioner's certificate alone, without the issuing CA.
        let mut p = h.practitioner("DR-5", Role::Doctor, at(2026, 1, 1), at(2028, 1, 1), 15);
        p.chain.truncate(1);
        assert!(matches!(
            h.trust().verify(&p.sign(b"x", at(2026, 6, 1)), b"x"),
            Err(Refused::BrokenChain(_))
        ));
        // Another hierarchy's issuing CA in the middle.
        let mut p = h.practitioner("DR-6", Role::Doctor, at(2026, 1, 1), at(2028, 1, 1), 16);
        p.chain[1] = other.issuing.clone();
        assert!(matches!(
            h.trust().verify(&p.sign(b"x", at(2026, 6, 1)), b"x"),
            Err(Refused::BrokenChain(_))
        ));
    }

    #[test]
    fn malformed_signatures_are_refused_as_such() {
        let trust = hierarchy().trust();
        for bad in ["", "a.b.c", "a..", "!!..!!", &"x".repeat(MAX_JWS_BYTES + 1)] {
            assert!(
                matches!(trust.verify(bad, b"x"), Err(Refused::Malformed(_))),
                "{bad:.20}"
            );
        }
        assert!(
            Trust::new(vec![hierarchy().issuing]).is_err(),
            "an issuing CA is not a root"
        );
    }

    #[test]
    fn a_certificate_without_a_healthcare_role_signs_nothing() {
        let h = hierarchy();
        let key = derived_key(b"seed", "no role");
        let mut p = rcgen::CertificateParams::default();
        p.distinguished_name = dn("NR-1", "dxsim test");
        p.not_before = time_of(at(2026, 1, 1));
        p.not_after = time_of(at(2028, 1, 1));
        p.serial_number = Some(rcgen::SerialNumber::from(17u64));
        let cert = p
            .signed_by(&key_pair(&key), &h.issuer())
            .unwrap()
            .der()
            .to_vec();
        let jws = sign(&key, &[cert, h.issuing.clone()], b"x", at(2026, 6, 1));
        assert_eq!(h.trust().verify(&jws, b"x"), Err(Refused::NoRole));
    }

    #[test]
    fn a_signed_bundle_verifies_over_itself_without_its_signature_only() {
        let h = hierarchy();
        let p = h.practitioner("DR-7", Role::Doctor, at(2026, 1, 1), at(2028, 1, 1), 18);
        let mut b = crate::wire::fhir::PrescriptionDraft::example().to_bundle();
        let when = at(2026, 11, 25).fixed_offset();
        sign_bundle(&mut b, &p, when);
        // The payload is the canonical Bundle without its signature, computed in place.
        let mut unsigned = b.clone();
        unsigned.as_object_mut().unwrap().remove("signature");
        assert_eq!(
            bundle_payload(&b),
            super::super::canonical::canonical_bytes(&unsigned)
        );
        let read = bundle_signature(&b).unwrap();
        assert_eq!(read.when, at(2026, 11, 25));
        assert_eq!(read.who, b["entry"][5]["fullUrl"].as_str().unwrap());
        assert_eq!(b["entry"][5]["resource"]["resourceType"], "Practitioner");
        let who = h.trust().verify(&read.jws, &bundle_payload(&b)).unwrap();
        assert_eq!(
            (who.practitioner_id.as_str(), who.signed_at),
            ("DR-7", read.when)
        );
        let jws = read.jws;
        // Any change to what was signed, the signature element aside, breaks it.
        let mut changed = b.clone();
        changed["entry"][6]["resource"]["dispenseRequest"]["quantity"]["value"] =
            serde_json::json!(56);
        assert_eq!(
            h.trust().verify(&jws, &bundle_payload(&changed)),
            Err(Refused::BadSignature)
        );
        let mut resigned_when = b.clone();
        resigned_when["signature"]["when"] = serde_json::json!("2026-11-26T09:00:00+09:00");
        assert_eq!(bundle_payload(&resigned_when), bundle_payload(&b));
        // The element's faults are named.
        for (path, break_it) in [
            ("bundle.signature", serde_json::json!(null)),
            (
                "bundle.signature.sigFormat",
                serde_json::json!({"sigFormat": "image/jpeg"}),
            ),
        ] {
            let mut broken = b.clone();
            if break_it.is_null() {
                broken.as_object_mut().unwrap().remove("signature");
            } else {
                broken["signature"]["sigFormat"] = break_it["sigFormat"].clone();
            }
            assert_eq!(bundle_signature(&broken).unwrap_err().path, path);
        }
    }

    #[test]
    fn an_ecdsa_p256_hierarchy_verifies_with_es256() {
        use entropy::SystemRandom;
        use ring::rand as entropy;
        use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
        let rng = SystemRandom::new();
        let new_key = || {
            let doc = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
            let pair =
                EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, doc.as_ref(), &rng)
                    .unwrap();
            let kp = rcgen::KeyPair::try_from(doc.as_ref()).unwrap();
            (pair, kp)
        };
        let (_, root_kp) = new_key();
        let root_params = ca_params("Vendor Root", "vendor", 1, None);
        let root = root_params.self_signed(&root_kp).unwrap().der().to_vec();
        let root_issuer = rcgen::Issuer::new(root_params, root_kp);
        let (leaf_pair, leaf_kp) = new_key();
        let mut p = rcgen::CertificateParams::default();
        p.distinguished_name = dn("DR-V", "vendor");
        p.not_before = time_of(at(2026, 1, 1));
        p.not_after = time_of(at(2028, 1, 1));
        p.custom_extensions = vec![rcgen::CustomExtension::from_oid_content(
            SUBJECT_DIRECTORY_ATTRIBUTES,
            role_extension(Role::Dentist),
        )];
        let leaf = p.signed_by(&leaf_kp, &root_issuer).unwrap().der().to_vec();
        let header = serde_json::json!({
            "alg": "ES256", "x5c": [STANDARD.encode(&leaf)], "sigT": "2026-06-01T09:00:00Z",
            "crit": ["sigT"],
        });
        let h = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&header).unwrap());
        let input = format!("{h}.{}", URL_SAFE_NO_PAD.encode(b"x"));
        let sig = leaf_pair.sign(&rng, input.as_bytes()).unwrap();
        let jws = format!("{h}..{}", URL_SAFE_NO_PAD.encode(sig.as_ref()));
        let trust = Trust::new(vec![root]).unwrap();
        let who = trust.verify(&jws, b"x").unwrap();
        assert_eq!(
            (who.practitioner_id.as_str(), who.role),
            ("DR-V", Role::Dentist)
        );
        assert_eq!(trust.verify(&jws, b"y"), Err(Refused::BadSignature));
        // Claiming EdDSA over a P-256 key does not verify.
        let lying = jws.replacen(
            &h,
            &URL_SAFE_NO_PAD.encode(
                serde_json::to_vec(&serde_json::json!({
                    "alg": "EdDSA", "x5c": [STANDARD.encode(&leaf)], "sigT": "2026-06-01T09:00:00Z",
                }))
                .unwrap(),
            ),
            1,
        );
        assert_eq!(trust.verify(&lying, b"x"), Err(Refused::BadSignature));
    }

    #[test]
    fn an_rsa_hierarchy_made_with_openssl_verifies_with_rs256() {
        // testdata/hpki/README.md says how these were made.
        let root = include_bytes!("../../testdata/hpki/rsa-root.der").to_vec();
        let leaf = include_bytes!("../../testdata/hpki/rsa-leaf.der").to_vec();
        let key = RsaKey::from_pkcs8(include_bytes!("../../testdata/hpki/rsa-leaf.pk8")).unwrap();
        let at = |t: &str| DateTime::parse_from_rfc3339(t).unwrap().with_timezone(&Utc);
        let jws_at = |alg: &str, payload: &[u8], when: &str| {
            let jws = sign(&key, std::slice::from_ref(&leaf), payload, at(when));
            if alg == "RS256" {
                return jws;
            }
            // The same signature under another alg's header.
            let (h, sig) = jws.split_once("..").unwrap();
            let mut header: serde_json::Value =
                serde_json::from_slice(&URL_SAFE_NO_PAD.decode(h).unwrap()).unwrap();
            header["alg"] = alg.into();
            let h = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&header).unwrap());
            format!("{h}..{sig}")
        };
        let jws = |alg: &str, payload: &[u8]| jws_at(alg, payload, "2027-06-01T09:00:00Z");
        let trust = Trust::new(vec![root]).unwrap();
        let who = trust.verify(&jws("RS256", b"x"), b"x").unwrap();
        assert_eq!(
            (who.practitioner_id.as_str(), who.role),
            ("DR-RSA", Role::Doctor)
        );
        assert_eq!(
            trust.verify(&jws("RS256", b"x"), b"y"),
            Err(Refused::BadSignature)
        );
        assert_eq!(
            trust.verify(&jws("ES256", b"x"), b"x"),
            Err(Refused::BadSignature),
            "an RSA key does not verify as P-256"
        );
        // Signed before the certificate's validity began (2026-12-07).
        assert!(matches!(
            trust.verify(&jws_at("RS256", b"x", "2026-01-01T09:00:00Z"), b"x"),
            Err(Refused::OutsideValidity { .. })
        ));
    }

    #[test]
    fn the_role_extension_reads_back() {
        for role in Role::ALL {
            assert_eq!(role_of(&role_extension(role)), Some(role));
        }
        assert_eq!(role_of(&[0x30, 0x00]), None);
        assert_eq!(role_of(&[0x30, 0x05, 0x30]), None);
    }
}
