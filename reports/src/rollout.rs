//! The rollout view (policymakers): a scenario's adoption simulated month by month — the electronic
//! share of prescriptions, paper documents avoided, the warnings the exchange's checks raised,
//! consented record views, the load on each central service and the workers it needs — from
//! `rollout.json`, `rollout-months.parquet` and `rollout-services.parquet`; and two rollouts side
//! by side.

use crate::chart::{Body, Chart, Scale, Series, XLabels, compact};
use crate::data::{floats, read_parquet, read_run_file, texts};
use crate::html::{Page, Table};
use crate::terms::label;
use polars::prelude::*;
use std::path::Path;

use dx_model::adoption::{AdoptionState as Adoption, KindValues};
pub use dx_model::rundir::rollout::RolloutSummary;

/// Whether `dir` holds a rollout.
pub fn present(dir: &Path) -> bool {
    dx_model::rundir::present::<RolloutSummary>(dir)
        && ["rollout-months.parquet", "rollout-services.parquet"]
            .iter()
            .all(|f| dir.join(f).is_file())
}

pub fn summary(dir: &Path) -> anyhow::Result<RolloutSummary> {
    read_run_file(dir)
}

/// The monthly table of a rollout: month labels and named columns.
pub struct Months {
    pub labels: Vec<String>,
    frame: DataFrame,
}

impl Months {
    pub fn read(dir: &Path) -> anyhow::Result<Self> {
        let frame = read_parquet(&dir.join("rollout-months.parquet"))?;
        Ok(Self {
            labels: texts(&frame, "month")?,
            frame,
        })
    }

    pub fn column(&self, name: &str) -> anyhow::Result<Vec<f64>> {
        floats(&self.frame, name)
    }

    /// A series of a column, each value times `factor`, at the months' positions.
    fn series(&self, name: &str, column: &str, factor: f64) -> anyhow::Result<Series> {
        Ok(Series {
            name: name.to_owned(),
            points: self
                .column(column)?
                .into_iter()
                .enumerate()
                .map(|(i, v)| (i as f64, v * factor))
                .collect(),
        })
    }
}

/// A line chart over the months.
fn monthly(
    id: &str,
    title: &str,
    y_label: &str,
    reading: String,
    labels: &[String],
    series: Vec<Series>,
    y_scale: Scale,
) -> Chart {
    Chart {
        id: id.into(),
        title: title.into(),
        x_label: "month".into(),
        y_label: y_label.into(),
        reading,
        body: Body::Lines {
            series,
            x_labels: XLabels::Names(labels.to_vec()),
            y_scale,
            reference: None,
        },
    }
}

fn first_last(v: &[f64]) -> (f64, f64) {
    (
        v.first().copied().unwrap_or(0.0),
        v.last().copied().unwrap_or(0.0),
    )
}

fn pct(v: f64) -> String {
    format!("{}%", compact(100.0 * v))
}

/// Per service: (name, per-month values of `column`), from `rollout-services.parquet`.
fn by_service(dir: &Path, column: &str) -> anyhow::Result<Vec<(String, Vec<f64>)>> {
    let frame = read_parquet(&dir.join("rollout-services.parquet"))?;
    let services = frame
        .clone()
        .lazy()
        .group_by_stable([col("service")])
        .agg([col("requests").sum()])
        .collect()?;
    let mut out = Vec::new();
    for name in texts(&services, "service")? {
        let rows = frame
            .clone()
            .lazy()
            .filter(col("service").eq(lit(name.as_str())))
            .sort(["month"], SortMultipleOptions::default())
            .collect()?;
        out.push((name, floats(&rows, column)?));
    }
    Ok(out)
}

