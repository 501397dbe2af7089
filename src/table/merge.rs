//! Incremental mode: the new current table = the previous current table merged with this run's
//! deltas, by primary key.
//!
//! Rules (design §4, §6):
//! - a key present in the deltas takes the delta's version, unless the previous version has a
//!   larger cursor (`updated_at`); ties go to the delta (the later run);
//! - a previous row that the run's read *covered* (a reconciling full read covers every row; a
//!   window re-read covers the rows whose window field falls in the window) but did not return
//!   is gone from Dentally: it is kept, with `_deleted_at` set to the run's start;
//! - other previous rows are kept as they are;
//! - child tables follow their parent: children of a replaced parent are replaced by the delta's
//!   children, children of a parent found deleted get the same `_deleted_at`.
//!
//! Memory is one index entry per *delta* key (plus the keys found deleted), never per row of the
//! table: the previous files are streamed batch by batch. We merge with arrow directly rather
//! than polars: this keeps the exact declared schema (polars writes LargeUtf8 and its own
//! decimal/timestamp metadata) and holds only the delta's keys (see `docs/DECISIONS.md`).

use std::collections::{BTreeMap, HashMap, HashSet};

use arrow::array::BooleanArray;
use arrow::compute::filter_record_batch;
use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use futures::StreamExt;

use super::current::{
    CurrentWriter, DELETED_COLUMN, READ_BATCH_ROWS, Target, current_schema, with_deleted,
};
use crate::catalog::Table;
use crate::manifest::FileEntry;
use crate::reconcile::{Key, keys_of, micros_of};
use crate::sink::{Format, Location, SinkError, read_parquet};

/// Which previous rows this run's read covered (and so would have returned if they still existed).
#[derive(Debug, Clone)]
pub enum Coverage {
    /// An `updated_after` delta: it says nothing about rows it did not return.
    Nothing,
    /// A full (reconciling) read: every row.
    Everything,
    /// A count-guided reconciliation: exactly these keys are gone from Dentally.
    Keys(HashSet<Key>),
    /// A window re-read: rows whose `field` (µs since the epoch) lies in `[from, to)`.
    Window {
        /// Timestamp or date column.
        field: String,
        /// Start, µs since the epoch.
        from: i64,
        /// End, µs since the epoch.
        to: i64,
    },
}

/// What to merge for one resource.
pub struct MergeInput<'a> {
    /// Output location.
    pub loc: &'a Location,
    /// Output format.
    pub format: &'a Format,
    /// Partition and practice id of the current files.
    pub target: Target<'a>,
    /// This run.
    pub run_id: &'a str,
    /// `_deleted_at` for rows found deleted (µs since the epoch).
    pub now: i64,
    /// The resource's tables, main first.
    pub tables: &'a [Table],
    /// Previous current files per table.
    pub previous: &'a BTreeMap<String, Vec<String>>,
    /// This run's raw files per table.
    pub delta: &'a BTreeMap<String, Vec<FileEntry>>,
    /// Primary key column of the main table.
    pub key: &'a str,
    /// Cursor column (`updated_at`), when the resource has one.
    pub order: Option<&'a str>,
    /// What the run's read covered.
    pub coverage: Coverage,
}

struct Winner {
    order: Option<i64>,
    file: usize,
    row: usize,
    lost: bool,
}

/// Merges; returns the new current files per table.
pub async fn merge(input: &MergeInput<'_>) -> Result<BTreeMap<String, Vec<FileEntry>>, SinkError> {
    let main = &input.tables[0];
    let no_files = Vec::new();
    let delta_main = input.delta.get(&main.name).unwrap_or(&no_files);
    let mut winners = index_delta(input, delta_main).await?;
    let schema = current_schema(&main.schema, input.target.practice_id.is_some());
    let mut writer = CurrentWriter::new(
        input.loc,
        &main.name,
        input.target.part,
        schema.clone(),
        input.format,
        input.run_id,
    );
    let mut deleted: HashSet<Key> = HashSet::new();
    for path in input
        .previous
        .get(&main.name)
        .map_or(&[][..], Vec::as_slice)
    {
        let mut batches = read_parquet(input.loc, path, READ_BATCH_ROWS).await?;
        while let Some(batch) = batches.next().await {
            let merged = merge_previous_main(input, &schema, &batch?, &mut winners, &mut deleted)?;
            writer.write(&merged).await?;
        }
    }
    for (file_index, file) in delta_main.iter().enumerate() {
        let mut batches = read_parquet(input.loc, &file.path, READ_BATCH_ROWS).await?;
        let mut offset = 0;
        while let Some(batch) = batches.next().await {
            let batch = batch?;
            let keys = keys_of(&batch, input.key);
            let keep: BooleanArray =
                (0..batch.num_rows())
                    .map(|i| {
                        Some(keys[i].and_then(|k| winners.get(&k)).is_some_and(|w| {
                            !w.lost && w.file == file_index && w.row == offset + i
                        }))
                    })
                    .collect();
            offset += batch.num_rows();
            writer
                .write(&filter(
                    &with_deleted(&batch, &schema, None, input.target.practice_id)?,
                    &keep,
                ))
                .await?;
        }
    }
    let mut out = BTreeMap::new();
    out.insert(main.name.clone(), writer.finish().await?);
    for child in &input.tables[1..] {
        let files = merge_child(input, child, &winners, &deleted).await?;
        out.insert(child.name.clone(), files);
    }
    Ok(out)
}

