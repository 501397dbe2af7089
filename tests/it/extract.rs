//! End to end: the demo pipeline against the sandbox with `total_pages` off and unstable default
//! ordering, checked table by table against the sandbox's own data.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use arrow::array::{Array, AsArray};
use arrow::datatypes::{DataType, Date32Type, Decimal128Type, Int64Type, TimestampMicrosecondType};
use arrow::record_batch::RecordBatch;
use dentally_etl::catalog::{self, Kind, PiiPolicy};
use dentally_etl::sandbox::{self, FaultConfig, SandboxConfig, SandboxHandle};
use serde_json::Value;

use crate::common::{count_rows, read_table, run_bin, table_files};

/// A sandbox with several pages per big resource, no `total_pages`, unstable default order.
pub async fn quirky_sandbox(scale: f64) -> SandboxHandle {
    let faults = FaultConfig {
        unstable_order_rate: 1.0,
        missing_total_pages_rate: 1.0,
        ..FaultConfig::default()
    };
    let config = SandboxConfig {
        scale,
        total_pages: false,
        faults,
        ..SandboxConfig::default()
    };
    sandbox::spawn(config).await.unwrap()
}

/// The demo pipeline pointed at `base`, writing to `out` in `format`.
pub fn demo_pipeline(dir: &Path, base: &str, format: &str) -> std::path::PathBuf {
    let text =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("pipelines/demo.toml"))
            .unwrap()
            .replace("${DENTALLY_BASE_URL:-http://127.0.0.1:8765}", base)
            .replace(
                "url = \"./out\"",
                &format!("url = \"{}\"", dir.join("out").display()),
            )
            .replace("format = \"parquet\"", &format!("format = \"{format}\""));
    let path = dir.join("demo.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// Total rows the sandbox lists for a windowed resource over the demo window.
async fn windowed_total(base: &str, resource: &str) -> u64 {
    let today = chrono::Utc::now().date_naive();
    let (from, to) = (
        today - chrono::Days::new(400),
        today + chrono::Days::new(90),
    );
    // The parameters the extractor always sends (appointments: `cancelled=true`).
    let required: String = catalog::find(resource)
        .map(|r| r.required_params)
        .unwrap_or_default()
        .iter()
        .map(|(k, v)| format!("&{k}={v}"))
        .collect();
    crate::common::total_count(
        base,
        &format!("/v1/{resource}?per_page=1&after={from}&before={to}{required}"),
    )
    .await
}

fn column<'a>(batch: &'a RecordBatch, name: &str) -> &'a dyn Array {
    batch
        .column_by_name(name)
        .unwrap_or_else(|| panic!("no column {name}"))
        .as_ref()
}

fn keys(out: &Path, table: &str, key: &str) -> Vec<String> {
    let mut keys = Vec::new();
    for b in read_table(out, table) {
        let c = column(&b, key);
        match c.data_type() {
            DataType::Int64 => keys.extend(
                c.as_primitive::<Int64Type>()
                    .iter()
                    .map(|v| v.unwrap().to_string()),
            ),
            _ => keys.extend(c.as_string::<i32>().iter().map(|v| v.unwrap().to_string())),
        }
    }
    keys
}

