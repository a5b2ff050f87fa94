//! The workload: a population turned into the time-sorted stream of requests its care causes over
//! the scenario's period, calibrated to the national volumes in FACTS.
//!
//! Output directory:
//!
//! | file | content |
//! |---|---|
//! | `events/part-KKKKK.parquet` | the events, sorted by (`at`, `id`) across parts; schema in [`events`] |
//! | `manifest.json` | scenario, period, counts per route and flow, expected counts; written last |
//!
//! Generation streams: persons are read part by part on all threads, each part's events are
//! sorted into runs of bounded size on disk, and the runs are merged into the output, so memory
//! does not grow with the population or the period. Every draw comes from the person's own
//! streams, so the output is byte-identical for any thread count.

pub mod calendar;
pub mod events;
pub mod flows;
pub mod model;
pub mod tables;

use anyhow::Context as _;
use arrow_array::cast::AsArray;
use arrow_array::types::{Date32Type, UInt8Type, UInt16Type};
use arrow_array::{Array, RecordBatch};
use calendar::Desk;
use dx_model::event::Event;
use dx_model::route::Route;
use dx_population::expected::age_distribution_of;
use dx_population::tables::{TOTAL_POPULATION, prefecture_shares};
use dx_protocol::wire::Sex;
use dx_scenario::Scenario;
use flows::{Facilities, Facility, FlowCounts, GenContext, PersonRow};
use model::VisitKind;
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use rayon::prelude::*;
use serde::Serialize;
use std::collections::{BTreeMap, BinaryHeap};
use std::path::{Path, PathBuf};

/// Events held in memory per sorted run before it goes to disk.
const RUN_EVENTS: usize = 1 << 20;
/// Events per output file.
const PART_EVENTS: usize = 1 << 22;
/// Rows per record batch written and read.
const BATCH_ROWS: usize = 1 << 15;
/// Rows per row group of a sorted run, and per batch a merge reads from one run.
const RUN_ROW_GROUP: usize = 1 << 12;
/// Most runs merged at once; more are first merged in groups into longer runs.
const FAN_IN: usize = 64;

/// How a generation runs; none of it changes the output.
#[derive(Debug, Clone, Copy)]
pub struct RunOptions {
    pub threads: usize,
    pub progress: bool,
}

impl Default for RunOptions {
    fn default() -> Self {
        Self {
            threads: dx_population::all_cores(),
            progress: false,
        }
    }
}

/// Expected counts of a scenario's period, integrated over the model's tables.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Expected {
    pub persons: f64,
    pub visits: f64,
    pub eligibility_checks: f64,
    pub prescriptions: f64,
    /// Discharge summaries and checkup reports at facilities taking part in EHR sharing.
    pub discharge_summaries: f64,
    pub checkup_reports: f64,
    /// Vaccine doses given in the period by residents of the municipalities taking part.
    pub flu_doses: f64,
    pub childhood_doses: f64,
}

/// Share of persons holding a card registered as insurance card (FACTS: 87.3 M of 123.8 M).
const REGISTERED_CARD_SHARE: f64 = 87.3 / 123.8;

