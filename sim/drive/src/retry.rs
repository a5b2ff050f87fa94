//! The clients' retry policy (`[replay.retry]`): after a request is shed (503, 429), fails
//! (another 5xx) or gets no answer (a timeout, no connection), whether and when the facility's
//! system tries again — after `Retry-After` if the answer gives it, else after an exponential
//! backoff with full jitter — until its attempts or its deadline run out.

use crate::measure::Class;
use dx_scenario::{RetryKind, RetryPolicy};
use std::time::Duration;

/// What the client does after an attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// The answer stands (a success, a refusal, or a failure under no retry policy).
    Done,
    /// It stops trying: `attempts` or `deadline`.
    GiveUp(&'static str),
    /// It tries again after this wait.
    Again(Duration),
}

/// The step after attempt number `attempt` (from 1) ended as `class`, with `Retry-After`
/// `retry_after` (seconds) if given, `elapsed` after the request's first intended send; `draw`
/// is uniform in [0, 1) (the jitter).
pub fn next(
    policy: &RetryPolicy,
    attempt: u32,
    class: Class,
    retry_after: Option<u64>,
    elapsed: Duration,
    draw: f64,
) -> Step {
    let failed = matches!(class, Class::Shed | Class::ServerError | Class::Transport);
    if !failed || policy.kind == RetryKind::None {
        return Step::Done;
    }
    if attempt >= policy.max_attempts {
        return Step::GiveUp("attempts");
    }
    let wait = match retry_after {
        Some(s) => Duration::from_secs(s),
        None => {
            let bound = policy
                .base
                .saturating_mul(1 << (attempt - 1).min(20))
                .min(policy.max_backoff);
            bound.mul_f64(draw.clamp(0.0, 1.0))
        }
    };
    if elapsed + wait > policy.deadline {
        return Step::GiveUp("deadline");
    }
    Step::Again(wait)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn backoff() -> RetryPolicy {
        RetryPolicy {
            kind: RetryKind::Backoff,
            max_attempts: 4,
            base: Duration::from_millis(100),
            max_backoff: Duration::from_millis(1_000),
            deadline: Duration::from_secs(10),
            timeout: Duration::from_secs(5),
        }
    }

    #[test]
    fn retry_after_is_honoured_as_given_and_the_deadline_ends_the_tries() {
        let p = backoff();
        let at = |ms: u64| Duration::from_millis(ms);
        // Retry-After 2 s: waited whole, though beyond the largest backoff.
        assert_eq!(
            next(&p, 1, Class::Shed, Some(2), at(50), 0.9),
            Step::Again(Duration::from_secs(2))
        );
        // The same wait would pass the deadline: given up.
        assert_eq!(
            next(&p, 2, Class::Shed, Some(2), at(8_500), 0.9),
            Step::GiveUp("deadline")
        );
        // The fourth attempt was the last.
        assert_eq!(
            next(&p, 4, Class::Transport, None, at(100), 0.5),
            Step::GiveUp("attempts")
        );
        // Successes, refusals, and any answer under no policy stand.
        assert_eq!(next(&p, 1, Class::Ok, None, at(0), 0.5), Step::Done);
        assert_eq!(next(&p, 1, Class::Refused, Some(1), at(0), 0.5), Step::Done);
        let none = RetryPolicy {
            kind: RetryKind::None,
            max_attempts: 1,
            ..p
        };
        assert_eq!(next(&none, 1, Class::Shed, Some(1), at(0), 0.5), Step::Done);
    }

    #[test]
    fn the_backoff_doubles_to_its_bound_with_full_jitter() {
        let p = backoff();
        let wait =
            |attempt, draw| match next(&p, attempt, Class::ServerError, None, Duration::ZERO, draw)
            {
                Step::Again(w) => w,
                other => panic!("{other:?}"),
            };
        // Uniform in [0, base × 2^(attempt−1)), at most the largest backoff.
        assert_eq!(wait(1, 0.5), Duration::from_millis(50));
        assert_eq!(wait(2, 0.5), Duration::from_millis(100));
        assert_eq!(wait(3, 0.5), Duration::from_millis(200));
        assert_eq!(wait(3, 0.0), Duration::ZERO);
        let big = RetryPolicy {
            max_attempts: 20,
            ..p
        };
        assert_eq!(
            next(&big, 10, Class::ServerError, None, Duration::ZERO, 0.5),
            Step::Again(Duration::from_millis(500))
        );
    }
}
