//! Raw files: every extracted batch, appended as it arrives (`_raw/<table>/…`).
//!
//! They are the run's checkpoint and the input of the current-table build. A file is rotated
//! after `rows_per_file` rows so that a long backfill publishes progress as it goes.

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use chrono::{DateTime, Utc};

use super::layout;
use crate::manifest::FileEntry;
use crate::sink::{FileWriter, Format, Location, SinkError};

/// Rows per raw file before a new one is started.
pub const ROWS_PER_RAW_FILE: u64 = 250_000;

/// The raw files of one table being written.
pub struct RawTable {
    /// Table name.
    pub name: String,
    /// Its schema.
    pub schema: SchemaRef,
    format: Format,
    run_id: String,
    part: String,
    started: DateTime<Utc>,
    open: Option<FileWriter>,
    /// Finished files.
    pub files: Vec<FileEntry>,
}

impl RawTable {
    /// A writer for `name`'s raw files of run `run_id`.
    pub fn new(
        name: String,
        schema: SchemaRef,
        format: Format,
        run_id: &str,
        part: &str,
        started: DateTime<Utc>,
    ) -> Self {
        Self {
            name,
            schema,
            format,
            run_id: run_id.to_string(),
            part: part.to_string(),
            started,
            open: None,
            files: Vec::new(),
        }
    }

    /// Appends a batch (empty batches are skipped).
    pub async fn write(&mut self, loc: &Location, batch: &RecordBatch) -> Result<(), SinkError> {
        if batch.num_rows() == 0 {
            return Ok(());
        }
        if self.open.is_none() {
            let rel = layout::raw_file(
                &self.name,
                &self.part,
                self.started,
                &self.run_id,
                self.files.len(),
            );
            self.open = Some(FileWriter::create(
                loc,
                &rel,
                self.schema.clone(),
                &self.format,
            )?);
        }
        let file = self.open.as_mut().expect("opened above");
        file.write(batch).await?;
        if file.rows() >= ROWS_PER_RAW_FILE {
            self.close().await?;
        }
        Ok(())
    }

    /// Publishes the open file, if any.
    pub async fn close(&mut self) -> Result<(), SinkError> {
        if let Some(file) = self.open.take() {
            let r = file.finish().await?;
            self.files.push(FileEntry {
                path: r.path,
                rows: r.rows,
                bytes: r.bytes,
            });
        }
        Ok(())
    }

    /// Discards the open file (the run failed); finished files stay as the checkpoint.
    pub async fn abort(&mut self) {
        if let Some(file) = self.open.take()
            && let Err(e) = file.abort().await
        {
            tracing::warn!(table = %self.name, error = %e, "Could not abort a raw file.");
        }
    }
}
