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
//! | `persons/prefecture=NN/part-KKKKK.parquet` | person (2^20 per part): see [`output::persons_schema`] |
//! | `summary.json` | generated marginals next to the published figures they are calibrated to |
//! | `manifest.json` | scenario, seed, scale, counts; written last, so its presence marks a complete run |

pub mod expected;
pub mod import;
pub mod life;
pub mod orgs;
pub mod output;
pub mod persons;
pub mod tables;

use anyhow::Context as _;
use dx_scenario::Scenario;
use orgs::Orgs;
use parquet::arrow::ArrowWriter;
use persons::{Context, Person};
use rayon::prelude::*;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::Path;
use tables::InsurerType;

/// How a generation runs; none of it changes the output.
#[derive(Debug, Clone, Copy)]
pub struct RunOptions {
    pub threads: usize,
    /// Persons generated per parallel task.
    pub chunk: usize,
    pub progress: bool,
}

impl Default for RunOptions {
    fn default() -> Self {
        Self {
            threads: crate::all_cores(),
            chunk: 65_536,
            progress: false,
        }
    }
}

/// Counts of the generated population, to compare with the published figures.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Marginals {
    pub persons: u64,
    pub male: u64,
    pub age_0_14: u64,
    pub age_15_64: u64,
    pub age_65_plus: u64,
    pub age_75_plus: u64,
    pub by_prefecture: BTreeMap<u8, u64>,
    pub by_insurer_type: BTreeMap<&'static str, u64>,
    pub no_insurer: u64,
    pub card_held: u64,
    pub card_registered: u64,
    pub ltc_certified: u64,
    pub pregnant: u64,
    pub public_expense: BTreeMap<&'static str, u64>,
    pub conditions: BTreeMap<&'static str, u64>,
}

const CONDITION_NAMES: [(u16, &str); 6] = [
    (tables::HYPERTENSION, "hypertension"),
    (tables::DIABETES, "diabetes"),
    (tables::DYSLIPIDAEMIA, "dyslipidaemia"),
    (tables::ASTHMA_COPD, "asthma_copd"),
    (tables::CKD, "chronic_kidney_disease"),
    (tables::DEMENTIA, "dementia"),
];

/// Per-chunk counters in fixed arrays (the hot path); turned into [`Marginals`] once per chunk.
struct Counts {
    persons: u64,
    male: u64,
    ages: [u64; 4],
    prefecture: [u64; 48],
    insurer_type: [u64; 6],
    no_insurer: u64,
    card_held: u64,
    card_registered: u64,
    ltc: u64,
    pregnant: u64,
    public_expense: [u64; 3],
    conditions: [u64; 6],
}

const PUBLIC_EXPENSE_LAWS: [&str; 3] = ["12", "54", "88"];

impl Default for Counts {
    fn default() -> Self {
        Self {
            persons: 0,
            male: 0,
            ages: [0; 4],
            prefecture: [0; 48],
            insurer_type: [0; 6],
            no_insurer: 0,
            card_held: 0,
            card_registered: 0,
            ltc: 0,
            pregnant: 0,
            public_expense: [0; 3],
            conditions: [0; 6],
        }
    }
}

impl Counts {
    fn add(&mut self, p: &Person, orgs: &Orgs) {
        self.persons += 1;
        self.male += u64::from(p.male);
        self.ages[match p.age {
            0..=14 => 0,
            15..=64 => 1,
            _ => 2,
        }] += 1;
        self.ages[3] += u64::from(p.age >= 75);
        self.prefecture[usize::from(p.prefecture)] += 1;
        match p.insurer {
            Some(i) => self.insurer_type[orgs.insurers[i as usize].kind as usize] += 1,
            None => self.no_insurer += 1,
        }
        self.card_held += u64::from(p.card_held);
        self.card_registered += u64::from(p.card_registered);
        self.ltc += u64::from(p.ltc_level > 0);
        self.pregnant += u64::from(p.pregnant);
        if let Some(law) = p.public_expense {
            if let Some(k) = PUBLIC_EXPENSE_LAWS.iter().position(|l| *l == law) {
                self.public_expense[k] += 1;
            }
        }
        for (k, (bit, _)) in CONDITION_NAMES.iter().enumerate() {
            self.conditions[k] += u64::from(p.conditions & bit != 0);
        }
    }

