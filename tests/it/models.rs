//! `[[models]]` agree with DuckDB: a model runs over current tables written by our sink, and
//! DuckDB runs the same SQL over the same files; the rows must be equal (numbers compared as
//! decimal strings, times as UTC text).

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;

use arrow::array::{
    ArrayRef, Date32Array, Decimal128Array, Int64Array, RecordBatch, StringArray,
    TimestampMicrosecondArray,
};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use dentally_etl::api::RateHeaders;
use dentally_etl::config::OutputFormat;
use dentally_etl::manifest::{ApiEntry, FileEntry, Manifest, ResourceEntry, Status, TableEntry};
use dentally_etl::models::{ModelSpec, run_models};
use dentally_etl::sink::{FileWriter, Format, Location, StoreOptions};
use serde_json::{Value, json};

use crate::pyenv::python_env;

const SQL: &str = "
SELECT date_trunc('month', p.dated_on) AS month, r.name AS practitioner,
       sum(p.amount) AS takings, count(*) AS payments, min(p.amount) AS smallest,
       max(p.paid_at) AS last_paid
FROM payments p JOIN practitioners r ON r.id = p.practitioner_id
WHERE p._deleted_at IS NULL
GROUP BY 1, 2 ORDER BY 1, 2
";

/// Runs `SQL` in DuckDB over `tables` and reads the model's `result`, both normalised the same way.
/// DuckDB's `date_trunc` of a date is a timestamp at midnight, ours a date: both become the date.
const DUCKDB: &str = r#"
import datetime, decimal, json, sys
import duckdb

spec = json.load(sys.stdin)
con = duckdb.connect()
con.execute("SET TimeZone = 'UTC'")
def files(paths):
    return "[" + ", ".join("'" + p.replace("'", "''") + "'" for p in paths) + "]"
for name, paths in spec["tables"].items():
    con.execute(f"CREATE VIEW {name} AS SELECT * FROM read_parquet({files(paths)})")

def norm(v):
    if v is None:
        return None
    if isinstance(v, float):
        v = decimal.Decimal(repr(round(v, 6)))
    if isinstance(v, decimal.Decimal):
        return format(v.normalize(), "f")
    if isinstance(v, datetime.datetime) and v.tzinfo is None and v.time() == datetime.time():
        return v.date().isoformat()
    if isinstance(v, (datetime.date, datetime.datetime)):
        return v.isoformat()
    return str(v)

def rows(rel):
    # TIMESTAMPTZ as text (UTC session), so no tz package is needed on the Python side.
    exprs = [f'CAST("{c}" AS VARCHAR) AS "{c}"' if str(t) == "TIMESTAMP WITH TIME ZONE" else f'"{c}"'
             for c, t in zip(rel.columns, rel.types)]
    out = rel.project(", ".join(exprs))
    return {"columns": rel.columns, "types": [str(t) for t in rel.types],
            "rows": [[norm(v) for v in row] for row in out.fetchall()]}

print(json.dumps({
    "duckdb": rows(con.sql(spec["sql"])),
    "model": rows(con.sql(f"SELECT * FROM read_parquet({files([spec['result']])})")),
}))
"#;

fn utc() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
}

fn payments_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("practitioner_id", DataType::Int64, true),
        Field::new("amount", DataType::Decimal128(18, 2), true),
        Field::new("dated_on", DataType::Date32, true),
        Field::new("paid_at", utc(), true),
        Field::new("_deleted_at", utc(), true),
    ]))
}

fn practitioners_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("name", DataType::Utf8, true),
        Field::new("_deleted_at", utc(), true),
    ]))
}

/// 2026-01-01 is day 20 454 since the epoch.
const JAN_1: i32 = 20_454;

