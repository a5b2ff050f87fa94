//! The conformance view (vendors): the suite's verdict, results by group, every failure with the
//! request, the response and what was expected, and every check with its rule, from
//! `conformance.json` (`dxsim conformance`).

use crate::chart::{Body, Chart};
use crate::data::read_run_file;
use crate::html::{Page, Table};
use std::path::Path;

pub use dx_model::rundir::conformance::{CheckResult, Counts, Exchange, Report};

const RESULTS: [&str; 4] = ["pass", "fail", "skip", "error"];

pub fn present(dir: &Path) -> bool {
    dx_model::rundir::present::<Report>(dir)
}

pub fn read(dir: &Path) -> anyhow::Result<Report> {
    read_run_file(dir)
}

/// Adds the conformance section of the result in `dir` to `page`.
pub fn section(mut page: Page, dir: &Path) -> anyhow::Result<Page> {
    let r = read(dir)?;
    let conforms = r.counts.fail == 0 && r.counts.error == 0;
    let mut groups: Vec<&str> = Vec::new();
    for c in &r.checks {
        if !groups.contains(&c.group.as_str()) {
            groups.push(&c.group);
        }
    }
    let mut rows = Vec::new();
    for g in &groups {
        for (k, kind) in RESULTS.iter().enumerate() {
            let n = r
                .checks
                .iter()
                .filter(|c| c.group == *g && c.result == *kind)
                .count();
            if n > 0 {
                rows.push((format!("{g} · {kind}"), n as f64, k));
            }
        }
    }
    let failing: Vec<&str> = groups
        .iter()
        .copied()
        .filter(|g| {
            r.checks
                .iter()
                .any(|c| c.group == *g && (c.result == "fail" || c.result == "error"))
        })
        .collect();
    page = page
        .heading(format!("Conformance (適合性試験): {}", r.target))
        .paragraph(format!(
            "{} checks by {} from {}: {} passed, {} failed, {} skipped, {} errors.",
            r.checks.len(),
            r.suite,
            r.started_at,
            r.counts.pass,
            r.counts.fail,
            r.counts.skip,
            r.counts.error
        ))
        .verdict(
            if conforms {
                "The target conforms: every check run passed.".to_owned()
            } else {
                format!("The target does not conform: failures in {}.", failing.join(", "))
            },
            conforms,
        )
        .figure(
            Chart {
                id: "conformance-results".into(),
                title: "Conformance checks by group and result".into(),
                x_label: "checks".into(),
                y_label: "group · result".into(),
                reading: format!(
                    "How many checks of each group passed, failed, were skipped or could not run; {} of {} passed.",
                    r.counts.pass,
                    r.checks.len()
                ),
                body: Body::Bars {
                    rows,
                    groups: RESULTS.iter().map(|s| (*s).to_owned()).collect(),
                },
            },
            false,
        )?;
    let bad: Vec<&CheckResult> = r
        .checks
        .iter()
        .filter(|c| c.result == "fail" || c.result == "error")
        .collect();
    if !bad.is_empty() {
        page = page.table(Table {
            caption: "Failures: what was expected, the request and the response".into(),
            columns: ["check", "expected", "request", "response"]
                .map(String::from)
                .to_vec(),
            rows: bad
                .iter()
                .map(|c| {
                    let (req, resp) = c.exchange.as_ref().map_or_else(
                        || (String::new(), String::new()),
                        |e| {
                            (
                                format!(
                                    "{} {} {}",
                                    e.method,
                                    e.path,
                                    e.request.as_deref().unwrap_or("")
                                ),
                                format!("HTTP {} {}", e.status, e.response),
                            )
                        },
                    );
                    vec![
                        format!("{} ({})", c.id, c.result),
                        c.message.clone().unwrap_or_default(),
                        req,
                        resp,
                    ]
                })
                .collect(),
        });
    }
    Ok(page.table(Table {
        caption: "Every check: the rule it checks and where the rule is written".into(),
        columns: ["check", "result", "rule", "source", "note"]
            .map(String::from)
            .to_vec(),
        rows: r
            .checks
            .iter()
            .map(|c| {
                vec![
                    format!("{} — {}", c.id, c.title),
                    c.result.clone(),
                    c.rule.clone(),
                    c.source.clone(),
                    if c.result == "skip" {
                        c.message.clone().unwrap_or_default()
                    } else {
                        String::new()
                    },
                ]
            })
            .collect(),
    }))
}
