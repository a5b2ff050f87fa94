//! Measurement during a replay: per second of intended send time, route and status class, HDR
//! histograms of latency from the *intended* send time (so a late driver or a slow server cannot
//! hide queueing: no coordinated omission) and of service time from the actual send, and the
//! driver's own lateness, written to the run's histogram logs ([`crate::hlog`]) as each second
//! closes; and the tallies the histograms do not hold. [`crate::results`] makes the summary and
//! the series from them.

use crate::hlog::{self, Log, MAX_US};
use dx_model::route::Route;
use dx_model::rundir::summary::Summary;
use hdrhistogram::Histogram;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// How a request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum Class {
    /// 2xx.
    Ok,
    /// 4xx: the exchange refused (a rule, or a stream the target's state does not match).
    Refused,
    /// 503 or 429: shed by the target (overloaded, suspended, too many attempts).
    Shed,
    /// Another 5xx.
    ServerError,
    /// No HTTP answer (connection refused, reset, timeout).
    Transport,
}

impl Class {
    pub fn of_status(status: u16) -> Class {
        match status {
            200..=399 => Class::Ok,
            429 | 503 => Class::Shed,
            400..=499 => Class::Refused,
            _ => Class::ServerError,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Class::Ok => "2xx",
            Class::Refused => "4xx",
            Class::Shed => "shed",
            Class::ServerError => "5xx",
            Class::Transport => "transport",
        }
    }
    pub fn parse(s: &str) -> Option<Class> {
        [
            Class::Ok,
            Class::Refused,
            Class::Shed,
            Class::ServerError,
            Class::Transport,
        ]
        .into_iter()
        .find(|c| c.as_str() == s)
    }
    pub fn is_error(self) -> bool {
        matches!(self, Class::Shed | Class::ServerError | Class::Transport)
    }
}

/// What befell a request besides its final answer, counted per second of its intended send in
/// the outcomes log (`outcomes.hlog`, tagged `<route>.<what>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Happening {
    /// An attempt made again after a failure (the value: the wait before it).
    Retried,
    /// The client stopped trying (the value: the time from the intended send).
    GivenUp,
    /// A fault held it at the facility; it was sent after (the value: how long it was held).
    Deferred,
    /// A registration issued on paper instead, or a retrieval a paper prescription spared.
    Paper,
    /// A read the facility gave up without sending.
    Abandoned,
}

impl Happening {
    pub const ALL: [Happening; 5] = [
        Happening::Retried,
        Happening::GivenUp,
        Happening::Deferred,
        Happening::Paper,
        Happening::Abandoned,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Happening::Retried => "retried",
            Happening::GivenUp => "given_up",
            Happening::Deferred => "deferred",
            Happening::Paper => "paper",
            Happening::Abandoned => "abandoned",
        }
    }

    pub fn parse(s: &str) -> Option<Happening> {
        Self::ALL.into_iter().find(|h| h.as_str() == s)
    }
}

/// One finished request.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    pub route: Route,
    pub class: Class,
    /// Microseconds from the intended send time to the end of the response.
    pub from_intended_us: u64,
    /// Microseconds from the actual send to the end of the response.
    pub service_us: u64,
    /// Whole seconds since the replay began, of the intended send time.
    pub second: u64,
    /// Events the request carried (a batch carries several).
    pub items: u32,
}

/// What a replay counts besides its histograms.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Tallies {
    /// The events each route's requests carried (a batch carries several).
    pub items: BTreeMap<Route, u64>,
    /// Requests not sent because an earlier one they needed failed.
    pub skipped: BTreeMap<Route, u64>,
    /// Refusals by route and error code.
    pub refusals: BTreeMap<(Route, String), u64>,
    /// Requests the driver started more than 10 ms late.
    pub late_over_10ms: u64,
    /// Tokens renewed during the replay (not counted as requests).
    pub token_refreshes: u64,
    /// Requests given up, by route and reason.
    pub given_up: BTreeMap<(Route, String), u64>,
    /// Per fault of the scenario (in its order): requests waiting at its end.
    pub backlog: Vec<u64>,
}