/// What the model should yield for `s`'s population and period (ignoring the few chains cut by
/// the period's end).
pub fn expected(s: &Scenario) -> Expected {
    let ctx = GenContext::new(s, Facilities::default());
    let shares = prefecture_shares();
    let share: f64 = if s.population.prefectures.is_empty() {
        1.0
    } else {
        s.population
            .prefectures
            .iter()
            .map(|p| shares[usize::from(p.get()) - 1])
            .sum()
    };
    let persons = TOTAL_POPULATION * s.population.scale.get() * share;
    // A rollout over the period counts at its midpoint (arrivals spread over the period).
    let mid = ctx.adoption_at((ctx.start_ms + ctx.end_ms) / 2);
    let conn_mid = mid.online_eligibility;
    let conn = conn_mid.values();
    let m = &ctx.model;
    // Checks by insurance number follow the month-start pattern: its mean over the period,
    // weighted by arrivals, applies to the number share of each desk's real-time checks.
    let day_mass: Vec<f64> = flows::day_masses(&ctx.slots[&Desk::Clinic]).collect();
    let mass: f64 = day_mass.iter().sum();
    let month_start = if mass > 0.0 {
        ctx.days
            .iter()
            .zip(&day_mass)
            .map(|(d, w)| w * calendar::Calendar::month_start_factor(d.date))
            .sum::<f64>()
            / mass
    } else {
        1.0
    };
    let card_use = mid.card_use.values();
    let mut e = Expected {
        persons,
        ..Expected::default()
    };
    // Each prefecture's persons at its own ages.
    let (prefectures, municipalities) = dx_population::orgs::geography(s);
    let ages = age_distribution_of(prefectures.iter().map(|p| (p.code, p.persons as f64)));
    // Municipalities join by rank, not by size (a prefecture's capital holds a quarter to a third
    // of it): those taking part hold their own persons, not the participation's share of all.
    let taking_part: Vec<_> = municipalities
        .iter()
        .filter(|m| flows::municipal::municipality_rank(&m.code) < mid.municipal_participation)
        .map(|m| (m.prefecture, m.persons as f64))
        .collect();
    let municipal = taking_part.iter().map(|m| m.1).sum::<f64>();
    let municipal_ages = age_distribution_of(taking_part);
    e.childhood_doses = municipal * municipal_ages[0] / 365.0
        * flows::municipal::childhood_doses_per_child()
        * flows::municipal::childhood_dose_days(&ctx);
    for (age, w) in ages.iter().enumerate() {
        e.flu_doses += municipal
            * municipal_ages[age]
            * flows::municipal::flu_uptake(age as u32, &s.municipal)
            * ctx.municipal.flu_share();
        let per_unit = persons * w * m.visits_per_year(age as u32) / ctx.year_divisor;
        for kind in VisitKind::ALL {
            let k = kind.index();
            let desk = [Desk::Hospital, Desk::Clinic, Desk::Dental][k];
            let visits = per_unit * m.kind_share[k] * ctx.mass(desk);
            e.visits += visits;
            let by_number = 1.0 - REGISTERED_CARD_SHARE * card_use[k];
            let realtime = m.realtime_checks[k] * (1.0 - by_number + by_number * month_start);
            e.eligibility_checks += visits * conn[k] * (realtime + m.batch_checks[k]);
            e.prescriptions += visits * m.prescribing(kind, age as u32);
        }
    }
    e.eligibility_checks +=
        e.prescriptions * s.rates.outside_share.get() * conn_mid.pharmacy * m.pharmacy_checks;
    let ehr = mid.ehr_sharing;
    let (ehr_hospital, ehr_clinic) = (
        ehr.hospital * conn_mid.hospital,
        ehr.clinic * conn_mid.clinic,
    );
    e.discharge_summaries =
        persons * s.rates.visits_per_person_year.get() * ctx.ehr.discharges_per_visit
            / ctx.year_divisor
            * ctx.mass(Desk::Hospital)
            * ehr_hospital;
    e.checkup_reports =
        persons * ages[40..=74].iter().sum::<f64>() * ctx.ehr.checkups_per_person_year
            / ctx.year_divisor
            * ctx.ehr.checkup_mass
            * (0.7 * ehr_clinic + 0.3 * ehr_hospital);
    e
}

pub use dx_model::rundir::manifests::WorkloadManifest as Manifest;

/// The manifest of the population in `population`, which must have been generated for `s`.
pub fn population_for(s: &Scenario, population: &Path) -> anyhow::Result<dx_population::Manifest> {
    let pop = dx_population::read_manifest(population)?;
    if pop.seed != s.seed || pop.scale != s.population.scale.get() {
        anyhow::bail!(
            "the population in {} was generated for scenario {} (seed {}, scale {}), not for {} (seed {}, scale {})",
            population.display(),
            pop.scenario,
            pop.seed,
            pop.scale,
            s.name,
            s.seed,
            s.population.scale
        );
    }
    Ok(pop)
}

pub fn reader(
    path: &Path,
) -> anyhow::Result<parquet::arrow::arrow_reader::ParquetRecordBatchReader> {
    let file = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    Ok(ParquetRecordBatchReaderBuilder::try_new(file)?
        .with_batch_size(BATCH_ROWS)
        .build()?)
}

