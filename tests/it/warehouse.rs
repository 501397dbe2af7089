//! Warehouse tables (issue 18): the compatible Parquet defaults read in readers outside the Arrow
//! family (Spark's parquet-java, fastparquet), and Delta Lake output read by `deltalake` (and
//! polars and DuckDB through it) version by version, across crashes, and on S3.
//!
//! The Python sides live in `tests/warehouse/`; Spark starts once per check (one JVM).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use dentally_etl::publish::delta::commit::{CommitError, put_commit};
use dentally_etl::sandbox::{self, SandboxConfig, SandboxHandle};
use dentally_etl::sink::{Location, StoreOptions};
use parquet::basic::Encoding;
use parquet::file::reader::{FileReader, SerializedFileReader};
use serde_json::Value;

use crate::common::run_bin;
use crate::extract::demo_pipeline;
use crate::pyenv::python_env;
use crate::s3_server::MotoServer;

/// Runs `tests/warehouse/<script>` with the test virtualenv; exit status and parsed stdout.
fn python(script: &str, args: &[&str], env: &[(String, String)]) -> (bool, Value) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/warehouse")
        .join(script);
    let out = Command::new(python_env().python)
        .arg(&path)
        .args(args)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("POLARS_MAX_THREADS", "2")
        .env("TZ", "UTC")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .envs(env.iter().map(|(k, v)| (k, v)))
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", path.display()));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let value = serde_json::from_str(stdout.lines().last().unwrap_or("")).unwrap_or_else(|e| {
        panic!(
            "{script} printed no JSON ({e}; {}):\n--- stdout\n{stdout}\n--- stderr\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        )
    });
    if !out.status.success() {
        eprintln!(
            "{script} exited with {}:\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    (out.status.success(), value)
}

fn assert_ok(what: &str, (passed, summary): (bool, Value)) -> Value {
    assert!(
        passed && summary["ok"] == true,
        "{what} failed:\n{}",
        serde_json::to_string_pretty(&summary["errors"]).unwrap()
    );
    summary
}

async fn run(pipeline: &Path, extra: &[&str], env: &[(&str, &str)]) -> (i32, String) {
    let mut args = vec!["--quiet", "run", pipeline.to_str().unwrap()];
    args.extend_from_slice(extra);
    let mut envs = vec![("DENTALLY_API_TOKEN", "sandbox-read")];
    envs.extend_from_slice(env);
    let (code, _, stderr) = run_bin(&args, &envs).await;
    (code, stderr)
}

/// The demo pipeline (every resource) writing into `dir/out`, with `output` added to `[output]`.
fn demo(dir: &Path, sb: &SandboxHandle, output: &str) -> PathBuf {
    let path = demo_pipeline(dir, &sb.base_url(), "parquet");
    let text = std::fs::read_to_string(&path).unwrap().replace(
        "format = \"parquet\"",
        &format!("format = \"parquet\"\n{output}"),
    );
    std::fs::write(&path, text).unwrap();
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compatible_defaults_read_the_same_in_spark_fastparquet_and_pyarrow() {
    let sb = sandbox::spawn(SandboxConfig::default().with_scale(0.2))
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (code, stderr) = run(&demo(dir.path(), &sb, ""), &[], &[]).await;
    assert_eq!(code, 0, "{stderr}");
    let out = dir.path().join("out");

    // The files themselves: data page V1 encodings only, dictionary on, named writer.
    let latest: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("_runs/latest.json")).unwrap())
            .unwrap();
    let tables = latest["tables"].as_array().unwrap();
    assert!(tables.len() >= 30, "every table is in the marker");
    let mut dictionary_columns = 0;
    for t in tables {
        for f in t["files"].as_array().unwrap() {
            let file = std::fs::File::open(out.join(f.as_str().unwrap())).unwrap();
            let reader = SerializedFileReader::new(file).unwrap();
            let meta = reader.metadata();
            assert!(
                meta.file_metadata()
                    .created_by()
                    .is_some_and(|c| c.starts_with("dentally-etl")),
                "{f}: created_by"
            );
            for rg in meta.row_groups() {
                for col in rg.columns() {
                    for e in col.encodings() {
                        assert!(
                            matches!(
                                e,
                                Encoding::PLAIN
                                    | Encoding::RLE
                                    | Encoding::PLAIN_DICTIONARY
                                    | Encoding::RLE_DICTIONARY
                            ),
                            "{f}: column {} uses {e:?}",
                            col.column_path()
                        );
                    }
                    dictionary_columns += usize::from(col.dictionary_page_offset().is_some());
                }
            }
        }
    }
    assert!(dictionary_columns > 0, "dictionary encoding is on");

    let summary = assert_ok(
        "Spark/fastparquet check",
        python("check_readers.py", &[out.to_str().unwrap(), "plain"], &[]),
    );
    let checked = summary["tables"].as_object().unwrap();
    assert_eq!(checked.len(), tables.len());
    assert!(
        checked
            .values()
            .all(|t| t["spark"] == t["rows"] && t["fastparquet"] == t["rows"])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delta_output_reads_the_same_in_spark_fastparquet_and_deltalake() {
    let sb = sandbox::spawn(SandboxConfig::default().with_scale(0.2))
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (code, stderr) = run(&demo(dir.path(), &sb, "table_format = \"delta\""), &[], &[]).await;
    assert_eq!(code, 0, "{stderr}");
    let out = dir.path().join("out");
    let summary = assert_ok(
        "Delta readers check",
        python("check_readers.py", &[out.to_str().unwrap(), "delta"], &[]),
    );
    assert!(summary["tables"].as_object().unwrap().len() >= 30);
    let latest = out.join("_runs/latest.json");
    assert_ok(
        "Delta version check",
        python(
            "delta_versions.py",
            &["check", out.to_str().unwrap(), latest.to_str().unwrap()],
            &[],
        ),
    );
}

const NIGHTLY: &[&str] = &[
    "patients",
    "appointments",
    "invoices",
    "payments",
    "accounts",
];

fn nightly(dir: &Path, base: &str, out: &Path, mode: &str, output: &str) -> PathBuf {
    let mut text = format!(
        "name = \"nightly\"\n[source]\nbase_url = \"{base}\"\ntoken_env = \"DENTALLY_API_TOKEN\"\n\
         [output]\nurl = \"{}\"\n{output}\n[defaults]\nmode = \"{mode}\"\nlag_secs = 60\n",
        out.display()
    );
    for r in NIGHTLY {
        text.push_str(&format!("\n[[resources]]\nname = \"{r}\"\n"));
        if *r == "appointments" {
            text.push_str("window = { from = \"-30d\", to = \"+90d\" }\n");
        }
    }
    let path = dir.join(format!("nightly-{mode}-{}.toml", fastrand::u32(..)));
    std::fs::write(&path, text).unwrap();
    path
}

/// Keeps a copy of `_runs/latest.json` as it is now.
fn keep_latest(out: &Path, n: usize) -> PathBuf {
    let copy = out.with_file_name(format!("latest-{n}.json"));
    std::fs::copy(out.join("_runs/latest.json"), &copy).unwrap();
    copy
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delta_versions_equal_each_runs_files_through_full_incremental_and_reconciling_runs() {
    let sb = sandbox::spawn(SandboxConfig::default().with_scale(0.3))
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let p = nightly(
        dir.path(),
        &sb.base_url(),
        &out,
        "incremental",
        "table_format = \"delta\"\ndelta_retention_days = 1",
    );
    let mut kept = Vec::new();
    for (n, extra) in [&[][..], &[][..], &["--reconcile-deletes"][..]]
        .into_iter()
        .enumerate()
    {
        if n > 0 {
            sb.advance(1).await;
        }
        let (code, stderr) = run(&p, extra, &[]).await;
        assert_eq!(code, 0, "run {n}: {stderr}");
        kept.push(keep_latest(&out, n));
        let latest: Value =
            serde_json::from_str(&std::fs::read_to_string(kept.last().unwrap()).unwrap()).unwrap();
        for t in latest["tables"].as_array().unwrap() {
            assert_eq!(t["version"], n as u64, "{}: one commit per run", t["name"]);
        }
    }
    // Every version, opened after the last run, is exactly what its run published.
    let mut args = vec!["check".to_string(), out.display().to_string()];
    args.extend(kept.iter().map(|p| p.display().to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let summary = assert_ok("Delta versions", python("delta_versions.py", &args, &[]));
    assert!(summary["checked"].as_u64().unwrap() >= 3 * NIGHTLY.len() as u64);
    // The replaced files are still there (retention), and plain readers are pointed at Delta.
    let first: Value = serde_json::from_str(&std::fs::read_to_string(&kept[0]).unwrap()).unwrap();
    for f in first["tables"][0]["files"].as_array().unwrap() {
        assert!(
            out.join(f.as_str().unwrap()).exists(),
            "{f} kept for time travel"
        );
    }
}

fn snapshot(out: &Path) -> BTreeMap<String, Value> {
    let (ok, v) = python(
        "delta_versions.py",
        &["snapshot", out.to_str().unwrap()],
        &[],
    );
    assert!(ok, "snapshot: {v}");
    serde_json::from_value(v).unwrap()
}

/// The current files a run's manifest names, by table.
fn manifest_files(out: &Path, run_id: &str) -> BTreeMap<String, Vec<String>> {
    let m: Value = serde_json::from_str(
        &std::fs::read_to_string(out.join(format!("_runs/{run_id}.json"))).unwrap(),
    )
    .unwrap();
    let mut files = BTreeMap::new();
    for r in m["resources"].as_array().unwrap() {
        for t in r["tables"].as_array().unwrap() {
            let mut f: Vec<String> = t["files"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| f["path"].as_str().unwrap().to_string())
                .collect();
            f.sort();
            files.insert(t["name"].as_str().unwrap().to_string(), f);
        }
    }
    files
}

fn runs(out: &Path) -> Vec<String> {
    let mut ids: Vec<String> = std::fs::read_dir(out.join("_runs"))
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter_map(|n| n.strip_suffix(".json").map(str::to_string))
        .filter(|n| n != "latest")
        .collect();
    ids.sort();
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_at_each_point_of_the_commit_leaves_version_n_or_n_plus_1() {
    let sb = sandbox::spawn(SandboxConfig::default().with_scale(0.2))
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let p = nightly(
        dir.path(),
        &sb.base_url(),
        &out,
        "full",
        "table_format = \"delta\"",
    );
    let (code, stderr) = run(&p, &[], &[]).await;
    assert_eq!(code, 0, "{stderr}");
    for point in [
        "after-manifest",
        "delta-before-commit",
        "delta-after-commit",
        "before-latest",
    ] {
        let before = snapshot(&out);
        let previous = runs(&out);
        let (code, _) = run(&p, &[], &[("DENTALLY_ETL_TEST_CRASH", point)]).await;
        assert_ne!(code, 0, "{point}: the run was killed");
        let crashed = runs(&out)
            .into_iter()
            .find(|r| !previous.contains(r))
            .expect("the killed run wrote its manifest");
        let new_files = manifest_files(&out, &crashed);
        let after = snapshot(&out);
        assert_eq!(
            after.keys().collect::<Vec<_>>(),
            before.keys().collect::<Vec<_>>()
        );
        let mut advanced = 0;
        for (table, snap) in &after {
            let old = &before[table];
            if snap["version"] == old["version"] {
                assert_eq!(snap["files"], old["files"], "{point}: {table} at version N");
            } else {
                assert_eq!(snap["version"], old["version"].as_u64().unwrap() + 1);
                assert_eq!(
                    snap["files"],
                    serde_json::json!(new_files[table]),
                    "{point}: {table} at N+1"
                );
                advanced += 1;
            }
        }
        match point {
            "after-manifest" | "delta-before-commit" => assert!(advanced <= 1, "{point}"),
            _ => assert!(advanced >= 1, "{point}: the first table committed"),
        }
    }
    // The next run repairs everything: every table at the new run's files.
    let (code, stderr) = run(&p, &[], &[]).await;
    assert_eq!(code, 0, "{stderr}");
    let last = runs(&out).pop().unwrap();
    let files = manifest_files(&out, &last);
    for (table, snap) in snapshot(&out) {
        assert_eq!(snap["files"], serde_json::json!(files[&table]), "{table}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_commits_cannot_both_take_a_version_locally_or_on_s3() {
    let moto = tokio::task::spawn_blocking(MotoServer::start)
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let s3 = Location::parse_with_env(
        &format!("s3://{}/race", moto.bucket()),
        &StoreOptions::default(),
        &moto.env(),
    )
    .unwrap();
    let local = Location::parse(dir.path().to_str().unwrap(), &StoreOptions::default()).unwrap();
    for loc in [&local, &s3] {
        let racers = (0..4).map(|i| {
            let body = format!("{{\"commitInfo\":{{\"racer\":{i}}}}}\n").into_bytes();
            put_commit(loc, "t", 0, body)
        });
        let results = futures::future::join_all(racers).await;
        let won = results.iter().filter(|r| r.is_ok()).count();
        let lost = results
            .iter()
            .filter(|r| matches!(r, Err(CommitError::Conflict)))
            .count();
        assert_eq!((won, lost), (1, 3), "{}: {results:?}", loc.display());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delta_tables_on_s3_end_to_end_with_practices_as_partitions() {
    let moto = tokio::task::spawn_blocking(MotoServer::start)
        .await
        .unwrap();
    let sb = sandbox::spawn(SandboxConfig::default().with_scale(0.2))
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let url = format!("s3://{}/wh", moto.bucket());
    let text = format!(
        "name = \"group\"\n\
         [[sources]]\nname = \"north\"\nbase_url = \"{b}\"\ntoken_env = \"DENTALLY_API_TOKEN\"\n\
         [[sources]]\nname = \"south\"\nbase_url = \"{b}\"\ntoken_env = \"DENTALLY_API_TOKEN\"\n\
         [output]\nurl = \"{url}\"\ntable_format = \"delta\"\n\
         [[resources]]\nname = \"patients\"\n[[resources]]\nname = \"payments\"\n",
        b = sb.base_url()
    );
    let p = dir.path().join("group.toml");
    std::fs::write(&p, text).unwrap();
    let env = moto.env();
    let mut envs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    envs.push(("DENTALLY_API_TOKEN", "sandbox-read"));
    for n in 0..2 {
        let (code, _, stderr) = run_bin(&["--quiet", "run", p.to_str().unwrap()], &envs).await;
        assert_eq!(code, 0, "run {n}: {stderr}");
    }
    let (ok, summary) = python("delta_s3.py", &[url.as_str()], &env);
    assert!(ok, "{summary}");
    let patients = &summary["patients"];
    // Two practices × two runs: four commits; the newest holds each practice's latest files.
    assert_eq!(patients["version"], 3);
    assert_eq!(patients["practices"], serde_json::json!(["north", "south"]));
    let truth = sb.truth(1, "patients").len() as u64;
    assert_eq!(
        patients["rows"],
        2 * truth,
        "both partitions, no double counting"
    );
    assert!(patients["rows_v1"].as_u64().unwrap() > 0, "{summary}");
}

/// `purge` on Delta tables: one commit without the rows marked deleted, read by deltalake,
/// polars and DuckDB as exactly the files `latest.json` names, and no data file of any older
/// version left holding a purged row (time travel to before the purge ends).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_purge_commits_a_version_without_the_deleted_rows_and_erases_older_files() {
    use arrow::array::Array;
    let sb = sandbox::spawn(SandboxConfig::default().with_scale(0.3))
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let p = nightly(
        dir.path(),
        &sb.base_url(),
        &out,
        "incremental",
        "table_format = \"delta\"\ndelta_retention_days = 7",
    );
    let (code, stderr) = run(&p, &[], &[]).await;
    assert_eq!(code, 0, "{stderr}");
    let before: std::collections::HashSet<i64> = sb
        .truth(1, "patients")
        .iter()
        .map(|r| r["id"].as_i64().unwrap())
        .collect();
    sb.advance(3).await;
    let (code, stderr) = run(&p, &["--reconcile-deletes"], &[]).await;
    assert_eq!(code, 0, "{stderr}");
    let now: std::collections::HashSet<i64> = sb
        .truth(1, "patients")
        .iter()
        .map(|r| r["id"].as_i64().unwrap())
        .collect();
    let deleted: Vec<i64> = before.difference(&now).copied().collect();
    assert!(
        !deleted.is_empty(),
        "the sandbox deleted patients in three days"
    );
    let versions_before = snapshot(&out);

    let (code, _, stderr) =
        run_bin(&["purge", p.to_str().unwrap(), "--older-than", "0d"], &[]).await;
    assert_eq!(code, 0, "{stderr}");
    let latest = keep_latest(&out, 9);
    let summary = assert_ok(
        "Delta after purge",
        python(
            "delta_versions.py",
            &["check", out.to_str().unwrap(), latest.to_str().unwrap()],
            &[],
        ),
    );
    assert!(summary["checked"].as_u64().unwrap() >= 1);
    let after = snapshot(&out);
    assert_eq!(
        after["patients"]["version"].as_u64().unwrap(),
        versions_before["patients"]["version"].as_u64().unwrap() + 1,
        "one commit"
    );
    assert_eq!(
        after["patients"]["rows"].as_u64().unwrap(),
        now.len() as u64,
        "the live patients, and only them"
    );
    // Every data file left in the folder (any version) is free of the purged patients.
    let mut files = Vec::new();
    for e in std::fs::read_dir(out.join("patients")).unwrap().flatten() {
        if e.path().extension().is_some_and(|x| x == "parquet") {
            files.push(e.path());
        }
    }
    assert!(!files.is_empty());
    for file in files {
        let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(
            std::fs::File::open(&file).unwrap(),
        )
        .unwrap()
        .build()
        .unwrap();
        for batch in reader {
            let batch = batch.unwrap();
            let ids = batch
                .column_by_name("id")
                .unwrap()
                .as_any()
                .downcast_ref::<arrow::array::Int64Array>()
                .unwrap();
            for id in ids.iter().flatten() {
                assert!(!deleted.contains(&id), "{}: purged {id}", file.display());
            }
        }
    }
}