impl Tallies {
    /// Adds another shard's tallies.
    pub fn add(&mut self, o: &Tallies) {
        for (r, n) in &o.items {
            *self.items.entry(*r).or_default() += n;
        }
        for (r, n) in &o.skipped {
            *self.skipped.entry(*r).or_default() += n;
        }
        for (k, n) in &o.refusals {
            *self.refusals.entry(k.clone()).or_default() += n;
        }
        self.late_over_10ms += o.late_over_10ms;
        self.token_refreshes += o.token_refreshes;
        for (k, n) in &o.given_up {
            *self.given_up.entry(k.clone()).or_default() += n;
        }
        if self.backlog.len() < o.backlog.len() {
            self.backlog.resize(o.backlog.len(), 0);
        }
        for (i, n) in o.backlog.iter().enumerate() {
            self.backlog[i] += n;
        }
    }

    /// The tallies a summary holds.
    pub fn of_summary(s: &Summary) -> anyhow::Result<Tallies> {
        let mut t = Tallies {
            late_over_10ms: s.lateness.over_10ms,
            token_refreshes: s.totals.token_refreshes,
            ..Tallies::default()
        };
        for (name, r) in &s.routes {
            let route = Route::parse(name)
                .ok_or_else(|| anyhow::anyhow!("summary.json names an unknown route {name:?}"))?;
            if r.items > 0 {
                t.items.insert(route, r.items);
            }
            if r.skipped > 0 {
                t.skipped.insert(route, r.skipped);
            }
            for (code, n) in &r.refusal_codes {
                t.refusals.insert((route, code.clone()), *n);
            }
            for (why, n) in &r.given_up {
                t.given_up.insert((route, why.clone()), *n);
            }
        }
        t.backlog = s.faults.iter().map(|f| f.backlog).collect();
        Ok(t)
    }
}

/// Seconds a second stays open after a later one has begun: requests due in it that end later
/// still are written as a second line of its interval (readers add them).
const OPEN_S: u64 = 60;

/// The requests and lateness of one second not yet written.
#[derive(Default)]
struct Open {
    /// (route, class, latency from the intended send time µs, service time µs).
    requests: Vec<(Route, Class, u32, u32)>,
    lateness: Vec<u32>,
    happenings: Vec<(Route, Happening, u32)>,
}

/// Everything measured during one replay: open seconds in memory (at most [`OPEN_S`] behind the
/// newest), closed ones in the logs.
pub struct Recorder {
    run_dir: PathBuf,
    about: String,
    open: BTreeMap<u64, Open>,
    newest: u64,
    logs: Option<hlog::Writer>,
    /// The first failure to write the logs, reported at the end.
    failed: Option<String>,
    pub tallies: Tallies,
}

fn us32(us: u64) -> u32 {
    u32::try_from(us.clamp(1, MAX_US)).unwrap_or(u32::MAX)
}

impl Recorder {
    /// A recorder writing its logs into `run_dir/histograms`, their headers saying `about`.
    pub fn new(run_dir: &Path, about: String) -> Self {
        Self {
            run_dir: run_dir.to_path_buf(),
            about,
            open: BTreeMap::new(),
            newest: 0,
            logs: None,
            failed: None,
            tallies: Tallies::default(),
        }
    }

    /// Starts the logs: second 0 is the wall-clock instant `start`.
    pub fn begin(&mut self, start: SystemTime) -> anyhow::Result<()> {
        self.logs = Some(hlog::Writer::create(&self.run_dir, start, &self.about)?);
        Ok(())
    }

