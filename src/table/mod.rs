//! The output's table layer: where a run's files go (`layout`), the raw staging files (`raw`), the
//! current tables readers query (`current`), and the incremental merge of a run's deltas into
//! them (`merge`).
//!
//! It knows files, schemas and keys, not the API or the run's order of work: `run` (the
//! orchestrator) and `purge` (erasure of rows marked deleted) both write current tables through
//! it, so the two cannot disagree on a file name or on the `_deleted_at` column.

pub mod current;
pub mod layout;
pub mod merge;
pub mod raw;

use arrow::datatypes::SchemaRef;
use sha2::{Digest, Sha256};

pub use current::{DELETED_COLUMN, PRACTICE_COLUMN, Target};

/// The schema of a current table (the table's columns, then `_deleted_at`), for tools and benches.
pub fn current_schema_of(table: &SchemaRef) -> SchemaRef {
    current::current_schema(table, false)
}

/// `batch` with a null `_deleted_at` column, in `schema` (from [`current_schema_of`]).
pub fn with_deleted_column(
    batch: &arrow::record_batch::RecordBatch,
    schema: &SchemaRef,
) -> Result<arrow::record_batch::RecordBatch, crate::sink::SinkError> {
    current::with_deleted(batch, schema, None, None)
}

/// A short digest of a schema's columns (name, type, nullability), equal across runs.
pub fn schema_hash(schema: &SchemaRef) -> String {
    let mut h = Sha256::new();
    for f in schema.fields() {
        h.update(format!("{}:{}:{};", f.name(), f.data_type(), f.is_nullable()).as_bytes());
    }
    hex::encode(&h.finalize()[..8])
}
