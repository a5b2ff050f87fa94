//! Why the exchange refuses a request, in the domain's terms: the kind of refusal, a stable code
//! (`consent_required`, `refill_window_not_open`, …), a message for the user and the request
//! field at fault. Rules, storage and handlers return a [`Refusal`]; only `error.rs` turns it
//! into an HTTP status and the JSON error body.

/// What kind of refusal it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The request is malformed or a field is invalid.
    Invalid,
    /// No valid credentials.
    Unauthenticated,
    /// Authenticated, but not allowed: role, consent, ownership.
    Forbidden,
    /// Nothing of that name exists (or may be seen by the caller).
    NotFound,
    /// The route does not take that method.
    MethodNotAllowed,
    /// The request conflicts with the current state (a second dispensing, a duplicate id).
    Conflict,
    /// What was asked for existed and has ended (an expired certification).
    Gone,
    /// The body exceeds its limit.
    TooLarge,
    /// The body is not of a type the route takes.
    UnsupportedMediaType,
    /// Too many failed attempts: wait (`Retry-After`) before trying again.
    TooManyAttempts,
    /// The service is at its bound of requests in flight: try again (`Retry-After`).
    Overloaded,
    /// The service is suspended by its operator (`crate::suspension`).
    Suspended,
    /// The request did not arrive in time.
    Timeout,
    /// Well-formed, but it breaks a rule (refill window, days limit, unknown drug).
    BrokenRule,
    /// The exchange itself failed; nothing was changed.
    Internal,
}

/// A refused request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub kind: Kind,
    pub code: &'static str,
    pub message: String,
    pub field: Option<String>,
    /// Seconds to wait before trying again (the `Retry-After` header), for 429 and 503.
    pub retry_after: Option<u32>,
}

impl Refusal {
    pub fn new(kind: Kind, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            kind,
            code,
            message: message.into(),
            field: None,
            retry_after: None,
        }
    }

    /// Names the request field at fault.
    pub fn at(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }

    /// The request is malformed or a field is invalid.
    pub fn invalid(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(Kind::Invalid, code, message)
    }

    /// No valid credentials.
    pub fn unauthenticated(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(Kind::Unauthenticated, code, message)
    }

    /// Authenticated, but not allowed (role, consent, ownership).
    pub fn forbidden(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(Kind::Forbidden, code, message)
    }

    pub fn not_found(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(Kind::NotFound, code, message)
    }

    /// The request conflicts with the current state (e.g. cancel after dispensing).
    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(Kind::Conflict, code, message)
    }

    /// What was asked for has ended.
    pub fn gone(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(Kind::Gone, code, message)
    }

    /// Well-formed, but breaks a rule (refill window, days limit, unknown drug).
    pub fn broken_rule(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(Kind::BrokenRule, code, message)
    }

    /// Too many failed attempts; try again after `seconds`.
    pub fn too_many(code: &'static str, message: impl Into<String>, seconds: u32) -> Self {
        Self {
            retry_after: Some(seconds),
            ..Self::new(Kind::TooManyAttempts, code, message)
        }
    }

    /// The service is at its bound of requests in flight; try again after `seconds`.
    pub fn overloaded(message: impl Into<String>, seconds: u32) -> Self {
        Self {
            retry_after: Some(seconds),
            ..Self::new(Kind::Overloaded, "overloaded", message)
        }
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(Kind::Internal, "internal", message)
    }

    /// The refusal as the error body's detail.
    pub fn to_detail(&self) -> dx_protocol::wire::ErrorDetail {
        dx_protocol::wire::ErrorDetail {
            code: self.code.to_string(),
            message: self.message.clone(),
            field: self.field.clone(),
        }
    }
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for Refusal {}
