//! [`CsvFile`]: one CSV object written as a stream of record batches.
//!
//! The same write path as Parquet (habit 7): each batch is rendered into a byte buffer (see
//! [`super::csv_render`] for the text of each type) and handed to an
//! `object_store::buffered::BufWriter`, so the object appears only on [`CsvFile::finish`], as
//! for [`super::ParquetFile`]. The header row is written even when no row is, so an empty table
//! is still a readable CSV with its columns.

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use bytes::Bytes;
use object_store::buffered::BufWriter;
use tokio::io::AsyncWriteExt;

use super::FileReport;
use super::csv_render;
use super::error::{SinkError, store_error_in};
use super::location::Location;

/// A CSV object being written. Call [`CsvFile::finish`] to publish it or [`CsvFile::abort`] to
/// discard it; dropping it unfinished publishes nothing.
pub struct CsvFile {
    sink: BufWriter,
    schema: SchemaRef,
    location: Location,
    key: String,
    header_written: bool,
    formula_guard: bool,
    rows: u64,
    bytes: u64,
}

impl CsvFile {
    /// Starts `rel_path` under `location`; every batch written must have `schema`. Text cells
    /// that a spreadsheet would run as a formula are guarded (see [`super::csv_render`]).
    pub fn create(location: &Location, rel_path: &str, schema: SchemaRef) -> Self {
        Self::create_with_guard(location, rel_path, schema, true)
    }

    /// [`CsvFile::create`], with the formula guard on or off (`[output] csv_guard`).
    pub fn create_with_guard(
        location: &Location,
        rel_path: &str,
        schema: SchemaRef,
        formula_guard: bool,
    ) -> Self {
        Self {
            sink: location.writer(rel_path),
            schema,
            location: location.clone(),
            key: rel_path.to_string(),
            header_written: false,
            formula_guard,
            rows: 0,
            bytes: 0,
        }
    }

    /// Renders `batch` (with the header row first, once) and buffers or uploads it.
    pub async fn write(&mut self, batch: &RecordBatch) -> Result<(), SinkError> {
        self.check_schema(batch)?;
        let bytes = csv_render::encode(batch, !self.header_written, self.formula_guard).map_err(
            |source| SinkError::Csv {
                location: self.location.display().to_string(),
                key: self.key.clone(),
                source,
            },
        )?;
        self.header_written = true;
        self.rows += batch.num_rows() as u64;
        self.bytes += bytes.len() as u64;
        self.sink
            .put(Bytes::from(bytes))
            .await
            .map_err(|e| self.location.store_error("write", &self.key, e))
    }

    /// Rows written so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Writes the header if nothing was written, then publishes the object.
    pub async fn finish(mut self) -> Result<FileReport, SinkError> {
        if !self.header_written {
            self.write(&RecordBatch::new_empty(self.schema.clone()))
                .await?;
        }
        self.sink.shutdown().await.map_err(|source| {
            let source = store_error_in(Box::new(source)).unwrap_or_else(|other| {
                object_store::Error::Generic {
                    store: "BufWriter",
                    source: other,
                }
            });
            self.location.store_error("write", &self.key, source)
        })?;
        Ok(FileReport {
            path: self.key,
            rows: self.rows,
            bytes: self.bytes,
        })
    }

    /// Discards the file: aborts the multipart upload (or drops the buffer); nothing is published.
    pub async fn abort(mut self) -> Result<(), SinkError> {
        self.sink
            .abort()
            .await
            .map_err(|e| self.location.store_error("abort", &self.key, e))
    }

    /// Names and types must match the file's; nullability and metadata may differ.
    fn check_schema(&self, batch: &RecordBatch) -> Result<(), SinkError> {
        let batch_schema = batch.schema();
        let same = batch_schema.fields().len() == self.schema.fields().len()
            && batch_schema
                .fields()
                .iter()
                .zip(self.schema.fields())
                .all(|(a, b)| a.name() == b.name() && a.data_type() == b.data_type());
        if same {
            return Ok(());
        }
        Err(SinkError::SchemaMismatch {
            location: self.location.display().to_string(),
            key: self.key.clone(),
            expected: render_schema(&self.schema),
            found: render_schema(&batch_schema),
        })
    }
}

fn render_schema(schema: &SchemaRef) -> String {
    let fields: Vec<String> = schema
        .fields()
        .iter()
        .map(|f| format!("{}: {}", f.name(), f.data_type()))
        .collect();
    fields.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sink::location::StoreOptions;
    use crate::sink::test_data::{sample_batch, sample_schema};
    use object_store::ObjectStoreExt;

    async fn text_of(loc: &Location, rel: &str) -> String {
        let bytes = loc.store().get(&loc.child(rel)).await.unwrap();
        String::from_utf8(bytes.bytes().await.unwrap().to_vec()).unwrap()
    }

    #[tokio::test]
    async fn header_once_then_rows_of_every_batch() {
        let loc = Location::parse("memory://", &StoreOptions::default()).unwrap();
        let mut file = CsvFile::create(&loc, "t/a.csv", sample_schema());
        let one = sample_batch().slice(0, 1);
        file.write(&one).await.unwrap();
        file.write(&one).await.unwrap();
        assert!(
            loc.list("").await.unwrap().is_empty(),
            "visible before finish"
        );
        let report = file.finish().await.unwrap();

        let row = "1,\"Ann \"\"Nan\"\" Lee\",true,-76.00,2026-07-04T19:35:55.599000Z,2026-07-04,\
                   \"[\"\"UR1\"\",\"\"UL2\"\"]\"\r\n";
        let expected = format!("id,name,active,amount,updated_at,born_on,teeth\r\n{row}{row}");
        assert_eq!(text_of(&loc, "t/a.csv").await, expected);
        assert_eq!((report.rows, report.bytes), (2, expected.len() as u64));
    }

    #[tokio::test]
    async fn empty_file_has_the_header() {
        let loc = Location::parse("memory://", &StoreOptions::default()).unwrap();
        let report = CsvFile::create(&loc, "e.csv", sample_schema())
            .finish()
            .await
            .unwrap();
        assert_eq!(report.rows, 0);
        assert_eq!(
            text_of(&loc, "e.csv").await,
            "id,name,active,amount,updated_at,born_on,teeth\r\n"
        );
    }

    #[tokio::test]
    async fn abort_leaves_nothing() {
        let loc = Location::parse("memory://", &StoreOptions::default()).unwrap();
        let mut file = CsvFile::create(&loc, "a.csv", sample_schema());
        file.write(&sample_batch()).await.unwrap();
        file.abort().await.unwrap();
        assert!(loc.list("").await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn wrong_schema_is_refused_with_both_schemas() {
        let loc = Location::parse("memory://", &StoreOptions::default()).unwrap();
        let mut file = CsvFile::create(&loc, "a.csv", sample_schema());
        let other = sample_batch().project(&[0, 1]).unwrap();
        let err = file.write(&other).await.unwrap_err().to_string();
        assert!(
            err.contains("file:  id: Int64, name: Utf8, active"),
            "{err}"
        );
        assert!(err.contains("batch: id: Int64, name: Utf8\n") || err.ends_with("name: Utf8"));
    }
}
