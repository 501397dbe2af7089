//! [`ParquetFile`]: one Parquet object written as a stream of record batches.
//!
//! The write path is `AsyncArrowWriter` over `object_store::buffered::BufWriter` (habit 7), the
//! same for a local directory and a bucket. Memory stays bounded: the arrow writer buffers one row
//! group, which we cap by rows and by encoded bytes, and `BufWriter` switches to a multipart upload
//! past 10 MiB. Nothing is visible under the final key until [`ParquetFile::finish`]:
//! `LocalFileSystem` writes into a `<key>#<n>` staging file and renames it on completion; S3 makes
//! the object appear only when the multipart upload (or the single small `PUT`) completes.
//!
//! Settings follow the type contract (design §5): statistics on, the Arrow schema embedded (so
//! readers get `Timestamp(µs, "UTC")`, `Decimal128`, `List<Utf8>` back exactly), timestamps as
//! INT64 microseconds, never INT96.
//!
//! Two profiles ([`ParquetProfile`]). Current tables default to `Compatible`: data page V1 and
//! only PLAIN / dictionary / RLE encodings, which every engine behind a BI tool reads (fastparquet
//! and older parquet-java refuse data page V2 or nulls in `DELTA_BINARY_PACKED` columns). `Fast`
//! is the previous setting (writer version 2: data page V2, DELTA encodings, no dictionary): a
//! little smaller and faster to write, for pipelines whose readers are all Arrow-based, and for
//! our own raw staging files (BENCHMARKS.md, "Compatible Parquet").

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use object_store::buffered::BufWriter;
use parquet::arrow::AsyncArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::errors::ParquetError;
use parquet::file::properties::{EnabledStatistics, WriterProperties, WriterVersion};

use super::FileReport;
use super::error::{SinkError, store_error_in};
use super::location::Location;

/// Parquet column compression.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ParquetCompression {
    /// Zstandard at its default level (the default): small files, fast to read.
    #[default]
    Zstd,
    /// Snappy: larger files, for readers without Zstandard.
    Snappy,
    /// Uncompressed.
    None,
}

/// Which readers the files are written for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ParquetProfile {
    /// Every Parquet reader (the default): data page V1, PLAIN and dictionary encodings only.
    #[default]
    Compatible,
    /// Arrow-family readers (DuckDB, pyarrow, polars, Spark 3+): writer version 2, data page V2
    /// and DELTA encodings.
    Fast,
}

/// How Parquet files are laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParquetOptions {
    /// Column compression (default: Zstd).
    pub compression: ParquetCompression,
    /// Most rows in one row group (default: [`ParquetOptions::DEFAULT_MAX_ROW_GROUP_ROWS`]).
    pub max_row_group_rows: usize,
    /// A row group is flushed once its encoded size reaches this many bytes, which bounds the
    /// writer's memory (default: [`ParquetOptions::DEFAULT_MAX_ROW_GROUP_BYTES`]).
    pub max_row_group_bytes: usize,
    /// Dictionary encoding (default: on, as every writer of the compatible profile does). With
    /// Zstd and the fast profile, plain pages came out smaller on the sandbox's data and take a
    /// fifth less CPU to write: Zstd finds the repeats a dictionary would (BENCHMARKS.md).
    pub dictionary: bool,
    /// Page version and encodings (default: [`ParquetProfile::Compatible`]).
    pub profile: ParquetProfile,
}

impl ParquetOptions {
    /// 122 880 rows (120 × 1024), `DuckDB`'s own default row group size.
    pub const DEFAULT_MAX_ROW_GROUP_ROWS: usize = 122_880;
    /// 64 MiB.
    pub const DEFAULT_MAX_ROW_GROUP_BYTES: usize = 64 * 1024 * 1024;

    /// The writer properties these options stand for.
    fn writer_properties(&self) -> WriterProperties {
        let compression = match self.compression {
            ParquetCompression::Zstd => Compression::ZSTD(ZstdLevel::default()),
            ParquetCompression::Snappy => Compression::SNAPPY,
            ParquetCompression::None => Compression::UNCOMPRESSED,
        };
        // Writer version 1.0 means data page V1, and PLAIN as the fallback once a column's
        // dictionary grows too big (2.0 falls back to DELTA_* encodings).
        let version = match self.profile {
            ParquetProfile::Compatible => WriterVersion::PARQUET_1_0,
            ParquetProfile::Fast => WriterVersion::PARQUET_2_0,
        };
        WriterProperties::builder()
            .set_writer_version(version)
            .set_compression(compression)
            .set_statistics_enabled(EnabledStatistics::Page)
            .set_dictionary_enabled(self.dictionary)
            .set_max_row_group_row_count(Some(self.max_row_group_rows.max(1)))
            .set_max_row_group_bytes(Some(self.max_row_group_bytes.max(1)))
            .set_created_by(concat!("dentally-etl ", env!("CARGO_PKG_VERSION")).to_string())
            .build()
    }
}