pub fn read_facilities(population: &Path) -> anyhow::Result<Facilities> {
    let mut out = Facilities::default();
    for b in reader(&population.join("facilities.parquet"))? {
        let b = b?;
        let text = |n: &str| {
            b.column_by_name(n)
                .and_then(|c| c.as_string_opt::<i32>().cloned())
                .with_context(|| format!("facilities.parquet: column {n}"))
        };
        let (code, kind) = (text("code")?, text("kind")?);
        let pref = b
            .column_by_name("prefecture")
            .context("facilities.parquet: prefecture")?
            .as_primitive::<UInt8Type>()
            .clone();
        let online = b
            .column_by_name("online_eligibility")
            .context("facilities.parquet: online_eligibility")?
            .as_boolean()
            .clone();
        let erx = b
            .column_by_name("eprescription")
            .context("facilities.parquet: eprescription")?
            .as_boolean()
            .clone();
        for i in 0..b.num_rows() {
            if kind.value(i) == "care_provider" {
                out.care_providers
                    .entry(pref.value(i))
                    .or_default()
                    .push(code.value(i).to_owned());
                continue;
            }
            let desk = match kind.value(i) {
                "hospital" => Desk::Hospital,
                "clinic" => Desk::Clinic,
                "dental" => Desk::Dental,
                "pharmacy" => Desk::Pharmacy,
                other => anyhow::bail!("facilities.parquet: unknown kind {other:?}"),
            };
            out.push(
                pref.value(i),
                desk,
                Facility::new(
                    code.value(i).to_owned(),
                    desk,
                    online.value(i),
                    erx.value(i),
                ),
            );
        }
    }
    Ok(out)
}

/// Persons of one record batch of the population's persons schema.
pub fn person_rows(b: &RecordBatch) -> anyhow::Result<Vec<PersonRow>> {
    let col = |n: &str| {
        b.column_by_name(n)
            .with_context(|| format!("persons: column {n} is missing"))
    };
    let text = |n: &str| -> anyhow::Result<&arrow_array::StringArray> {
        col(n)?
            .as_string_opt::<i32>()
            .with_context(|| format!("persons: column {n} is not text"))
    };
    let (id, sex, serial) = (text("id")?, text("sex")?, text("card_serial")?);
    let ins = [
        text("insurer_number")?,
        text("symbol")?,
        text("number")?,
        text("branch")?,
    ];
    let (clinic, pharmacy) = (text("home_clinic")?, text("usual_pharmacy")?);
    let next = [
        text("next_insurer_number")?,
        text("next_symbol")?,
        text("next_number")?,
        text("next_branch")?,
        text("next_change")?,
    ];
    let next_from = col("next_from")?.as_primitive::<Date32Type>();
    let birth = col("birth_date")?.as_primitive::<Date32Type>();
    let age = col("age")?.as_primitive::<UInt8Type>();
    let pref = col("prefecture")?.as_primitive::<UInt8Type>();
    let registered = col("card_registered")?.as_boolean();
    let conditions = col("conditions")?.as_primitive::<UInt16Type>();
    let municipality = text("municipality")?;
    let pregnant = col("pregnant")?.as_boolean();
    let ltc = col("ltc_level")?.as_primitive::<UInt8Type>();
    let law = text("public_expense_law")?;
    let opt =
        |a: &arrow_array::StringArray, i: usize| (!a.is_null(i)).then(|| a.value(i).to_owned());
    (0..b.num_rows())
        .map(|i| {
            let pid = id.value(i);
            let index = pid
                .trim_start_matches('P')
                .parse()
                .with_context(|| format!("persons: id {pid:?} is not P + digits"))?;
            // The coverage ahead: the union's from the 75th birthday; a new employer's from the
            // new insurer's report (`flows::insurer`).
            let (next_coverage, next_reported) = if next[0].is_null(i) || next_from.is_null(i) {
                (None, None)
            } else {
                let from = chrono::NaiveDate::from_ymd_opt(1970, 1, 1).expect("epoch")
                    + chrono::TimeDelta::days(i64::from(next_from.value(i)));
                let from_ms = flows::jst_ms(from.and_hms_opt(0, 0, 0).expect("midnight"));
                let coverage = [
                    next[0].value(i).to_owned(),
                    opt(next[1], i).unwrap_or_default(),
                    opt(next[2], i).unwrap_or_default(),
                    opt(next[3], i).unwrap_or_else(|| "00".into()),
                ];
                match opt(next[4], i).as_deref() {
                    Some("75th_birthday") | None => (Some((coverage, from_ms)), None),
                    Some(_) => {
                        let (acquire, _) = flows::insurer::report_times(index, from_ms);
                        (Some((coverage, acquire)), Some(from_ms))
                    }
                }
            };
            Ok(PersonRow {
                index,
                id: pid.to_owned(),
                sex: Sex::parse(sex.value(i))
                    .with_context(|| format!("persons: sex {:?}", sex.value(i)))?,
                birth_date: birth.value(i),
                age: u32::from(age.value(i)),
                prefecture: pref.value(i),
                insurance: (!ins[0].is_null(i)).then(|| {
                    [
                        ins[0].value(i).to_owned(),
                        opt(ins[1], i).unwrap_or_default(),
                        opt(ins[2], i).unwrap_or_default(),
                        opt(ins[3], i).unwrap_or_else(|| "00".into()),
                    ]
                }),
                card_serial: if registered.value(i) {
                    opt(serial, i)
                } else {
                    None
                },
                conditions: conditions.value(i),
                municipality: municipality.value(i).to_owned(),
                pregnant: pregnant.value(i),
                ltc_level: ltc.value(i),
                public_expense: opt(law, i),
                home_clinic: opt(clinic, i),
                usual_pharmacy: opt(pharmacy, i),
                next_insurance: next_coverage.clone(),
                next_reported,
            })
        })
        .collect()
}