/// The rollout charts of the result in `dir`.
pub fn charts(dir: &Path) -> anyhow::Result<(RolloutSummary, Vec<Chart>)> {
    let summary = summary(dir)?;
    let m = Months::read(dir)?;
    let labels = &m.labels;
    let first = labels.first().cloned().unwrap_or_default();
    let last = labels.last().cloned().unwrap_or_default();
    let mut out = Vec::new();

    let adoption = [
        (
            "e-prescription: hospitals",
            "adoption_eprescription_hospital",
        ),
        ("e-prescription: clinics", "adoption_eprescription_clinic"),
        ("e-prescription: dental", "adoption_eprescription_dental"),
        (
            "e-prescription: pharmacies",
            "adoption_eprescription_pharmacy",
        ),
        ("EHR sharing: hospitals", "adoption_ehr_sharing_hospital"),
        ("EHR sharing: clinics", "adoption_ehr_sharing_clinic"),
        (
            "municipalities taking part",
            "adoption_municipal_participation",
        ),
        ("card use at clinics", "adoption_card_use_clinic"),
    ];
    let series = adoption
        .iter()
        .map(|(n, c)| m.series(n, c, 100.0))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let (c0, c1) = first_last(&m.column("adoption_eprescription_clinic")?);
    let (h0, h1) = first_last(&m.column("adoption_ehr_sharing_hospital")?);
    out.push(monthly(
        "rollout-adoption",
        "Adoption over the rollout (普及)",
        "share taking part, mid-month (%)",
        format!(
            "What the scenario sets, month by month: e-prescription at clinics goes from {} to {}, EHR sharing at hospitals from {} to {}; every other chart follows from these.",
            pct(c0), pct(c1), pct(h0), pct(h1)
        ),
        labels,
        series,
        Scale::Linear,
    ));

    let share = m.column("electronic_share")?;
    let (s0, s1) = first_last(&share);
    let half = labels
        .iter()
        .zip(&share)
        .find(|(_, v)| **v >= 0.5)
        .map_or_else(
            || "it stays below half".to_owned(),
            |(l, _)| format!("it passes half in {l}"),
        );
    out.push(monthly(
        "rollout-electronic-share",
        "Electronic share of prescriptions (電子処方箋の割合)",
        "electronic ÷ dispensed at pharmacies (%)",
        format!(
            "Electronic prescriptions as a share of those a pharmacy dispenses: {} in {first}, {} in {last}; {half}.",
            pct(s0),
            pct(s1)
        ),
        labels,
        vec![m.series("electronic share", "electronic_share", 100.0)?],
        Scale::Linear,
    ));

    let paper = m.column("paper_avoided")?;
    let total_paper: f64 = paper.iter().sum();
    let slips: f64 = m.column("electronic_prescriptions")?.iter().sum();
    let (p0, p1) = first_last(&paper);
    out.push(monthly(
        "rollout-paper",
        "Paper documents avoided per month (紙の書類の削減)",
        "documents per month (national)",
        format!(
            "Paper avoided grows from {} in {first} to {} a month in {last}, {} over the rollout, {} of it prescription slips.",
            compact(p0),
            compact(p1),
            compact(total_paper),
            pct(if total_paper > 0.0 { slips / total_paper } else { 0.0 })
        ),
        labels,
        vec![
            m.series("all paper avoided", "paper_avoided", 1.0)?,
            m.series("prescription slips (electronic prescriptions)", "electronic_prescriptions", 1.0)?,
            m.series("EHR documents (letters, summaries, checkup reports)", "ehr_documents", 1.0)?,
            m.series("portal applications", "portal_applications", 1.0)?,
        ],
        Scale::Linear,
    ));

    let dup = m.column("duplicate_warnings")?;
    let (d0, d1) = first_last(&dup);
    let contra: f64 = m.column("contraindication_warnings")?.iter().sum();
    let flags_last = m.column("allergy_warnings")?.last().copied().unwrap_or(0.0)
        + m.column("registered_contraindication_warnings")?
            .last()
            .copied()
            .unwrap_or(0.0);
    out.push(monthly(
        "rollout-warnings",
        "Warnings raised by the checks (重複投薬・併用禁忌)",
        "warnings per month (national)",
        format!(
            "Duplicate-medication warnings go from {} in {first} to {} a month in {last} as more of each patient's medication is on record; 併用禁忌 warnings total {} over the rollout, and warnings from allergies and contraindicated drugs registered through EHR sharing reach {} in {last}.",
            compact(d0),
            compact(d1),
            compact(contra),
            compact(flags_last)
        ),
        labels,
        vec![
            m.series("duplicate (重複投薬)", "duplicate_warnings", 1.0)?,
            m.series("contraindicated pair (併用禁忌)", "contraindication_warnings", 1.0)?,
            m.series("registered allergy", "allergy_warnings", 1.0)?,
            m.series("registered contraindicated drug (薬剤禁忌)", "registered_contraindication_warnings", 1.0)?,
        ],
        Scale::Linear,
    ));

    let (v0, v1) = first_last(&m.column("consented_views")?);
    out.push(monthly(
        "rollout-views",
        "Consented record views per month (同意に基づく閲覧)",
        "clinical-summary reads per month (national)",
        format!(
            "Reads of a patient's clinical summary after consent at the card reader: {} in {first}, {} a month in {last}.",
            compact(v0),
            compact(v1)
        ),
        labels,
        vec![m.series("consented views", "consented_views", 1.0)?],
        Scale::Linear,
    ));

    let (a0, a1) = first_last(&m.column("aged_75_plus_share")?);
    let (l0, l1) = first_last(&m.column("late_elderly_members")?);
    let years = labels.len() as f64 / 12.0;
    let per_year = |c: &str| -> anyhow::Result<f64> {
        Ok(m.column(c)?.iter().sum::<f64>() / years.max(1.0 / 12.0))
    };
    out.push(monthly(
        "rollout-population",
        "The population ages through the rollout: share aged 75 and over",
        "share of the population (%)",
        format!(
            "Persons aged 75 and over: {} of the population in {first}, {} in {last}; late-elderly members (75+ and insured) from {} to {}. Births {} and deaths {} a year on average.",
            pct(a0),
            pct(a1),
            compact(l0),
            compact(l1),
            compact(per_year("births")?),
            compact(per_year("deaths")?)
        ),
        labels,
        vec![m.series("aged 75 and over", "aged_75_plus_share", 100.0)?],
        Scale::Linear,
    ));

    let load = by_service(dir, "busiest_hour_per_s")?;
    let (top, top_last) = load
        .iter()
        .map(|(s, v)| (s.clone(), v.last().copied().unwrap_or(0.0)))
        .fold((String::new(), 0.0), |a, b| if b.1 > a.1 { b } else { a });
    out.push(monthly(
        "rollout-load",
        "Load on each central service in the month's busiest hour",
        "requests per second (national)",
        format!(
            "Mean requests per second in each service's busiest hour of each month; in {last} the busiest is {} at {}/s.",
            label(&top),
            compact(top_last)
        ),
        labels,
        load.iter()
            .map(|(s, v)| Series {
                name: label(s),
                points: v.iter().enumerate().map(|(i, y)| (i as f64, *y)).collect(),
            })
            .collect(),
        Scale::Log,
    ));

    let workers = by_service(dir, "workers")?;
    let (grow, w0, w1) = workers
        .iter()
        .map(|(s, v)| {
            let (a, b) = first_last(v);
            (s.clone(), a, b)
        })
        .fold((String::new(), 0.0, 0.0), |a, b| {
            if b.2 - b.1 > a.2 - a.1 { b } else { a }
        });
    out.push(monthly(
        "rollout-workers",
        "Workers each central service needs (処理能力)",
        "workers in the busiest hour",
        format!(
            "The least parallel workers meeting each service's p99 bound in the month's busiest hour (Erlang C); {} grows most, from {} to {}.",
            label(&grow),
            compact(w0),
            compact(w1)
        ),
        labels,
        workers
            .iter()
            .map(|(s, v)| Series {
                name: label(s),
                points: v
                    .iter()
                    .enumerate()
                    .filter(|(_, y)| **y > 0.0)
                    .map(|(i, y)| (i as f64, *y))
                    .collect(),
            })
            .filter(|s| !s.points.is_empty())
            .collect(),
        Scale::Log,
    ));
    Ok((summary, out))
}

