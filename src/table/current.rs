//! Current tables: `<table>/part-<run_id>-<n>.<ext>`, one row per key.
//!
//! Every current table has the table's schema plus `_deleted_at` (Timestamp µs UTC, null for live
//! rows), in every mode, so the schema of a table never changes between runs. In full mode a
//! table's current rows are this run's rows: extraction already dropped repeated keys, so the
//! build streams the raw files into the output format batch by batch (memory is one batch). In
//! incremental mode `merge` combines the previous current files with the run's deltas.

use std::sync::Arc;

use arrow::array::{ArrayRef, StringArray, TimestampMicrosecondArray, new_null_array};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use arrow::record_batch::RecordBatch;
use futures::StreamExt;

use super::layout;
use crate::manifest::FileEntry;
use crate::sink::{FileWriter, Format, Location, SinkError, read_parquet};

/// Rows per current file before the next one starts.
pub const ROWS_PER_CURRENT_FILE: u64 = 5_000_000;
/// Rows per batch when reading files back.
pub const READ_BATCH_ROWS: usize = 8192;
/// The column marking rows deleted in Dentally (found missing by a reconciling read).
pub const DELETED_COLUMN: &str = "_deleted_at";

/// The column holding the practice's Dentally id, in every table of a multi-practice pipeline.
pub const PRACTICE_COLUMN: &str = "practice_id";

/// The schema of a current table: the table's columns, then `_deleted_at`, then `practice_id`
/// in a multi-practice pipeline.
pub fn current_schema(table: &SchemaRef, with_practice: bool) -> SchemaRef {
    let mut fields: Vec<Arc<Field>> = table.fields().iter().cloned().collect();
    fields.push(Arc::new(Field::new(
        DELETED_COLUMN,
        DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
        true,
    )));
    // A table whose records carry `practice_id` already (`users`) keeps the API's column.
    if with_practice && table.column_with_name(PRACTICE_COLUMN).is_none() {
        fields.push(Arc::new(Field::new(PRACTICE_COLUMN, DataType::Utf8, true)));
    }
    Arc::new(Schema::new_with_metadata(fields, table.metadata().clone()))
}

/// `batch` (whose leading columns are the table's) in the current schema, with `_deleted_at`
/// given per row (`None`: all null) and `practice_id` set when the schema has it. A batch whose
/// leading columns are not the table's (by name and type) is an error, never a panic: previous
/// current files come from disk.
pub fn with_deleted(
    batch: &RecordBatch,
    schema: &SchemaRef,
    deleted: Option<Vec<Option<i64>>>,
    practice: Option<&str>,
) -> Result<RecordBatch, SinkError> {
    let names: Vec<&String> = schema
        .fields()
        .iter()
        .rev()
        .take(2)
        .map(|f| f.name())
        .collect();
    let with_practice = names.first().is_some_and(|n| *n == PRACTICE_COLUMN)
        && names.get(1).is_some_and(|n| *n == DELETED_COLUMN);
    let n = schema.fields().len() - 1 - usize::from(with_practice);
    let wanted = &schema.fields()[..n];
    let found = batch.schema();
    let same = found.fields().len() >= n
        && wanted
            .iter()
            .zip(found.fields().iter())
            .all(|(w, f)| w.name() == f.name() && w.data_type() == f.data_type());
    if !same {
        let render = |fields: &[arrow::datatypes::FieldRef]| {
            fields
                .iter()
                .map(|f| format!("{}: {}", f.name(), f.data_type()))
                .collect::<Vec<_>>()
                .join(", ")
        };
        return Err(SinkError::PreviousColumns {
            expected: render(wanted),
            found: render(&found.fields()[..found.fields().len().min(n)]),
        });
    }
    let mut columns: Vec<ArrayRef> = batch.columns().iter().take(n).cloned().collect();
    let deleted_type = schema.field(n).data_type().clone();
    columns.push(match deleted {
        Some(values) => Arc::new(TimestampMicrosecondArray::from(values).with_timezone("UTC")),
        None => new_null_array(&deleted_type, batch.num_rows()),
    });
    if with_practice {
        columns.push(Arc::new(StringArray::from(vec![
            practice;
            batch.num_rows()
        ])));
    }
    RecordBatch::try_new(schema.clone(), columns).map_err(|e| SinkError::PreviousColumns {
        expected: schema.to_string(),
        found: e.to_string(),
    })
}

/// Where a table's current files go and what they carry: the practice partition and id.
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    /// Partition folder (`practice=<name>/`, or empty).
    pub part: &'a str,
    /// The practice's id for the `practice_id` column (multi-practice pipelines only).
    pub practice_id: Option<&'a str>,
}

/// Writes one table's current files, rotating every [`ROWS_PER_CURRENT_FILE`] rows.
pub struct CurrentWriter<'a> {
    loc: &'a Location,
    table: String,
    part: String,
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
        part: &str,
        schema: SchemaRef,
        format: &'a Format,
        run_id: &'a str,
    ) -> Self {
        Self {
            loc,
            table: table.to_string(),
            part: part.to_string(),
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
            &self.part,
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
    target: Target<'_>,
    schema: &SchemaRef,
    raw: &[FileEntry],
    format: &Format,
    run_id: &str,
) -> Result<Vec<FileEntry>, SinkError> {
    let current = current_schema(schema, target.practice_id.is_some());
    let mut writer = CurrentWriter::new(loc, table, target.part, current.clone(), format, run_id);
    for entry in raw {
        let mut batches = read_parquet(loc, &entry.path, READ_BATCH_ROWS).await?;
        while let Some(batch) = batches.next().await {
            writer
                .write(&with_deleted(&batch?, &current, None, target.practice_id)?)
                .await?;
        }
    }
    writer.finish().await
}
