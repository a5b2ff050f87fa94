//! What a check finds when it does not pass, and the assertions the checks make of an exchange.

use dx_model::rundir::conformance::Exchange;

/// Why a check did not pass.
#[derive(Debug, Clone)]
pub enum Finding {
    /// The target broke the rule: what was expected, and the exchange that showed it.
    Fail {
        expected: String,
        exchange: Option<Box<Exchange>>,
    },
    /// The check does not apply to this target, and why.
    Skip(String),
    /// The check could not run (the target did not answer, the setup was refused).
    Error(String),
}

/// What a check returns.
pub type Outcome = Result<(), Finding>;

/// A failure: `expected`, shown with the exchange `ex`.
pub fn fail(ex: &Exchange, expected: impl Into<String>) -> Finding {
    Finding::Fail {
        expected: expected.into(),
        exchange: Some(Box::new(ex.clone())),
    }
}

/// Passes if the answer has the status.
pub fn status(ex: &Exchange, want: u16) -> Outcome {
    if ex.status == want {
        Ok(())
    } else {
        Err(fail(
            ex,
            format!("HTTP {want}, got {} {}", ex.status, ex.code().unwrap_or("")),
        ))
    }
}

/// Passes if the answer is the documented error: status, `error.code`, and a message.
pub fn error(ex: &Exchange, want: u16, code: &str) -> Outcome {
    let message = ex
        .at("/error/message")
        .and_then(|m| m.as_str())
        .is_some_and(|m| !m.is_empty());
    if ex.status == want && ex.code() == Some(code) && message {
        Ok(())
    } else {
        Err(fail(
            ex,
            format!(
                "HTTP {want} with {{\"error\": {{\"code\": \"{code}\", \"message\": …}}}}, got {} {}",
                ex.status,
                ex.code().unwrap_or("(no error code)")
            ),
        ))
    }
}

/// Passes if `ok`; otherwise fails with `expected`, shown with `ex`.
pub fn ensure(ok: bool, ex: &Exchange, expected: impl Into<String>) -> Outcome {
    if ok { Ok(()) } else { Err(fail(ex, expected)) }
}
