//! Models over a tiny `payments` table written by our own sink: the contract's types (Decimal128,
//! Date32, Timestamp µs UTC) in, the expected aggregates out, locally and through an object store.

use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, Date32Array, Decimal128Array, Int64Array, RecordBatch,
    TimestampMicrosecondArray,
};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use arrow::util::display::array_value_to_string;
use chrono::NaiveDate;
use futures::StreamExt;

use super::*;
use crate::api::RateHeaders;
use crate::config::OutputFormat;
use crate::manifest::{ApiEntry, FileEntry, ResourceEntry, Status, TableEntry};
use crate::sink::{FileWriter, Format, StoreOptions, read_parquet};

const MONTHLY: &str = "
SELECT date_trunc('month', dated_on) AS month, practitioner_id, sum(amount) AS takings
FROM payments GROUP BY 1, 2 ORDER BY 1, 2
";

fn schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("practitioner_id", DataType::Int64, true),
        Field::new("amount", DataType::Decimal128(18, 2), true),
        Field::new("dated_on", DataType::Date32, true),
        Field::new(
            "paid_at",
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            true,
        ),
    ]))
}

fn day(y: i32, m: u32, d: u32) -> i32 {
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap();
    (NaiveDate::from_ymd_opt(y, m, d).unwrap() - epoch).num_days() as i32
}

/// One row: `(id, practitioner, cents, (y, m, d))`.
type Row = (i64, i64, Option<i128>, (i32, u32, u32));

/// Rows `(id, practitioner, cents, (y, m, d))`; `paid_at` is noon UTC of the day.
fn batch(rows: &[Row]) -> RecordBatch {
    let days: Vec<i32> = rows.iter().map(|r| day(r.3.0, r.3.1, r.3.2)).collect();
    let columns: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.0))),
        Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.1))),
        Arc::new(
            Decimal128Array::from(rows.iter().map(|r| r.2).collect::<Vec<_>>())
                .with_precision_and_scale(18, 2)
                .unwrap(),
        ),
        Arc::new(Date32Array::from(days.clone())),
        Arc::new(
            TimestampMicrosecondArray::from_iter_values(
                days.iter()
                    .map(|d| i64::from(*d) * 86_400_000_000 + 43_200_000_000),
            )
            .with_timezone("UTC"),
        ),
    ];
    RecordBatch::try_new(schema(), columns).unwrap()
}

/// Two current files of `payments`, written with our sink; returns their manifest entries.
async fn write_payments(loc: &Location, run_id: &str) -> Vec<FileEntry> {
    let parts = [
        batch(&[
            (1, 10, Some(1250), (2026, 1, 5)),
            (2, 10, Some(-325), (2026, 1, 20)),
            (3, 20, Some(10_000), (2026, 1, 31)),
        ]),
        batch(&[
            (4, 10, Some(775), (2026, 2, 1)),
            (5, 20, None, (2026, 2, 14)),
            (6, 20, Some(1), (2026, 2, 28)),
        ]),
    ];
    let mut files = Vec::new();
    for (n, part) in parts.iter().enumerate() {
        let rel = format!("payments/part-{run_id}-{n:04}.parquet");
        let mut file = FileWriter::create(loc, &rel, schema(), &Format::default()).unwrap();
        file.write(part).await.unwrap();
        let r = file.finish().await.unwrap();
        files.push(FileEntry {
            path: r.path,
            rows: r.rows,
            bytes: r.bytes,
        });
    }
    files
}

fn manifest(run_id: &str, tables: Vec<(&str, Vec<FileEntry>)>) -> Manifest {
    let mut resource = ResourceEntry::new("payments");
    resource.status = Status::Succeeded;
    resource.tables = tables
        .into_iter()
        .map(|(name, files)| TableEntry {
            name: name.to_string(),
            rows: files.iter().map(|f| f.rows).sum(),
            schema_hash: String::new(),
            files,
            raw_files: Vec::new(),
        })
        .collect();
    Manifest {
        version: 1,
        run_id: run_id.to_string(),
        practice: None,
        practice_id: None,
        pipeline: "test".into(),
        started_at: String::new(),
        finished_at: String::new(),
        status: Status::Succeeded,
        output: String::new(),
        format: OutputFormat::Parquet,
        api: ApiEntry {
            base_url: String::new(),
            requests: 0,
            retries: 0,
            rate_limited: 0,
            waited_seconds: 0.0,
            budget: RateHeaders::default(),
            read_only: crate::preflight::ReadOnly::Verified,
        },
        resources: vec![resource],
        models: Vec::new(),
    }
}

fn model(name: &str, sql: &str) -> ModelSpec {
    ModelSpec {
        name: name.into(),
        sql: sql.into(),
    }
}

