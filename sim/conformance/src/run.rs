//! Running the suite: the filters, the runner, and what it writes (`conformance.json`, JUnit
//! XML, the console summary).

use crate::check::{Check, Ctx, GROUPS};
use crate::checks;
use crate::finding::Finding;
use crate::target::{Fixture, Target};
use dx_model::rundir::conformance::{CheckResult, Counts, Report};
use std::path::Path;

/// Which checks to run: those of the groups and those whose id starts with one of the ids; all
/// when neither is given.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub groups: Vec<String>,
    /// Check ids or id prefixes.
    pub ids: Vec<String>,
}

impl Filter {
    pub fn selects(&self, c: &Check) -> bool {
        (self.groups.is_empty() && self.ids.is_empty())
            || self.groups.iter().any(|g| g == c.group())
            || self.ids.iter().any(|i| c.id.starts_with(i.as_str()))
    }

    /// Refuses a group or id that names nothing.
    pub fn validate(&self, suite: &[Check]) -> anyhow::Result<()> {
        if let Some(g) = self.groups.iter().find(|g| !GROUPS.contains(&g.as_str())) {
            anyhow::bail!("--group {g}: not a group; groups are {}", GROUPS.join(", "));
        }
        if let Some(i) = self
            .ids
            .iter()
            .find(|i| !suite.iter().any(|c| c.id.starts_with(i.as_str())))
        {
            anyhow::bail!("--id {i}: no check has that id (dxsim conformance --list shows them)");
        }
        Ok(())
    }
}

/// Runs the selected checks against `base` with the admin secret (and, given `schema`, HL7's FHIR
/// R4 JSON schema for the returned Bundles); `progress` is told of each result as it comes.
pub async fn run(
    base: &str,
    admin_secret: &str,
    filter: &Filter,
    schema: Option<crate::fhir::Schema>,
    progress: &mut (dyn FnMut(&CheckResult) + Send),
) -> anyhow::Result<Report> {
    let suite = checks::all();
    filter.validate(&suite)?;
    let started = chrono::Utc::now();
    let nonce = format!("{:x}", started.timestamp_millis() % 0xff_ffff_ffff);
    let ctx = Ctx {
        t: Target::new(base, admin_secret),
        fx: Fixture::new(nonce),
        schema: schema.map(std::sync::Arc::new),
    };
    ctx.fx
        .set_up(&ctx.t)
        .await
        .map_err(|f| anyhow::anyhow!("setting up on {base}: {}", describe(&f)))?;
    let mut results = Vec::new();
    let mut counts = Counts::default();
    for c in suite.iter().filter(|c| filter.selects(c)) {
        let t0 = std::time::Instant::now();
        let outcome = (c.run)(&ctx).await;
        let (result, message, exchange) = match outcome {
            Ok(()) => {
                counts.pass += 1;
                ("pass", None, None)
            }
            Err(Finding::Fail { expected, exchange }) => {
                counts.fail += 1;
                ("fail", Some(expected), exchange.map(|e| *e))
            }
            Err(Finding::Skip(why)) => {
                counts.skip += 1;
                ("skip", Some(why), None)
            }
            Err(Finding::Error(what)) => {
                counts.error += 1;
                ("error", Some(what), None)
            }
        };
        let r = CheckResult {
            id: c.id.to_string(),
            group: c.group().into(),
            title: c.title.to_string(),
            rule: c.rule.to_string(),
            source: c.source.to_string(),
            result: result.into(),
            message,
            exchange,
            duration_ms: t0.elapsed().as_millis() as u64,
        };
        progress(&r);
        results.push(r);
    }
    Ok(Report {
        target: base.to_owned(),
        suite: format!("dxsim {}", env!("CARGO_PKG_VERSION")),
        started_at: started.to_rfc3339(),
        counts,
        checks: results,
    })
}

fn describe(f: &Finding) -> String {
    match f {
        Finding::Fail { expected, .. } => expected.clone(),
        Finding::Skip(s) | Finding::Error(s) => s.clone(),
    }
}

/// Writes `conformance.json` and `junit.xml` into `out`.
pub fn write(report: &Report, out: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(out)
        .map_err(|e| anyhow::anyhow!("{} is not writable: {e}", out.display()))?;
    dx_model::rundir::write(out, report)?;
    std::fs::write(out.join("junit.xml"), junit(report))?;
    Ok(())
}

