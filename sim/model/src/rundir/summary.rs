//! `summary.json`: what a replay measured, per route, with its SLO verdicts.

use crate::route::Slo;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What was run, for the summary.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunInfo {
    pub scenario: String,
    pub target: String,
    pub speedup: f64,
    pub period_start: String,
    pub period_end: String,
    pub events: u64,
    pub max_in_flight: usize,
    /// Stopped before the stream's end (Ctrl-C or SIGTERM): the figures cover what was sent.
    pub interrupted: bool,
    /// Set when the replay was one shard of several (`dxsim drive --shard I/N`) or is the merge
    /// of all of them (`dxsim merge`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sharding: Option<Sharding>,
}

/// One shard of a replay cut into several, or the merge of them all.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sharding {
    /// The shard's index, from 0; absent in a merge.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<u32>,
    pub count: u32,
    /// The instant every shard's schedule started from (RFC 3339, UTC, milliseconds).
    pub start_at: String,
    /// The workload replayed: the SHA-256 of its manifest, which names its scenario, seed,
    /// period and counts.
    pub workload: String,
    /// How late the shard's replay began after `start_at` (in a merge, the latest of the
    /// shards), in milliseconds; its requests' lateness includes it.
    pub late_start_ms: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RouteSummary {
    pub count: u64,
    /// The events the requests carried (more than `count` where a request is a batch).
    #[serde(default)]
    pub items: u64,
    pub ok: u64,
    pub refused: u64,
    pub errors: u64,
    pub skipped: u64,
    pub error_rate: f64,
    pub throughput_per_s: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
    pub service_p50_ms: f64,
    pub service_p99_ms: f64,
    #[serde(default)]
    pub refusal_codes: BTreeMap<String, u64>,
    pub slo: Slo,
    /// Empty when the route meets its SLO.
    pub breaches: Vec<String>,
    /// Of `errors`: requests whose final answer was `503` or `429` (shed by the target).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub shed: u64,
    /// Attempts made again after a failure (not counted in `count`).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub retried: u64,
    /// Requests the client stopped trying, by reason (counted in `errors`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub given_up: BTreeMap<String, u64>,
    /// Requests a fault held at the facility and sent after it (counted once, when sent).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub deferred: u64,
    /// Registrations issued on paper instead (a fault), and the retrievals they spared.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub paper: u64,
    /// Reads a fault made the facility give up without sending.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub abandoned: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// What the requests of a stretch of the replay came to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Flow {
    /// Requests sent (first attempts).
    pub offered: u64,
    /// Answered 2xx or 4xx.
    pub answered: u64,
    /// Finally answered 503 or 429.
    pub shed: u64,
    /// Finally answered another 5xx, or not at all.
    pub failed: u64,
    pub retried: u64,
    pub given_up: u64,
    pub deferred: u64,
    pub paper: u64,
    pub abandoned: u64,
}

impl Flow {
    pub fn add(&mut self, o: &Flow) {
        self.offered += o.offered;
        self.answered += o.answered;
        self.shed += o.shed;
        self.failed += o.failed;
        self.retried += o.retried;
        self.given_up += o.given_up;
        self.deferred += o.deferred;
        self.paper += o.paper;
        self.abandoned += o.abandoned;
    }
}

/// What one fault of the scenario did.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FaultReport {
    /// `network_outage`, `service_suspended`.
    pub kind: String,
    /// The kind, its window and its scope, in words.
    pub label: String,
    /// Its window in seconds of the replay.
    pub replay_start_s: f64,
    pub replay_end_s: f64,
    /// The requests due inside the window.
    pub during: Flow,
    /// Requests waiting at its end: held by the fault and sent after it, or due inside it and
    /// answered only after it.
    pub backlog: u64,
    /// Requests sent per second of the replay in the window's length before it began.
    pub usual_per_s: f64,
    /// The most requests sent in one second of the replay from its end until recovery.
    pub recovery_peak_per_s: f64,
    /// Seconds of the replay from its end until every route's p99 of each second is back
    /// within its SLO (and stays so for 10 s); none if it never was within the replay.
    pub time_to_recover_s: Option<f64>,
    /// The same in simulated seconds.
    pub time_to_recover_simulated_s: Option<f64>,
    /// Acknowledged writes not found after the replay, where the fault could lose any.
    pub lost_writes: Option<u64>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Totals {
    pub requests: u64,
    pub errors: u64,
    pub refused: u64,
    pub skipped: u64,
    pub throughput_per_s: f64,
    /// Tokens the driver renewed during the replay (not counted as requests).
    pub token_refreshes: u64,
}

