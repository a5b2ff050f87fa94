//! Deliberate faults, to show that the conformance suite catches a broken exchange. Only a build
//! with the `faults` feature can switch one on ([`crate::state::AppState::inject_fault`], used by
//! the tests); in any other build [`crate::state::AppState::fault`] is a constant `false`.

/// A rule the exchange can be told to break.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Reads that need the person's consent are served without it.
    ConsentUnchecked,
    /// A refill prescription can be dispensed once more than it allows.
    RefillLimitOffByOne,
    /// Verification takes an insurer number whatever its check digit.
    CheckDigitUnvalidated,
    /// A consent refused (verbal, where only the card may give it) is stored all the same.
    RefusedRequestStored,
    /// Verbal consent is taken for a person this facility did not verify today.
    VisitUnchecked,
    /// A pharmacy that did not retrieve a prescription may dispense it.
    RetrievalUnchecked,
    /// Wrong access codes are not limited (no lock, no per-pharmacy limit).
    CodeAttemptsUnlimited,
    /// Refusals tell a prescription that exists from one that does not.
    ExistenceRevealed,
    /// Tokens are issued for ten years.
    TokenLifetimeUncapped,
    /// Tokens and secrets of revoked credentials keep working.
    RevocationIgnored,
    /// Overload is answered with a bare 503: no error body, no Retry-After.
    OverloadUnstructured,
    /// A card serial is taken for the card's presence without a card proof.
    CardProofOptional,
    /// Card certificates and card signatures are not checked (a forged proof passes).
    CardSignatureUnchecked,
    /// A card proof's nonce is not remembered (a replayed proof passes).
    CardReplayAllowed,
    /// The card revocation list is not consulted.
    CardRevocationIgnored,
    /// Bundles are read without the guides' element rules (a payload the guide forbids passes
    /// where the service's own reading does not look).
    GuideRulesUnchecked,
    /// Any healthcare role may sign anything (a pharmacist a prescription, a doctor a
    /// dispensing).
    SignerRoleUnchecked,
    /// The HPKI revocation lists are not consulted (a revoked certificate still signs).
    HpkiRevocationIgnored,
}

impl Fault {
    pub const ALL: [Fault; 18] = [
        Fault::ConsentUnchecked,
        Fault::RefillLimitOffByOne,
        Fault::CheckDigitUnvalidated,
        Fault::RefusedRequestStored,
        Fault::VisitUnchecked,
        Fault::RetrievalUnchecked,
        Fault::CodeAttemptsUnlimited,
        Fault::ExistenceRevealed,
        Fault::TokenLifetimeUncapped,
        Fault::RevocationIgnored,
        Fault::OverloadUnstructured,
        Fault::CardProofOptional,
        Fault::CardSignatureUnchecked,
        Fault::CardReplayAllowed,
        Fault::CardRevocationIgnored,
        Fault::GuideRulesUnchecked,
        Fault::SignerRoleUnchecked,
        Fault::HpkiRevocationIgnored,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Fault::ConsentUnchecked => "consent_unchecked",
            Fault::RefillLimitOffByOne => "refill_limit_off_by_one",
            Fault::CheckDigitUnvalidated => "check_digit_unvalidated",
            Fault::RefusedRequestStored => "refused_request_stored",
            Fault::VisitUnchecked => "visit_unchecked",
            Fault::RetrievalUnchecked => "retrieval_unchecked",
            Fault::CodeAttemptsUnlimited => "code_attempts_unlimited",
            Fault::ExistenceRevealed => "existence_revealed",
            Fault::TokenLifetimeUncapped => "token_lifetime_uncapped",
            Fault::RevocationIgnored => "revocation_ignored",
            Fault::OverloadUnstructured => "overload_unstructured",
            Fault::CardProofOptional => "card_proof_optional",
            Fault::CardSignatureUnchecked => "card_signature_unchecked",
            Fault::CardReplayAllowed => "card_replay_allowed",
            Fault::CardRevocationIgnored => "card_revocation_ignored",
            Fault::GuideRulesUnchecked => "guide_rules_unchecked",
            Fault::SignerRoleUnchecked => "signer_role_unchecked",
            Fault::HpkiRevocationIgnored => "hpki_revocation_ignored",
        }
    }

    pub(crate) fn bit(self) -> u32 {
        1 << (self as u32)
    }
}