    fn into_marginals(self) -> Marginals {
        let nonzero =
            |pairs: Vec<(&'static str, u64)>| pairs.into_iter().filter(|(_, n)| *n > 0).collect();
        Marginals {
            persons: self.persons,
            male: self.male,
            age_0_14: self.ages[0],
            age_15_64: self.ages[1],
            age_65_plus: self.ages[2],
            age_75_plus: self.ages[3],
            by_prefecture: (1..=47u8)
                .map(|p| (p, self.prefecture[usize::from(p)]))
                .filter(|(_, n)| *n > 0)
                .collect(),
            by_insurer_type: nonzero(
                InsurerType::ALL
                    .iter()
                    .map(|k| (k.as_str(), self.insurer_type[*k as usize]))
                    .collect(),
            ),
            no_insurer: self.no_insurer,
            card_held: self.card_held,
            card_registered: self.card_registered,
            ltc_certified: self.ltc,
            pregnant: self.pregnant,
            public_expense: nonzero(
                PUBLIC_EXPENSE_LAWS
                    .iter()
                    .zip(self.public_expense)
                    .map(|(l, n)| (*l, n))
                    .collect(),
            ),
            conditions: nonzero(
                CONDITION_NAMES
                    .iter()
                    .zip(self.conditions)
                    .map(|((_, name), n)| (*name, n))
                    .collect(),
            ),
        }
    }
}

impl Marginals {
    fn merge(&mut self, o: Marginals) {
        self.persons += o.persons;
        self.male += o.male;
        self.age_0_14 += o.age_0_14;
        self.age_15_64 += o.age_15_64;
        self.age_65_plus += o.age_65_plus;
        self.age_75_plus += o.age_75_plus;
        self.no_insurer += o.no_insurer;
        self.card_held += o.card_held;
        self.card_registered += o.card_registered;
        self.ltc_certified += o.ltc_certified;
        self.pregnant += o.pregnant;
        for (k, v) in o.by_prefecture {
            *self.by_prefecture.entry(k).or_default() += v;
        }
        for (k, v) in o.by_insurer_type {
            *self.by_insurer_type.entry(k).or_default() += v;
        }
        for (k, v) in o.public_expense {
            *self.public_expense.entry(k).or_default() += v;
        }
        for (k, v) in o.conditions {
            *self.conditions.entry(k).or_default() += v;
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
    // Part boundaries depend on nothing but the population, so neither threads nor chunk size
    // change a byte; each part is generated and encoded by one task, in parallel.
    let mut parts = Vec::new();
    for pref in orgs.prefectures.iter().filter(|p| p.persons > 0) {
        let first = orgs.municipalities[pref.municipalities.clone()]
            .first()
            .map_or(0, |m| m.first_person);
        let end = first + pref.persons;
        for (k, a) in (first..end).step_by(output::ROW_GROUP_ROWS).enumerate() {
            let rel = format!("persons/prefecture={:02}/part-{k:05}.parquet", pref.code);
            std::fs::create_dir_all(out.join(&rel).parent().expect("has a parent"))?;
            parts.push((rel, a, (a + output::ROW_GROUP_ROWS as u64).min(end)));
        }
    }
    let chunk = opts.chunk.max(1) as u64;
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
                    let mut m = Counts::default();
                    let mut counts = BTreeMap::<u32, u64>::new();
                    let mut start = *a;
                    while start < *b {
                        let stop = (start + chunk).min(*b);
                        let persons: Vec<Person> = (start..stop).map(|id| ctx.person(id)).collect();
                        for p in &persons {
                            m.add(p, &orgs);
                            if let Some(i) = p.insurer {
                                *counts.entry(i).or_default() += 1;
                            }
                        }
                        writer.write(&output::persons_batch(&orgs, &persons))?;
                        bar.inc(stop - start);
                        start = stop;
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