/// The scenario's adoption at its start and at each waypoint.
pub fn waypoint_table(s: &RolloutSummary) -> Table {
    let mut columns = vec!["adoption".to_owned()];
    columns.extend(s.waypoints.iter().map(|(d, _)| d.clone()));
    let kinds = |k: fn(&Adoption) -> KindValues, what: &str| {
        [
            ("hospitals", 0usize),
            ("clinics", 1),
            ("dental", 2),
            ("pharmacies", 3),
        ]
        .map(|(kind, i)| {
            let mut row = vec![format!("{what}: {kind}")];
            row.extend(s.waypoints.iter().map(|(_, a)| {
                let v = k(a);
                pct([v.hospital, v.clinic, v.dental, v.pharmacy][i])
            }));
            row
        })
    };
    let mut rows = Vec::new();
    rows.extend(kinds(
        |a| a.online_eligibility,
        &label("online_eligibility"),
    ));
    rows.extend(kinds(|a| a.eprescription, &label("eprescription")));
    rows.extend(kinds(|a| a.ehr_sharing, &label("ehr_sharing")));
    rows.extend(kinds(|a| a.card_use, &label("card_use")));
    for (what, f) in [
        (
            label("electronic_share"),
            (|a: &Adoption| a.electronic_share) as fn(&Adoption) -> f64,
        ),
        (label("refill"), |a: &Adoption| a.refill_share),
        (label("participation"), |a: &Adoption| {
            a.municipal_participation
        }),
    ] {
        let mut row = vec![what];
        row.extend(s.waypoints.iter().map(|(_, a)| pct(f(a))));
        rows.push(row);
    }
    Table {
        caption: "Adoption at the rollout's start and at each waypoint (linear between them)"
            .into(),
        columns,
        rows,
    }
}

