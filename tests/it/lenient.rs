//! One bad value never drops a patient: a small hostile API serves pages whose values misfit
//! their declared columns; every row that can be keyed is kept, the cell is null, the value is
//! in `_extra` as sent, the counts are in the manifest and the summary, and `_rejects/` holds
//! only the row without a key. Under `pii = hash`, misfit personal values are never in clear.

use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use arrow::array::{Array, AsArray};
use arrow::datatypes::DataType;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::common::{read_table, run_bin};

/// Answers `(path, query)` with `(status, body, extra headers)`.
type Route = dyn Fn(&str, &str) -> (u16, String, Vec<(String, String)>) + Send + Sync;

/// A one-request-per-connection HTTP/1.1 server on 127.0.0.1; returns its base URL.
pub async fn hostile_api(route: Arc<Route>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let route = route.clone();
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 4096];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let text = String::from_utf8_lossy(&head);
                let target = text.split_whitespace().nth(1).unwrap_or("/").to_string();
                let (path, query) = target.split_once('?').unwrap_or((&target, ""));
                let (status, body, headers) = route(path, query);
                let mut out = format!(
                    "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n",
                    body.len()
                );
                for (k, v) in headers {
                    out.push_str(&format!("{k}: {v}\r\n"));
                }
                out.push_str("\r\n");
                out.push_str(&body);
                let _ = stream.write_all(out.as_bytes()).await;
                let _ = stream.shutdown().await;
            });
        }
    });
    format!("http://127.0.0.1:{port}")
}

const USER: &str = r#"{"user":{"id":1,"first_name":"Test","last_name":"Owner","email":"owner@example.org","practice_id":1}}"#;

/// Page 1 of patients: one misfit per row in different columns, one row without an id.
const PATIENTS: &str = r#"{"patients":[
 {"id":1,"first_name":"Ann","proof_of_identification":"yes","date_of_birth":"not a date","updated_at":"2026-07-04T20:35:55.599+01:00"},
 {"id":2,"first_name":"Bob","dentist_id":12.50,"updated_at":"2026-07-04T20:35:55.599+01:00"},
 {"id":3,"first_name":{"given":"LeakyGiven"},"last_name":["LeakySurname"],"updated_at":"2026-07-04T20:35:55.599+01:00"},
 {"id":null,"first_name":"Nobody"},
 {"id":5,"first_name":"Eve","proof_of_identification":{"seen":true},"updated_at":"2026-07-04T20:35:55.599+01:00"}
],"meta":{"total_count":5}}"#;

/// Page 1 of payments: a child value that misfits, and a child list that is not a list.
const PAYMENTS: &str = r#"{"payments":[
 {"id":10,"amount":"-76.0","explanations":[{"id":1,"amount":"76.005"},{"id":2,"amount":"1.00"}]},
 {"id":11,"amount":"lots","explanations":"refund to LeakyPayer"}
],"meta":{"total_count":2}}"#;

