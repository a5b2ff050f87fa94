//! `conformance.json`: every check's result, with the request and response of a failure.

use serde::{Deserialize, Serialize};

/// One request and its response, as a failure report shows them.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Exchange {
    pub method: String,
    pub path: String,
    /// The request body (cut at 4 KiB), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<String>,
    pub status: u16,
    /// The response body (cut at 4 KiB).
    pub response: String,
    /// The `Retry-After` header of the response, if it had one (429, 503).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<String>,
    /// The response body as JSON, for the checks (not written).
    #[serde(skip)]
    pub json: Option<serde_json::Value>,
}

impl Exchange {
    /// The error code of an error response.
    pub fn code(&self) -> Option<&str> {
        self.json.as_ref()?.pointer("/error/code")?.as_str()
    }

    /// A field of the JSON body by JSON pointer (`/coverage/insurer_number`).
    pub fn at(&self, pointer: &str) -> Option<&serde_json::Value> {
        self.json.as_ref()?.pointer(pointer)
    }

    pub fn text(&self, pointer: &str) -> String {
        self.at(pointer)
            .and_then(serde_json::Value::as_str)
            .unwrap_or_default()
            .to_owned()
    }
}

/// A check's result.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CheckResult {
    pub id: String,
    pub group: String,
    pub title: String,
    pub rule: String,
    pub source: String,
    /// `pass`, `fail`, `skip` or `error`.
    pub result: String,
    /// What was expected (fail), why it was skipped (skip), what went wrong (error).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exchange: Option<Exchange>,
    pub duration_ms: u64,
}

/// Counts of the results.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Counts {
    pub pass: u32,
    pub fail: u32,
    pub skip: u32,
    pub error: u32,
}

/// `conformance.json`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Report {
    pub target: String,
    pub suite: String,
    pub started_at: String,
    pub counts: Counts,
    pub checks: Vec<CheckResult>,
}

impl Report {
    /// Whether nothing failed or erred.
    pub fn passed(&self) -> bool {
        self.counts.fail == 0 && self.counts.error == 0
    }
}