fn exact_cents(text: &str) -> i128 {
    let (int, frac) = text.split_once('.').unwrap_or((text, "0"));
    let neg = int.starts_with('-');
    let frac = format!("{frac:0<2}");
    let v = int.trim_start_matches('-').parse::<i128>().unwrap() * 100
        + frac[..2].parse::<i128>().unwrap();
    if neg { -v } else { v }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_run_extracts_every_table_exactly_once_with_correct_types() {
    let sb = quirky_sandbox(0.3).await;
    let dir = tempfile::tempdir().unwrap();
    let pipeline = demo_pipeline(dir.path(), &sb.base_url(), "parquet");
    let (code, stdout, stderr) = run_bin(
        &["--quiet", "run", pipeline.to_str().unwrap()],
        &[("DENTALLY_API_TOKEN", "sandbox-read")],
    )
    .await;
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.is_empty(), "stdout carries data only: {stdout}");
    let out = dir.path().join("out");

    for resource in catalog::all() {
        let truth = sb.truth(1, resource.name);
        let expected = match resource.name {
            "appointments" | "rota_practitioner_diaries" => {
                windowed_total(&sb.base_url(), resource.name).await as usize
            }
            _ => truth.len(),
        };
        let got = keys(&out, resource.name, resource.primary_key);
        assert_eq!(got.len(), expected, "{}: row count", resource.name);
        let unique: HashSet<&String> = got.iter().collect();
        assert_eq!(unique.len(), got.len(), "{}: duplicate keys", resource.name);
        // All files of a table share the declared schema (plus `_deleted_at`).
        for table in catalog::tables(resource, &PiiPolicy::Keep) {
            for file in table_files(&out, &table.name) {
                let reader =
                    parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(
                        std::fs::File::open(&file).unwrap(),
                    )
                    .unwrap();
                let fields: Vec<(String, DataType)> = reader
                    .schema()
                    .fields()
                    .iter()
                    .map(|f| (f.name().clone(), f.data_type().clone()))
                    .collect();
                let mut want: Vec<(String, DataType)> = table
                    .schema
                    .fields()
                    .iter()
                    .map(|f| (f.name().clone(), f.data_type().clone()))
                    .collect();
                want.push((
                    "_deleted_at".into(),
                    DataType::Timestamp(
                        arrow::datatypes::TimeUnit::Microsecond,
                        Some("UTC".into()),
                    ),
                ));
                assert_eq!(fields, want, "{}", file.display());
            }
        }
        let _ = resource.kind == Kind::Single;
    }

    // Instants: the API's offsets converted to UTC, to the microsecond.
    let truth: HashMap<i64, Value> = sb
        .truth(1, "patients")
        .into_iter()
        .map(|r| (r["id"].as_i64().unwrap(), r))
        .collect();
    for b in read_table(&out, "patients") {
        let ids = column(&b, "id").as_primitive::<Int64Type>();
        let updated = column(&b, "updated_at").as_primitive::<TimestampMicrosecondType>();
        let extra = column(&b, "_extra").as_string::<i32>();
        let born = column(&b, "date_of_birth");
        assert_eq!(born.data_type(), &DataType::Date32);
        for i in 0..b.num_rows() {
            let t = &truth[&ids.value(i)];
            let api =
                chrono::DateTime::parse_from_rfc3339(t["updated_at"].as_str().unwrap()).unwrap();
            assert_eq!(updated.value(i), api.timestamp_micros());
            assert!(
                extra.value(i).contains("portal_registered"),
                "`_extra` keeps the unknown field"
            );
            if let Some(d) = t["date_of_birth"].as_str() {
                let days = born.as_primitive::<Date32Type>().value(i);
                let date = chrono::NaiveDate::from_num_days_from_ce_opt(days + 719_163).unwrap();
                assert_eq!(date.to_string(), d);
            }
        }
    }

    // Money: exact decimals, negatives included; child tables: explanations with payment_id and _idx.
    let truth: HashMap<i64, Value> = sb
        .truth(1, "payments")
        .into_iter()
        .map(|r| (r["id"].as_i64().unwrap(), r))
        .collect();
    for b in read_table(&out, "payments") {
        let ids = column(&b, "id").as_primitive::<Int64Type>();
        let amounts = column(&b, "amount").as_primitive::<Decimal128Type>();
        for i in 0..b.num_rows() {
            let want = exact_cents(truth[&ids.value(i)]["amount"].as_str().unwrap());
            assert_eq!(amounts.value(i), want);
        }
    }
    let explanations: usize = truth
        .values()
        .map(|p| p["explanations"].as_array().map_or(0, Vec::len))
        .sum();
    assert_eq!(count_rows(&out, "payments__explanations"), explanations);
    let negative_items = read_table(&out, "invoice_items")
        .iter()
        .map(|b| {
            column(b, "total_price")
                .as_primitive::<Decimal128Type>()
                .iter()
                .flatten()
                .filter(|v| *v < 0)
                .count()
        })
        .sum::<usize>();
    assert!(negative_items > 0, "discount items stay negative");

    // Lists: teeth as List<Utf8>, equal to the API's arrays.
    let truth: HashMap<i64, Value> = sb
        .truth(1, "treatment_plan_items")
        .into_iter()
        .map(|r| (r["id"].as_i64().unwrap(), r))
        .collect();
    for b in read_table(&out, "treatment_plan_items") {
        let ids = column(&b, "id").as_primitive::<Int64Type>();
        let teeth = column(&b, "teeth").as_list::<i32>();
        for i in 0..b.num_rows() {
            let want: Vec<String> = truth[&ids.value(i)]["teeth"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(|v| v.as_str().map_or(v.to_string(), str::to_string))
                        .collect()
                })
                .unwrap_or_default();
            let got: Vec<String> = if teeth.is_null(i) {
                Vec::new()
            } else {
                teeth
                    .value(i)
                    .as_string::<i32>()
                    .iter()
                    .map(|s| s.unwrap().to_string())
                    .collect()
            };
            assert_eq!(got, want);
        }
    }

    // The manifest is written and names every current file.
    // The manifest is written, then the completion marker `latest.json` naming the same run.
    let mut runs: Vec<String> = std::fs::read_dir(out.join("_runs"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    runs.sort();
    assert_eq!(runs.len(), 2, "{runs:?}");
    assert_eq!(runs[1], "latest.json");
    let latest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("_runs/latest.json")).unwrap())
            .unwrap();
    assert_eq!(
        format!("{}.json", latest["run_id"].as_str().unwrap()),
        runs[0]
    );
    crate::interop::check_with_python(out.to_str().unwrap(), &[]);
    sb.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn csv_output_reads_back_through_arrow_csv_and_agrees() {
    let sb = quirky_sandbox(0.1).await;
    let dir = tempfile::tempdir().unwrap();
    let pipeline = demo_pipeline(dir.path(), &sb.base_url(), "csv");
    let (code, _, stderr) = run_bin(
        &["--quiet", "run", pipeline.to_str().unwrap()],
        &[("DENTALLY_API_TOKEN", "sandbox-read")],
    )
    .await;
    assert_eq!(code, 0, "{stderr}");
    let out = dir.path().join("out");
    for name in [
        "patients",
        "payments",
        "payments__explanations",
        "invoice_items",
        "appointments",
    ] {
        let resource = name.split("__").next().unwrap();
        let table = catalog::tables(catalog::find(resource).unwrap(), &PiiPolicy::Keep)
            .into_iter()
            .find(|t| t.name == name)
            .unwrap();
        // Lists are JSON text in CSV; everything else keeps its type.
        let mut fields: Vec<arrow::datatypes::Field> = table
            .schema
            .fields()
            .iter()
            .map(|f| match f.data_type() {
                DataType::List(_) => arrow::datatypes::Field::new(f.name(), DataType::Utf8, true),
                _ => arrow::datatypes::Field::new(f.name(), f.data_type().clone(), true),
            })
            .collect();
        fields.push(arrow::datatypes::Field::new(
            "_deleted_at",
            DataType::Timestamp(arrow::datatypes::TimeUnit::Microsecond, Some("UTC".into())),
            true,
        ));
        let schema = std::sync::Arc::new(arrow::datatypes::Schema::new(fields));
        let mut rows = 0;
        for entry in std::fs::read_dir(out.join(name)).unwrap() {
            let file = std::fs::File::open(entry.unwrap().path()).unwrap();
            let reader = arrow::csv::ReaderBuilder::new(schema.clone())
                .with_header(true)
                .build(file)
                .unwrap();
            for batch in reader {
                rows += batch.unwrap_or_else(|e| panic!("{name}: {e}")).num_rows();
            }
        }
        let want = if name == "payments__explanations" {
            sb.truth(1, "payments")
                .iter()
                .map(|p| p["explanations"].as_array().map_or(0, Vec::len))
                .sum()
        } else if name == "appointments" {
            windowed_total(&sb.base_url(), name).await as usize
        } else {
            sb.truth(1, name).len()
        };
        assert_eq!(rows, want, "{name}");
    }
    sb.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_feature_the_practice_does_not_use_is_skipped_not_failed() {
    // The live API answers 200 with no rows for an unused feature (rooms, evidence B); a 404
    // for others is not excluded, so the 404 path is still proven.
    let config = SandboxConfig {
        features_off: vec!["nhs_claims".into()],
        features_off_404: true,
        ..SandboxConfig::default().with_scale(0.05)
    };
    let sb = sandbox::spawn(config).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let p = crate::common::pipeline(
        dir.path(),
        &sb.base_url(),
        &["patients", "nhs_claims"],
        "parquet",
        "",
    );
    let (code, stdout, stderr) = run_bin(
        &["--quiet", "run", "--json", p.to_str().unwrap()],
        &[("DENTALLY_API_TOKEN", "sandbox-read")],
    )
    .await;
    assert_eq!(code, 0, "{stderr}");
    let manifest: Value = serde_json::from_str(&stdout).unwrap();
    let claims = manifest["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "nhs_claims")
        .unwrap();
    assert_eq!(claims["status"], "unavailable");
    assert!(
        claims["error"].as_str().unwrap().contains("404"),
        "{claims}"
    );
    assert_eq!(manifest["status"], "succeeded");
    assert!(count_rows(&dir.path().join("out"), "patients") > 0);
    assert!(!dir.path().join("out/nhs_claims").exists());
}
