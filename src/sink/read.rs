//! Reading a Parquet object back as a stream of record batches.
//!
//! Rebuilding a table's current files (design §4) reads this run's `_raw/` files and the previous
//! current files; both may be far larger than memory, so they are streamed in batches of a
//! chosen size, fetching column chunks by range from whichever store holds them.

use std::ops::Range;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use bytes::Bytes;
use futures::future::BoxFuture;
use futures::{FutureExt, Stream};
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt};
use parquet::arrow::ParquetRecordBatchStreamBuilder;
use parquet::arrow::arrow_reader::ArrowReaderOptions;
use parquet::arrow::async_reader::{AsyncFileReader, ParquetRecordBatchStream};
use parquet::errors::ParquetError;
use parquet::file::metadata::{ParquetMetaData, ParquetMetaDataReader, RowGroupMetaData};

use super::error::SinkError;
use super::location::Location;

/// The batches of one Parquet object, in file order; a [`Stream`] of
/// `Result<RecordBatch, SinkError>`.
pub struct ParquetBatches {
    inner: ParquetRecordBatchStream<ObjectReader>,
    schema: SchemaRef,
    row_groups: Vec<i64>,
    location: String,
    key: String,
}

impl ParquetBatches {
    /// The Arrow schema of the file (the embedded one when present).
    pub fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    /// Total rows in the file, from its footer.
    pub fn num_rows(&self) -> i64 {
        self.row_groups.iter().sum()
    }

    /// Rows in each row group, from the footer.
    pub fn row_groups(&self) -> &[i64] {
        &self.row_groups
    }
}

impl Stream for ParquetBatches {
    type Item = Result<RecordBatch, SinkError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        Pin::new(&mut this.inner).poll_next(cx).map(|next| {
            next.map(|item| {
                item.map_err(|source| SinkError::Parquet {
                    location: this.location.clone(),
                    key: this.key.clone(),
                    source,
                })
            })
        })
    }
}

/// Opens `rel_path` under `location`; each batch holds at most `batch_size` rows. Reads the
/// footer now (one `HEAD` and a ranged `GET`), the data as the stream is polled.
pub async fn read_parquet(
    location: &Location,
    rel_path: &str,
    batch_size: usize,
) -> Result<ParquetBatches, SinkError> {
    let path = location.child(rel_path);
    let meta = location
        .store()
        .head(&path)
        .await
        .map_err(|e| location.store_error("read", rel_path, e))?;
    let reader = ObjectReader {
        store: location.store().clone(),
        path,
        size: meta.size,
    };
    let parquet_error = |source| SinkError::Parquet {
        location: location.display().to_string(),
        key: rel_path.to_string(),
        source,
    };
    let builder = ParquetRecordBatchStreamBuilder::new(reader)
        .await
        .map_err(parquet_error)?
        .with_batch_size(batch_size.max(1));
    let schema = builder.schema().clone();
    let row_groups = builder
        .metadata()
        .row_groups()
        .iter()
        .map(RowGroupMetaData::num_rows)
        .collect();
    Ok(ParquetBatches {
        inner: builder.build().map_err(parquet_error)?,
        schema,
        row_groups,
        location: location.display().to_string(),
        key: rel_path.to_string(),
    })
}

/// Ranged reads of one object of known size. (parquet 60 deprecates its `ParquetObjectReader` in
/// favour of implementing [`AsyncFileReader`] directly, as in its `examples/object_store.rs`.)
struct ObjectReader {
    store: Arc<dyn ObjectStore>,
    path: Path,
    size: u64,
}

impl AsyncFileReader for ObjectReader {
    fn get_bytes(&mut self, range: Range<u64>) -> BoxFuture<'_, parquet::errors::Result<Bytes>> {
        async move {
            let bytes = self.store.get_range(&self.path, range).await;
            bytes.map_err(|e| ParquetError::External(Box::new(e)))
        }
        .boxed()
    }

    fn get_byte_ranges(
        &mut self,
        ranges: Vec<Range<u64>>,
    ) -> BoxFuture<'_, parquet::errors::Result<Vec<Bytes>>> {
        async move {
            let bytes = self.store.get_ranges(&self.path, &ranges).await;
            bytes.map_err(|e| ParquetError::External(Box::new(e)))
        }
        .boxed()
    }

    fn get_metadata<'a>(
        &'a mut self,
        options: Option<&'a ArrowReaderOptions>,
    ) -> BoxFuture<'a, parquet::errors::Result<Arc<ParquetMetaData>>> {
        async move {
            let size = self.size;
            let metadata = ParquetMetaDataReader::new()
                .with_arrow_reader_options(options)
                .load_and_finish(self, size)
                .await?;
            Ok(Arc::new(metadata))
        }
        .boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sink::location::StoreOptions;
    use crate::sink::parquet::{ParquetFile, ParquetOptions};
    use crate::sink::test_data::{sample_schema, wide_batch};
    use futures::TryStreamExt;

    #[tokio::test]
    async fn batches_are_bounded_by_batch_size() {
        let loc = Location::parse("memory://", &StoreOptions::default()).unwrap();
        let mut file = ParquetFile::create(
            &loc,
            "r.parquet",
            sample_schema(),
            &ParquetOptions::default(),
        )
        .unwrap();
        file.write(&wide_batch(0, 1000, 8)).await.unwrap();
        file.finish().await.unwrap();

        let batches: Vec<RecordBatch> = read_parquet(&loc, "r.parquet", 300)
            .await
            .unwrap()
            .try_collect()
            .await
            .unwrap();
        let sizes: Vec<usize> = batches.iter().map(RecordBatch::num_rows).collect();
        assert_eq!(sizes, vec![300, 300, 300, 100]);
    }

    #[tokio::test]
    async fn missing_file_names_location_and_key() {
        let loc = Location::parse("memory:///out", &StoreOptions::default()).unwrap();
        let err = read_parquet(&loc, "t/none.parquet", 10)
            .await
            .err()
            .unwrap();
        assert!(
            err.to_string()
                .starts_with("Cannot read `t/none.parquet` at `memory:///out`; the object"),
            "{err}"
        );
    }
}
