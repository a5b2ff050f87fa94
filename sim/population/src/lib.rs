//! The synthetic population of Japan: prefectures, municipalities, insurers, facilities and
//! persons, calibrated to `shared/domain/FACTS.md`, deterministic from the scenario's seed, and
//! streamed to Parquet in bounded memory.
//!
//! Output directory:
//!
//! | file | one row per |
//! |---|---|
//! | `prefectures.parquet` | prefecture: code, name, persons, municipalities |
//! | `municipalities.parquet` | municipality: code (synthetic, valid check digit), name, prefecture, persons, first_person, synthetic |
//! | `insurers.parquet` | insurer number: number, type, scheme, name, prefecture, size_weight, members |
//! | `facilities.parquet` | facility: code, kind, name, prefecture, municipality, hours, online_eligibility, eprescription |
//! | `persons/NN/part-KKKKK.parquet` | person (2^20 per part): see [`output::persons_schema`] |
//! | `summary.json` | generated marginals next to the published figures they are calibrated to |
//! | `manifest.json` | scenario, seed, scale, counts; written last, so its presence marks a complete run |

pub mod coverage;
pub mod expected;
pub mod history;
pub mod households;
pub mod import;
pub mod life;
pub mod marginals;
pub mod orgs;
pub mod output;
pub mod persons;
pub mod tables;

use anyhow::Context as _;
use dx_scenario::Scenario;
use marginals::{Counts, Marginals};
use orgs::Orgs;
use parquet::arrow::ArrowWriter;
use persons::{Context, Person};
use rayon::prelude::*;
use std::collections::BTreeMap;
use std::path::Path;
use tables::InsurerType;

/// Worker threads when none are asked for: every core.
pub fn all_cores() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

/// How a generation runs; none of it changes the output.
#[derive(Debug, Clone, Copy)]
pub struct RunOptions {
    pub threads: usize,
    pub progress: bool,
}

impl Default for RunOptions {
    fn default() -> Self {
        Self {
            threads: all_cores(),
            progress: false,
        }
    }
}

pub use dx_model::rundir::manifests::PopulationManifest as Manifest;

/// The manifest of the population in `dir`; a directory without one is not a complete
/// `dxsim population` output.
pub fn read_manifest(dir: &Path) -> anyhow::Result<Manifest> {
    if !dir.join("manifest.json").is_file() {
        anyhow::bail!(
            "{} is missing: is {} a complete `dxsim population` output?",
            dir.join("manifest.json").display(),
            dir.display()
        );
    }
    Ok(dx_model::rundir::read(dir)?)
}

/// Creates `out` and proves it writable, before any work starts.
pub fn prepare_output(out: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(out.join("persons"))
        .with_context(|| format!("cannot create output directory {}", out.display()))?;
    let probe = out.join(".dxsim-write-test");
    std::fs::write(&probe, b"")
        .with_context(|| format!("output directory {} is not writable", out.display()))?;
    std::fs::remove_file(&probe)?;
    // A previous run's manifest would mark a half-written directory complete.
    let _ = std::fs::remove_file(out.join("manifest.json"));
    // A previous run's persons parts that this one does not rewrite (a larger scale, other
    // prefectures) would join the folder's dataset: remove what the generator writes, nothing
    // else.
    for folder in std::fs::read_dir(out.join("persons"))?.flatten() {
        let name = folder.file_name();
        let code = name.to_str().unwrap_or("");
        if code.len() != 2 || !code.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        for file in std::fs::read_dir(folder.path())?.flatten() {
            let f = file.file_name();
            let f = f.to_str().unwrap_or("");
            let part = f
                .strip_prefix("part-")
                .and_then(|r| r.strip_suffix(".parquet"));
            if part.is_some_and(|k| k.len() == 5 && k.bytes().all(|b| b.is_ascii_digit())) {
                std::fs::remove_file(file.path())?;
            }
        }
        let _ = std::fs::remove_dir(folder.path());
    }
    Ok(())
}

