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
pub mod data;
pub mod font;
pub mod html;
pub mod load;
pub mod terms;

use anyhow::Context as _;
use std::path::{Path, PathBuf};

/// What [`write`] produced.
#[derive(Debug, Clone)]
pub struct Written {
    pub html: PathBuf,
    /// Chart ids, in page order.
    pub charts: Vec<String>,
    /// The sections found: `rollout`, `load`, `capacity`.
    pub sections: Vec<&'static str>,
}

/// Writes the report of the run in `dir` into it.
pub fn write(dir: &Path) -> anyhow::Result<Written> {
    let cap = capacity::locate(dir);
    let name = if load::present(dir) {
        data::read_json::<load::Summary>(&dir.join("summary.json"))?
            .run
            .scenario
    } else if let Some(c) = &cap {
        data::read_json::<capacity::CapacityReport>(&c.join("capacity.json"))?.scenario
    } else {
        String::new()
    };
    let mut page = html::Page::new(format!("dxsim report — {name}"));
    let mut sections = Vec::new();
    if load::present(dir) {
        page = load::section(page, dir).context("the load-test section")?;
        sections.push("load");
    }
    if let Some(cap) = cap {
        page = capacity::section(page, &cap).context("the capacity section")?;
        sections.push("capacity");
    }
    if sections.is_empty() {
        anyhow::bail!(
            "{} holds no results to report: a replay (summary.json and latency-windows.parquet from dxsim run or drive) or a capacity result (capacity.json and capacity-minutes.parquet)",
            dir.display()
        );
    }
    page = page.paragraph(format!(
        "Written by dxsim {} from the run's own files; every chart's numbers are in report/tables/<chart>.csv beside this page and the charts as SVG in report/figures/.",
        env!("CARGO_PKG_VERSION"),
    ));
    save(dir, &page, sections)
}

fn save(dir: &Path, page: &html::Page, sections: Vec<&'static str>) -> anyhow::Result<Written> {
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
