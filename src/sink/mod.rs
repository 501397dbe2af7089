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
mod parquet;
mod read;
#[cfg(test)]
mod test_data;

pub use self::csv::CsvFile;
pub use self::error::SinkError;
pub use self::location::{Location, StoreOptions};
pub use self::parquet::{ParquetCompression, ParquetFile, ParquetOptions};
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
    /// RFC 4180 CSV with a header row.
    Csv,
}

impl Format {
    /// The file name extension, without the dot: `parquet` or `csv`.
    pub fn extension(&self) -> &'static str {
        match self {
            Self::Parquet(_) => "parquet",
            Self::Csv => "csv",
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

#[cfg(test)]
mod s3_tests {
    use super::*;
    use futures::TryStreamExt;
    use test_data::{sample_schema, wide_batch};

    /// Against a real S3-compatible server (e.g. `moto_server -p 45123`, bucket `bkt` created):
    /// `SINK_TEST_S3_ENDPOINT=http://127.0.0.1:45123 cargo test --lib sink -- --ignored`.
    #[tokio::test]
    #[ignore = "needs an S3 server: set SINK_TEST_S3_ENDPOINT"]
    async fn s3_multipart_is_invisible_until_finish() {
        let endpoint = std::env::var("SINK_TEST_S3_ENDPOINT").unwrap();
        let env: Vec<(String, String)> = [
            ("AWS_ACCESS_KEY_ID", "test"),
            ("AWS_SECRET_ACCESS_KEY", "test"),
        ]
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .to_vec();
        let options = StoreOptions {
            endpoint: Some(endpoint),
            region: Some("us-east-1".into()),
            allow_http: Some(true),
            virtual_hosted_style: None,
        };
        let loc = Location::parse_with_env("s3://bkt/sinktest", &options, &env).unwrap();
        for rel in ["t/a.parquet", "t/b.parquet", "t/c.csv"] {
            loc.delete(rel).await.unwrap();
        }
        let format = Format::Parquet(ParquetOptions {
            compression: ParquetCompression::None,
            max_row_group_bytes: 1 << 20,
            ..ParquetOptions::default()
        });
        let mut kept = FileWriter::create(&loc, "t/a.parquet", sample_schema(), &format).unwrap();
        let mut dropped =
            FileWriter::create(&loc, "t/b.parquet", sample_schema(), &format).unwrap();
        let mut csv = FileWriter::create(&loc, "t/c.csv", sample_schema(), &Format::Csv).unwrap();
        for i in 0..12 {
            let batch = wide_batch(i * 1000, 1000, 1024);
            kept.write(&batch).await.unwrap();
            dropped.write(&batch).await.unwrap();
            csv.write(&batch).await.unwrap();
        }
        assert!(loc.list("t").await.unwrap().is_empty());
        dropped.abort().await.unwrap();
        let report = kept.finish().await.unwrap();
        let csv_report = csv.finish().await.unwrap();
        let listed = loc.list("t").await.unwrap();
        let mut keys: Vec<_> = listed
            .iter()
            .filter_map(|m| loc.relative(&m.location))
            .collect();
        keys.sort();
        assert_eq!(keys, vec!["t/a.parquet", "t/c.csv"]);
        assert!(report.bytes > 10 << 20, "multipart path: {report:?}");
        assert_eq!(
            listed
                .iter()
                .find(|m| m.location.as_ref().ends_with("c.csv"))
                .unwrap()
                .size,
            csv_report.bytes
        );
        let rows: usize = read_parquet(&loc, "t/a.parquet", 4096)
            .await
            .unwrap()
            .map_ok(|b| b.num_rows())
            .try_fold(0, |a, n| async move { Ok(a + n) })
            .await
            .unwrap();
        assert_eq!(rows, 12_000);

        let missing = Location::parse_with_env("s3://no-such-bucket/p", &options, &env).unwrap();
        let err = missing
            .put_json_atomic("_runs/r.json", &1)
            .await
            .unwrap_err();
        eprintln!(
            "{err}\n  caused by: {}",
            std::error::Error::source(&err).unwrap()
        );
        assert!(
            err.to_string()
                .starts_with("Cannot write `_runs/r.json` at `s3://no-such-bucket/p`;")
        );
    }
}