/// Generates the scenario's population into `out`.
pub fn generate(
    s: &Scenario,
    out: &Path,
    opts: RunOptions,
) -> anyhow::Result<(Manifest, Marginals)> {
    prepare_output(out)?;
    let orgs = Orgs::generate(s);
    let ctx = Context::new(&orgs, s.seed, s.population.as_of);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(opts.threads.max(1))
        .build()?;
    let bar = progress_bar(orgs.total_persons(), opts.progress);
    let mut marginals = Marginals::default();
    let mut members = vec![0u64; orgs.insurers.len()];
    // Work items: fixed-size parts of each prefecture, one Parquet file (and row group) each.
    // Part boundaries depend on nothing but the population, so the thread count changes no
    // byte; each part is generated and encoded by one task, in parallel, a segment (the persons
    // of one municipality inside it: households do not cross it) at a time.
    let mut parts = Vec::new();
    for pref in orgs.prefectures.iter().filter(|p| p.persons > 0) {
        let first = orgs.municipalities[pref.municipalities.clone()]
            .first()
            .map_or(0, |m| m.first_person);
        let end = first + pref.persons;
        for (k, a) in (first..end).step_by(output::ROW_GROUP_ROWS).enumerate() {
            let rel = format!("persons/{:02}/part-{k:05}.parquet", pref.code);
            std::fs::create_dir_all(out.join(&rel).parent().expect("has a parent"))?;
            parts.push((rel, a, (a + output::ROW_GROUP_ROWS as u64).min(end)));
        }
    }
    {
        // At most one part per thread is in flight; each returns only its counters.
        let done: Vec<anyhow::Result<(Marginals, BTreeMap<u32, u64>)>> = pool.install(|| {
            parts
                .par_iter()
                .map(|(rel, a, b)| {
                    let path = out.join(rel);
                    let file = std::fs::File::create(&path)
                        .with_context(|| format!("creating {}", path.display()))?;
                    let mut writer = ArrowWriter::try_new(
                        file,
                        output::persons_schema(),
                        Some(output::writer_properties()),
                    )?;
                    let mut m = Counts::for_year_to(s.population.as_of);
                    let mut counts = BTreeMap::<u32, u64>::new();
                    // The encoder's pages end where its input batches do, so it is given batches
                    // of WRITE_ROWS whatever the segments: persons wait in `pending` until a
                    // batch is full (or the part ends).
                    let mut pending: Vec<Person> = Vec::new();
                    let mut start = *a;
                    while start < *b {
                        let muni = &orgs.municipalities[ctx.municipality_of(start)];
                        let stop = (muni.first_person + muni.persons).min(*b);
                        let at = pending.len();
                        ctx.segment_into(start, stop, &mut pending);
                        let segment = &mut pending[at..];
                        ctx.histories(segment);
                        m.add_households(segment);
                        for p in segment.iter() {
                            m.add(p, &orgs);
                            if let Some(i) = p.insurer {
                                *counts.entry(i).or_default() += 1;
                            }
                        }
                        let mut written = 0;
                        while pending.len() - written >= output::WRITE_ROWS {
                            let batch = &pending[written..written + output::WRITE_ROWS];
                            writer.write(&output::persons_batch(&orgs, batch))?;
                            written += output::WRITE_ROWS;
                        }
                        pending.drain(..written);
                        bar.inc(stop - start);
                        start = stop;
                    }
                    if !pending.is_empty() {
                        writer.write(&output::persons_batch(&orgs, &pending))?;
                    }
                    writer.close()?;
                    Ok((m.into_marginals(), counts))
                })
                .collect()
        });
        for result in done {
            let (m, counts) = result?;
            marginals.merge(m);
            for (i, n) in counts {
                members[i as usize] += n;
            }
        }
    }
    let person_files = parts.into_iter().map(|(rel, _, _)| rel).collect();
    bar.finish_and_clear();
    output::write_orgs(out, &orgs, &members)?;
    let summary = expected::Comparison::new(
        &marginals,
        s.population.scale.get(),
        &s.population.prefecture_codes(),
    );
    std::fs::write(
        out.join("summary.json"),
        serde_json::to_string_pretty(&summary)? + "\n",
    )?;
    let manifest = Manifest {
        schema_version: 1,
        generator: format!("dxsim {}", env!("CARGO_PKG_VERSION")),
        scenario: s.name.to_string(),
        seed: s.seed,
        scale: s.population.scale.get(),
        as_of: s.population.as_of.to_string(),
        prefectures: orgs
            .prefectures
            .iter()
            .filter(|p| p.persons > 0)
            .map(|p| p.code)
            .collect(),
        persons: marginals.persons,
        municipalities: orgs.municipalities.len(),
        insurers: orgs.insurers.len(),
        facilities: orgs.facilities.len(),
        person_files,
    };
    dx_model::rundir::write(out, &manifest)?;
    Ok((manifest, marginals))
}

fn progress_bar(total: u64, visible: bool) -> indicatif::ProgressBar {
    if !visible {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(total);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} persons {human_pos}/{human_len} [{bar:40}] {per_sec} eta {eta}",
        )
        .expect("valid template")
        .progress_chars("=> "),
    );
    bar
}

/// Published membership of an insurer type (FACTS), for summaries.
pub fn published_members(kind: InsurerType) -> f64 {
    kind.members()
}