/// `n` payments spread over three months and three practitioners, with negative, tiny and null
/// amounts and a few deleted rows; ids start at `first`.
fn payments(first: i64, n: i64) -> RecordBatch {
    let ids: Vec<i64> = (first..first + n).collect();
    let days: Vec<i32> = ids.iter().map(|i| JAN_1 + (i * 7 % 88) as i32).collect();
    let amounts: Vec<Option<i128>> = ids
        .iter()
        .map(|i| match i % 11 {
            0 => None,
            3 => Some(-i128::from(*i) * 25),
            5 => Some(1),
            _ => Some(i128::from(*i) * 1_234 % 99_999),
        })
        .collect();
    let paid_at: Vec<i64> = days
        .iter()
        .zip(&ids)
        .map(|(d, i)| i64::from(*d) * 86_400_000_000 + i * 61_000_123)
        .collect();
    let deleted: Vec<Option<i64>> = ids
        .iter()
        .map(|i| (i % 13 == 0).then_some(1_780_000_000_000_000))
        .collect();
    let columns: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from(ids.clone())),
        Arc::new(Int64Array::from_iter_values(ids.iter().map(|i| i % 3 + 1))),
        Arc::new(
            Decimal128Array::from(amounts)
                .with_precision_and_scale(18, 2)
                .unwrap(),
        ),
        Arc::new(Date32Array::from(days)),
        Arc::new(TimestampMicrosecondArray::from(paid_at).with_timezone("UTC")),
        Arc::new(TimestampMicrosecondArray::from(deleted).with_timezone("UTC")),
    ];
    RecordBatch::try_new(payments_schema(), columns).unwrap()
}

fn practitioners() -> RecordBatch {
    let columns: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from(vec![1, 2, 3])),
        Arc::new(StringArray::from(vec![
            "Dr Ann Lee",
            "Dr Bo Chen",
            "Ms Cy Ode",
        ])),
        Arc::new(TimestampMicrosecondArray::from(vec![None::<i64>; 3]).with_timezone("UTC")),
    ];
    RecordBatch::try_new(practitioners_schema(), columns).unwrap()
}

async fn write(loc: &Location, rel: &str, batch: &RecordBatch) -> FileEntry {
    let mut file = FileWriter::create(loc, rel, batch.schema(), &Format::default()).unwrap();
    file.write(batch).await.unwrap();
    let r = file.finish().await.unwrap();
    FileEntry {
        path: r.path,
        rows: r.rows,
        bytes: r.bytes,
    }
}

fn table(name: &str, files: Vec<FileEntry>) -> TableEntry {
    TableEntry {
        name: name.into(),
        rows: files.iter().map(|f| f.rows).sum(),
        schema_hash: String::new(),
        files,
        raw_files: Vec::new(),
    }
}

fn manifest(run_id: &str, tables: Vec<TableEntry>) -> Manifest {
    let mut resource = ResourceEntry::new("payments");
    resource.status = Status::Succeeded;
    resource.tables = tables;
    Manifest {
        version: 1,
        run_id: run_id.into(),
        practice: None,
        practice_id: None,
        pipeline: "it".into(),
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
            read_only: dentally_etl::preflight::ReadOnly::Verified,
        },
        resources: vec![resource],
        models: Vec::new(),
    }
}

