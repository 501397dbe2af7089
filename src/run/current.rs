//! Current tables: `<table>/part-<run_id>-<n>.<ext>`, one row per key.
//!
//! Every current table has the table's schema plus `_deleted_at` (Timestamp µs UTC, null for live
//! rows), in every mode, so the schema of a table never changes between runs. In full mode a
//! table's current rows are this run's rows: extraction already dropped repeated keys, so the
//! build streams the raw files into the output format batch by batch (memory is one batch). In
//! incremental mode `merge` combines the previous current files with the run's deltas.

use std::sync::Arc;

use arrow::array::{ArrayRef, TimestampMicrosecondArray, new_null_array};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use arrow::record_batch::RecordBatch;
use futures::StreamExt;

use super::layout;
use super::manifest::FileEntry;
use crate::sink::{FileWriter, Format, Location, SinkError, read_parquet};

/// Rows per current file before the next one starts.
pub const ROWS_PER_CURRENT_FILE: u64 = 5_000_000;
/// Rows per batch when reading files back.
pub const READ_BATCH_ROWS: usize = 8192;
/// The column marking rows deleted in Dentally (found missing by a reconciling read).
pub const DELETED_COLUMN: &str = "_deleted_at";

/// The schema of a current table: the table's columns, then `_deleted_at`.
pub fn current_schema(table: &SchemaRef) -> SchemaRef {
    let mut fields: Vec<Arc<Field>> = table.fields().iter().cloned().collect();
    fields.push(Arc::new(Field::new(
        DELETED_COLUMN,
        DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
        true,
    )));
    Arc::new(Schema::new_with_metadata(fields, table.metadata().clone()))
}

/// `batch` (with the table's columns) in the current schema, `_deleted_at` given per row.
pub fn with_deleted(
    batch: &RecordBatch,
    schema: &SchemaRef,
    deleted: Option<Vec<Option<i64>>>,
) -> RecordBatch {
    let n = schema.fields().len() - 1;
    let mut columns: Vec<ArrayRef> = batch.columns().iter().take(n).cloned().collect();
    let deleted_type = schema.field(n).data_type().clone();
    columns.push(match deleted {
        Some(values) => Arc::new(TimestampMicrosecondArray::from(values).with_timezone("UTC")),
        None => new_null_array(&deleted_type, batch.num_rows()),
    });
    RecordBatch::try_new(schema.clone(), columns).expect("columns follow the current schema")
}

/// Writes one table's current files, rotating every [`ROWS_PER_CURRENT_FILE`] rows.
pub struct CurrentWriter<'a> {
    loc: &'a Location,
    table: String,
    schema: SchemaRef,
    format: &'a Format,
    run_id: &'a str,
    open: Option<FileWriter>,
    files: Vec<FileEntry>,
}

impl<'a> CurrentWriter<'a> {
    /// A writer of `table`'s current files in `schema` (the current schema).
    pub fn new(
        loc: &'a Location,
        table: &str,
        schema: SchemaRef,
        format: &'a Format,
        run_id: &'a str,
    ) -> Self {
        Self {
            loc,
            table: table.to_string(),
            schema,
            format,
            run_id,
            open: None,
            files: Vec::new(),
        }
    }

    /// Appends a batch in the current schema.
    pub async fn write(&mut self, batch: &RecordBatch) -> Result<(), SinkError> {
        if batch.num_rows() == 0 {
            return Ok(());
        }
        if self.open.is_none() {
            self.open = Some(self.create()?);
        }
        let file = self.open.as_mut().expect("opened above");
        if let Err(e) = file.write(batch).await {
            if let Some(f) = self.open.take() {
                let _ = f.abort().await;
            }
            return Err(e);
        }
        if file.rows() >= ROWS_PER_CURRENT_FILE {
            let file = self.open.take().expect("open");
            self.files.push(finish(file).await?);
        }
        Ok(())
    }

    fn create(&self) -> Result<FileWriter, SinkError> {
        let rel = layout::current_file(
            &self.table,
            self.run_id,
            self.files.len(),
            self.format.extension(),
        );
        FileWriter::create(self.loc, &rel, self.schema.clone(), self.format)
    }

    /// Publishes the last file; an empty table still gets one empty file (readers find its schema).
    pub async fn finish(mut self) -> Result<Vec<FileEntry>, SinkError> {
        match self.open.take() {
            Some(file) => self.files.push(finish(file).await?),
            None if self.files.is_empty() => {
                let file = self.create()?;
                self.files.push(finish(file).await?);
            }
            None => {}
        }
        Ok(self.files)
    }
}

async fn finish(file: FileWriter) -> Result<FileEntry, SinkError> {
    let r = file.finish().await?;
    Ok(FileEntry {
        path: r.path,
        rows: r.rows,
        bytes: r.bytes,
    })
}

/// Full mode: the current files of `table` are its `raw` files of this run.
pub async fn build(
    loc: &Location,
    table: &str,
    schema: &SchemaRef,
    raw: &[FileEntry],
    format: &Format,
    run_id: &str,
) -> Result<Vec<FileEntry>, SinkError> {
    let current = current_schema(schema);
    let mut writer = CurrentWriter::new(loc, table, current.clone(), format, run_id);
    for entry in raw {
        let mut batches = read_parquet(loc, &entry.path, READ_BATCH_ROWS).await?;
        while let Some(batch) = batches.next().await {
            writer.write(&with_deleted(&batch?, &current, None)).await?;
        }
    }
    writer.finish().await
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
