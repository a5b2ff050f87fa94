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
}

impl Fault {
    pub const ALL: [Fault; 4] = [
        Fault::ConsentUnchecked,
        Fault::RefillLimitOffByOne,
        Fault::CheckDigitUnvalidated,
        Fault::RefusedRequestStored,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Fault::ConsentUnchecked => "consent_unchecked",
            Fault::RefillLimitOffByOne => "refill_limit_off_by_one",
            Fault::CheckDigitUnvalidated => "check_digit_unvalidated",
            Fault::RefusedRequestStored => "refused_request_stored",
        }
    }

    pub(crate) fn bit(self) -> u8 {
        1 << (self as u8)
    }
}