fn sort_key(e: &Event) -> (i64, u64) {
    (e.at_ms, e.id)
}

fn write_run(path: &Path, events: &mut Vec<Event>) -> anyhow::Result<()> {
    events.sort_unstable_by_key(sort_key);
    let file =
        std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
    let mut w = run_writer(file)?;
    for chunk in events.chunks(BATCH_ROWS) {
        w.write(&events::to_batch(chunk))?;
    }
    w.close()?;
    events.clear();
    Ok(())
}

/// Runs are written in small row groups, so a merge reading many at once holds little of each.
fn run_writer(file: std::fs::File) -> anyhow::Result<ArrowWriter<std::fs::File>> {
    let props = parquet::file::properties::WriterProperties::builder()
        .set_max_row_group_row_count(Some(RUN_ROW_GROUP))
        .build();
    Ok(ArrowWriter::try_new(file, events::schema(), Some(props))?)
}

/// Generates the events of one persons file into sorted runs; returns the runs and counts.
fn generate_part(
    ctx: &GenContext,
    flows: &[Box<dyn flows::Flow>],
    file: &Path,
    tmp: &Path,
    part: usize,
    bar: &indicatif::ProgressBar,
) -> anyhow::Result<(Vec<PathBuf>, FlowCounts, u64)> {
    let mut runs = Vec::new();
    let mut pending: Vec<Event> = Vec::new();
    let mut counts = FlowCounts::default();
    let mut persons = 0u64;
    for b in reader(file)? {
        let rows = person_rows(&b?)?;
        for p in &rows {
            let mut out = flows::Emitter::new(p, ctx);
            for f in flows {
                f.emit(p, ctx, &mut out);
            }
            counts.add(&out.counts);
            pending.append(&mut out.events);
        }
        persons += rows.len() as u64;
        bar.inc(rows.len() as u64);
        if pending.len() >= RUN_EVENTS {
            let path = tmp.join(format!("run-{part:05}-{:04}.parquet", runs.len()));
            write_run(&path, &mut pending)?;
            runs.push(path);
        }
    }
    if !pending.is_empty() {
        let path = tmp.join(format!("run-{part:05}-{:04}.parquet", runs.len()));
        write_run(&path, &mut pending)?;
        runs.push(path);
    }
    Ok((runs, counts, persons))
}

/// A sorted run being merged.
struct Cursor {
    reader: parquet::arrow::arrow_reader::ParquetRecordBatchReader,
    buf: std::vec::IntoIter<Event>,
}

impl Cursor {
    fn next(&mut self) -> anyhow::Result<Option<Event>> {
        loop {
            if let Some(e) = self.buf.next() {
                return Ok(Some(e));
            }
            match self.reader.next() {
                Some(b) => self.buf = events::from_batch(&b?)?.into_iter(),
                None => return Ok(None),
            }
        }
    }
}