/// Every row of a Parquet object, each value as arrow displays it (`""` for null).
async fn rows_of(loc: &Location, rel: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let mut batches = read_parquet(loc, rel, 1024).await.unwrap();
    let mut names = Vec::new();
    let mut rows = Vec::new();
    while let Some(batch) = batches.next().await {
        let batch = batch.unwrap();
        names = batch
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect();
        for i in 0..batch.num_rows() {
            rows.push(
                batch
                    .columns()
                    .iter()
                    .map(|c| {
                        if c.is_null(i) {
                            String::new()
                        } else {
                            array_value_to_string(c, i).unwrap()
                        }
                    })
                    .collect(),
            );
        }
    }
    (names, rows)
}

fn expected_monthly() -> Vec<Vec<String>> {
    [
        ["2026-01-01", "10", "9.25"],
        ["2026-01-01", "20", "100.00"],
        ["2026-02-01", "10", "7.75"],
        ["2026-02-01", "20", "0.01"],
    ]
    .iter()
    .map(|r| r.iter().map(ToString::to_string).collect())
    .collect()
}

async fn check_monthly(loc: &Location) {
    let files = write_payments(loc, "r1").await;
    let m = manifest("r1", vec![("payments", files)]);
    let reports = run_models(loc, &m, &[model("monthly_takings", MONTHLY)], "r1").await;
    let file = "_models/monthly_takings/part-r1-0000.parquet";
    assert_eq!(
        reports,
        [ModelReport {
            name: "monthly_takings".into(),
            status: Status::Succeeded,
            error: None,
            rows: 4,
            file: Some(file.into()),
        }]
    );
    let (names, rows) = rows_of(loc, file).await;
    assert_eq!(names, ["month", "practitioner_id", "takings"]);
    assert_eq!(rows, expected_monthly());
}

#[tokio::test]
async fn monthly_takings_over_a_local_output() {
    let dir = tempfile::tempdir().unwrap();
    let loc = Location::parse(dir.path().to_str().unwrap(), &StoreOptions::default()).unwrap();
    check_monthly(&loc).await;
}

#[tokio::test]
async fn monthly_takings_through_an_object_store() {
    let loc = Location::parse("memory:///out", &StoreOptions::default()).unwrap();
    assert!(loc.local_root().is_none());
    check_monthly(&loc).await;
}

#[tokio::test]
async fn timestamps_and_a_filter_keep_their_meaning() {
    let dir = tempfile::tempdir().unwrap();
    let loc = Location::parse(dir.path().to_str().unwrap(), &StoreOptions::default()).unwrap();
    let files = write_payments(&loc, "r1").await;
    let m = manifest("r1", vec![("payments", files)]);
    let sql = "SELECT practitioner_id, count(*) AS n, max(paid_at) AS last_paid \
               FROM payments WHERE amount > 0 GROUP BY practitioner_id ORDER BY practitioner_id";
    let reports = run_models(&loc, &m, &[model("last_paid", sql)], "r1").await;
    assert_eq!(reports[0].error, None);
    let (_, rows) = rows_of(&loc, reports[0].file.as_deref().unwrap()).await;
    assert_eq!(
        rows,
        [
            ["10", "2", "2026-02-01T12:00:00Z"],
            ["20", "2", "2026-02-28T12:00:00Z"],
        ]
    );
}

#[tokio::test]
async fn a_new_result_replaces_the_old_one_and_a_failure_keeps_it() {
    let dir = tempfile::tempdir().unwrap();
    let loc = Location::parse(dir.path().to_str().unwrap(), &StoreOptions::default()).unwrap();
    let files = write_payments(&loc, "r1").await;
    let models = [model("monthly_takings", MONTHLY)];
    run_models(
        &loc,
        &manifest("r1", vec![("payments", files.clone())]),
        &models,
        "r1",
    )
    .await;
    let reports = run_models(
        &loc,
        &manifest("r2", vec![("payments", files.clone())]),
        &models,
        "r2",
    )
    .await;
    assert_eq!(reports[0].status, Status::Succeeded);
    let listed = |loc: Location| async move {
        let mut keys: Vec<String> = loc
            .list("_models")
            .await
            .unwrap()
            .iter()
            .filter_map(|m| loc.relative(&m.location))
            .collect();
        keys.sort();
        keys
    };
    let only_r2 = vec!["_models/monthly_takings/part-r2-0000.parquet".to_string()];
    assert_eq!(listed(loc.clone()).await, only_r2);

    let broken = [model("monthly_takings", "SELECT nope FROM payments")];
    let reports = run_models(
        &loc,
        &manifest("r3", vec![("payments", files)]),
        &broken,
        "r3",
    )
    .await;
    assert_eq!(reports[0].status, Status::Failed);
    assert_eq!(
        listed(loc.clone()).await,
        only_r2,
        "the previous result stays"
    );
    let staging = std::fs::read_dir(dir.path().join("_models/monthly_takings")).unwrap();
    assert_eq!(staging.count(), 1, "no staging file is left behind");
}