/// How late the driver itself started requests, against their schedule.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Lateness {
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub over_10ms: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Summary {
    pub run: RunInfo,
    pub elapsed_s: f64,
    /// Every route within its SLO.
    pub pass: bool,
    pub totals: Totals,
    pub lateness: Lateness,
    pub routes: BTreeMap<String, RouteSummary>,
    /// What each of the scenario's faults did, in its order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub faults: Vec<FaultReport>,
}

impl Summary {
    /// The summary as a text table.
    pub fn table(&self) -> String {
        let w = self
            .routes
            .keys()
            .map(String::len)
            .max()
            .unwrap_or(0)
            .max(15);
        let mut t = format!(
            "{:<w$} {:>8} {:>6} {:>6} {:>6} {:>8} {:>9} {:>9} {:>9} {:>9}  SLO\n",
            "route",
            "requests",
            "4xx",
            "errors",
            "skip",
            "req/s",
            "p50 ms",
            "p99 ms",
            "p99.9 ms",
            "max ms"
        );
        for (name, r) in &self.routes {
            t.push_str(&format!(
                "{:<w$} {:>8} {:>6} {:>6} {:>6} {:>8.1} {:>9.1} {:>9.1} {:>9.1} {:>9.1}  {}\n",
                name,
                r.count,
                r.refused,
                r.errors,
                r.skipped,
                r.throughput_per_s,
                r.p50_ms,
                r.p99_ms,
                r.p999_ms,
                r.max_ms,
                if r.breaches.is_empty() {
                    "pass".to_owned()
                } else {
                    format!("FAIL: {}", r.breaches.join("; "))
                }
            ));
        }
        t.push_str(&format!(
            "total {} requests in {:.1} s ({:.1}/s), {} errors, {} refused, {} skipped; driver lateness p50 {:.2} ms, p99 {:.2} ms, max {:.1} ms; verdict: {}\n",
            self.totals.requests,
            self.elapsed_s,
            self.totals.throughput_per_s,
            self.totals.errors,
            self.totals.refused,
            self.totals.skipped,
            self.lateness.p50_ms,
            self.lateness.p99_ms,
            self.lateness.max_ms,
            if self.pass { "PASS" } else { "FAIL" }
        ));
        let troubled: Vec<_> = self
            .routes
            .iter()
            .filter(|(_, r)| {
                r.shed + r.retried + r.deferred + r.paper + r.abandoned > 0
                    || !r.given_up.is_empty()
            })
            .collect();
        if !troubled.is_empty() {
            t.push_str(&format!(
                "{:<w$} {:>8} {:>8} {:>8} {:>8} {:>8} {:>9}  given up by reason\n",
                "route", "shed", "retried", "given up", "deferred", "paper", "abandoned"
            ));
            for (name, r) in troubled {
                t.push_str(&format!(
                    "{:<w$} {:>8} {:>8} {:>8} {:>8} {:>8} {:>9}  {}\n",
                    name,
                    r.shed,
                    r.retried,
                    r.given_up.values().sum::<u64>(),
                    r.deferred,
                    r.paper,
                    r.abandoned,
                    r.given_up
                        .iter()
                        .map(|(why, n)| format!("{why} {n}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
        }
        for f in &self.faults {
            t.push_str(&format!(
                "fault {}: {} due in it ({} shed, {} failed, {} retried, {} given up, {} deferred, {} on paper, {} abandoned); backlog at its end {}; recovery peak {:.1} req/s against {:.1} before; time to recover {}{}\n",
                f.label,
                f.during.offered + f.during.deferred + f.during.paper + f.during.abandoned,
                f.during.shed,
                f.during.failed,
                f.during.retried,
                f.during.given_up,
                f.during.deferred,
                f.during.paper,
                f.during.abandoned,
                f.backlog,
                f.recovery_peak_per_s,
                f.usual_per_s,
                match (f.time_to_recover_s, f.time_to_recover_simulated_s) {
                    (Some(r), Some(s)) => format!("{r:.1} s ({s:.0} s simulated)"),
                    _ => "not within the replay".to_owned(),
                },
                f.lost_writes
                    .map(|n| format!("; acknowledged writes lost {n}"))
                    .unwrap_or_default()
            ));
        }
        if self.run.interrupted {
            t.push_str("interrupted: these figures cover the events released before the stop\n");
        }
        t
    }
}