/// Streams the events of sorted runs in (time, id) order into `sink`.
fn kway(runs: &[PathBuf], mut sink: impl FnMut(Event) -> anyhow::Result<()>) -> anyhow::Result<()> {
    let mut cursors = Vec::with_capacity(runs.len());
    let mut heads: Vec<Option<Event>> = Vec::with_capacity(runs.len());
    let mut heap = BinaryHeap::new();
    for (i, r) in runs.iter().enumerate() {
        let file = std::fs::File::open(r).with_context(|| format!("opening {}", r.display()))?;
        let mut c = Cursor {
            reader: ParquetRecordBatchReaderBuilder::try_new(file)?
                .with_batch_size(RUN_ROW_GROUP)
                .build()?,
            buf: Vec::new().into_iter(),
        };
        let head = c.next()?;
        if let Some(e) = &head {
            heap.push(std::cmp::Reverse((sort_key(e), i)));
        }
        heads.push(head);
        cursors.push(c);
    }
    while let Some(std::cmp::Reverse((_, i))) = heap.pop() {
        sink(heads[i].take().expect("a queued run has a head"))?;
        if let Some(next) = cursors[i].next()? {
            heap.push(std::cmp::Reverse((sort_key(&next), i)));
            heads[i] = Some(next);
        }
    }
    Ok(())
}

/// Merges runs in groups of [`FAN_IN`] into longer runs until at most that many are left, so the
/// final merge's memory does not grow with the number of runs.
fn reduce_runs(mut runs: Vec<PathBuf>, tmp: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut round = 0;
    while runs.len() > FAN_IN {
        let mut next = Vec::new();
        for (g, group) in runs.chunks(FAN_IN).enumerate() {
            let path = tmp.join(format!("merged-{round:02}-{g:05}.parquet"));
            let mut w = run_writer(std::fs::File::create(&path)?)?;
            let mut batch = Vec::with_capacity(RUN_ROW_GROUP);
            kway(group, |e| {
                batch.push(e);
                if batch.len() == RUN_ROW_GROUP {
                    w.write(&events::to_batch(&batch))?;
                    batch.clear();
                }
                Ok(())
            })?;
            if !batch.is_empty() {
                w.write(&events::to_batch(&batch))?;
            }
            w.close()?;
            for r in group {
                std::fs::remove_file(r)?;
            }
            next.push(path);
        }
        runs = next;
        round += 1;
    }
    Ok(runs)
}

/// Merges sorted runs into the output parts; returns the part names and per-route counts.
fn merge(
    runs: Vec<PathBuf>,
    tmp: &Path,
    out: &Path,
) -> anyhow::Result<(Vec<String>, BTreeMap<String, u64>, u64)> {
    let runs = reduce_runs(runs, tmp)?;
    std::fs::create_dir_all(out.join("events"))?;
    let mut files = Vec::new();
    let mut routes: BTreeMap<String, u64> = Route::ALL
        .iter()
        .map(|r| (r.as_str().to_owned(), 0))
        .collect();
    let mut total = 0u64;
    let mut writer: Option<ArrowWriter<std::fs::File>> = None;
    let mut in_part = 0usize;
    let mut batch: Vec<Event> = Vec::with_capacity(BATCH_ROWS);
    kway(&runs, |e| {
        if writer.is_none() {
            let name = format!("events/part-{:05}.parquet", files.len());
            let file = std::fs::File::create(out.join(&name))?;
            writer = Some(ArrowWriter::try_new(file, events::schema(), None)?);
            files.push(name);
        }
        *routes.get_mut(e.route().as_str()).expect("every route") += 1;
        total += 1;
        batch.push(e);
        in_part += 1;
        if batch.len() == BATCH_ROWS || in_part == PART_EVENTS {
            writer
                .as_mut()
                .expect("open")
                .write(&events::to_batch(&batch))?;
            batch.clear();
        }
        if in_part == PART_EVENTS {
            writer.take().expect("open").close()?;
            in_part = 0;
        }
        Ok(())
    })?;
    if let Some(mut w) = writer {
        if !batch.is_empty() {
            w.write(&events::to_batch(&batch))?;
        }
        w.close()?;
    }
    Ok((files, routes, total))
}

