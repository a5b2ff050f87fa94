//! Same scenario, same seed, same bytes: the population, workload and capacity outputs of the
//! shipped scenarios are pinned by digest, whatever the thread count.
//!
//! A digest is the SHA-256 of the stage's `sha256sum`-style listing (`<file sha256>  <path>` per
//! file, sorted by path, the capacity report's rendering left out). A change that moves any output
//! byte fails here on purpose. If the change is meant to move outputs (a new draw, a new column),
//! say so in its commit, regenerate with the release binary and compare by hand:
//!
//! ```text
//! cargo run --release -- population scenarios/quickstart.toml --out /tmp/d/population
//! cargo run --release -- workload scenarios/quickstart.toml --population /tmp/d/population --out /tmp/d/workload
//! cargo run --release -- capacity scenarios/quickstart.toml --out /tmp/d/capacity
//! ```
//!
//! then put the digests this test prints into the table below.

use dx_population::{self as population, RunOptions};
use dx_scenario::Scenario;
use sha2::{Digest, Sha256};
use std::path::Path;

/// (scenario, stage, files, digest): recorded from the outputs of main before the crate split
/// (7c60c94), which the split reproduced byte for byte; the workloads (and the national
/// weekday's capacity, which counts the workload's consents) moved when verbal consent came to
/// need a verification at the visit (issue 18): a visit without one asks for no verbal consent.
/// Food allergies moved to their JFAGY codes (issue 21): the quickstart workload and the national
/// weekday's capacity (whose sample workload is among its outputs) moved with them. A visit's
/// items became one `ehr_items` event per resource category (JP-CLINS's one Bundle per category,
/// issue 21): both workloads and both capacity results moved. The capacity result of a scenario
/// of some prefectures names them (`prefectures` in capacity.json, issue 22's report defects):
/// the quickstart's moved, the national weekday's (all of Japan) did not. Issue 23's dataset
/// defects moved them all: the persons' folders are named by code alone (`persons/13/`), and the
/// events code sex as the population does (`F`, `M`) with no facility for a person's own
/// requests; each capacity result holds its sample workload. Households (issue 23) moved them
/// all again: insurance follows the household, and the persons files gained two columns; then
/// qualification histories (new columns), and requests after a 75th birthday carrying the new
/// number (and the history columns written without dictionaries). Prefectures at their own ages
/// (issue 23) moved them all: ages follow each prefecture's published shares, drawn by an
/// equidistributed sequence per municipality. Then the workloads and capacity results moved when
/// flu doses given in the days before the period came to reach it in the municipalities' batch
/// uploads, and doses recorded online before the period stopped being uploaded as well; and
/// again when the municipalities came to register pregnancy notifications and entitlements
/// (two new routes, a new flow); and all again with the changes of employer in the year ahead
/// (two persons columns, `next_branch` and `next_change`) that the insurers report (two more
/// routes, the insurer flow). Hospitals by each prefecture's published count moved the national
/// weekday's capacity result (its sample population's hospitals); the pinned populations' own
/// hospital counts round to the same numbers. Retirements into NHI in the year ahead (reported
/// by the insurers too) moved the populations, the national weekday's workload and both capacity
/// results. Summing the workload's expected ages by prefecture before mixing them (once per
/// prefecture, not per municipality) moved the last bits of the manifests' expected counts.
#[rustfmt::skip]
const PINNED: &[(&str, &str, usize, &str)] = &[
    ("quickstart", "population", 7, "3ba7bb2fa4f8f334685784126addae133f7263bb73745eb2b0d9b863a519f0af"),
    ("quickstart", "workload", 2, "76b48da23ae92371757cb94ed211d4dd32829eb5b9c69f396ed364bd54604667"),
    ("quickstart", "capacity", 11, "28392598bccbdb58f6e358aaf271ea0bd9b11d5900bb9f6f9372d2687da1830e"),
    ("national-weekday", "population", 53, "51b27be479aca63162b64de0f9f4f8e60a7582fca7d3989894e286b602f359c3"),
    ("national-weekday", "workload", 2, "0a3428d7d8a41884cb5b0e1d7261ef22aa8e8ebe94bfc23fd889a4dc552d8248"),
    ("national-weekday", "capacity", 57, "26b2ca102f79bf26ae175e5ac04604a01c4ed513705a15aff5d004e9dc16dc98"),
];

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn listing(root: &Path, dir: &Path, out: &mut Vec<(String, String)>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let p = entry.unwrap().path();
        if p.is_dir() {
            listing(root, &p, out);
        } else {
            let rel = p
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            if !rel.starts_with("report") {
                out.push((rel, hex(&Sha256::digest(std::fs::read(&p).unwrap()))));
            }
        }
    }
}

