//! The files of a run directory, declared once: the stage that writes a file and the report
//! that reads it share these types, so the two cannot drift.
//!
//! | file | type | written by |
//! |---|---|---|
//! | `population/manifest.json` | [`manifests::PopulationManifest`] | `dxsim population` |
//! | `workload/manifest.json` | [`manifests::WorkloadManifest`] | `dxsim workload` |
//! | `summary.json` | [`summary::Summary`] | `dxsim drive`, `dxsim run` |
//! | `service-times.json` | [`calibration::Calibration`] | `dxsim drive`, `dxsim run` |
//! | `capacity.json` | [`capacity::CapacityReport`] | `dxsim capacity`, `dxsim run` |
//! | `rollout.json` | [`rollout::RolloutSummary`] | `dxsim report SCENARIO` |
//! | `conformance.json` | [`conformance::Report`] | `dxsim conformance` |
//!
//! Architecture invariant: a run directory's JSON files are read and written only through
//! these types (and [`read`] and [`write`]).

pub mod calibration;
pub mod capacity;
pub mod conformance;
pub mod manifests;
pub mod rollout;
pub mod summary;

use serde::Serialize;
use serde::de::DeserializeOwned;
use std::path::Path;

/// A file of a run directory: its name there.
pub trait RunFile: Serialize + DeserializeOwned {
    const NAME: &'static str;
}

impl RunFile for summary::Summary {
    const NAME: &'static str = "summary.json";
}
impl RunFile for calibration::Calibration {
    const NAME: &'static str = "service-times.json";
}
impl RunFile for capacity::CapacityReport {
    const NAME: &'static str = "capacity.json";
}
impl RunFile for rollout::RolloutSummary {
    const NAME: &'static str = "rollout.json";
}
impl RunFile for conformance::Report {
    const NAME: &'static str = "conformance.json";
}
impl RunFile for manifests::PopulationManifest {
    const NAME: &'static str = "manifest.json";
}
impl RunFile for manifests::WorkloadManifest {
    const NAME: &'static str = "manifest.json";
}

/// Why a run directory's file could not be read or written.
#[derive(Debug)]
pub struct FileError {
    pub path: std::path::PathBuf,
    pub message: String,
}

impl std::fmt::Display for FileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path.display(), self.message)
    }
}

impl std::error::Error for FileError {}

/// Whether `dir` holds the file of `T`.
pub fn present<T: RunFile>(dir: &Path) -> bool {
    dir.join(T::NAME).is_file()
}

/// Reads the file of `T` in `dir`.
pub fn read<T: RunFile>(dir: &Path) -> Result<T, FileError> {
    read_file(&dir.join(T::NAME))
}

/// Reads a file of type `T` at `path` (a run file under another name, such as a calibration).
pub fn read_file<T: DeserializeOwned>(path: &Path) -> Result<T, FileError> {
    let error = |message: String| FileError {
        path: path.to_owned(),
        message,
    };
    let text = std::fs::read_to_string(path).map_err(|e| error(e.to_string()))?;
    serde_json::from_str(&text).map_err(|e| error(format!("not valid: {e}")))
}

/// Writes the file of `T` into `dir`: pretty JSON and a final newline.
pub fn write<T: RunFile>(dir: &Path, value: &T) -> Result<(), FileError> {
    let path = dir.join(T::NAME);
    let text = serde_json::to_string_pretty(value).expect("run files serialise") + "\n";
    std::fs::write(&path, text).map_err(|e| FileError {
        path,
        message: e.to_string(),
    })
}
