//! Peak memory of an incremental merge: a current table of N rows (5 million by default) merged
//! with a delta of N/50 rows (half updates of existing keys, half new keys), as a nightly run does.
//!
//! ```sh
//! cargo build --release --example merge_memory
//! /usr/bin/time -v target/release/examples/merge_memory 5000000 /tmp/merge-bench
//! ```
//! Prints rows, seconds and the files written; `/usr/bin/time -v` gives the peak RSS.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use arrow::array::{ArrayRef, Int64Array, StringArray, TimestampMicrosecondArray, new_null_array};
use arrow::record_batch::RecordBatch;
use dentally_etl::catalog::{self, PiiPolicy};
use dentally_etl::manifest::FileEntry;
use dentally_etl::sink::{FileWriter, Format, Location, StoreOptions};
use dentally_etl::table::Target;
use dentally_etl::table::merge::{Coverage, MergeInput, merge};

const BATCH: usize = 65_536;

/// A patients-shaped batch: every column of the real schema, ids, names and `updated_at` set.
fn batch(
    schema: &arrow::datatypes::SchemaRef,
    ids: std::ops::Range<i64>,
    stamp: i64,
) -> RecordBatch {
    let n = (ids.end - ids.start) as usize;
    let columns: Vec<ArrayRef> = schema
        .fields()
        .iter()
        .map(|f| -> ArrayRef {
            match f.name().as_str() {
                "id" => Arc::new(Int64Array::from_iter_values(ids.clone())),
                "first_name" | "last_name" | "town" => Arc::new(StringArray::from_iter_values(
                    ids.clone().map(|i| format!("name-{}", i % 5000)),
                )),
                "created_at" | "updated_at" => Arc::new(
                    TimestampMicrosecondArray::from_iter_values(ids.clone().map(|i| stamp + i))
                        .with_timezone("UTC"),
                ),
                _ => new_null_array(f.data_type(), n),
            }
        })
        .collect();
    RecordBatch::try_new(schema.clone(), columns).unwrap()
}

async fn write(
    loc: &Location,
    rel: &str,
    schema: &arrow::datatypes::SchemaRef,
    ids: std::ops::Range<i64>,
    stamp: i64,
    current: bool,
) -> FileEntry {
    let out_schema = if current {
        dentally_etl::table::current_schema_of(schema)
    } else {
        schema.clone()
    };
    let mut file = FileWriter::create(loc, rel, out_schema.clone(), &Format::default()).unwrap();
    let mut start = ids.start;
    while start < ids.end {
        let end = (start + BATCH as i64).min(ids.end);
        let b = batch(schema, start..end, stamp);
        let b = if current {
            dentally_etl::table::with_deleted_column(&b, &out_schema).unwrap()
        } else {
            b
        };
        file.write(&b).await.unwrap();
        start = end;
    }
    let r = file.finish().await.unwrap();
    FileEntry {
        path: r.path,
        rows: r.rows,
        bytes: r.bytes,
    }
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let rows: i64 = args.next().map_or(5_000_000, |a| a.parse().expect("rows"));
    let dir = args.next().unwrap_or_else(|| "/tmp/merge-bench".into());
    std::fs::create_dir_all(&dir).unwrap();
    let loc = Location::parse(&dir, &StoreOptions::default()).unwrap();
    let patients = catalog::find("patients").unwrap();
    let tables = catalog::tables(patients, &PiiPolicy::Keep);
    let schema = tables[0].schema.clone();
    let t = Instant::now();
    let previous = write(
        &loc,
        "prev/patients.parquet",
        &schema,
        0..rows,
        1_700_000_000_000_000,
        true,
    )
    .await;
    let delta_rows = (rows / 50).max(1);
    let delta = write(
        &loc,
        "_raw/patients/delta.parquet",
        &schema,
        rows - delta_rows / 2..rows + delta_rows / 2,
        1_800_000_000_000_000,
        false,
    )
    .await;
    eprintln!(
        "wrote {} previous rows and {} delta rows in {:.1}s",
        previous.rows,
        delta.rows,
        t.elapsed().as_secs_f64()
    );
    let previous_files = BTreeMap::from([(tables[0].name.clone(), vec![previous.path.clone()])]);
    let delta_files = BTreeMap::from([(tables[0].name.clone(), vec![delta])]);
    let format = Format::default();
    let input = MergeInput {
        loc: &loc,
        format: &format,
        target: Target {
            part: "",
            practice_id: None,
        },
        run_id: "bench",
        now: 1_900_000_000_000_000,
        tables: &tables[..1],
        previous: &previous_files,
        delta: &delta_files,
        key: "id",
        order: Some("updated_at"),
        coverage: Coverage::Nothing,
    };
    let t = Instant::now();
    let out = merge(&input).await.unwrap();
    let written: u64 = out.values().flatten().map(|f| f.rows).sum();
    println!(
        "merged {rows} + {} rows into {written} rows in {:.1}s",
        delta_rows,
        t.elapsed().as_secs_f64()
    );
    assert_eq!(
        written as i64,
        rows + delta_rows / 2 + delta_rows % 2 - (delta_rows % 2),
        "every key once"
    );
}