/// The files under `dir` and the digest of their listing.
fn digest(dir: &Path) -> (usize, String) {
    let mut files = Vec::new();
    listing(dir, dir, &mut files);
    files.sort();
    let text: String = files.iter().map(|(p, h)| format!("{h}  {p}\n")).collect();
    (files.len(), hex(&Sha256::digest(text.as_bytes())))
}

fn scenario(name: &str) -> Scenario {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../scenarios")
        .join(format!("{name}.toml"));
    Scenario::load(&path).unwrap()
}

fn generate(s: &Scenario, out: &Path, threads: usize) {
    let opts = RunOptions {
        threads,
        progress: false,
    };
    population::generate(s, &out.join("population"), opts).unwrap();
    dx_workload::generate(
        s,
        &out.join("population"),
        &out.join("workload"),
        dx_workload::RunOptions {
            threads,
            progress: false,
        },
    )
    .unwrap();
}

/// `dxsim capacity` without a workload: a sample population and workload at the scenario's
/// sample scale, then the model with the built-in calibration.
fn capacity(s: &Scenario, out: &Path) {
    let mut sample = s.clone();
    sample.population.scale = s.capacity.sample_scale;
    generate(&sample, &out.join("sample"), 2);
    let calibration = serde_json::from_str(dx_capacity::run::BUILT_IN_CALIBRATION).unwrap();
    let rates = dx_capacity::rates::Rates::from_workload(
        &out.join("sample").join("workload"),
        sample.population.scale.get(),
    )
    .unwrap();
    dx_capacity::run::run(s, &rates, &calibration, out).unwrap();
}

fn check(got: &mut Vec<String>, scenario: &str, stage: &str, dir: &Path) {
    let (files, digest) = digest(dir);
    let pinned = PINNED
        .iter()
        .find(|p| p.0 == scenario && p.1 == stage)
        .expect("every stage checked is pinned");
    if (files, digest.as_str()) != (pinned.2, pinned.3) {
        got.push(format!(
            "{scenario} {stage}: {files} files, digest {digest} (pinned: {} files, {})",
            pinned.2, pinned.3
        ));
    }
}

fn assert_pinned(moved: Vec<String>) {
    assert!(
        moved.is_empty(),
        "outputs moved (see this file's doc for when that is meant):\n{}",
        moved.join("\n")
    );
}

#[test]
fn populations_and_workloads_are_pinned_whatever_the_threads() {
    let mut moved = Vec::new();
    for name in ["quickstart", "national-weekday"] {
        let s = scenario(name);
        let one = tempfile::tempdir().unwrap();
        let two = tempfile::tempdir().unwrap();
        generate(&s, one.path(), 1);
        generate(&s, two.path(), 2);
        for stage in ["population", "workload"] {
            assert_eq!(
                digest(&one.path().join(stage)),
                digest(&two.path().join(stage)),
                "{name} {stage}: one thread and two threads differ"
            );
            check(&mut moved, name, stage, &two.path().join(stage));
        }
    }
    assert_pinned(moved);
}

/// The national weekday's model is the slowest test of the workspace (about a minute unoptimised):
/// 13.8 million arrivals per replication, three replications, the sizing search.
#[test]
fn capacity_results_are_pinned() {
    let mut moved = Vec::new();
    for name in ["quickstart", "national-weekday"] {
        let out = tempfile::tempdir().unwrap();
        capacity(&scenario(name), out.path());
        check(&mut moved, name, "capacity", out.path());
    }
    assert_pinned(moved);
}
