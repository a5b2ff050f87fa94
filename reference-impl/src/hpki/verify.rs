//! Who may sign what, and when: a signature's JWS verified against the trust in memory, its
//! signer's role against what is signed, its signing time against the exchange's clock.

use crate::refusal::Refusal;
use chrono::TimeDelta;
use dx_protocol::wire::hpki::{Refused, Role, Signer};

/// What is signed, and so which roles may sign it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signed {
    Prescription,
    Dispensing,
}

impl Signed {
    fn allows(self, role: Role) -> bool {
        match self {
            Signed::Prescription => role.prescribes(),
            Signed::Dispensing => role == Role::Pharmacist,
        }
    }

    fn what(self) -> &'static str {
        match self {
            Signed::Prescription => "a prescription is signed by a doctor or a dentist",
            Signed::Dispensing => "a dispensing is signed by a pharmacist",
        }
    }
}

/// How far before the exchange's clock a signature may have been made: a prescription is
/// registered on the day of issue or the day after, a dispensing result sent the same way.
pub const SIGNED_WITHIN_DAYS: i64 = 2;

/// Verifies `jws` over `payload` as a signature of `signed`, made at most
/// [`SIGNED_WITHIN_DAYS`] before `now` and not after it (beyond `skew`): the refusal names
/// `field` and says which check failed.
pub fn verify(
    state: &crate::state::AppState,
    jws: &str,
    payload: &[u8],
    signed: Signed,
    field: &str,
) -> Result<Signer, Refusal> {
    let verified = if state.fault(crate::faults::Fault::HpkiRevocationIgnored) {
        state
            .hpki()
            .read(|t| t.without_revocations().verify(jws, payload))
    } else {
        state.hpki().read(|t| t.verify(jws, payload))
    };
    let signer = verified.map_err(|e| refusal(e).at(field))?;
    let any_role = state.fault(crate::faults::Fault::SignerRoleUnchecked);
    if !signed.allows(signer.role) && !any_role {
        return Err(Refusal::forbidden(
            "signer_role_not_allowed",
            format!(
                "{} holds a {} certificate: {}",
                signer.practitioner_id,
                signer.role.code(),
                signed.what()
            ),
        )
        .at(field));
    }
    let now = state.now();
    let skew = TimeDelta::milliseconds(
        (crate::cards::FRESHNESS_SECONDS as f64 * 1_000.0 * state.clock().rate()) as i64,
    );
    if signer.signed_at > now + skew || signer.signed_at < now - TimeDelta::days(SIGNED_WITHIN_DAYS)
    {
        return Err(Refusal::broken_rule(
            "signing_time_out_of_range",
            format!(
                "signed at {} (sigT); a signature is sent within {SIGNED_WITHIN_DAYS} days of \
                 signing, and not before it is made ({now})",
                signer.signed_at.to_rfc3339()
            ),
        )
        .at(field));
    }
    Ok(signer)
}

/// The refusal of a signature that did not verify.
fn refusal(e: Refused) -> Refusal {
    let message = e.to_string();
    match e {
        Refused::Malformed(_) => Refusal::invalid("signature_malformed", message),
        Refused::BrokenChain(_) => Refusal::broken_rule("certificate_untrusted", message),
        Refused::OutsideValidity { .. } => Refusal::broken_rule("certificate_not_valid", message),
        Refused::Revoked { .. } => Refusal::broken_rule("certificate_revoked", message),
        Refused::NoRole => Refusal::broken_rule("certificate_without_role", message),
        Refused::BadSignature => Refusal::broken_rule("invalid_signature", message),
    }
}
