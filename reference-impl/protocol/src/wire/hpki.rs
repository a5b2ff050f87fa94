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
use ed25519_dalek::{Signature, Signer as _, SigningKey, Verifier as _, VerifyingKey};
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
        "the signature is not a compact JWS with a detached payload, alg EdDSA and an x5c chain: {0}"
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
}

#[derive(Serialize, Deserialize)]
struct Header {
    alg: String,
    x5c: Vec<String>,
}

/// A compact JWS with a detached payload over `payload`, signed with `key`, carrying `chain`
/// (DER: the signer's certificate first).
pub fn sign(key: &SigningKey, chain: &[Vec<u8>], payload: &[u8]) -> String {
    let header = Header {
        alg: "EdDSA".into(),
        x5c: chain.iter().map(|c| STANDARD.encode(c)).collect(),
    };
    let h = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&header).expect("a header serialises"));
    let input = format!("{h}.{}", URL_SAFE_NO_PAD.encode(payload));
    let sig = key.sign(input.as_bytes());
    format!("{h}..{}", URL_SAFE_NO_PAD.encode(sig.to_bytes()))
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
    key: Option<VerifyingKey>,
    tbs: Vec<u8>,
    signature: Vec<u8>,
    role: Option<Role>,
}

fn read_cert(der: &[u8]) -> Result<Cert, String> {
    use x509_parser::prelude::*;
    let (rest, c) =
        X509Certificate::from_der(der).map_err(|e| format!("not a DER certificate: {e}"))?;
    if !rest.is_empty() {
        return Err("bytes after the certificate".into());
    }
    let spki = c.public_key();
    let key = (spki.algorithm.algorithm.to_id_string() == "1.3.101.112")
        .then(|| <[u8; 32]>::try_from(spki.subject_public_key.data.as_ref()).ok())
        .flatten()
        .and_then(|b| VerifyingKey::from_bytes(&b).ok());
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
        key,
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
// Trust.

/// What the exchange trusts: root certificates, and the revoked serials each issuer's CRL lists.
#[derive(Debug, Clone, Default)]
pub struct Trust {
    /// DER, and as read (read once, here, not on every verification).
    roots: Vec<(Vec<u8>, Cert)>,
    /// (issuer DN, serial hex).
    revoked: HashSet<(String, String)>,
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
        let roots = roots
            .into_iter()
            .map(|der| {
                let c = read_cert(&der).map_err(Refused::BrokenChain)?;
                if !c.is_ca || c.subject != c.issuer {
                    return Err(Refused::BrokenChain(format!(
                        "{} is not a self-signed CA",
                        c.subject
                    )));
                }
                Ok((der, c))
            })
            .collect::<Result<_, _>>()?;
        Ok(Self {
            roots,
            revoked: HashSet::new(),
        })
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
        let key = ca
            .key
            .ok_or_else(|| Refused::BrokenChain("the CA's key is not Ed25519".into()))?;
        let sig =
            Signature::from_slice(&list.signature_value.data).map_err(|_| Refused::BadSignature)?;
        key.verify(list.tbs_cert_list.as_ref(), &sig)
            .map_err(|_| Refused::BadSignature)?;
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

    /// Revokes one (issuer DN, serial hex) pair, as stored.
    pub fn revoke_serial(&mut self, issuer: String, serial: String) {
        self.revoked.insert((issuer, serial));
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

    /// Verifies a compact JWS with a detached payload over `payload`, signed on `at`.
    pub fn verify(&self, jws: &str, payload: &[u8], at: DateTime<Utc>) -> Result<Signer, Refused> {
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
            .ok_or_else(|| Refused::Malformed("the header is not base64url JSON".into()))?;
        if header.alg != "EdDSA" {
            return Err(Refused::Malformed(format!(
                "alg {} (EdDSA expected)",
                header.alg
            )));
        }
        if header.x5c.is_empty() || header.x5c.len() > MAX_CHAIN {
            return Err(Refused::Malformed(format!(
                "x5c holds 1–{MAX_CHAIN} certificates"
            )));
        }
        let chain: Vec<Cert> = header
            .x5c
            .iter()
            .map(|c| {
                STANDARD
                    .decode(c)
                    .map_err(|_| "an x5c entry is not base64".to_owned())
                    .and_then(|der| read_cert(&der))
            })
            .collect::<Result<_, _>>()
            .map_err(Refused::Malformed)?;
        // Each certificate is issued by the next; the last by a trusted root.
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
        let at_s = at.timestamp();
        for c in &chain {
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
        let key = leaf
            .key
            .ok_or_else(|| Refused::Malformed("the practitioner's key is not Ed25519".into()))?;
        let sig = URL_SAFE_NO_PAD
            .decode(s)
            .ok()
            .and_then(|b| Signature::from_slice(&b).ok())
            .ok_or(Refused::BadSignature)?;
        let input = format!("{h}.{}", URL_SAFE_NO_PAD.encode(payload));
        key.verify(input.as_bytes(), &sig)
            .map_err(|_| Refused::BadSignature)?;
        Ok(Signer {
            practitioner_id: common_name(&leaf.subject).unwrap_or_default().to_owned(),
            role,
            serial: leaf.serial.clone(),
        })
    }
}

fn signed_by(c: &Cert, issuer: &Cert) -> bool {
    let Some(key) = issuer.key else { return false };
    Signature::from_slice(&c.signature).is_ok_and(|s| key.verify(&c.tbs, &s).is_ok())
}

// ---------------------------------------------------------------------------------------------
// Signed FHIR documents: `Bundle.signature`.

/// `Bundle.signature.type`: ASTM E1762 "Author's Signature".
pub const AUTHOR_SIGNATURE_SYSTEM: &str = "urn:iso-astm:E1762-95:2013";
pub const AUTHOR_SIGNATURE_CODE: &str = "1.2.840.10065.1.12.1.1";

/// What a document's signature covers: the canonical bytes of the Bundle without its
/// `signature` element.
pub fn bundle_payload(bundle: &serde_json::Value) -> Vec<u8> {
    let mut unsigned = bundle.clone();
    if let Some(o) = unsigned.as_object_mut() {
        o.remove("signature");
    }
    super::canonical::canonical_bytes(&unsigned)
}

/// Signs `bundle` as `who`, who signed `when`: `Bundle.signature` with the author-signature type,
/// `when`, `who` (a reference to the entry `who_url`), `sigFormat` `application/jose` and `data`
/// the base64 of the JWS over [`bundle_payload`].
pub fn sign_bundle(
    bundle: &mut serde_json::Value,
    who: &Practitioner,
    who_url: &str,
    when: DateTime<chrono::FixedOffset>,
) {
    let jws = who.sign(&bundle_payload(bundle));
    bundle["signature"] = serde_json::json!({
        "type": [{"system": AUTHOR_SIGNATURE_SYSTEM, "code": AUTHOR_SIGNATURE_CODE, "display": "Author's Signature"}],
        "when": when.to_rfc3339(),
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

/// Reads `Bundle.signature`: the JWS and the instant of signing.
pub fn bundle_signature(
    bundle: &serde_json::Value,
) -> Result<(String, DateTime<Utc>), SignatureElement> {
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
    Ok((jws, when.with_timezone(&Utc)))
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

/// A practitioner's key and certificate chain (DER: theirs, then the issuing CA's).
pub struct Practitioner {
    pub key: SigningKey,
    pub chain: Vec<Vec<u8>>,
}

impl Practitioner {
    /// A JWS over `payload` with this practitioner's key and chain.
    pub fn sign(&self, payload: &[u8]) -> String {
        sign(&self.key, &self.chain, payload)
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
            key,
            chain: vec![cert, self.issuing.clone()],
        }
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
            let jws = p.sign(b"the canonical bundle");
            let who = trust
                .verify(&jws, b"the canonical bundle", at(2026, 11, 25))
                .unwrap();
            assert_eq!((who.practitioner_id.as_str(), who.role), ("DR-1", role));
            assert_eq!(
                trust.verify(&jws, b"another bundle", at(2026, 11, 25)),
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
        let jws = p.sign(b"x");
        assert!(h.trust().verify(&jws, b"x", at(2026, 3, 1)).is_ok());
        for when in [at(2026, 7, 1), at(2025, 12, 31)] {
            assert!(matches!(
                h.trust().verify(&jws, b"x", when),
                Err(Refused::OutsideValidity { .. })
            ));
        }
    }

    #[test]
    fn a_revoked_certificate_signs_nothing_once_its_crl_is_read() {
        let h = hierarchy();
        let mut trust = h.trust();
        let p = h.practitioner("DR-3", Role::Doctor, at(2026, 1, 1), at(2028, 1, 1), 12);
        let jws = p.sign(b"x");
        let list = trust
            .read_crl(&h.crl(&[12, 99], at(2026, 5, 1)), &h.issuing)
            .unwrap();
        assert_eq!(list.serials.len(), 2);
        trust.revoke(&list);
        assert!(matches!(
            trust.verify(&jws, b"x", at(2026, 6, 1)),
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
            h.trust().verify(&foreign.sign(b"x"), b"x", at(2026, 6, 1)),
            Err(Refused::BrokenChain(_))
        ));
        // The practitioner's certificate alone, without the issuing CA.
        let mut p = h.practitioner("DR-5", Role::Doctor, at(2026, 1, 1), at(2028, 1, 1), 15);
        p.chain.truncate(1);
        assert!(matches!(
            h.trust().verify(&p.sign(b"x"), b"x", at(2026, 6, 1)),
            Err(Refused::BrokenChain(_))
        ));
        // Another hierarchy's issuing CA in the middle.
        let mut p = h.practitioner("DR-6", Role::Doctor, at(2026, 1, 1), at(2028, 1, 1), 16);
        p.chain[1] = other.issuing.clone();
        assert!(matches!(
            h.trust().verify(&p.sign(b"x"), b"x", at(2026, 6, 1)),
            Err(Refused::BrokenChain(_))
        ));
    }

    #[test]
    fn malformed_signatures_are_refused_as_such() {
        let trust = hierarchy().trust();
        for bad in ["", "a.b.c", "a..", "!!..!!", &"x".repeat(MAX_JWS_BYTES + 1)] {
            assert!(
                matches!(
                    trust.verify(bad, b"x", at(2026, 6, 1)),
                    Err(Refused::Malformed(_))
                ),
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
        let jws = sign(&key, &[cert, h.issuing.clone()], b"x");
        assert_eq!(
            h.trust().verify(&jws, b"x", at(2026, 6, 1)),
            Err(Refused::NoRole)
        );
    }

    #[test]
    fn a_signed_bundle_verifies_over_itself_without_its_signature_only() {
        let h = hierarchy();
        let p = h.practitioner("DR-7", Role::Doctor, at(2026, 1, 1), at(2028, 1, 1), 18);
        let mut b = crate::wire::fhir::PrescriptionDraft::example().to_bundle();
        let when = at(2026, 11, 25).fixed_offset();
        sign_bundle(
            &mut b,
            &p,
            "urn:uuid:00000000-0000-0000-0000-000000000001",
            when,
        );
        let (jws, signed_at) = bundle_signature(&b).unwrap();
        assert_eq!(signed_at, at(2026, 11, 25));
        let who = h
            .trust()
            .verify(&jws, &bundle_payload(&b), signed_at)
            .unwrap();
        assert_eq!(who.practitioner_id, "DR-7");
        // Any change to what was signed, the signature element aside, breaks it.
        let mut changed = b.clone();
        changed["entry"][6]["resource"]["dispenseRequest"]["quantity"]["value"] =
            serde_json::json!(56);
        assert_eq!(
            h.trust().verify(&jws, &bundle_payload(&changed), signed_at),
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
    fn the_role_extension_reads_back() {
        for role in Role::ALL {
            assert_eq!(role_of(&role_extension(role)), Some(role));
        }
        assert_eq!(role_of(&[0x30, 0x00]), None);
        assert_eq!(role_of(&[0x30, 0x05, 0x30]), None);
    }
}