    pub fn record(&mut self, s: Sample) {
        let o = self.second(s.second);
        o.requests.push((
            s.route,
            s.class,
            us32(s.from_intended_us),
            us32(s.service_us),
        ));
        *self.tallies.items.entry(s.route).or_default() += u64::from(s.items.max(1));
        self.close_old();
    }

    /// The driver started a request due in `second` of the replay `us` microseconds late.
    pub fn record_lateness(&mut self, second: u64, us: u64) {
        self.tallies.late_over_10ms += u64::from(us > 10_000);
        self.second(second).lateness.push(us32(us));
        self.close_old();
    }

    fn second(&mut self, second: u64) -> &mut Open {
        self.newest = self.newest.max(second);
        self.open.entry(second).or_default()
    }

    /// Something befell a request due in `second` (`us`: see [`Happening`]).
    pub fn happened(&mut self, second: u64, route: Route, what: Happening, us: u64) {
        self.second(second).happenings.push((route, what, us32(us)));
        self.close_old();
    }

    /// A request was given up, for `reason`.
    pub fn give_up(&mut self, route: Route, reason: String) {
        *self.tallies.given_up.entry((route, reason)).or_default() += 1;
    }

    /// A request due in fault `fault`'s window was still waiting at its end.
    pub fn backlog(&mut self, fault: usize) {
        if self.tallies.backlog.len() <= fault {
            self.tallies.backlog.resize(fault + 1, 0);
        }
        self.tallies.backlog[fault] += 1;
    }

    /// A request not sent because an earlier one it needed failed.
    pub fn skip(&mut self, route: Route) {
        *self.tallies.skipped.entry(route).or_default() += 1;
    }

    /// Notes the error code of a refusal, for the summary.
    pub fn refusal(&mut self, route: Route, code: String) {
        *self.tallies.refusals.entry((route, code)).or_default() += 1;
    }

    /// Writes the seconds more than [`OPEN_S`] behind the newest.
    fn close_old(&mut self) {
        let Some(&first) = self.open.keys().next() else {
            return;
        };
        if first + OPEN_S >= self.newest {
            return;
        }
        let keep = self.open.split_off(&(self.newest - OPEN_S));
        let closing = std::mem::replace(&mut self.open, keep);
        if let Err(e) = self.write(closing) {
            self.failed.get_or_insert(format!("{e:#}"));
        }
    }

    fn write(&mut self, seconds: BTreeMap<u64, Open>) -> anyhow::Result<()> {
        if self.logs.is_none() {
            self.begin(SystemTime::now())?;
        }
        let logs = self.logs.as_mut().expect("begun");
        for (second, o) in seconds {
            let mut latency: BTreeMap<(Route, Class), Histogram<u64>> = BTreeMap::new();
            let mut service: BTreeMap<Route, Histogram<u64>> = BTreeMap::new();
            for (route, class, from_intended, served) in o.requests {
                latency
                    .entry((route, class))
                    .or_insert_with(hlog::histogram)
                    .record(u64::from(from_intended))
                    .expect("clamped");
                service
                    .entry(route)
                    .or_insert_with(hlog::histogram)
                    .record(u64::from(served))
                    .expect("clamped");
            }
            for ((route, class), h) in &latency {
                let tag = format!("{}.{}", route.as_str(), class.as_str());
                logs.write(Log::Latency, second, Some(&tag), h)?;
            }
            for (route, h) in &service {
                logs.write(Log::Service, second, Some(route.as_str()), h)?;
            }
            if !o.lateness.is_empty() {
                let mut h = hlog::histogram();
                for us in o.lateness {
                    h.record(u64::from(us)).expect("clamped");
                }
                logs.write(Log::Lateness, second, None, &h)?;
            }
            let mut happenings: BTreeMap<(Route, Happening), Histogram<u64>> = BTreeMap::new();
            for (route, what, us) in o.happenings {
                happenings
                    .entry((route, what))
                    .or_insert_with(hlog::histogram)
                    .record(u64::from(us))
                    .expect("clamped");
            }
            for ((route, what), h) in &happenings {
                let tag = format!("{}.{}", route.as_str(), what.as_str());
                logs.write(Log::Outcomes, second, Some(&tag), h)?;
            }
        }
        Ok(())
    }