/// What the rollout adds up to.
const TOTALS: [(&str, &str); 9] = [
    ("prescriptions", "prescriptions"),
    ("electronic_prescriptions", "electronic prescriptions"),
    ("paper_avoided", "paper documents avoided"),
    ("duplicate_warnings", "duplicate warnings (重複投薬)"),
    ("contraindication_warnings", "併用禁忌 warnings"),
    ("allergy_warnings", "registered-allergy warnings"),
    ("registered_contraindication_warnings", "薬剤禁忌 warnings"),
    ("consented_views", "consented record views"),
    ("requests", "requests to the central services"),
];

fn totals_table(caption: String, runs: &[&RolloutSummary]) -> Table {
    let mut columns = vec!["over the rollout (national)".to_owned()];
    columns.extend(runs.iter().map(|r| r.scenario.clone()));
    Table {
        caption,
        columns,
        rows: TOTALS
            .iter()
            .map(|(key, what)| {
                let mut row = vec![(*what).to_owned()];
                row.extend(
                    runs.iter()
                        .map(|r| compact(r.totals.get(*key).copied().unwrap_or(0.0))),
                );
                row
            })
            .collect(),
    }
}

/// Adds the rollout section of the result in `dir` to `page`.
pub fn section(mut page: Page, dir: &Path) -> anyhow::Result<Page> {
    let (s, charts) = charts(dir)?;
    page = page
        .heading(format!(
            "Rollout (普及計画): {} from {} to {}",
            s.scenario, s.start, s.end
        ))
        .paragraph(format!(
            "{} months simulated on {} synthetic persons (scale {}, {} requests); every count is scaled to all of Japan. Adoption follows the scenario's waypoints:",
            s.months,
            s.persons,
            s.scale,
            compact(s.sample_events as f64)
        ))
        .table(waypoint_table(&s))
        .table(totals_table(
            "Totals over the rollout, national".into(),
            &[&s],
        ));
    for c in charts {
        page = page.figure(c, true)?;
    }
    if !s.faults.is_empty() {
        page = page
            .subheading("Faults (障害)")
            .paragraph(format!(
                "{}. Requests a suspension refuses are not served; a registration refused is issued on paper, and its pharmacy registers a paper dispensing instead of retrieving and dispensing it (the electronic share falls in that month).",
                s.faults.join("; ")
            ))
            .table(fault_months(dir)?);
    }
    page = page.subheading("How the numbers are made");
    for m in &s.method {
        page = page.paragraph(m.clone());
    }
    let sources: Vec<Vec<String>> = s
        .service_times
        .iter()
        .map(|(r, src)| vec![label(r), src.clone()])
        .collect();
    Ok(page.table(Table {
        caption: "Service times the workers are sized with".into(),
        columns: vec!["route".into(), "source".into()],
        rows: sources,
    }))
}

/// The months a suspension fell in: requests refused and registrations issued on paper,
/// national.
fn fault_months(dir: &Path) -> anyhow::Result<Table> {
    let t = read_parquet(&dir.join("rollout-months.parquet"))?;
    let months = texts(&t, "month")?;
    let refused = floats(&t, "suspended_requests")?;
    let paper = floats(&t, "suspended_to_paper")?;
    let share = floats(&t, "electronic_share")?;
    Ok(Table {
        caption: "Months of a suspension, national".into(),
        columns: [
            "month",
            "requests refused",
            "registrations issued on paper",
            "electronic share",
        ]
        .map(String::from)
        .to_vec(),
        rows: (0..months.len())
            .filter(|&m| refused[m] > 0.0)
            .map(|m| {
                vec![
                    months[m].clone(),
                    compact(refused[m]),
                    compact(paper[m]),
                    format!("{:.1}%", share[m] * 100.0),
                ]
            })
            .collect(),
    })
}