impl Default for ParquetOptions {
    fn default() -> Self {
        Self {
            compression: ParquetCompression::default(),
            max_row_group_rows: Self::DEFAULT_MAX_ROW_GROUP_ROWS,
            max_row_group_bytes: Self::DEFAULT_MAX_ROW_GROUP_BYTES,
            dictionary: true,
            profile: ParquetProfile::default(),
        }
    }
}

/// A Parquet object being written. Call [`ParquetFile::finish`] to publish it or
/// [`ParquetFile::abort`] to discard it; dropping it unfinished publishes nothing either
/// (see [`super::cleanup`] for what a crash can leave behind).
pub struct ParquetFile {
    writer: AsyncArrowWriter<BufWriter>,
    location: Location,
    key: String,
    max_row_group_bytes: usize,
    rows: u64,
}

impl ParquetFile {
    /// Starts `rel_path` under `location`; no I/O happens until enough data is buffered.
    pub fn create(
        location: &Location,
        rel_path: &str,
        schema: SchemaRef,
        options: &ParquetOptions,
    ) -> Result<Self, SinkError> {
        let sink = location.writer(rel_path);
        let props = options.writer_properties();
        let writer = AsyncArrowWriter::try_new(sink, schema, Some(props)).map_err(|source| {
            SinkError::Parquet {
                location: location.display().to_string(),
                key: rel_path.to_string(),
                source,
            }
        })?;
        Ok(Self {
            writer,
            location: location.clone(),
            key: rel_path.to_string(),
            max_row_group_bytes: options.max_row_group_bytes.max(1),
            rows: 0,
        })
    }

    /// Encodes `batch`; flushes the row group once it reaches the byte bound.
    pub async fn write(&mut self, batch: &RecordBatch) -> Result<(), SinkError> {
        self.writer.write(batch).await.map_err(|e| self.error(e))?;
        self.rows += batch.num_rows() as u64;
        if self.writer.in_progress_size() >= self.max_row_group_bytes {
            self.writer.flush().await.map_err(|e| self.error(e))?;
        }
        Ok(())
    }

    /// Rows written so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Writes the footer and publishes the object; only now does it become visible.
    pub async fn finish(mut self) -> Result<FileReport, SinkError> {
        self.writer.finish().await.map_err(|e| self.error(e))?;
        Ok(FileReport {
            path: self.key,
            rows: self.rows,
            bytes: self.writer.bytes_written() as u64,
        })
    }

    /// Discards the file: aborts the multipart upload (or drops the buffer); nothing is published.
    pub async fn abort(self) -> Result<(), SinkError> {
        let mut sink = self.writer.into_inner();
        sink.abort()
            .await
            .map_err(|e| self.location.store_error("abort", &self.key, e))
    }

