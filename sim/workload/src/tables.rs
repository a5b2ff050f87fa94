//! Small result tables written as Parquet: named columns of one type each. The reports read them
//! with polars; anything else that reads Parquet can too.

use arrow_array::{ArrayRef, Float64Array, RecordBatch, StringArray, UInt32Array, UInt64Array};
use arrow_schema::{DataType, Field, Schema};
use std::path::Path;
use std::sync::Arc;

/// One column's values.
#[derive(Debug, Clone, PartialEq)]
pub enum Column {
    Text(Vec<String>),
    U32(Vec<u32>),
    U64(Vec<u64>),
    F64(Vec<f64>),
}

impl Column {
    fn len(&self) -> usize {
        match self {
            Column::Text(v) => v.len(),
            Column::U32(v) => v.len(),
            Column::U64(v) => v.len(),
            Column::F64(v) => v.len(),
        }
    }

    fn arrow(self) -> (DataType, ArrayRef) {
        match self {
            Column::Text(v) => (DataType::Utf8, Arc::new(StringArray::from_iter_values(v))),
            Column::U32(v) => (DataType::UInt32, Arc::new(UInt32Array::from(v))),
            Column::U64(v) => (DataType::UInt64, Arc::new(UInt64Array::from(v))),
            Column::F64(v) => (DataType::Float64, Arc::new(Float64Array::from(v))),
        }
    }
}

/// Writes `columns` (all of one length) to `path` as one Parquet row group.
pub fn write_parquet(path: &Path, columns: Vec<(&str, Column)>) -> anyhow::Result<()> {
    let rows = columns.first().map_or(0, |(_, c)| c.len());
    if let Some((name, c)) = columns.iter().find(|(_, c)| c.len() != rows) {
        anyhow::bail!("column {name} has {} rows, not {rows}", c.len());
    }
    let mut fields = Vec::with_capacity(columns.len());
    let mut arrays = Vec::with_capacity(columns.len());
    for (name, c) in columns {
        let (t, a) = c.arrow();
        fields.push(Field::new(name, t, false));
        arrays.push(a);
    }
    let schema = Arc::new(Schema::new(fields));
    let batch = RecordBatch::try_new(schema.clone(), arrays)?;
    let file = std::fs::File::create(path)
        .map_err(|e| anyhow::anyhow!("creating {}: {e}", path.display()))?;
    let mut w = parquet::arrow::ArrowWriter::try_new(file, schema, None)?;
    w.write(&batch)?;
    w.close()?;
    Ok(())
}

/// The value at quantile `q` of sorted values (nearest rank), 0 when empty.
pub fn quantile_sorted(sorted: &[u32], q: f64) -> u32 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_quantiles() {
        let v: Vec<u32> = (1..=100).collect();
        assert_eq!(quantile_sorted(&v, 0.5), 50);
        assert_eq!(quantile_sorted(&v, 0.99), 99);
        assert_eq!(quantile_sorted(&v, 1.0), 100);
        assert_eq!(quantile_sorted(&v, 0.0), 1);
        assert_eq!(quantile_sorted(&[], 0.5), 0);
    }

    #[test]
    fn columns_of_unequal_length_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let err = write_parquet(
            &dir.path().join("t.parquet"),
            vec![
                ("a", Column::U32(vec![1, 2])),
                ("b", Column::F64(vec![1.0])),
            ],
        )
        .unwrap_err();
        assert!(err.to_string().contains("column b has 1 rows"), "{err}");
    }
}
