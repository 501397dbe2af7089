//! Current tables: `<table>/part-<run_id>-<n>.<ext>`, one row per key, built from raw files.
//!
//! In full mode a table's current rows are this run's rows; extraction already dropped repeated
//! keys, so the build streams the raw files into the output format batch by batch (memory is one
//! batch, whatever the table's size). Files are published atomically by the sink.

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use futures::StreamExt;

use super::layout;
use super::manifest::FileEntry;
use crate::sink::{FileWriter, Format, Location, SinkError, read_parquet};

/// Rows per current file before the next one starts.
pub const ROWS_PER_CURRENT_FILE: u64 = 5_000_000;
/// Rows per batch when reading raw files back.
const READ_BATCH_ROWS: usize = 8192;

/// Builds the current files of `table` from `raw` files; returns the files written.
pub async fn build(
    loc: &Location,
    table: &str,
    schema: &SchemaRef,
    raw: &[FileEntry],
    format: &Format,
    run_id: &str,
) -> Result<Vec<FileEntry>, SinkError> {
    let mut files = Vec::new();
    let mut open: Option<FileWriter> = None;
    for entry in raw {
        let mut batches = read_parquet(loc, &entry.path, READ_BATCH_ROWS).await?;
        while let Some(batch) = batches.next().await {
            let batch = with_schema(batch?, schema);
            if open.is_none() {
                let rel = layout::current_file(table, run_id, files.len(), format.extension());
                open = Some(FileWriter::create(loc, &rel, schema.clone(), format)?);
            }
            let file = open.as_mut().expect("opened above");
            if let Err(e) = file.write(&batch).await {
                if let Some(f) = open.take() {
                    let _ = f.abort().await;
                }
                return Err(e);
            }
            if file.rows() >= ROWS_PER_CURRENT_FILE {
                files.push(finish(open.take().expect("open")).await?);
            }
        }
    }
    match open {
        Some(file) => files.push(finish(file).await?),
        // An empty table still gets one (empty) file, so readers find its schema.
        None if files.is_empty() => {
            let rel = layout::current_file(table, run_id, 0, format.extension());
            files.push(finish(FileWriter::create(loc, &rel, schema.clone(), format)?).await?);
        }
        None => {}
    }
    Ok(files)
}

async fn finish(file: FileWriter) -> Result<FileEntry, SinkError> {
    let r = file.finish().await?;
    Ok(FileEntry {
        path: r.path,
        rows: r.rows,
        bytes: r.bytes,
    })
}

/// The batch with the table's declared schema (read-back schemas may differ in metadata only).
fn with_schema(batch: RecordBatch, schema: &SchemaRef) -> RecordBatch {
    RecordBatch::try_new(schema.clone(), batch.columns().to_vec()).unwrap_or(batch)
}

/// Removes a table's current files that are not in `keep` (after the manifest naming `keep`).
pub async fn remove_stale(
    loc: &Location,
    table: &str,
    keep: &[FileEntry],
) -> Result<usize, SinkError> {
    let mut removed = 0;
    for meta in loc.list(&layout::current_dir(table)).await? {
        let Some(rel) = loc.relative(&meta.location) else {
            continue;
        };
        // Only this table's own files: a child table `payments__explanations/` is another folder.
        let in_table = rel
            .strip_prefix(&layout::current_dir(table))
            .is_some_and(|rest| !rest.contains('/'));
        if in_table && !keep.iter().any(|k| k.path == rel) {
            loc.delete(&rel).await?;
            removed += 1;
        }
    }
    Ok(removed)
}
