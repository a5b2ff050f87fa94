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
        if self.run.interrupted {
            t.push_str("interrupted: these figures cover the events released before the stop\n");
        }
        t
    }
}
