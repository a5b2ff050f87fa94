//! `dx-reports`: turns dxsim's run outputs into reports people open in a browser.
//!
//! [`write`] looks in a run directory for what it holds — a replay ([`load`]), a capacity result
//! ([`capacity`]), a rollout ([`rollout`]) — and writes `report.html` (self-contained: style,
//! font and charts inline, no external URLs), each chart as `report/figures/<id>.svg` and its
//! numbers as `report/tables/<id>.csv`. [`html`] builds pages, [`chart`] draws with plotters and
//! keeps the numbers it drew, [`data`] reads the run's tables with polars, [`font`] is the
//! embedded font and [`terms`] the Japanese names shown beside English ones.

pub mod capacity;
pub mod chart;
pub mod conformance;
pub mod data;
pub mod faults;
pub mod font;
pub mod html;
pub mod load;
pub mod rollout;
pub mod terms;

use anyhow::Context as _;
use std::path::{Path, PathBuf};

/// What [`write`] produced.
#[derive(Debug, Clone)]
pub struct Written {
    pub html: PathBuf,
    /// Chart ids, in page order.
    pub charts: Vec<String>,
    /// The sections found: `rollout`, `load`, `conformance`, `capacity`.
    pub sections: Vec<&'static str>,
}

/// Writes the report of the run in `dir` into it.
pub fn write(dir: &Path) -> anyhow::Result<Written> {
    is_dir(dir)?;
    let cap = capacity::locate(dir);
    let name = if rollout::present(dir) {
        rollout::summary(dir)?.scenario
    } else if conformance::present(dir) && !load::present(dir) {
        conformance::read(dir)?.target
    } else if load::present(dir) {
        data::read_run_file::<load::Summary>(dir)?.run.scenario
    } else if let Some(c) = &cap {
        data::read_run_file::<capacity::CapacityReport>(c)?.scenario
    } else {
        String::new()
    };
    let mut page = html::Page::new(format!("dxsim report — {name}"));
    let mut sections = Vec::new();
    if rollout::present(dir) {
        page = rollout::section(page, dir).context("the rollout section")?;
        sections.push("rollout");
    }
    if load::present(dir) {
        page = load::section(page, dir).context("the load-test section")?;
        sections.push("load");
    }
    if faults::present(dir) {
        page = faults::section(page, dir).context("the faults section")?;
        sections.push("faults");
    }
    if conformance::present(dir) {
        page = conformance::section(page, dir).context("the conformance section")?;
        sections.push("conformance");
    }
    if let Some(cap) = cap {
        page = capacity::section(page, &cap).context("the capacity section")?;
        sections.push("capacity");
    }
    if sections.is_empty() {
        anyhow::bail!(
            "{} holds no results to report: a rollout (rollout.json from dxsim report SCENARIO.toml), a conformance result (conformance.json), a replay (summary.json and latency-windows.parquet from dxsim run or drive) or a capacity result (capacity.json and capacity-minutes.parquet)",
            dir.display()
        );
    }
    page = page.paragraph(format!(
        "Written by dxsim {} from the run's own files; every chart's numbers are in report/tables/<chart>.csv beside this page and the charts as SVG in report/figures/.",
        env!("CARGO_PKG_VERSION"),
    ));
    save(dir, &page, sections)
}

/// The charts of the report written in `dir` (the stems of `report/figures/*.svg`), sorted.
pub fn figures(dir: &Path) -> anyhow::Result<Vec<String>> {
    let figures = dir.join("report/figures");
    let mut ids = Vec::new();
    for e in
        std::fs::read_dir(&figures).with_context(|| format!("reading {}", figures.display()))?
    {
        let path = e?.path();
        if path.extension().is_some_and(|x| x == "svg") {
            if let Some(stem) = path.file_stem() {
                ids.push(stem.to_string_lossy().into_owned());
            }
        }
    }
    ids.sort();
    Ok(ids)
}

fn save(dir: &Path, page: &html::Page, sections: Vec<&'static str>) -> anyhow::Result<Written> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let figures = dir.join("report/figures");
    let tables = dir.join("report/tables");
    for d in [&figures, &tables] {
        std::fs::create_dir_all(d).with_context(|| format!("creating {}", d.display()))?;
    }
    let mut charts = Vec::new();
    for c in page.charts() {
        std::fs::write(figures.join(format!("{}.svg", c.id)), c.svg()?)?;
        std::fs::write(tables.join(format!("{}.csv", c.id)), c.csv())?;
        charts.push(c.id.clone());
    }
    let html = dir.join("report.html");
    std::fs::write(&html, page.render()).with_context(|| format!("writing {}", html.display()))?;
    Ok(Written {
        html,
        charts,
        sections,
    })
}