fn duckdb(root: &Path, manifest: &Manifest, result: &str) -> Value {
    let abs = |rel: &str| root.join(rel).display().to_string();
    let tables: serde_json::Map<String, Value> = manifest.resources[0]
        .tables
        .iter()
        .map(|t| {
            let paths: Vec<String> = t.files.iter().map(|f| abs(&f.path)).collect();
            (t.name.clone(), json!(paths))
        })
        .collect();
    let spec = json!({"tables": tables, "sql": SQL, "result": abs(result)});
    let mut child = Command::new(python_env().python)
        .args(["-c", DUCKDB])
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(spec.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "duckdb script failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_model_gives_what_duckdb_gives_on_the_same_files() {
    let dir = tempfile::tempdir().unwrap();
    let loc = Location::parse(dir.path().to_str().unwrap(), &StoreOptions::default()).unwrap();
    let run_id = "20260701T000000Z-0001";
    let pay = vec![
        write(
            &loc,
            &format!("payments/part-{run_id}-0000.parquet"),
            &payments(1, 700),
        )
        .await,
        write(
            &loc,
            &format!("payments/part-{run_id}-0001.parquet"),
            &payments(701, 500),
        )
        .await,
    ];
    let prac = vec![
        write(
            &loc,
            &format!("practitioners/part-{run_id}-0000.parquet"),
            &practitioners(),
        )
        .await,
    ];
    let m = manifest(
        run_id,
        vec![table("payments", pay), table("practitioners", prac)],
    );
    let model = ModelSpec {
        name: "monthly_takings".into(),
        sql: SQL.into(),
    };
    let reports = run_models(&loc, &m, &[model], run_id).await;
    assert_eq!(reports[0].error, None);
    let file = reports[0].file.clone().unwrap();
    assert_eq!(
        file,
        format!("_models/monthly_takings/part-{run_id}-0000.parquet")
    );

    let got = duckdb(dir.path(), &m, &file);
    let (duck, model) = (&got["duckdb"], &got["model"]);
    assert_eq!(duck["columns"], model["columns"]);
    assert_eq!(duck["rows"].as_array().unwrap().len(), 9, "{got:#}");
    assert_eq!(
        u64::try_from(duck["rows"].as_array().unwrap().len()).unwrap(),
        reports[0].rows
    );
    assert_eq!(duck["rows"], model["rows"], "{got:#}");
}

/// Through the binary, against the sandbox: a pipeline's model runs after its tables, its report
/// is in the manifest, and its output equals DuckDB's over the same current files.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pipeline_model_runs_after_the_tables_and_agrees_with_duckdb() {
    let sb = dentally_etl::sandbox::spawn(
        dentally_etl::sandbox::SandboxConfig::default().with_scale(0.2),
    )
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let sql = "SELECT practitioner_id, count(*) AS payments, sum(amount) AS takings FROM payments GROUP BY 1 ORDER BY 1";
    let text = format!(
        "name = \"m\"\n[source]\nbase_url = \"{}\"\ntoken_env = \"DENTALLY_API_TOKEN\"\n[output]\nurl = \"{}\"\n\
         [[resources]]\nname = \"payments\"\n[[models]]\nname = \"takings\"\nsql = \"{sql}\"\n",
        sb.base_url(),
        out.display()
    );
    let p = dir.path().join("m.toml");
    std::fs::write(&p, text).unwrap();
    let (code, stdout, stderr) = crate::common::run_bin(
        &["--quiet", "run", "--json", p.to_str().unwrap()],
        &[("DENTALLY_API_TOKEN", "sandbox-read")],
    )
    .await;
    assert_eq!(code, 0, "{stderr}");
    let manifest: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(manifest["models"][0]["status"], "succeeded", "{manifest}");
    let file = manifest["models"][0]["file"].as_str().unwrap();
    let script = "import duckdb, json, sys\n\
        a = duckdb.sql(f\"SELECT practitioner_id, payments, CAST(takings AS VARCHAR) FROM '{sys.argv[1]}' ORDER BY 1\").fetchall()\n\
        b = duckdb.sql(f\"SELECT practitioner_id, count(*), CAST(sum(amount) AS VARCHAR) FROM '{sys.argv[2]}/payments/*.parquet' GROUP BY 1 ORDER BY 1\").fetchall()\n\
        print(json.dumps({'model': a, 'duckdb': b}))";
    let result = Command::new(python_env().python)
        .args([
            "-c",
            script,
            &out.join(file).display().to_string(),
            &out.display().to_string(),
        ])
        .output()
        .unwrap();
    assert!(
        result.status.success(),
        "{}",
        String::from_utf8_lossy(&result.stderr)
    );
    let both: Value = serde_json::from_slice(&result.stdout).unwrap();
    assert!(!both["model"].as_array().unwrap().is_empty());
    assert_eq!(both["model"], both["duckdb"]);
}