fn routes() -> Arc<Route> {
    Arc::new(|path: &str, query: &str| {
        let scopes = vec![(
            "X-OAuth-Scopes".to_string(),
            "user:read patient:read payment:read".to_string(),
        )];
        let later_page = query
            .split('&')
            .any(|p| p.starts_with("page=") && p != "page=1");
        let body = match path {
            "/v1/user" => USER.to_string(),
            "/v1/patients" if later_page => r#"{"patients":[],"meta":{"total_count":5}}"#.into(),
            "/v1/patients" => PATIENTS.to_string(),
            "/v1/payments" if later_page => r#"{"payments":[],"meta":{"total_count":2}}"#.into(),
            "/v1/payments" => PAYMENTS.to_string(),
            _ => return (404, r#"{"error":{"message":"not found"}}"#.into(), scopes),
        };
        (200, body, scopes)
    })
}

fn pipeline(dir: &Path, base: &str, pii: &str) -> std::path::PathBuf {
    let text = format!(
        "name = \"lenient\"\n[source]\nbase_url = \"{base}\"\ntoken_env = \"DENTALLY_API_TOKEN\"\n\
         [output]\nurl = \"{}\"\n[defaults]\npii = \"{pii}\"\npii_hash_key_env = \"PII_KEY\"\n\
         [[resources]]\nname = \"patients\"\n[[resources]]\nname = \"payments\"\n",
        dir.join("out").display()
    );
    let path = dir.join("lenient.toml");
    std::fs::write(&path, text).unwrap();
    path
}

async fn run(dir: &Path, pii: &str) -> (i32, String, String) {
    let base = hostile_api(routes()).await;
    let p = pipeline(dir, &base, pii);
    run_bin(
        &["--quiet", "run", "--json", p.to_str().unwrap()],
        &[
            ("DENTALLY_API_TOKEN", "hostile-token"),
            ("PII_KEY", "a-long-enough-hash-key-0123456789"),
        ],
    )
    .await
}

fn strings(batches: &[arrow::record_batch::RecordBatch], column: &str) -> Vec<Option<String>> {
    batches
        .iter()
        .flat_map(|b| {
            let c = b.column_by_name(column).unwrap().as_string::<i32>();
            (0..c.len())
                .map(|i| c.is_valid(i).then(|| c.value(i).to_string()))
                .collect::<Vec<_>>()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn misfit_values_keep_their_rows_and_are_counted_in_the_manifest() {
    let dir = tempfile::tempdir().unwrap();
    let (code, stdout, stderr) = run(dir.path(), "keep").await;
    assert_eq!(code, 4, "the keyless row makes the run partial: {stderr}");
    let manifest: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let resource = |name: &str| {
        manifest["resources"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == name)
            .unwrap()
            .clone()
    };
    let patients = resource("patients");
    assert_eq!(patients["rejects"], 1, "{patients}");
    assert_eq!(
        patients["mismatches"],
        serde_json::json!({"patients": {
            "date_of_birth": 1, "dentist_id": 1, "first_name": 1, "last_name": 1
        }}),
        "proof_of_identification is declared leniently (JSON), so its text and object values fit"
    );
    let payments = resource("payments");
    assert_eq!(payments["rejects"], 0);
    assert_eq!(payments["status"], "succeeded");
    assert_eq!(
        payments["mismatches"],
        serde_json::json!({
            "payments": {"amount": 1, "explanations": 1},
            "payments__explanations": {"amount": 1}
        })
    );
    assert!(
        stderr.contains("did not fit their column") && stderr.contains("patients.dentist_id 1"),
        "the summary says it: {stderr}"
    );

    let out = dir.path().join("out");
    let batches = read_table(&out, "patients");
    let ids: Vec<i64> = batches
        .iter()
        .flat_map(|b| {
            b.column_by_name("id")
                .unwrap()
                .as_primitive::<arrow::datatypes::Int64Type>()
                .values()
                .to_vec()
        })
        .collect();
    assert_eq!(ids, [1, 2, 3, 5], "every keyed patient is kept");
    let extra = strings(&batches, "_extra");
    assert_eq!(
        extra[0].as_deref(),
        Some(r#"{"date_of_birth":"not a date"}"#)
    );
    assert_eq!(
        extra[1].as_deref(),
        Some(r#"{"dentist_id":12.50}"#),
        "numbers as the digits sent"
    );
    assert_eq!(
        extra[2].as_deref(),
        Some(r#"{"first_name":{"given":"LeakyGiven"},"last_name":["LeakySurname"]}"#)
    );
    let names = strings(&batches, "first_name");
    assert_eq!(names[0].as_deref(), Some("Ann"));
    assert_eq!(names[2], None, "the misfit cell is null");
    let payment_extra = strings(&read_table(&out, "payments"), "_extra");
    assert_eq!(
        payment_extra[1].as_deref(),
        Some(r#"{"amount":"lots","explanations":"refund to LeakyPayer"}"#)
    );
    let child_extra = strings(&read_table(&out, "payments__explanations"), "_extra");
    assert_eq!(child_extra[0].as_deref(), Some(r#"{"amount":"76.005"}"#));

    let rejects: Vec<_> = std::fs::read_dir(out.join("_rejects"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(rejects, ["patients"], "only the keyless row is a reject");
    let lines: Vec<String> = std::fs::read_dir(out.join("_rejects/patients"))
        .unwrap()
        .flat_map(|e| {
            std::fs::read_to_string(e.unwrap().path())
                .unwrap()
                .lines()
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .collect();
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(lines[0].contains(r#""field":"id""#), "{}", lines[0]);
}

/// Every string cell of every Parquet file under `dir`, and the text of every other file.
fn everything_written(dir: &Path) -> String {
    let mut all = String::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            all.push_str(&everything_written(&path));
        } else if path.extension().is_some_and(|e| e == "parquet") {
            let reader = ParquetRecordBatchReaderBuilder::try_new(File::open(&path).unwrap())
                .unwrap()
                .build()
                .unwrap();
            for batch in reader {
                let batch = batch.unwrap();
                for column in batch.columns() {
                    if column.data_type() == &DataType::Utf8 {
                        for v in column.as_string::<i32>().iter().flatten() {
                            all.push_str(v);
                            all.push('\n');
                        }
                    }
                }
            }
        } else {
            all.push_str(&String::from_utf8_lossy(&std::fs::read(&path).unwrap()));
        }
    }
    all
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn misfit_personal_values_never_reach_a_file_in_clear() {
    for pii in ["hash", "drop"] {
        let dir = tempfile::tempdir().unwrap();
        let (code, stdout, stderr) = run(dir.path(), pii).await;
        assert_eq!(code, 4, "{pii}: {stderr}");
        let written = everything_written(&dir.path().join("out"));
        for leak in ["LeakyGiven", "LeakySurname", "LeakyPayer"] {
            assert!(!written.contains(leak), "{pii}: {leak} written in clear");
            assert!(
                !stdout.contains(leak) && !stderr.contains(leak),
                "{pii}: {leak}"
            );
        }
        let extra = strings(&read_table(&dir.path().join("out"), "patients"), "_extra");
        if pii == "hash" {
            let digest = extra[2].as_deref().unwrap_or_default();
            assert!(
                digest.contains(r#""first_name":""#) && digest.len() > 64,
                "hashed, not dropped: {digest}"
            );
        } else {
            assert_eq!(extra[2], None, "{pii}: dropped columns are not read");
        }
    }
}