#[tokio::test]
async fn errors_name_the_model_and_the_position() {
    let dir = tempfile::tempdir().unwrap();
    let loc = Location::parse(dir.path().to_str().unwrap(), &StoreOptions::default()).unwrap();
    let files = write_payments(&loc, "r1").await;
    let m = manifest("r1", vec![("payments", files)]);
    let models = [
        model("bad_syntax", "SELECT amount\nFROM payments ORDER amount"),
        model("no_table", "SELECT * FROM invoices"),
        model("fine", "SELECT count(*) AS n FROM payments"),
    ];
    let reports = run_models(&loc, &m, &models, "r1").await;
    let syntax = reports[0].error.as_deref().unwrap();
    assert!(
        syntax.starts_with("model `bad_syntax` failed at line 2, column 15 of its SQL: "),
        "{syntax}"
    );
    let missing = reports[1].error.as_deref().unwrap();
    assert!(
        missing.starts_with("model `no_table` failed: ") && missing.contains("invoices"),
        "{missing}"
    );
    assert_eq!(
        (reports[2].status, reports[2].rows),
        (Status::Succeeded, 1),
        "{:?}",
        reports[2]
    );
    assert!(reports[0].is_failed() && reports[1].is_failed() && !reports[2].is_failed());
    assert!(
        !loc.exists("_models/bad_syntax/part-r1-0000.parquet")
            .await
            .unwrap()
    );
}

#[tokio::test]
async fn csv_outputs_fail_every_model() {
    let loc = Location::parse("memory:///out", &StoreOptions::default()).unwrap();
    let mut m = manifest("r1", vec![]);
    m.format = OutputFormat::Csv;
    let reports = run_models(&loc, &m, &[model("a", "SELECT 1")], "r1").await;
    let error = reports[0].error.as_deref().unwrap();
    assert!(
        error.starts_with("model `a` failed: models read Parquet"),
        "{error}"
    );
}

#[test]
fn referenced_tables_are_whole_words() {
    let tables = |names: &[&str]| -> Vec<inputs::CurrentTable> {
        names
            .iter()
            .map(|n| inputs::CurrentTable {
                name: n.to_string(),
                files: vec![],
            })
            .collect()
    };
    let all = tables(&["payments", "payments__explanations", "patients"]);
    let needed = inputs::referenced(&all, &[model("m", "select * from PAYMENTS p")]);
    assert_eq!(needed.into_iter().collect::<Vec<_>>(), ["payments"]);
}

#[tokio::test]
async fn date_trunc_units_and_grouping_by_a_decimal() {
    let dir = tempfile::tempdir().unwrap();
    let loc = Location::parse(dir.path().to_str().unwrap(), &StoreOptions::default()).unwrap();
    let files = write_payments(&loc, "r1").await;
    let m = manifest("r1", vec![("payments", files)]);
    let models = [
        model(
            "units",
            "SELECT date_trunc('week', dated_on) AS w, date_trunc('QUARTER', dated_on) AS q, \
             date_trunc('year', dated_on) AS y, date_trunc('day', paid_at) AS d, \
             date_trunc('hour', paid_at) AS h FROM payments WHERE id = 5",
        ),
        model(
            "by_amount",
            "SELECT amount, count(*) AS n FROM payments GROUP BY amount ORDER BY amount",
        ),
        model(
            "bad_unit",
            "SELECT date_trunc('fortnight', dated_on) FROM payments",
        ),
    ];
    let reports = run_models(&loc, &m, &models, "r1").await;
    assert_eq!(reports[0].error, None);
    let (_, rows) = rows_of(&loc, reports[0].file.as_deref().unwrap()).await;
    assert_eq!(
        rows,
        [[
            "2026-02-09",
            "2026-01-01",
            "2026-01-01",
            "2026-02-14T00:00:00Z",
            "2026-02-14T12:00:00Z"
        ]]
    );
    assert_eq!(
        (reports[1].status, reports[1].rows),
        (Status::Succeeded, 6),
        "{:?}",
        reports[1]
    );
    let error = reports[2].error.as_deref().unwrap();
    assert!(error.contains("unknown unit 'fortnight'"), "{error}");
}

#[tokio::test]
async fn a_practice_writes_its_own_partition_and_leaves_the_others() {
    let dir = tempfile::tempdir().unwrap();
    let loc = Location::parse(dir.path().to_str().unwrap(), &StoreOptions::default()).unwrap();
    let south = "_models/monthly_takings/practice=south/part-r0-0000.parquet";
    loc.put_bytes(south, b"not parquet".to_vec()).await.unwrap();
    let files = write_payments(&loc, "r1").await;
    let mut m = manifest("r1", vec![("payments", files)]);
    m.practice = Some("north".into());
    let reports = run_models(&loc, &m, &[model("monthly_takings", MONTHLY)], "r1").await;
    let north = "_models/monthly_takings/practice=north/part-r1-0000.parquet";
    assert_eq!(reports[0].file.as_deref(), Some(north));
    assert_eq!(rows_of(&loc, north).await.1, expected_monthly());
    assert!(loc.exists(south).await.unwrap());
}
