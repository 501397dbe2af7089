//! Interop: what the sink writes must read back the same in DuckDB, pyarrow and polars, with the
//! types of the contract (design §5). The checks live in `tests/interop/check_output.py`, run
//! with the test virtualenv; [`check_with_python`] is the entry point for other tests (the
//! end-to-end demo runs it on its output folder).

use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use arrow::array::{
    ArrayRef, BooleanArray, Date32Array, Decimal128Array, Int64Array, ListBuilder, StringArray,
    StringBuilder, TimestampMicrosecondArray, TimestampNanosecondArray, UInt64Array,
};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use arrow::record_batch::RecordBatch;
use dentally_etl::sink::{FileWriter, Format, Location, StoreOptions};
use serde_json::Value;

use crate::pyenv::python_env;
use crate::s3_server::MotoServer;

/// Runs the interop check on an output folder (a local path) or an `s3://bucket/prefix` URL and
/// returns its JSON summary: `{"ok", "errors", "versions", "tables": {name: {"files", "rows":
/// {"duckdb", "pyarrow", "polars"}, "columns": {...}}}}`.
///
/// `env` is added to the script's environment: for S3, pass the server's `AWS_*` variables
/// (e.g. [`MotoServer::env`]). Panics, with the script's errors, if any check failed or the
/// script could not run; see [`run_check`] to inspect a failing summary instead.
pub fn check_with_python(dir_or_url: &str, env: &[(String, String)]) -> Value {
    let (passed, summary) = run_check(dir_or_url, env);
    assert!(
        passed && summary["ok"] == true,
        "interop check of {dir_or_url} failed:\n{}",
        serde_json::to_string_pretty(&summary["errors"]).unwrap()
    );
    summary
}

/// Runs the interop check; whether it passed (exit status 0) and its JSON summary. Panics only
/// if the script could not run or printed no JSON (a crash, a missing package).
pub fn run_check(dir_or_url: &str, env: &[(String, String)]) -> (bool, Value) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop/check_output.py");
    let out = Command::new(python_env().python)
        .arg(&script)
        .arg(dir_or_url)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("POLARS_MAX_THREADS", "2")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .envs(env.iter().map(|(k, v)| (k, v)))
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let summary: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!(
            "check_output.py printed no JSON ({e}; {}):\n--- stdout\n{stdout}\n--- stderr\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.success(), summary)
}

fn utc_micros() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
}

fn patients_schema() -> SchemaRef {
    let item = Arc::new(Field::new("item", DataType::Utf8, true));
    Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("site_id", DataType::Utf8, true),
        Field::new("dentist_id", DataType::Int64, true),
        Field::new("first_name", DataType::Utf8, true),
        Field::new("active", DataType::Boolean, true),
        Field::new("balance", DataType::Decimal128(18, 2), true),
        Field::new("uda_value", DataType::Decimal128(18, 4), true),
        Field::new("date_of_birth", DataType::Date32, true),
        Field::new("teeth", DataType::List(item), true),
        Field::new("created_at", utc_micros(), true),
        Field::new("updated_at", utc_micros(), true),
    ]))
}

fn decimals(values: Vec<Option<i128>>, scale: i8) -> ArrayRef {
    Arc::new(
        Decimal128Array::from(values)
            .with_precision_and_scale(18, scale)
            .unwrap(),
    )
}

fn times(values: Vec<Option<i64>>) -> ArrayRef {
    Arc::new(TimestampMicrosecondArray::from(values).with_timezone("UTC"))
}

fn teeth(rows: &[Option<&[&str]>]) -> ArrayRef {
    let mut builder = ListBuilder::new(StringBuilder::new());
    for row in rows {
        match row {
            Some(items) => {
                items.iter().for_each(|t| builder.values().append_value(t));
                builder.append(true);
            }
            None => builder.append(false),
        }
    }
    Arc::new(builder.finish())
}

/// Patients `first..first + 3`, with nulls in every nullable column of the last row.
fn patients(first: i64) -> RecordBatch {
    let ids: Vec<i64> = (first..first + 3).collect();
    let columns: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from(ids)),
        Arc::new(StringArray::from(vec![
            Some("5c1e6f0a-9d6e-4c5e-8a55-2b1f0d0c7a11"),
            Some("5c1e6f0a-9d6e-4c5e-8a55-2b1f0d0c7a11"),
            None,
        ])),
        Arc::new(Int64Array::from(vec![
            Some(9_007_199_254_740_993),
            Some(7),
            None,
        ])),
        Arc::new(StringArray::from(vec![
            Some("Ann \"Nan\""),
            Some("Bo, Jr"),
            None,
        ])),
        Arc::new(BooleanArray::from(vec![Some(true), Some(false), None])),
        decimals(vec![Some(-7600 - first as i128), Some(12_345), None], 2),
        decimals(vec![Some(12_500), Some(-1), None], 4),
        // 1980-02-29, 1969-12-31, null
        Arc::new(Date32Array::from(vec![Some(3711), Some(-1), None])),
        teeth(&[Some(&["UR1", "UL2"]), Some(&[]), None]),
        // 2026-07-04T19:35:55.599Z (plus `first` µs), 1970-01-01T00:00:00Z, null
        times(vec![Some(1_783_193_755_599_000 + first), Some(0), None]),
        times(vec![Some(1_783_193_755_599_001), Some(-1), None]),
    ];
    RecordBatch::try_new(patients_schema(), columns).unwrap()
}