/// Refuses an output directory that holds anything but an earlier workload.
fn prepare_output(out: &Path) -> anyhow::Result<()> {
    if out.exists() {
        let foreign = std::fs::read_dir(out)
            .with_context(|| format!("reading {}", out.display()))?
            .filter_map(Result::ok)
            .any(|e| {
                !matches!(
                    e.file_name().to_str(),
                    Some("events" | "manifest.json" | ".tmp" | "population")
                )
            });
        if foreign {
            anyhow::bail!(
                "{} holds other files; give an empty or new directory for the workload",
                out.display()
            );
        }
        for sub in ["events", ".tmp"] {
            if out.join(sub).exists() {
                std::fs::remove_dir_all(out.join(sub))?;
            }
        }
        let _ = std::fs::remove_file(out.join("manifest.json"));
    }
    std::fs::create_dir_all(out.join(".tmp"))
        .with_context(|| format!("{} is not writable", out.display()))?;
    Ok(())
}

/// A progress bar over `persons` persons, labelled `what` (hidden unless `show`).
pub fn persons_bar(what: &str, persons: u64, show: bool) -> indicatif::ProgressBar {
    let bar = if show {
        indicatif::ProgressBar::new(persons)
    } else {
        indicatif::ProgressBar::hidden()
    };
    bar.set_style(
        indicatif::ProgressStyle::with_template(&format!(
            "{what} {{human_pos}}/{{human_len}} persons [{{bar:40}}] {{per_sec}} eta {{eta}}"
        ))
        .expect("template"),
    );
    bar
}

/// Generates the workload of `s` from the population in `population` into `out`.
pub fn generate(
    s: &Scenario,
    population: &Path,
    out: &Path,
    opts: RunOptions,
) -> anyhow::Result<Manifest> {
    let pop = population_for(s, population)?;
    prepare_output(out)?;
    let tmp = out.join(".tmp");
    let ctx = GenContext::new(s, read_facilities(population)?);
    let flows = flows::registry();
    let bar = persons_bar("workload", pop.persons, opts.progress);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(opts.threads.max(1))
        .build()?;
    let parts: Vec<(Vec<PathBuf>, FlowCounts, u64)> = pool.install(|| {
        pop.person_files
            .par_iter()
            .enumerate()
            .map(|(i, rel)| generate_part(&ctx, &flows, &population.join(rel), &tmp, i, &bar))
            .collect::<anyhow::Result<_>>()
    })?;
    bar.finish_and_clear();
    let mut counts = FlowCounts::default();
    let mut persons = 0;
    let mut runs = Vec::new();
    for (r, c, n) in parts {
        runs.extend(r);
        counts.add(&c);
        persons += n;
    }
    let merged = merge(runs, &tmp, out)?;
    std::fs::remove_dir_all(&tmp)?;
    finish(s, out, persons, counts, expected(s), merged)
}

/// Writes the manifest of a finished stream, last.
fn finish(
    s: &Scenario,
    out: &Path,
    persons: u64,
    counts: FlowCounts,
    exp: Expected,
    (files, routes, events): (Vec<String>, BTreeMap<String, u64>, u64),
) -> anyhow::Result<Manifest> {
    let manifest = Manifest {
        schema_version: 1,
        generator: format!("dxsim {}", env!("CARGO_PKG_VERSION")),
        scenario: s.name.to_string(),
        seed: s.seed,
        scale: s.population.scale.get(),
        period_start: s.period.start.to_string(),
        period_end: s.period.end().to_string(),
        persons,
        events,
        eligibility_checks: routes["verify"] + routes["batch"],
        routes,
        visits: counts.visits,
        prescriptions: counts.prescriptions,
        electronic_prescriptions: counts.electronic_prescriptions,
        pharmacy_visits: counts.pharmacy_visits,
        expected_eligibility_checks: exp.eligibility_checks,
        expected_prescriptions: exp.prescriptions,
        expected_visits: exp.visits,
        flu_doses: counts.flu_doses,
        childhood_doses: counts.childhood_doses,
        expected_flu_doses: exp.flu_doses,
        expected_childhood_doses: exp.childhood_doses,
        files,
    };
    dx_model::rundir::write(out, &manifest)?;
    Ok(manifest)
}

/// Writes `events` (sorted here) as a one-part workload of `s` into `out`: for streams made by
/// hand, such as the driver benchmark's probes.
pub fn write_events(s: &Scenario, out: &Path, mut events: Vec<Event>) -> anyhow::Result<Manifest> {
    prepare_output(out)?;
    let tmp = out.join(".tmp");
    let run = tmp.join("run-00000-0000.parquet");
    write_run(&run, &mut events)?;
    let merged = merge(vec![run], &tmp, out)?;
    std::fs::remove_dir_all(&tmp)?;
    finish(
        s,
        out,
        0,
        FlowCounts::default(),
        Expected::default(),
        merged,
    )
}

