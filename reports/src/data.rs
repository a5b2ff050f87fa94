//! Reading a run's tables with polars, and the few JSON files a run writes, into plain vectors.

use anyhow::Context as _;
use polars::prelude::*;
use std::path::Path;

/// A Parquet file as a data frame.
pub fn read_parquet(path: &Path) -> anyhow::Result<DataFrame> {
    let file = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    ParquetReader::new(file)
        .finish()
        .map_err(|e| anyhow::anyhow!("reading {}: {e}", path.display()))
}

/// A text column.
pub fn texts(df: &DataFrame, name: &str) -> anyhow::Result<Vec<String>> {
    let c = df
        .column(name)
        .map_err(|e| anyhow::anyhow!("column {name}: {e}"))?;
    Ok(c.str()
        .map_err(|e| anyhow::anyhow!("column {name}: {e}"))?
        .iter()
        .map(|v| v.unwrap_or_default().to_owned())
        .collect())
}

/// A numeric column as f64 (nulls as 0).
pub fn floats(df: &DataFrame, name: &str) -> anyhow::Result<Vec<f64>> {
    let c = df
        .column(name)
        .and_then(|c| c.cast(&DataType::Float64))
        .map_err(|e| anyhow::anyhow!("column {name}: {e}"))?;
    Ok(c.f64()?.iter().map(|v| v.unwrap_or(0.0)).collect())
}

/// A run directory's file of type `T` (`dx_model::rundir`).
pub fn read_run_file<T: dx_model::rundir::RunFile>(dir: &Path) -> anyhow::Result<T> {
    Ok(dx_model::rundir::read(dir)?)
}