fn payments() -> RecordBatch {
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("patient_id", DataType::Int64, false),
        Field::new("amount", DataType::Decimal128(18, 2), true),
        Field::new("method", DataType::Utf8, true),
        Field::new("paid_on", DataType::Date32, true),
        Field::new("created_at", utc_micros(), true),
    ]));
    let columns: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from(vec![10, 11])),
        Arc::new(Int64Array::from(vec![1, 1])),
        decimals(vec![Some(999_999_999_999_999_999), Some(-1)], 2),
        Arc::new(StringArray::from(vec![Some("card"), None])),
        Arc::new(Date32Array::from(vec![Some(20_638), None])),
        times(vec![Some(1_783_193_755_000_000), None]),
    ];
    RecordBatch::try_new(schema, columns).unwrap()
}

async fn write(loc: &Location, rel: &str, batches: &[RecordBatch]) {
    let mut file = FileWriter::create(loc, rel, batches[0].schema(), &Format::default()).unwrap();
    for batch in batches {
        file.write(batch).await.unwrap();
    }
    file.finish().await.unwrap();
}

/// Two tables (patients in two files, payments in one) plus the `_raw/` and `_runs/` entries
/// the check must skip: 6 + 2 rows.
async fn write_fixture(loc: &Location) {
    write(loc, "patients/part-0.parquet", &[patients(1), patients(4)]).await;
    write(loc, "patients/part-1.parquet", &[patients(100)]).await;
    write(loc, "payments/part-0.parquet", &[payments()]).await;
    write(
        loc,
        "_raw/patients/extracted_on=2026-07-04/r1-0.parquet",
        &[patients(1)],
    )
    .await;
    loc.put_json_atomic("_runs/r1.json", &serde_json::json!({"status": "ok"}))
        .await
        .unwrap();
}

fn assert_fixture_summary(summary: &Value) {
    let tables = summary["tables"].as_object().unwrap();
    assert_eq!(
        tables.keys().collect::<Vec<_>>(),
        ["patients", "payments"],
        "{summary:#}"
    );
    let patients = &tables["patients"];
    assert_eq!(patients["files"], 2);
    for reader in ["duckdb", "pyarrow", "polars"] {
        assert_eq!(patients["rows"][reader], 9, "{reader}");
        assert_eq!(tables["payments"]["rows"][reader], 2, "{reader}");
    }
    let columns = &patients["columns"];
    assert_eq!(columns["id"]["duckdb"], "BIGINT");
    assert_eq!(columns["balance"]["duckdb"], "DECIMAL(18,2)");
    assert_eq!(columns["uda_value"]["duckdb"], "DECIMAL(18,4)");
    assert_eq!(columns["created_at"]["duckdb"], "TIMESTAMP WITH TIME ZONE");
    assert_eq!(columns["date_of_birth"]["duckdb"], "DATE");
    assert_eq!(columns["teeth"]["duckdb"], "VARCHAR[]");
    assert_eq!(columns["teeth"]["stats"]["items"], 6);
    assert_eq!(
        columns["dentist_id"]["stats"]["max"],
        9_007_199_254_740_993_i64
    );
    assert_eq!(
        tables["payments"]["columns"]["amount"]["stats"]["max"],
        "9999999999999999.99"
    );
}

#[tokio::test]
async fn local_output_reads_the_same_in_duckdb_pyarrow_and_polars() {
    let dir = tempfile::tempdir().unwrap();
    let loc = Location::parse(dir.path().to_str().unwrap(), &StoreOptions::default()).unwrap();
    write_fixture(&loc).await;
    let summary = check_with_python(dir.path().to_str().unwrap(), &[]);
    assert_fixture_summary(&summary);
}

#[tokio::test]
async fn s3_output_reads_the_same_in_duckdb_pyarrow_and_polars() {
    let server = MotoServer::start();
    let url = format!("s3://{}/exports/dentally", server.bucket());
    let loc = Location::parse_with_env(&url, &StoreOptions::default(), &server.env()).unwrap();
    write_fixture(&loc).await;
    let summary = check_with_python(&url, &server.env());
    assert_fixture_summary(&summary);
}

#[tokio::test]
async fn contract_violations_are_reported_per_column() {
    let dir = tempfile::tempdir().unwrap();
    let loc = Location::parse(dir.path().to_str().unwrap(), &StoreOptions::default()).unwrap();
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::UInt64, false),
        Field::new("price", DataType::Decimal128(10, 2), true),
        Field::new(
            "updated_at",
            DataType::Timestamp(TimeUnit::Nanosecond, None),
            true,
        ),
        Field::new("created_at", DataType::Utf8, true),
    ]));
    let columns: Vec<ArrayRef> = vec![
        Arc::new(UInt64Array::from(vec![1])),
        Arc::new(
            Decimal128Array::from(vec![Some(100)])
                .with_precision_and_scale(10, 2)
                .unwrap(),
        ),
        Arc::new(TimestampNanosecondArray::from(vec![Some(1)])),
        Arc::new(StringArray::from(vec![Some("2026-07-04")])),
    ];
    let batch = RecordBatch::try_new(schema, columns).unwrap();
    write(&loc, "bad/part-0.parquet", &[batch]).await;

    let (passed, summary) = run_check(dir.path().to_str().unwrap(), &[]);
    assert!(!passed);
    assert_eq!(summary["ok"], false);
    let errors: Vec<&str> = summary["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e.as_str().unwrap())
        .collect();
    for column in ["bad.id", "bad.price", "bad.updated_at", "bad.created_at"] {
        assert!(
            errors.iter().any(|e| e.starts_with(column)),
            "{column} not reported: {errors:#?}"
        );
    }
}
