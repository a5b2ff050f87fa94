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

/// A replay's simulated clock, followed from another process (`dxsim run`'s supervised
/// exchange): the period's start until the replay starts, then moving at the replay's speedup
/// from the wall-clock instant it started.
#[derive(Debug)]
pub struct FollowedClock {
    period_start: DateTime<Utc>,
    speedup: f64,
    start: std::sync::OnceLock<std::time::SystemTime>,
}

impl FollowedClock {
    /// `<period start, JST>@<speedup>`, e.g. `2025-10-06T08:30:00@600`, and optionally
    /// `@<the replay's start, RFC 3339>` (an exchange restarted during the replay).
    pub fn parse(spec: &str) -> Result<FollowedClock, String> {
        let mut parts = spec.splitn(3, '@');
        let (Some(start), Some(speedup)) = (parts.next(), parts.next()) else {
            return Err(format!("{spec:?} is not <period start>@<speedup>"));
        };
        let began = parts
            .next()
            .map(|t| {
                chrono::DateTime::parse_from_rfc3339(t)
                    .map(|t| std::time::SystemTime::from(t.with_timezone(&Utc)))
                    .map_err(|_| format!("{t:?} is not an RFC 3339 instant"))
            })
            .transpose()?;
        let start = chrono::NaiveDateTime::parse_from_str(start, "%Y-%m-%dT%H:%M:%S")
            .map_err(|_| format!("{start:?} is not a JST date-time (YYYY-MM-DDTHH:MM:SS)"))?;
        let speedup: f64 = speedup
            .parse()
            .ok()
            .filter(|s: &f64| *s > 0.0 && s.is_finite())
            .ok_or_else(|| format!("{speedup:?} is not a speedup above 0"))?;
        let period_start = start
            .and_local_timezone(jst())
            .single()
            .ok_or("JST has no gaps")?
            .with_timezone(&Utc);
        let clock = FollowedClock {
            period_start,
            speedup,
            start: std::sync::OnceLock::new(),
        };
        if let Some(t) = began {
            clock.start_at(t);
        }
        Ok(clock)
    }

    /// Whether the replay's start is known.
    pub fn started(&self) -> bool {
        self.start.get().is_some()
    }

    /// The replay started at wall-clock instant `t` (the first call counts).
    pub fn start_at(&self, t: std::time::SystemTime) {
        let _ = self.start.set(t);
    }
}

impl Clock for FollowedClock {
    fn now(&self) -> DateTime<Utc> {
        let elapsed = self.start.get().map_or(0.0, |t0| {
            std::time::SystemTime::now()
                .duration_since(*t0)
                .map_or(0.0, |d| d.as_secs_f64())
        });
        self.period_start + TimeDelta::microseconds((elapsed * self.speedup * 1e6) as i64)
    }

    fn rate(&self) -> f64 {
        self.speedup
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