/// Writes into `out` a page setting two run directories side by side: the views both hold
/// (SLO verdicts and p99 by route; workers and worst-hour p99 by service), each chart with a bar
/// for A and one for B.
pub fn compare(a: &Path, b: &Path, out: &Path) -> anyhow::Result<Written> {
    is_dir(a)?;
    is_dir(b)?;
    let mut names = [a, b].map(|d| {
        d.file_name().map_or_else(
            || d.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        )
    });
    // Two rollouts of different scenarios go by their scenarios' names.
    if rollout::present(a) && rollout::present(b) {
        let scenarios = [rollout::summary(a)?.scenario, rollout::summary(b)?.scenario];
        if scenarios[0] != scenarios[1] {
            names = scenarios;
        }
    }
    let groups = vec![format!("A: {}", names[0]), format!("B: {}", names[1])];
    let mut page = html::Page::new(format!(
        "dxsim comparison — A: {} · B: {}",
        names[0], names[1]
    ));
    let mut sections = Vec::new();
    if rollout::present(a) && rollout::present(b) {
        page = rollout::compare_section(page, a, b, &groups)?;
        sections.push("rollout");
    }
    if load::present(a) && load::present(b) {
        let sa: load::Summary = data::read_run_file(a)?;
        let sb: load::Summary = data::read_run_file(b)?;
        let mut routes: Vec<&String> = sa.routes.keys().chain(sb.routes.keys()).collect();
        routes.sort();
        routes.dedup();
        let mut rows = Vec::new();
        for r in routes {
            for (g, s) in [&sa, &sb].into_iter().enumerate() {
                if let Some(x) = s.routes.get(r) {
                    rows.push((
                        format!("{} · {}", terms::label(r), &groups[g][..1]),
                        x.p99_ms,
                        g,
                    ));
                }
            }
        }
        page = page
            .heading("Load test (負荷試験): A and B")
            .paragraph(format!(
                "A: {} against {}, {} requests, verdict {}. B: {} against {}, {} requests, verdict {}.",
                sa.run.scenario,
                sa.run.target,
                sa.totals.requests,
                if sa.pass { "PASS" } else { "FAIL" },
                sb.run.scenario,
                sb.run.target,
                sb.totals.requests,
                if sb.pass { "PASS" } else { "FAIL" },
            ))
            .figure(
                chart::Chart {
                    id: "compare-p99".into(),
                    title: "p99 latency by route, A and B".into(),
                    x_label: "p99 latency from the intended send (ms)".into(),
                    y_label: "route · run".into(),
                    reading: "Each route's p99 over the whole replay in both runs, A above B; a longer bar is a slower route.".into(),
                    body: chart::Body::Bars { rows, groups: groups.clone() },
                },
                false,
            )?
            .table(retitled(load::slo_table(&sa), &groups[0]))
            .table(retitled(load::slo_table(&sb), &groups[1]));
        sections.push("load");
    }
    if let (Some(ca), Some(cb)) = (capacity::locate(a), capacity::locate(b)) {
        let ra: capacity::CapacityReport = data::read_run_file(&ca)?;
        let rb: capacity::CapacityReport = data::read_run_file(&cb)?;
        let mut rows = Vec::new();
        for s in &ra.services {
            for (g, r) in [&ra, &rb].into_iter().enumerate() {
                if let Some(x) = r.services.iter().find(|x| x.service == s.service) {
                    let workers = f64::from(x.servers.unwrap_or(0));
                    rows.push((
                        format!("{} · {}", terms::label(s.service.as_str()), &groups[g][..1]),
                        workers,
                        g,
                    ));
                }
            }
        }
        page = page
            .heading("Capacity (処理能力): A and B")
            .figure(
                chart::Chart {
                    id: "compare-servers".into(),
                    title: "Workers each service needs, A and B".into(),
                    x_label: "workers (servers in parallel)".into(),
                    y_label: "service · run".into(),
                    reading: format!(
                        "The size of each central service in both results (A: {} from {} to {}; B: {} from {} to {}).",
                        ra.scenario, ra.period_start, ra.period_end, rb.scenario, rb.period_start, rb.period_end
                    ),
                    body: chart::Body::Bars { rows, groups: groups.clone() },
                },
                false,
            )?
            .table(retitled(capacity::sizing_table(&ra), &groups[0]))
            .table(retitled(capacity::sizing_table(&rb), &groups[1]));
        sections.push("capacity");
    }
    if sections.is_empty() {
        anyhow::bail!(
            "{} and {} have no view in common to compare: both need a rollout (rollout.json), a replay (summary.json) or a capacity result (capacity.json)",
            a.display(),
            b.display()
        );
    }
    save(out, &page, sections)
}

fn is_dir(dir: &Path) -> anyhow::Result<()> {
    match std::fs::metadata(dir) {
        Ok(m) if m.is_dir() => Ok(()),
        Ok(_) => anyhow::bail!("{} is not a directory: give a run directory", dir.display()),
        Err(e) => anyhow::bail!("{}: {e}", dir.display()),
    }
}

fn retitled(mut t: html::Table, run: &str) -> html::Table {
    t.caption = format!("{run} — {}", t.caption);
    t
}
