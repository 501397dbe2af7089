//! Sample batches covering every column type of the type contract (design §5), shared by the
//! sink's unit tests.

use std::sync::Arc;

use arrow::array::{
    ArrayRef, BooleanArray, Date32Array, Decimal128Array, Int64Array, ListBuilder, StringArray,
    StringBuilder, TimestampMicrosecondArray,
};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use arrow::record_batch::RecordBatch;

/// `id` Int64, `name` Utf8, `active` Boolean, `amount` `Decimal128(18, 2)`, `updated_at`
/// `Timestamp(µs, UTC)`, `born_on` Date32, `teeth` `List<Utf8>`.
pub(crate) fn sample_schema() -> SchemaRef {
    let item = Arc::new(Field::new("item", DataType::Utf8, true));
    Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("name", DataType::Utf8, true),
        Field::new("active", DataType::Boolean, true),
        Field::new("amount", DataType::Decimal128(18, 2), true),
        Field::new(
            "updated_at",
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            true,
        ),
        Field::new("born_on", DataType::Date32, true),
        Field::new("teeth", DataType::List(item), true),
    ]))
}

/// Three rows with negatives, nulls, a quote and a comma (for CSV escaping), a null list and a
/// list holding a null.
pub(crate) fn sample_batch() -> RecordBatch {
    let columns: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from(vec![1, -2, 9_007_199_254_740_993])),
        Arc::new(StringArray::from(vec![
            Some("Ann \"Nan\" Lee"),
            Some("Bo, Jr"),
            None,
        ])),
        Arc::new(BooleanArray::from(vec![Some(true), Some(false), None])),
        Arc::new(decimals(vec![Some(-7600), Some(12_345), None])),
        // 2026-07-04T19:35:55.599Z, 1970-01-01T00:00:00Z, null
        Arc::new(timestamps(vec![Some(1_783_193_755_599_000), Some(0), None])),
        // 2026-07-04, 1969-12-31, null
        Arc::new(Date32Array::from(vec![Some(20_638), Some(-1), None])),
        Arc::new(teeth(&[
            Some(vec![Some("UR1"), Some("UL2")]),
            None,
            Some(vec![None, Some("LL8")]),
        ])),
    ];
    RecordBatch::try_new(sample_schema(), columns).unwrap()
}

/// `rows` rows with ids from `first_id` and distinct names `text_len` bytes long: bulk for tests
/// that need many encoded bytes quickly.
pub(crate) fn wide_batch(first_id: usize, rows: usize, text_len: usize) -> RecordBatch {
    let ids = first_id..first_id + rows;
    let names: Vec<String> = ids.clone().map(|i| format!("{i:0>text_len$}")).collect();
    let schema = sample_schema();
    let n = rows;
    let columns: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from_iter_values(
            ids.map(|i| i64::try_from(i).unwrap()),
        )),
        Arc::new(StringArray::from_iter_values(names)),
        Arc::new(BooleanArray::from(vec![true; n])),
        Arc::new(decimals(vec![Some(-7600); n])),
        Arc::new(timestamps(vec![Some(1_783_193_755_599_000); n])),
        Arc::new(Date32Array::from(vec![20_638; n])),
        Arc::new(teeth(&vec![Some(vec![Some("UR1")]); n])),
    ];
    RecordBatch::try_new(schema, columns).unwrap()
}

fn decimals(values: Vec<Option<i128>>) -> Decimal128Array {
    Decimal128Array::from(values)
        .with_precision_and_scale(18, 2)
        .unwrap()
}

fn timestamps(values: Vec<Option<i64>>) -> TimestampMicrosecondArray {
    TimestampMicrosecondArray::from(values).with_timezone("UTC")
}

fn teeth(rows: &[Option<Vec<Option<&str>>>]) -> arrow::array::ListArray {
    let mut builder = ListBuilder::new(StringBuilder::new());
    for row in rows {
        match row {
            Some(items) => {
                for item in items {
                    builder.values().append_option(*item);
                }
                builder.append(true);
            }
            None => builder.append(false),
        }
    }
    builder.finish()
}
