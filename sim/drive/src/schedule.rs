//! The one schedule of a replay: the period's start, the speedup and the real instant the
//! replay starts. It gives the dispatcher each event's due instant and, for `dxsim run`, the
//! exchange its clock — the same simulated time on both sides.

use chrono::{DateTime, NaiveDateTime, Utc};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant, SystemTime};

/// When events are due and what time it is in the simulation.
#[derive(Debug)]
pub struct Schedule {
    /// Epoch milliseconds of the period's start (simulated).
    period_start_ms: i64,
    /// Simulated seconds per real second.
    speedup: f64,
    /// The real instant of the period's start, fixed once when the replay starts, and the same
    /// instant on the wall clock (what shards share, and the histogram logs' start time).
    t0: OnceLock<(Instant, SystemTime)>,
}

impl Schedule {
    /// The schedule of a period starting at `period_start` (JST wall time) replayed at
    /// `speedup`.
    pub fn new(period_start: NaiveDateTime, speedup: f64) -> Self {
        Self {
            period_start_ms: dx_protocol::time::jst_ms(period_start),
            speedup,
            t0: OnceLock::new(),
        }
    }

    pub fn speedup(&self) -> f64 {
        self.speedup
    }

    /// Starts the replay at `t0` (the first call counts).
    pub fn start(&self, t0: Instant) {
        let now = Instant::now();
        let wall = if t0 >= now {
            SystemTime::now() + (t0 - now)
        } else {
            SystemTime::now() - (now - t0)
        };
        let _ = self.t0.set((t0, wall));
    }

    /// Starts the replay at the wall-clock instant `at` (the first call counts), which every
    /// shard of a replay shares; returns how late this call is, if `at` has passed (every event
    /// due before now is then late by as much, and counted so).
    pub fn start_at(&self, at: SystemTime) -> Duration {
        let (now, wall) = (Instant::now(), SystemTime::now());
        let (t0, late) = match at.duration_since(wall) {
            Ok(ahead) => (now + ahead, Duration::ZERO),
            Err(e) => {
                let late = e.duration();
                (now.checked_sub(late).unwrap_or(now), late)
            }
        };
        let _ = self.t0.set((t0, at));
        late
    }

    /// The real instant the replay started, once it has.
    pub fn started(&self) -> Option<Instant> {
        self.t0.get().map(|t| t.0)
    }

    /// The wall-clock instant the replay started, once it has.
    pub fn started_wall(&self) -> Option<SystemTime> {
        self.t0.get().map(|t| t.1)
    }

    /// The real instant an event due at `at_ms` (simulated) is due; an event before the period
    /// is due at its start.
    ///
    /// # Panics
    /// Before [`Schedule::start`].
    pub fn due(&self, at_ms: i64) -> Instant {
        let t0 = self.started().expect("the replay has started");
        let sim_s = (at_ms - self.period_start_ms).max(0) as f64 / 1000.0;
        t0 + Duration::from_secs_f64(sim_s / self.speedup)
    }

    /// The whole seconds of the replay an instant falls in (0 before the start).
    pub fn second_of(&self, t: Instant) -> u64 {
        self.started()
            .map_or(0, |t0| t.saturating_duration_since(t0).as_secs())
    }

    /// Simulated time now: the period's start until the replay starts, then moving at the
    /// replay's speed.
    pub fn simulated_now(&self) -> DateTime<Utc> {
        let elapsed = self.started().map_or(0.0, |t| {
            Instant::now().saturating_duration_since(t).as_secs_f64()
        });
        DateTime::from_timestamp_millis(self.period_start_ms).expect("in range")
            + chrono::TimeDelta::microseconds((elapsed * self.speedup * 1e6) as i64)
    }
}

/// The clock `dxsim run` gives the exchange: the replay's simulated time, so that consent and
/// refill windows see the scenario's time.
impl dx_exchange::clock::Clock for Schedule {
    fn now(&self) -> DateTime<Utc> {
        self.simulated_now()
    }

    fn rate(&self) -> f64 {
        self.speedup
    }
}

/// What the target's clock follows.
#[derive(Debug, Clone)]
pub enum ServerClock {
    /// The wall clock (a vendor's server, or `dxsim serve`).
    Real,
    /// The replay's simulated time (the in-process exchange of `dxsim run`).
    Replay(Arc<Schedule>),
}

impl ServerClock {
    /// The target's time now.
    pub fn now(&self) -> DateTime<Utc> {
        match self {
            ServerClock::Real => Utc::now(),
            ServerClock::Replay(s) => s.simulated_now(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn due_times_and_simulated_time_follow_one_start() {
        let start = chrono::NaiveDate::from_ymd_opt(2025, 10, 6)
            .unwrap()
            .and_hms_opt(9, 0, 0)
            .unwrap();
        let s = Schedule::new(start, 60.0);
        // Before the replay starts, simulated time stands at the period's start (09:00 JST).
        assert_eq!(s.simulated_now().to_rfc3339(), "2025-10-06T00:00:00+00:00");
        let t0 = Instant::now();
        s.start(t0);
        s.start(t0 + Duration::from_secs(5));
        assert_eq!(s.started(), Some(t0));
        let an_hour_in = dx_protocol::time::jst_ms(start) + 3_600_000;
        assert_eq!(s.due(an_hour_in), t0 + Duration::from_secs(60));
        assert_eq!(s.due(0), t0);
        assert_eq!(s.second_of(t0 + Duration::from_millis(61_500)), 61);
    }

    #[test]
    fn a_start_on_the_wall_clock_is_late_only_once_passed() {
        let start = chrono::NaiveDate::from_ymd_opt(2025, 10, 6)
            .unwrap()
            .and_hms_opt(9, 0, 0)
            .unwrap();
        let ahead = Schedule::new(start, 1.0);
        let at = SystemTime::now() + Duration::from_secs(3);
        assert_eq!(ahead.start_at(at), Duration::ZERO);
        assert_eq!(ahead.started_wall(), Some(at));
        let wait = ahead.started().unwrap() - Instant::now();
        assert!(wait > Duration::from_secs(2) && wait <= Duration::from_secs(3));
        let behind = Schedule::new(start, 1.0);
        let late = behind.start_at(SystemTime::now() - Duration::from_secs(2));
        assert!(late >= Duration::from_secs(2) && late < Duration::from_secs(3));
        assert!(behind.started().unwrap() < Instant::now() - Duration::from_secs(1));
    }
}