/// Reads a workload's manifest.
pub fn read_manifest(dir: &Path) -> anyhow::Result<Manifest> {
    if !dx_model::rundir::present::<Manifest>(dir) {
        anyhow::bail!(
            "{} is missing: is {} a complete `dxsim workload` output?",
            dir.join("manifest.json").display(),
            dir.display()
        );
    }
    Ok(dx_model::rundir::read(dir)?)
}

/// The events of a workload in order, streamed batch by batch.
pub fn stream(dir: &Path) -> anyhow::Result<impl Iterator<Item = anyhow::Result<Vec<Event>>>> {
    let manifest = read_manifest(dir)?;
    let readers = manifest
        .files
        .iter()
        .map(|f| reader(&dir.join(f)))
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(readers
        .into_iter()
        .flatten()
        .map(|b| events::from_batch(&b?)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;
    use dx_scenario::values::{hours, share};

    fn month(scale: f64) -> Scenario {
        let mut s = Scenario::national(scale);
        s.period.start = NaiveDate::from_ymd_opt(2025, 10, 1)
            .unwrap()
            .and_hms_opt(0, 0, 0)
            .unwrap();
        s.period.hours = hours(31.0 * 24.0);
        s
    }

    #[test]
    fn many_runs_merge_in_rounds_into_one_sorted_stream() {
        let dir = tempfile::tempdir().unwrap();
        let tmp = dir.path().join(".tmp");
        std::fs::create_dir_all(&tmp).unwrap();
        let mut runs = Vec::new();
        let mut rng = dx_model::rng::Stream::new(1, "merge-test", 0);
        for r in 0..(2 * FAN_IN + 5) {
            let mut events: Vec<Event> = (0..20)
                .map(|i| Event {
                    id: ((r as u64) << 20) | i,
                    at_ms: rng.below(1_000) as i64,
                    flow: dx_model::event::Flow::Visit,
                    payload: dx_model::event::Payload::Verify { consent: false },
                    sex: dx_protocol::wire::Sex::Male,
                    ..Event::default()
                })
                .collect();
            let path = tmp.join(format!("run-{r:05}.parquet"));
            write_run(&path, &mut events).unwrap();
            runs.push(path);
        }
        let (files, routes, total) = merge(runs, &tmp, dir.path()).unwrap();
        assert_eq!(
            (total, routes["verify"]),
            (20 * (2 * FAN_IN as u64 + 5), total)
        );
        let all: Vec<Event> = files
            .iter()
            .flat_map(|f| reader(&dir.path().join(f)).unwrap())
            .flat_map(|b| events::from_batch(&b.unwrap()).unwrap())
            .collect();
        assert_eq!(all.len() as u64, total);
        assert!(all.windows(2).all(|w| sort_key(&w[0]) < sort_key(&w[1])));
        // The intermediate runs were merged away.
        assert!(std::fs::read_dir(&tmp).unwrap().count() <= FAN_IN);
    }

    #[test]
    fn a_national_month_meets_the_published_volumes() {
        let e = expected(&month(1.0));
        let checks = e.eligibility_checks / 274.6e6;
        let rx = e.prescriptions / (856.0e6 / 12.0);
        let visits = e.visits / (123.8e6 * 12.6 / 12.0);
        assert!(
            (0.9..=1.1).contains(&checks),
            "checks {:.0} ({checks:.3})",
            e.eligibility_checks
        );
        assert!(
            (0.9..=1.1).contains(&rx),
            "prescriptions {:.0} ({rx:.3})",
            e.prescriptions
        );
        assert!(
            (0.9..=1.1).contains(&visits),
            "visits {:.0} ({visits:.3})",
            e.visits
        );
    }

    #[test]
    fn ehr_documents_meet_the_published_volumes_at_full_adoption() {
        let mut s = month(1.0);
        s.adoption.online_eligibility = dx_scenario::KindShares {
            hospital: share(1.0),
            clinic: share(1.0),
            dental: share(1.0),
            pharmacy: share(1.0),
        };
        s.adoption.ehr_sharing = s.adoption.online_eligibility;
        let e = expected(&s);
        let discharges = e.discharge_summaries / 1.39e6;
        assert!(
            (0.9..=1.1).contains(&discharges),
            "discharges {discharges:.3}"
        );
        // October is the checkup season's peak month.
        let season = calendar::Calendar::checkup_season(10);
        let checkups = e.checkup_reports / (31.0e6 / 12.0 * season);
        assert!((0.9..=1.1).contains(&checkups), "checkups {checkups:.3}");
        // The default (model-project) adoption gives a small fraction of that.
        let today = expected(&month(1.0));
        assert!(today.discharge_summaries < 0.1 * e.discharge_summaries);
    }

    #[test]
    fn vaccinations_meet_the_published_volumes() {
        let mut s = month(1.0);
        s.municipal.participation = share(1.0);
        // A whole flu season, October to December.
        s.period.start = NaiveDate::from_ymd_opt(2025, 10, 1)
            .unwrap()
            .and_hms_opt(0, 0, 0)
            .unwrap();
        s.period.hours = hours(92.0 * 24.0);
        let season = expected(&s);
        let flu = season.flu_doses / 50.0e6;
        assert!((0.95..=1.05).contains(&flu), "flu {flu:.3}");
        // Routine childhood doses over a year: FACTS est. ≈20 M.
        s.period.hours = hours(365.0 * 24.0);
        let year = expected(&s);
        let childhood = year.childhood_doses / 20.0e6;
        assert!(
            (0.85..=1.15).contains(&childhood),
            "childhood {childhood:.3}"
        );
        // October carries 45% of the season, a week of it about a tenth; none in summer.
        s.period.hours = hours(7.0 * 24.0);
        let week = expected(&s).flu_doses / season.flu_doses;
        assert!((0.08..=0.12).contains(&week), "week {week:.3}");
        s.period.start = NaiveDate::from_ymd_opt(2025, 7, 7)
            .unwrap()
            .and_hms_opt(0, 0, 0)
            .unwrap();
        assert_eq!(expected(&s).flu_doses, 0.0);
        // Municipalities not taking part send nothing.
        s.municipal.participation = share(0.0);
        assert_eq!(expected(&s).childhood_doses, 0.0);
    }

    #[test]
    fn a_busier_calendar_means_more_work() {
        let base = month(1.0);
        let mut flu = base.clone();
        flu.period.start = NaiveDate::from_ymd_opt(2026, 1, 19)
            .unwrap()
            .and_hms_opt(0, 0, 0)
            .unwrap();
        flu.period.hours = hours(24.0);
        let mut normal_jan = flu.clone();
        flu.calendar.flu_peak = dx_scenario::values::FluPeak::new(1.4).unwrap();
        normal_jan.calendar.flu_peak = dx_scenario::values::FluPeak::new(1.0).unwrap();
        assert!(expected(&flu).visits > 1.3 * expected(&normal_jan).visits);
        // Full adoption of online eligibility raises the checks.
        let mut all = base.clone();
        all.adoption.online_eligibility = dx_scenario::KindShares {
            hospital: share(1.0),
            clinic: share(1.0),
            dental: share(1.0),
            pharmacy: share(1.0),
        };
        assert!(expected(&all).eligibility_checks > expected(&base).eligibility_checks * 1.05);
        // A rollout to full connection over the month lands halfway between.
        let mut ramp = base.clone();
        ramp.adoption.at_end.online_eligibility = Some(all.adoption.online_eligibility);
        let (b, r, f) = (
            expected(&base).eligibility_checks,
            expected(&ramp).eligibility_checks,
            expected(&all).eligibility_checks,
        );
        assert!(
            b < r && r < f && (r - (b + f) / 2.0).abs() < 0.01 * f,
            "{b} {r} {f}"
        );
        // The first of the month checks more per visit than its middle (both Wednesdays).
        let day = |d: u32| {
            let mut s = base.clone();
            s.period.start = NaiveDate::from_ymd_opt(2025, 10, d)
                .unwrap()
                .and_hms_opt(0, 0, 0)
                .unwrap();
            s.period.hours = hours(24.0);
            let e = expected(&s);
            e.eligibility_checks / e.visits
        };
        assert!(day(1) > 1.1 * day(15), "{} vs {}", day(1), day(15));
    }
}