    /// An upload failure is a storage error (with a hint on what to check); anything else is an
    /// encoding error.
    fn error(&self, source: ParquetError) -> SinkError {
        let source = match source {
            ParquetError::External(inner) => match store_error_in(inner) {
                Ok(store) => return self.location.store_error("write", &self.key, store),
                Err(other) => ParquetError::External(other),
            },
            other => other,
        };
        SinkError::Parquet {
            location: self.location.display().to_string(),
            key: self.key.clone(),
            source,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sink::location::StoreOptions;
    use crate::sink::read::read_parquet;
    use crate::sink::test_data::{sample_batch, sample_schema, wide_batch};
    use futures::TryStreamExt;
    use object_store::ObjectStoreExt;

    fn memory() -> Location {
        Location::parse("memory:///out", &StoreOptions::default()).unwrap()
    }

    #[tokio::test]
    async fn round_trip_keeps_every_type() {
        for compression in [
            ParquetCompression::Zstd,
            ParquetCompression::Snappy,
            ParquetCompression::None,
        ] {
            let loc = memory();
            let options = ParquetOptions {
                compression,
                // Dictionary encoding, off by default, round-trips too.
                dictionary: compression == ParquetCompression::Snappy,
                ..ParquetOptions::default()
            };
            let batch = sample_batch();
            let mut file =
                ParquetFile::create(&loc, "t/a.parquet", sample_schema(), &options).unwrap();
            file.write(&batch).await.unwrap();
            let report = file.finish().await.unwrap();
            assert_eq!((report.path.as_str(), report.rows), ("t/a.parquet", 3));
            let head = loc.store().head(&loc.child("t/a.parquet")).await.unwrap();
            assert_eq!(report.bytes, head.size);

            let back = read_parquet(&loc, "t/a.parquet", 1024).await.unwrap();
            assert_eq!(back.schema(), sample_schema());
            let batches: Vec<RecordBatch> = back.try_collect().await.unwrap();
            assert_eq!(batches, vec![batch]);
        }
    }

    #[tokio::test]
    async fn row_groups_split_by_byte_bound() {
        let loc = memory();
        // With a dictionary, every value counts towards the row group's size as it is written;
        // plain values count once their data page fills (1 MiB), too late for these small sizes.
        let options = ParquetOptions {
            compression: ParquetCompression::None,
            max_row_group_bytes: 16 * 1024,
            dictionary: true,
            ..ParquetOptions::default()
        };
        let mut file = ParquetFile::create(&loc, "big.parquet", sample_schema(), &options).unwrap();
        // Distinct values: repeated ones would dictionary-encode to almost nothing.
        for i in 0..12 {
            file.write(&wide_batch(i * 100, 100, 64)).await.unwrap();
        }
        assert_eq!(file.finish().await.unwrap().rows, 1200);

        let reader = read_parquet(&loc, "big.parquet", 8192).await.unwrap();
        let groups = reader.row_groups();
        assert!(
            groups.len() > 3,
            "expected several row groups, got {groups:?}"
        );
        assert_eq!(groups.iter().sum::<i64>(), 1200);
    }

    #[tokio::test]
    async fn local_object_is_invisible_until_finish_and_gone_after_abort() {
        let dir = tempfile::tempdir().unwrap();
        let loc = Location::parse(dir.path().to_str().unwrap(), &StoreOptions::default()).unwrap();
        let options = ParquetOptions {
            compression: ParquetCompression::None,
            max_row_group_bytes: 1024 * 1024,
            dictionary: true,
            ..ParquetOptions::default()
        };
        // Enough data to leave BufWriter's 1 MiB local buffer and start a multipart upload.
        let mut file = ParquetFile::create(&loc, "t/x.parquet", sample_schema(), &options).unwrap();
        let mut aborted =
            ParquetFile::create(&loc, "t/y.parquet", sample_schema(), &options).unwrap();
        for i in 0..12 {
            let wide = wide_batch(i * 1000, 1000, 1024);
            file.write(&wide).await.unwrap();
            aborted.write(&wide).await.unwrap();
        }
        assert!(loc.list("").await.unwrap().is_empty());
        assert!(!dir.path().join("t/x.parquet").exists());
        let staged = std::fs::read_dir(dir.path().join("t")).unwrap().count();
        assert_eq!(staged, 2, "both uploads should be staged as `<file>#<n>`");

        aborted.abort().await.unwrap();
        file.finish().await.unwrap();
        let names: Vec<_> = std::fs::read_dir(dir.path().join("t"))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(names, vec!["x.parquet"]);
    }

    #[tokio::test]
    async fn abort_of_a_small_file_leaves_nothing() {
        let loc = memory();
        let mut file = ParquetFile::create(
            &loc,
            "t/a.parquet",
            sample_schema(),
            &ParquetOptions::default(),
        )
        .unwrap();
        file.write(&sample_batch()).await.unwrap();
        file.abort().await.unwrap();
        assert!(loc.list("").await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn empty_file_is_valid_parquet_with_the_schema() {
        let loc = memory();
        let file = ParquetFile::create(
            &loc,
            "e.parquet",
            sample_schema(),
            &ParquetOptions::default(),
        )
        .unwrap();
        assert_eq!(file.finish().await.unwrap().rows, 0);
        let back = read_parquet(&loc, "e.parquet", 10).await.unwrap();
        assert_eq!(back.schema(), sample_schema());
        assert_eq!(back.num_rows(), 0);
    }
}
