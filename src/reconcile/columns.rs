//! Reading keys and range-field values out of record batches: shared by the merge (which rows
//! a delta replaces or a read covered) and the reconciliation (which rows the table holds where).

use arrow::array::{Array, AsArray};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Date32Type, Int64Type, TimeUnit, TimestampMicrosecondType};
use arrow::record_batch::RecordBatch;

/// A primary key value: integer ids exactly, GUIDs and other text ids as a 128-bit digest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Key {
    /// An integer id.
    Int(i64),
    /// The digest of a text id.
    Text(u128),
}

/// The key column's values (`None` for nulls, or for a column of another type).
pub fn keys_of(batch: &RecordBatch, column: &str) -> Vec<Option<Key>> {
    let Some(col) = batch.column_by_name(column) else {
        return vec![None; batch.num_rows()];
    };
    match col.data_type() {
        DataType::Int64 => col
            .as_primitive::<Int64Type>()
            .iter()
            .map(|v| v.map(Key::Int))
            .collect(),
        DataType::Utf8 => col
            .as_string::<i32>()
            .iter()
            .map(|v| v.map(|s| Key::Text(crate::extract::text_key_digest(s))))
            .collect(),
        _ => vec![None; batch.num_rows()],
    }
}

/// A timestamp (as µs, whatever its unit) or date (as µs at midnight UTC) column's values.
///
/// The columns we write are µs; another unit comes from a file rewritten by another tool, and is
/// converted rather than a panic: the merge reads a previous file's cursor and `_deleted_at`
/// before it checks the file's columns (and reports a mismatch as an error).
pub fn micros_of(batch: &RecordBatch, column: &str) -> Vec<Option<i64>> {
    let Some(col) = batch.column_by_name(column) else {
        return vec![None; batch.num_rows()];
    };
    match col.data_type() {
        DataType::Timestamp(TimeUnit::Microsecond, _) => col
            .as_primitive::<TimestampMicrosecondType>()
            .iter()
            .collect(),
        DataType::Timestamp(_, _) => {
            match cast(col, &DataType::Timestamp(TimeUnit::Microsecond, None)) {
                Ok(micros) => micros
                    .as_primitive::<TimestampMicrosecondType>()
                    .iter()
                    .collect(),
                Err(_) => vec![None; batch.num_rows()],
            }
        }
        DataType::Date32 => col
            .as_primitive::<Date32Type>()
            .iter()
            .map(|d| d.map(|d| i64::from(d) * 86_400_000_000))
            .collect(),
        _ => vec![None; batch.num_rows()],
    }
}
