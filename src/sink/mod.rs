//! The sink: typed record batches → Parquet or CSV objects, on local disk or any object store.
//!
//! It receives Arrow batches from `flatten` and hands `run` (commit) everything it needs to
//! publish a run safely (design §4):
//!
//! - [`Location`] turns the pipeline's output URL (`./out`, `file://`, `s3://`, `gs://`, `az://`,
//!   `memory://`) into one object store plus a prefix, with small helpers for the manifest and
//!   state files (single `put`s, atomic everywhere);
//! - [`FileWriter`] streams batches into one file in the pipeline's [`Format`]; the file becomes
//!   visible only on [`FileWriter::finish`] and never after [`FileWriter::abort`];
//! - [`read_parquet`] streams a Parquet object back in bounded batches, for rebuilding current
//!   tables from `_raw/` files;
//! - [`cleanup`] removes what a crash can leave behind.
//!
//! There is one write path for every backend (style habit 7): `AsyncArrowWriter` or
//! `arrow_csv::Writer` over `object_store::buffered::BufWriter`. File naming belongs to the
//! caller; keys here are `/`-separated and relative to the location.

mod backend;
pub mod cleanup;
mod csv;
mod csv_render;
mod error;
mod location;
pub mod lock;
mod own_names;
mod parquet;
mod private;
mod read;
#[cfg(test)]
mod test_data;

pub use self::csv::CsvFile;
pub use self::error::SinkError;
pub use self::location::{Location, StoreOptions};
pub use self::own_names::is_own_key;
pub use self::parquet::{ParquetCompression, ParquetFile, ParquetOptions, ParquetProfile};
pub use self::read::{ParquetBatches, read_parquet};

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;

/// What a finished file holds, for the run manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileReport {
    /// The key relative to the location, as given to `create`.
    pub path: String,
    /// Data rows written (the CSV header is not a row).
    pub rows: u64,
    /// Size of the published object in bytes.
    pub bytes: u64,
}

/// The output file format, from the pipeline's `[output] format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Apache Parquet, laid out by the options.
    Parquet(ParquetOptions),
    /// RFC 4180 CSV with a header row, text cells that look like spreadsheet formulas guarded
    /// with a leading `'` (the default, `[output] csv_guard = true`).
    Csv,
    /// CSV with every text cell exactly as received (`[output] csv_guard = false`).
    CsvUnguarded,
}

impl Format {
    /// The file name extension, without the dot: `parquet` or `csv`.
    pub fn extension(&self) -> &'static str {
        match self {
            Self::Parquet(_) => "parquet",
            Self::Csv | Self::CsvUnguarded => "csv",
        }
    }
}

impl Default for Format {
    /// Parquet with the default options.
    fn default() -> Self {
        Self::Parquet(ParquetOptions::default())
    }
}

/// One output file being written, in either format. (Both writers are boxed: each holds a few
/// hundred bytes of encoder and upload state, and they differ in size.)
///
/// ```no_run
/// # async fn demo(loc: &dentally_etl::sink::Location, batch: &arrow::record_batch::RecordBatch)
/// # -> Result<(), dentally_etl::sink::SinkError> {
/// use dentally_etl::sink::{FileWriter, Format};
/// let format = Format::default();
/// let rel = format!("_raw/patients/run-1-0.{}", format.extension());
/// let mut file = FileWriter::create(loc, &rel, batch.schema(), &format)?;
/// file.write(batch).await?;
/// let report = file.finish().await?; // the object appears now, complete
/// # Ok(()) }
/// ```
pub enum FileWriter {
    /// A Parquet file.
    Parquet(Box<ParquetFile>),
    /// A CSV file.
    Csv(Box<CsvFile>),
}

impl FileWriter {
    /// Starts `rel_path` under `location` in `format`; no object is visible until `finish`.
    pub fn create(
        location: &Location,
        rel_path: &str,
        schema: SchemaRef,
        format: &Format,
    ) -> Result<Self, SinkError> {
        Ok(match format {
            Format::Parquet(options) => Self::Parquet(Box::new(ParquetFile::create(
                location, rel_path, schema, options,
            )?)),
            Format::Csv => Self::Csv(Box::new(CsvFile::create(location, rel_path, schema))),
            Format::CsvUnguarded => Self::Csv(Box::new(CsvFile::create_with_guard(
                location, rel_path, schema, false,
            ))),
        })
    }

    /// Appends a batch; it must have the schema the file was created with.
    pub async fn write(&mut self, batch: &RecordBatch) -> Result<(), SinkError> {
        match self {
            Self::Parquet(file) => file.write(batch).await,
            Self::Csv(file) => file.write(batch).await,
        }
    }

    /// Rows written so far.
    pub fn rows(&self) -> u64 {
        match self {
            Self::Parquet(file) => file.rows(),
            Self::Csv(file) => file.rows(),
        }
    }

    /// Completes the file and publishes it atomically.
    pub async fn finish(self) -> Result<FileReport, SinkError> {
        match self {
            Self::Parquet(file) => file.finish().await,
            Self::Csv(file) => file.finish().await,
        }
    }

    /// Discards the file; nothing is published.
    pub async fn abort(self) -> Result<(), SinkError> {
        match self {
            Self::Parquet(file) => file.abort().await,
            Self::Csv(file) => file.abort().await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use test_data::{sample_batch, sample_schema};

    #[tokio::test]
    async fn both_formats_through_one_interface() {
        let loc = Location::parse("memory:///o", &StoreOptions::default()).unwrap();
        for format in [Format::default(), Format::Csv] {
            let rel = format!("t/part-0.{}", format.extension());
            let mut file = FileWriter::create(&loc, &rel, sample_schema(), &format).unwrap();
            file.write(&sample_batch()).await.unwrap();
            assert_eq!(file.rows(), 3);
            assert!(!loc.exists(&rel).await.unwrap());
            let report = file.finish().await.unwrap();
            assert_eq!((report.path.as_str(), report.rows), (rel.as_str(), 3));
            assert!(loc.exists(&rel).await.unwrap());

            let aborted = FileWriter::create(&loc, "t/x", sample_schema(), &format).unwrap();
            aborted.abort().await.unwrap();
        }
        let keys: Vec<String> = loc
            .list("t")
            .await
            .unwrap()
            .iter()
            .filter_map(|m| loc.relative(&m.location))
            .collect();
        assert_eq!(keys.len(), 2, "{keys:?}");
    }
}