async fn index_delta(
    input: &MergeInput<'_>,
    files: &[FileEntry],
) -> Result<HashMap<Key, Winner>, SinkError> {
    let mut winners: HashMap<Key, Winner> = HashMap::new();
    for (file_index, file) in files.iter().enumerate() {
        let mut batches = read_parquet(input.loc, &file.path, READ_BATCH_ROWS).await?;
        let mut offset = 0;
        while let Some(batch) = batches.next().await {
            let batch = batch?;
            let keys = keys_of(&batch, input.key);
            let orders = input.order.map(|o| micros_of(&batch, o));
            for (i, key) in keys.iter().enumerate() {
                let Some(key) = key else { continue };
                let order = orders.as_ref().and_then(|o| o[i]);
                let newer = winners.get(key).is_none_or(|w| order >= w.order);
                if newer {
                    winners.insert(
                        *key,
                        Winner {
                            order,
                            file: file_index,
                            row: offset + i,
                            lost: false,
                        },
                    );
                }
            }
            offset += batch.num_rows();
        }
    }
    Ok(winners)
}

fn merge_previous_main(
    input: &MergeInput<'_>,
    schema: &SchemaRef,
    batch: &RecordBatch,
    winners: &mut HashMap<Key, Winner>,
    deleted: &mut HashSet<Key>,
) -> Result<RecordBatch, SinkError> {
    let keys = keys_of(batch, input.key);
    let orders = input.order.map(|o| micros_of(batch, o));
    let covered = covered(batch, &input.coverage, input.key);
    let old_deleted = micros_of(batch, DELETED_COLUMN);
    let mut keep = Vec::with_capacity(batch.num_rows());
    let mut deleted_at = Vec::with_capacity(batch.num_rows());
    for i in 0..batch.num_rows() {
        let mut stamp = old_deleted[i];
        let kept = match keys[i].and_then(|k| winners.get_mut(&k).map(|w| (k, w))) {
            Some((_, w)) => {
                let previous_newer = orders.as_ref().and_then(|o| o[i]) > w.order;
                if previous_newer {
                    w.lost = true;
                }
                previous_newer
            }
            None => {
                if covered[i] && stamp.is_none() {
                    stamp = Some(input.now);
                    if let Some(k) = keys[i] {
                        deleted.insert(k);
                    }
                }
                true
            }
        };
        keep.push(Some(kept));
        deleted_at.push(stamp);
    }
    Ok(filter(
        &with_deleted(batch, schema, Some(deleted_at), input.target.practice_id)?,
        &BooleanArray::from(keep),
    ))
}

async fn merge_child(
    input: &MergeInput<'_>,
    child: &Table,
    winners: &HashMap<Key, Winner>,
    deleted: &HashSet<Key>,
) -> Result<Vec<FileEntry>, SinkError> {
    let parent = child
        .parent_key
        .as_deref()
        .expect("child tables have a parent key");
    let schema = current_schema(&child.schema, input.target.practice_id.is_some());
    let mut writer = CurrentWriter::new(
        input.loc,
        &child.name,
        input.target.part,
        schema.clone(),
        input.format,
        input.run_id,
    );
    for path in input
        .previous
        .get(&child.name)
        .map_or(&[][..], Vec::as_slice)
    {
        let mut batches = read_parquet(input.loc, path, READ_BATCH_ROWS).await?;
        while let Some(batch) = batches.next().await {
            let batch = batch?;
            let parents = keys_of(&batch, parent);
            let old_deleted = micros_of(&batch, DELETED_COLUMN);
            let keep: BooleanArray = parents
                .iter()
                .map(|p| Some(p.and_then(|k| winners.get(&k)).is_none_or(|w| w.lost)))
                .collect();
            let stamps = parents
                .iter()
                .zip(old_deleted)
                .map(|(p, old)| {
                    old.or_else(|| p.filter(|k| deleted.contains(k)).map(|_| input.now))
                })
                .collect();
            writer
                .write(&filter(
                    &with_deleted(&batch, &schema, Some(stamps), input.target.practice_id)?,
                    &keep,
                ))
                .await?;
        }
    }
    for file in input.delta.get(&child.name).map_or(&[][..], Vec::as_slice) {
        let mut batches = read_parquet(input.loc, &file.path, READ_BATCH_ROWS).await?;
        while let Some(batch) = batches.next().await {
            let batch = batch?;
            let keep: BooleanArray = keys_of(&batch, parent)
                .iter()
                .map(|p| Some(p.and_then(|k| winners.get(&k)).is_some_and(|w| !w.lost)))
                .collect();
            writer
                .write(&filter(
                    &with_deleted(&batch, &schema, None, input.target.practice_id)?,
                    &keep,
                ))
                .await?;
        }
    }
    writer.finish().await
}

fn filter(batch: &RecordBatch, keep: &BooleanArray) -> RecordBatch {
    filter_record_batch(batch, keep).expect("mask has the batch's length")
}

fn covered(batch: &RecordBatch, coverage: &Coverage, key: &str) -> Vec<bool> {
    match coverage {
        Coverage::Nothing => vec![false; batch.num_rows()],
        Coverage::Everything => vec![true; batch.num_rows()],
        Coverage::Keys(gone) => keys_of(batch, key)
            .into_iter()
            .map(|k| k.is_some_and(|k| gone.contains(&k)))
            .collect(),
        Coverage::Window { field, from, to } => micros_of(batch, field)
            .into_iter()
            .map(|v| v.is_some_and(|v| v >= *from && v < *to))
            .collect(),
    }
}

#[cfg(test)]
mod tests;