    /// Writes every open second and closes the logs.
    pub fn finish(&mut self) -> anyhow::Result<()> {
        let open = std::mem::take(&mut self.open);
        self.write(open)?;
        if let Some(e) = self.failed.take() {
            anyhow::bail!("writing the histogram logs: {e}");
        }
        self.logs.take().expect("written").finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hlog::Intervals;
    use crate::results::{About, write};
    use dx_model::rundir::summary::RunInfo;
    use dx_scenario::SloSection;

    fn info() -> RunInfo {
        RunInfo {
            scenario: "t".into(),
            target: "x".into(),
            speedup: 1.0,
            period_start: String::new(),
            period_end: String::new(),
            events: 0,
            max_in_flight: 1,
            interrupted: false,
            sharding: None,
        }
    }

    #[test]
    fn latency_from_the_intended_time_decides_the_verdict() {
        let dir = tempfile::tempdir().unwrap();
        let mut r = Recorder::new(dir.path(), "test".into());
        r.begin(SystemTime::now()).unwrap();
        for i in 0..1000u64 {
            // The server answers in 1 ms, but the driver sent the last 20 late by 2 s: from the
            // intended time those are 2 s requests, and p99 must say so.
            let late = if i >= 980 { 2_000_000 } else { 0 };
            r.record(Sample {
                route: Route::Verify,
                class: Class::Ok,
                from_intended_us: 1_000 + late,
                service_us: 1_000,
                second: i / 10,
                items: 1,
            });
            r.record_lateness(i / 10, late);
        }
        r.record(Sample {
            route: Route::Register,
            class: Class::ServerError,
            from_intended_us: 5_000,
            service_us: 5_000,
            second: 0,
            items: 1,
        });
        r.skip(Route::Retrieve);
        r.finish().unwrap();
        let mut logs = Intervals::default();
        logs.read(dir.path()).unwrap();
        let slo = SloSection::default();
        let s = write(
            dir.path(),
            &logs,
            None,
            &r.tallies,
            About {
                info: info(),
                elapsed_s: 10.0,
                slo: &|route| slo.for_route(route),
                calibration_source: "test".into(),
                faults: Vec::new(),
            },
        )
        .unwrap();
        let v = &s.routes["verify"];
        assert!(v.p99_ms > 1_900.0 && v.service_p99_ms < 2.0, "{v:?}");
        assert!(!v.breaches.is_empty() && !s.pass);
        assert_eq!((v.count, v.ok, v.items), (1000, 1000, 1000));
        assert_eq!(s.routes["register"].errors, 1);
        assert_eq!(s.routes["retrieve"].skipped, 1);
        assert_eq!(s.totals.requests, 1001);
        assert_eq!(s.lateness.over_10ms, 20);
        // 1,000 verify service times make a fit; one register does not.
        let c: dx_model::rundir::calibration::Calibration =
            dx_model::rundir::read(dir.path()).unwrap();
        assert_eq!(c.routes.keys().collect::<Vec<_>>(), ["verify"]);
        assert_eq!(c.routes["verify"].samples, 1000);
        let csv = std::fs::read_to_string(dir.path().join("timeseries.csv")).unwrap();
        assert!(csv.contains("\n0,verify,10,0,0,"), "{csv}");
        assert!(csv.contains("\n0,register,1,1,0,"), "{csv}");
        // Seconds more than a minute behind were written while the replay went on: with 100
        // seconds of samples, the first ones were closed before the end.
        let text = std::fs::read_to_string(dir.path().join("histograms/latency.hlog")).unwrap();
        assert!(text.contains("Tag=verify.2xx,0.000,1.000,"), "{text}");
    }
}
