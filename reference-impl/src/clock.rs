//! Time as a parameter. The server asks its [`Clock`] for "now" wherever a result depends on it
//! (consent windows, refill windows, token expiry), so tests and simulated replays can move time.

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use std::sync::Mutex;

pub use dx_protocol::time::{jst, jst_date};

/// A source of the current time.
pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> DateTime<Utc>;
    fn today_jst(&self) -> NaiveDate {
        jst_date(self.now())
    }
    /// Moves the clock forward, if it can be moved (`POST /v1/admin/clock`); the wall clock
    /// cannot.
    fn advance(&self, by: TimeDelta) -> bool {
        let _ = by;
        false
    }
    /// How many of its seconds pass in a second of wall time: 1 but for a replay's simulated
    /// clock, which runs at the replay's speedup. Windows meant in wall time (how long a card's
    /// signature stays fresh) are scaled by it, so a replay at 720× does not find a card proof
    /// stale after a fraction of a second.
    fn rate(&self) -> f64 {
        1.0
    }
}

/// The start (00:00 JST) of the Japanese day holding `at`.
pub fn start_of_day_jst(at: DateTime<Utc>) -> DateTime<Utc> {
    jst_date(at)
        .and_hms_opt(0, 0, 0)
        .expect("midnight exists")
        .and_local_timezone(jst())
        .single()
        .expect("JST has no gaps")
        .with_timezone(&Utc)
}

/// The wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that only moves when told to; used by tests to cross consent and refill windows.
#[derive(Debug)]
pub struct ManualClock(Mutex<DateTime<Utc>>);

impl ManualClock {
    pub fn new(start: DateTime<Utc>) -> Self {
        Self(Mutex::new(start))
    }

    pub fn advance(&self, by: TimeDelta) {
        let mut t = self.0.lock().unwrap_or_else(|e| e.into_inner());
        *t += by;
    }

    pub fn set(&self, to: DateTime<Utc>) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = to;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn advance(&self, by: TimeDelta) -> bool {
        ManualClock::advance(self, by);
        true
    }
}
