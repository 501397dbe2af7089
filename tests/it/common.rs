//! Shared test helpers: the binary under test, temp dirs, output filters.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The `dentally-etl` binary built for these tests.
pub fn bin() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_dentally-etl"));
    cmd.env_remove("RUST_LOG")
        .env("NO_COLOR", "1")
        .env_remove("DENTALLY_API_TOKEN");
    cmd
}

/// Path of a file under `tests/it/data/`.
pub fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/it/data")
        .join(name)
}

/// stdout and stderr as text, with the exit code.
pub fn text(out: &Output) -> (i32, String, String) {
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Replaces the repository path so snapshots are machine-independent.
pub fn scrub(s: &str) -> String {
    s.replace(env!("CARGO_MANIFEST_DIR"), "[REPO]")
}

use std::fs::File;

use arrow::record_batch::RecordBatch;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

/// Runs the binary with `args` and extra `envs` (asynchronously, so an in-process sandbox keeps serving).
pub async fn run_bin(args: &[&str], envs: &[(&str, &str)]) -> (i32, String, String) {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_dentally-etl"));
    cmd.args(args)
        .env_remove("RUST_LOG")
        .env_remove("DENTALLY_API_TOKEN")
        .env("NO_COLOR", "1");
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let out = cmd.output().await.expect("run the binary");
    text(&out)
}

/// A pipeline file in `dir` reading `resources` from `base_url` into `dir/out`.
/// `extra` is appended to the `[source]` section (e.g. `concurrency = 2`).
pub fn pipeline(
    dir: &Path,
    base_url: &str,
    resources: &[&str],
    format: &str,
    extra_source: &str,
) -> PathBuf {
    let mut text = format!(
        "name = \"test\"\n[source]\nbase_url = \"{base_url}\"\ntoken_env = \"DENTALLY_API_TOKEN\"\n{extra_source}\n\
         [output]\nurl = \"{}\"\nformat = \"{format}\"\n",
        dir.join("out").display()
    );
    for r in resources {
        text.push_str(&format!("\n[[resources]]\nname = \"{r}\"\n"));
        if *r == "appointments" || *r == "rota_practitioner_diaries" {
            text.push_str("window = { from = \"-400d\", to = \"+90d\" }\n");
        }
    }
    let path = dir.join("pipeline.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// The Parquet files of a current table, sorted.
pub fn table_files(out: &Path, table: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(out.join(table))
        .map(|d| {
            d.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|e| e == "parquet"))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

/// Every batch of a current table.
pub fn read_table(out: &Path, table: &str) -> Vec<RecordBatch> {
    let mut batches = Vec::new();
    for file in table_files(out, table) {
        let reader = ParquetRecordBatchReaderBuilder::try_new(File::open(&file).unwrap())
            .unwrap()
            .build()
            .unwrap();
        batches.extend(reader.map(Result::unwrap));
    }
    batches
}

/// Rows of a current table.
pub fn count_rows(out: &Path, table: &str) -> usize {
    read_table(out, table)
        .iter()
        .map(RecordBatch::num_rows)
        .sum()
}

/// `meta.total_count` the sandbox reports for `path_and_query` (read with `sandbox-read`).
pub async fn total_count(base_url: &str, path_and_query: &str) -> u64 {
    let body: serde_json::Value = reqwest::Client::new()
        .get(format!("{base_url}{path_and_query}"))
        .header("Authorization", "Bearer sandbox-read")
        .header("User-Agent", "tests")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    body["meta"]["total_count"].as_u64().unwrap()
}

/// A committed state's current files: per resource, its last run and each table's files.
pub struct Committed {
    pub resource: String,
    pub last_run: String,
    pub table: String,
    pub files: std::collections::BTreeSet<String>,
}

/// Every table of a state file (`_state/<pipeline>.json`, as JSON), with its files.
pub fn committed_files(state: &serde_json::Value) -> Vec<Committed> {
    let mut out = Vec::new();
    for (resource, r) in state["resources"].as_object().unwrap() {
        for (table, files) in r["tables"].as_object().unwrap() {
            out.push(Committed {
                resource: resource.clone(),
                last_run: r["last_run"].as_str().unwrap().to_string(),
                table: table.clone(),
                files: files
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|f| f.as_str().unwrap().to_string())
                    .collect(),
            });
        }
    }
    out
}

/// Every file `latest.json` (as JSON) names.
pub fn marker_files(latest: &serde_json::Value) -> Vec<String> {
    latest["tables"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|t| t["files"].as_array().unwrap())
        .map(|f| f.as_str().unwrap().to_string())
        .collect()
}