fn xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // XML 1.0 allows no other control characters.
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => {
                out.push_str(&format!("\\u{:04x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out
}

/// A failure's details as text: expected, request, response.
pub fn details(r: &CheckResult) -> String {
    let mut s = format!(
        "{}\nrule: {} ({})",
        r.message.clone().unwrap_or_default(),
        r.rule,
        r.source
    );
    if let Some(e) = &r.exchange {
        s.push_str(&format!(
            "\nrequest: {} {}\n{}\nresponse: HTTP {}\n{}",
            e.method,
            e.path,
            e.request.as_deref().unwrap_or("(no body)"),
            e.status,
            e.response
        ));
    }
    s
}

/// The report as JUnit XML: one `testsuite` per group, one `testcase` per check.
pub fn junit(r: &Report) -> String {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    out.push_str(&format!(
        "<testsuites name=\"dxsim conformance\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\">\n",
        r.checks.len(),
        r.counts.fail,
        r.counts.error,
        r.counts.skip
    ));
    for g in GROUPS {
        let cases: Vec<&CheckResult> = r.checks.iter().filter(|c| c.group == g).collect();
        if cases.is_empty() {
            continue;
        }
        let n = |k: &str| cases.iter().filter(|c| c.result == k).count();
        let secs: f64 = cases.iter().map(|c| c.duration_ms as f64 / 1e3).sum();
        out.push_str(&format!(
            "  <testsuite name=\"{g}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\" time=\"{secs:.3}\">\n",
            cases.len(),
            n("fail"),
            n("error"),
            n("skip")
        ));
        for c in cases {
            out.push_str(&format!(
                "    <testcase classname=\"dxsim.conformance.{g}\" name=\"{}: {}\" time=\"{:.3}\"",
                xml(&c.id),
                xml(&c.title),
                c.duration_ms as f64 / 1e3
            ));
            let message = xml(c.message.as_deref().unwrap_or_default());
            match c.result.as_str() {
                "fail" => out.push_str(&format!(
                    ">\n      <failure message=\"{message}\">{}</failure>\n    </testcase>\n",
                    xml(&details(c))
                )),
                "error" => out.push_str(&format!(
                    ">\n      <error message=\"{message}\">{}</error>\n    </testcase>\n",
                    xml(&details(c))
                )),
                "skip" => out.push_str(&format!(
                    ">\n      <skipped message=\"{message}\"/>\n    </testcase>\n"
                )),
                _ => out.push_str("/>\n"),
            }
        }
        out.push_str("  </testsuite>\n");
    }
    out.push_str("</testsuites>\n");
    out
}

/// The console summary: a line per group, then each failure and error with its details.
pub fn summary(r: &Report) -> String {
    let mut out = format!(
        "{:<16} {:>5} {:>5} {:>5} {:>5}\n",
        "group", "pass", "fail", "skip", "error"
    );
    for g in GROUPS {
        let cases: Vec<&CheckResult> = r.checks.iter().filter(|c| c.group == g).collect();
        if cases.is_empty() {
            continue;
        }
        let n = |k: &str| cases.iter().filter(|c| c.result == k).count();
        out.push_str(&format!(
            "{g:<16} {:>5} {:>5} {:>5} {:>5}\n",
            n("pass"),
            n("fail"),
            n("skip"),
            n("error")
        ));
    }
    for c in r
        .checks
        .iter()
        .filter(|c| c.result == "fail" || c.result == "error")
    {
        out.push_str(&format!(
            "\n{} {} — {}\n{}\n",
            c.result.to_uppercase(),
            c.id,
            c.title,
            details(c)
        ));
    }
    for c in r.checks.iter().filter(|c| c.result == "skip") {
        out.push_str(&format!(
            "skipped {}: {}\n",
            c.id,
            c.message.as_deref().unwrap_or_default()
        ));
    }
    out.push_str(&format!(
        "{} checks: {} passed, {} failed, {} skipped, {} errors — {}\n",
        r.checks.len(),
        r.counts.pass,
        r.counts.fail,
        r.counts.skip,
        r.counts.error,
        if r.passed() {
            "CONFORMS"
        } else {
            "DOES NOT CONFORM"
        }
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_check_has_a_unique_id_in_a_known_group_and_a_source() {
        let suite = checks::all();
        assert!(suite.len() >= 40, "{} checks", suite.len());
        let mut ids: Vec<&str> = suite.iter().map(|c| &*c.id).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), suite.len(), "duplicate ids");
        for c in &suite {
            assert!(GROUPS.contains(&c.group()), "{}", c.id);
            assert!(!c.title.is_empty() && !c.rule.is_empty(), "{}", c.id);
            let guides = [
                dx_protocol::wire::guides::E_PRESCRIPTION,
                dx_protocol::wire::guides::JP_CLINS,
                dx_protocol::wire::guides::JP_CORE,
            ];
            let cites_guide = guides
                .iter()
                .any(|g| c.source.starts_with(&format!("{} {}", g.name, g.version)));
            assert!(
                c.source.starts_with("docs/api.md") || c.source.starts_with("FACTS") || cites_guide,
                "{}: {}",
                c.id,
                c.source
            );
            // A FHIR check names the guide, its release and the profile it holds to.
            if c.id.contains("fhir") || c.id.contains(".guide-") {
                assert!(cites_guide, "{}: {}", c.id, c.source);
            }
        }
        for g in GROUPS {
            assert!(suite.iter().any(|c| c.group() == g), "no check in {g}");
        }
    }

    #[test]
    fn junit_escapes_and_counts() {
        let r = Report {
            target: "http://x".into(),
            suite: "dxsim".into(),
            started_at: "now".into(),
            counts: Counts {
                pass: 1,
                fail: 1,
                skip: 0,
                error: 0,
            },
            checks: vec![
                CheckResult {
                    id: "errors.a".into(),
                    group: "errors".into(),
                    title: "A <b> & \"c\"".into(),
                    rule: "r".into(),
                    source: "docs/api.md".into(),
                    result: "fail".into(),
                    message: Some("HTTP 400\u{1}".into()),
                    exchange: None,
                    duration_ms: 5,
                },
                CheckResult {
                    id: "errors.b".into(),
                    result: "pass".into(),
                    message: None,
                    ..CheckResult {
                        id: String::new(),
                        group: "errors".into(),
                        title: "B".into(),
                        rule: "r".into(),
                        source: "docs/api.md".into(),
                        result: String::new(),
                        message: None,
                        exchange: None,
                        duration_ms: 1,
                    }
                },
            ],
        };
        let x = junit(&r);
        assert!(
            x.contains("name=\"errors.a: A &lt;b&gt; &amp; &quot;c&quot;\""),
            "{x}"
        );
        assert!(x.contains("<failure message=\"HTTP 400\\u0001\">"), "{x}");
        assert!(x.contains("tests=\"2\" failures=\"1\""), "{x}");
        assert!(!r.passed());
    }
}
