//! Limits on failed attempts per principal, kept in memory: wrong access codes per pharmacy,
//! wrong secrets per principal. Each key counts its failures in fixed one-minute windows; a key
//! at its limit is refused (`429 too_many_attempts`, with `Retry-After` the seconds left in the
//! window) before its request does any work. The table is bounded: when full, keys whose window
//! has ended are dropped, and if none has, the new key is counted under one shared overflow key,
//! so a flood of new names is limited as one.
//!
//! On a store that several exchange nodes serve ([`AttemptLimiter::share`]), the counts are
//! rows of the store that every node reads before an attempt and adds its failures to, so the
//! limit holds across nodes, not per node.

use crate::refusal::Refusal;
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

/// The shared store, and the kind the limiter's counts are kept under in it.
type Shared = (Arc<dyn crate::nodes::NodeStore + Send + Sync>, &'static str);

/// Every how many failures counted in a shared store a node forgets the ended windows.
const FORGET_EVERY: u32 = 256;

/// Wrong access codes a pharmacy may present in one minute.
pub const CODE_FAILURES_PER_MINUTE: u32 = 10;
/// Wrong secrets a principal may present in one minute.
pub const SECRET_FAILURES_PER_MINUTE: u32 = 5;
/// Most keys counted at once (Japan has about 250,000 facilities and pharmacies).
const MAX_KEYS: usize = 262_144;
const WINDOW_MS: i64 = 60_000;
const OVERFLOW: &str = "\0overflow";

/// Failures per key in the current minute.
pub struct AttemptLimiter {
    limit: u32,
    what: &'static str,
    counts: Mutex<HashMap<String, (i64, u32)>>,
    shared: OnceLock<Shared>,
    counted: AtomicU32,
}

impl AttemptLimiter {
    pub fn new(limit: u32, what: &'static str) -> Self {
        Self {
            limit,
            what,
            counts: Mutex::default(),
            shared: OnceLock::new(),
            counted: AtomicU32::new(0),
        }
    }

    /// Counts in `store`, under `kind`, from now on: the nodes that share it share the limit.
    pub fn share(&self, store: Arc<dyn crate::nodes::NodeStore + Send + Sync>, kind: &'static str) {
        let _ = self.shared.set((store, kind));
    }

    fn window(now: DateTime<Utc>) -> i64 {
        now.timestamp_millis().div_euclid(WINDOW_MS)
    }

    /// Refuses with 429 if `key` has reached its limit in the current minute.
    pub fn check(&self, key: &str, now: DateTime<Utc>) -> Result<(), Refusal> {
        let w = Self::window(now);
        let n = match self.shared.get() {
            Some((store, kind)) => store.failures(kind, key, w)?,
            None => {
                let counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
                let current = |c: &(i64, u32)| if c.0 == w { c.1 } else { 0 };
                match counts.get(key) {
                    Some(c) => current(c),
                    None if counts.len() >= MAX_KEYS => counts.get(OVERFLOW).map_or(0, current),
                    None => 0,
                }
            }
        };
        if n < self.limit {
            return Ok(());
        }
        let left_ms = (w + 1) * WINDOW_MS - now.timestamp_millis();
        let seconds = u32::try_from((left_ms + 999) / 1000).unwrap_or(60).max(1);
        Err(Refusal::too_many(
            "too_many_attempts",
            format!(
                "{} {} in a minute; try again in {seconds} s",
                self.limit, self.what
            ),
            seconds,
        ))
    }

    /// Counts one failure of `key`.
    pub fn fail(&self, key: &str, now: DateTime<Utc>) {
        let w = Self::window(now);
        if let Some((store, kind)) = self.shared.get() {
            if self.counted.fetch_add(1, Ordering::Relaxed) % FORGET_EVERY == 0 {
                let _ = store.forget_expired(i64::MIN, w - 1);
            }
            if let Err(e) = store.count_failure(kind, key, w) {
                tracing::error!(error = %e, "a failed attempt was not counted in the shared store");
            }
            return;
        }
        let mut counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        if counts.len() >= MAX_KEYS && !counts.contains_key(key) {
            counts.retain(|_, (kw, _)| *kw == w);
        }
        let key = if counts.len() >= MAX_KEYS && !counts.contains_key(key) {
            OVERFLOW
        } else {
            key
        };
        let c = counts.entry(key.to_owned()).or_insert((w, 0));
        if c.0 != w {
            *c = (w, 0);
        }
        c.1 = c.1.saturating_add(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: i64) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(1_800_000_000_000 + ms).unwrap()
    }

    #[test]
    fn a_key_is_refused_at_its_limit_until_the_minute_ends() {
        let l = AttemptLimiter::new(3, "wrong codes");
        for _ in 0..3 {
            l.check("a", at(0)).unwrap();
            l.fail("a", at(0));
        }
        let e = l.check("a", at(15_000)).unwrap_err();
        assert_eq!(e.code, "too_many_attempts");
        assert_eq!(e.retry_after, Some(45));
        // Another key is not affected; the next minute starts afresh.
        l.check("b", at(15_000)).unwrap();
        l.check("a", at(60_000)).unwrap();
    }
}