/// Two rollouts side by side: the same measures, a line for A and one for B.
pub fn compare_section(
    mut page: Page,
    a: &Path,
    b: &Path,
    groups: &[String],
) -> anyhow::Result<Page> {
    let (sa, sb) = (summary(a)?, summary(b)?);
    let (ma, mb) = (Months::read(a)?, Months::read(b)?);
    // The months of both, in order; each rollout's values at its own months.
    let mut labels: Vec<String> = ma.labels.iter().chain(&mb.labels).cloned().collect();
    labels.sort();
    labels.dedup();
    let at = |m: &Months, name: &str, column: &str, factor: f64| -> anyhow::Result<Series> {
        let values = m.column(column)?;
        Ok(Series {
            name: name.to_owned(),
            points: m
                .labels
                .iter()
                .zip(values)
                .filter_map(|(l, v)| labels.binary_search(l).ok().map(|i| (i as f64, v * factor)))
                .collect(),
        })
    };
    let pair = |column: &str, factor: f64| -> anyhow::Result<Vec<Series>> {
        Ok(vec![
            at(&ma, &groups[0], column, factor)?,
            at(&mb, &groups[1], column, factor)?,
        ])
    };
    let when_half = |m: &Months| -> anyhow::Result<String> {
        Ok(m.labels
            .iter()
            .zip(m.column("electronic_share")?)
            .find(|(_, v)| *v >= 0.5)
            .map_or_else(|| "never".to_owned(), |(l, _)| l.clone()))
    };
    let total = |s: &RolloutSummary, k: &str| s.totals.get(k).copied().unwrap_or(0.0);
    page = page
        .heading("Rollout (普及計画): A and B")
        .paragraph(format!(
            "A: {} ({} to {}, scale {}). B: {} ({} to {}, scale {}).",
            sa.scenario, sa.start, sa.end, sa.scale, sb.scenario, sb.start, sb.end, sb.scale
        ))
        .table(totals_table(
            "Totals over each rollout, national".into(),
            &[&sa, &sb],
        ));
    let charts = [
        monthly(
            "compare-rollout-electronic-share",
            "Electronic share of prescriptions, A and B",
            "electronic ÷ dispensed at pharmacies (%)",
            format!(
                "The electronic share passes half in {} under A and in {} under B.",
                when_half(&ma)?,
                when_half(&mb)?
            ),
            &labels,
            pair("electronic_share", 100.0)?,
            Scale::Linear,
        ),
        monthly(
            "compare-rollout-paper",
            "Paper documents avoided per month, A and B",
            "documents per month (national)",
            format!(
                "Over the rollout A avoids {} paper documents and B {}.",
                compact(total(&sa, "paper_avoided")),
                compact(total(&sb, "paper_avoided"))
            ),
            &labels,
            pair("paper_avoided", 1.0)?,
            Scale::Linear,
        ),
        monthly(
            "compare-rollout-warnings",
            "Duplicate-medication warnings per month, A and B",
            "warnings per month (national)",
            format!(
                "Duplicate warnings over the rollout: {} under A, {} under B.",
                compact(total(&sa, "duplicate_warnings")),
                compact(total(&sb, "duplicate_warnings"))
            ),
            &labels,
            pair("duplicate_warnings", 1.0)?,
            Scale::Linear,
        ),
        monthly(
            "compare-rollout-views",
            "Consented record views per month, A and B",
            "clinical-summary reads per month (national)",
            format!(
                "Consented record views over the rollout: {} under A, {} under B.",
                compact(total(&sa, "consented_views")),
                compact(total(&sb, "consented_views"))
            ),
            &labels,
            pair("consented_views", 1.0)?,
            Scale::Linear,
        ),
        monthly(
            "compare-rollout-requests",
            "Requests to the central services per month, A and B",
            "requests per month (national)",
            format!(
                "All requests reaching the central services: {} under A, {} under B over the rollout.",
                compact(total(&sa, "requests")),
                compact(total(&sb, "requests"))
            ),
            &labels,
            pair("requests", 1.0)?,
            Scale::Linear,
        ),
    ];
    for c in charts {
        page = page.figure(c, true)?;
    }
    Ok(page)
}
