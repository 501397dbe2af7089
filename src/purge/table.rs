//! One current table without its rows marked deleted before a cutoff.
//!
//! The table is streamed twice at most: once to count (so a table with nothing to purge is not
//! rewritten, and `--dry-run` costs no write), once to copy every other row into new current
//! files named by the purge. Memory is one batch.

use arrow::array::{Array, AsArray, BooleanArray};
use arrow::compute::filter_record_batch;
use arrow::datatypes::{DataType, TimeUnit, TimestampMicrosecondType};
use arrow::record_batch::RecordBatch;
use futures::StreamExt;

use crate::manifest::FileEntry;
use crate::sink::{Format, Location, SinkError, read_parquet};
use crate::table::DELETED_COLUMN;
use crate::table::current::{CurrentWriter, READ_BATCH_ROWS};

/// Which rows of a batch stay: live rows, and rows marked deleted at or after `cutoff` (µs).
fn kept(batch: &RecordBatch, cutoff: i64) -> BooleanArray {
    let deleted = batch
        .column_by_name(DELETED_COLUMN)
        .filter(|c| matches!(c.data_type(), DataType::Timestamp(TimeUnit::Microsecond, _)));
    match deleted {
        Some(column) => {
            let at = column.as_primitive::<TimestampMicrosecondType>();
            (0..batch.num_rows())
                .map(|i| Some(at.is_null(i) || at.value(i) >= cutoff))
                .collect()
        }
        None => BooleanArray::from(vec![true; batch.num_rows()]),
    }
}

/// Rows in `files`, and those of them marked deleted before `cutoff`.
pub async fn count(loc: &Location, files: &[String], cutoff: i64) -> Result<(u64, u64), SinkError> {
    let (mut rows, mut purgeable) = (0u64, 0u64);
    for file in files {
        let mut batches = read_parquet(loc, file, READ_BATCH_ROWS).await?;
        while let Some(batch) = batches.next().await {
            let batch = batch?;
            let keep = kept(&batch, cutoff);
            rows += batch.num_rows() as u64;
            purgeable += (batch.num_rows() - keep.true_count()) as u64;
        }
    }
    Ok((rows, purgeable))
}

/// Where the rewritten table goes.
pub struct Rewrite<'a> {
    /// Output location.
    pub loc: &'a Location,
    /// The table.
    pub table: &'a str,
    /// Its practice partition (`practice=<name>/`, or empty).
    pub part: &'a str,
    /// Its current files now.
    pub files: &'a [String],
    /// The pipeline's output format (Parquet settings).
    pub format: &'a Format,
    /// The purge's id, naming the new files.
    pub purge_id: &'a str,
}

/// Writes the table's rows but those marked deleted before `cutoff` into new current files;
/// returns them. The old files stay until the purge publishes the new ones.
pub async fn rewrite(r: &Rewrite<'_>, cutoff: i64) -> Result<Vec<FileEntry>, SinkError> {
    let Some(first) = r.files.first() else {
        return Ok(Vec::new());
    };
    let schema = read_parquet(r.loc, first, 1).await?.schema();
    let mut writer = CurrentWriter::new(r.loc, r.table, r.part, schema, r.format, r.purge_id);
    for file in r.files {
        let mut batches = read_parquet(r.loc, file, READ_BATCH_ROWS).await?;
        while let Some(batch) = batches.next().await {
            let batch = batch?;
            let keep = kept(&batch, cutoff);
            let batch = filter_record_batch(&batch, &keep).map_err(|e| SinkError::Parquet {
                location: r.loc.display().to_string(),
                key: file.clone(),
                source: parquet::errors::ParquetError::ArrowError(e.to_string()),
            })?;
            writer.write(&batch).await?;
        }
    }
    writer.finish().await
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Int64Array, TimestampMicrosecondArray};
    use arrow::datatypes::{Field, Schema};
    use std::sync::Arc;

    #[test]
    fn keeps_live_rows_and_rows_deleted_since_the_cutoff() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, false),
            Field::new(
                DELETED_COLUMN,
                DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
                true,
            ),
        ]));
        let batch = RecordBatch::try_new(
            schema,
            vec![
                Arc::new(Int64Array::from(vec![1, 2, 3, 4])),
                Arc::new(
                    TimestampMicrosecondArray::from(vec![None, Some(10), Some(100), Some(99)])
                        .with_timezone("UTC"),
                ),
            ],
        )
        .unwrap();
        let keep = kept(&batch, 100);
        assert_eq!(
            keep.iter().collect::<Vec<_>>(),
            vec![Some(true), Some(false), Some(true), Some(false)]
        );
    }
}
