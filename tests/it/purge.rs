//! `purge`: rows marked deleted older than an age leave every current table and every `_raw/`
//! copy; live rows, the state, `latest.json` and the next run are untouched by it.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use arrow::array::{Array, AsArray};
use arrow::datatypes::Int64Type;
use dentally_etl::sandbox::{self, SandboxConfig, SandboxHandle};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use serde_json::Value;

use crate::common::{read_table, run_bin};

const TABLES: &[&str] = &["patients", "payments"];

fn pipeline(dir: &Path, base: &str, output: &str) -> PathBuf {
    let mut text = format!(
        "name = \"nightly\"\n[source]\nbase_url = \"{base}\"\ntoken_env = \"DENTALLY_API_TOKEN\"\n\
         [output]\nurl = \"{}\"\n{output}\n[defaults]\nmode = \"incremental\"\nlag_secs = 60\n",
        dir.join("out").display()
    );
    for r in TABLES {
        text.push_str(&format!("\n[[resources]]\nname = \"{r}\"\n"));
    }
    let path = dir.join("nightly.toml");
    std::fs::write(&path, text).unwrap();
    path
}

async fn cli(args: &[&str]) -> (i32, String, String) {
    run_bin(args, &[("DENTALLY_API_TOKEN", "sandbox-read")]).await
}

fn truth_keys(sb: &SandboxHandle, resource: &str) -> HashSet<i64> {
    sb.truth(1, resource)
        .iter()
        .map(|r| r["id"].as_i64().unwrap())
        .collect()
}

/// Every `.parquet` file under `dir`, recursively.
fn parquet_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(d) = pending.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                pending.push(p);
            } else if p.extension().is_some_and(|x| x == "parquet") {
                out.push(p);
            }
        }
    }
    out
}

/// The `id`s of every row of every Parquet file under `dir` (current, raw, any version).
fn ids_in_files(dir: &Path) -> HashSet<i64> {
    let mut ids = HashSet::new();
    for file in parquet_files(dir) {
        let reader = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(&file).unwrap())
            .unwrap()
            .build()
            .unwrap();
        for batch in reader {
            let batch = batch.unwrap();
            if let Some(a) = batch
                .column_by_name("id")
                .and_then(|c| c.as_primitive_opt::<Int64Type>())
            {
                ids.extend(a.iter().flatten());
            }
        }
    }
    ids
}

/// Rows of a current table: id → deleted mark.
fn marks(out: &Path, table: &str) -> BTreeMap<i64, bool> {
    let mut rows = BTreeMap::new();
    for b in read_table(out, table) {
        let ids = b.column_by_name("id").unwrap().as_primitive::<Int64Type>();
        let deleted = b.column_by_name("_deleted_at").unwrap();
        for i in 0..b.num_rows() {
            assert!(rows.insert(ids.value(i), deleted.is_valid(i)).is_none());
        }
    }
    rows
}

/// Two incremental runs, then a reconciling one after the sandbox deleted rows: returns the
/// keys marked deleted per table.
async fn marked_deletions(
    dir: &Path,
    sb: &SandboxHandle,
    p: &Path,
) -> BTreeMap<String, HashSet<i64>> {
    let p = p.to_str().unwrap();
    let (code, _, stderr) = cli(&["--quiet", "run", p]).await;
    assert_eq!(code, 0, "{stderr}");
    let before: BTreeMap<&str, HashSet<i64>> =
        TABLES.iter().map(|t| (*t, truth_keys(sb, t))).collect();
    sb.advance(3).await;
    let (code, _, stderr) = cli(&["--quiet", "run", p, "--reconcile-deletes"]).await;
    assert_eq!(code, 0, "{stderr}");
    let out = dir.join("out");
    let mut deleted = BTreeMap::new();
    for t in TABLES {
        let gone: HashSet<i64> = before[t].difference(&truth_keys(sb, t)).copied().collect();
        let marked: HashSet<i64> = marks(&out, t)
            .into_iter()
            .filter(|(_, d)| *d)
            .map(|(k, _)| k)
            .collect();
        assert_eq!(
            marked, gone,
            "{t}: the reconciling run marks exactly the deleted keys"
        );
        deleted.insert(t.to_string(), gone);
    }
    assert!(
        deleted.values().any(|d| !d.is_empty()),
        "the sandbox deleted rows in three days"
    );
    deleted
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn purge_erases_rows_marked_deleted_past_the_age_and_their_raw_copies() {
    let sb = sandbox::spawn(SandboxConfig::default().with_scale(0.5))
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let p = pipeline(dir.path(), &sb.base_url(), "");
    let deleted = marked_deletions(dir.path(), &sb, &p).await;
    let out = dir.path().join("out");
    let p = p.to_str().unwrap();
    let before: BTreeMap<&str, BTreeMap<i64, bool>> =
        TABLES.iter().map(|t| (*t, marks(&out, t))).collect();
    let files_before: Vec<PathBuf> = parquet_files(&out);

    // Marked minutes ago: not older than a day, so nothing goes.
    let (code, stdout, stderr) = cli(&["purge", p, "--older-than", "1d"]).await;
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("nothing to purge"), "{stdout}");
    assert_eq!(parquet_files(&out), files_before);

    // A dry run counts them and changes nothing.
    let (code, stdout, stderr) =
        cli(&["purge", p, "--older-than", "0d", "--dry-run", "--json"]).await;
    assert_eq!(code, 0, "{stderr}");
    let report: Value = serde_json::from_str(&stdout).unwrap();
    for t in TABLES {
        let purged = report[0]["tables"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["table"] == *t)
            .map_or(0, |x| x["rows_purged"].as_u64().unwrap());
        assert_eq!(purged, deleted[*t].len() as u64, "{t}: dry run count");
    }
    assert_eq!(
        parquet_files(&out),
        files_before,
        "a dry run writes nothing"
    );

    // The purge.
    let (code, stdout, stderr) = cli(&["purge", p, "--older-than", "0d", "--json"]).await;
    assert_eq!(code, 0, "{stderr}");
    let report: Value = serde_json::from_str(&stdout).unwrap();
    assert!(
        report[0]["raw_files_removed"].as_u64().unwrap() > 0,
        "{report}"
    );
    for t in TABLES {
        // Live rows stay as they were; marked rows are gone, from the current files and from
        // every other Parquet file the tool wrote for the table (raw copies included).
        let after = marks(&out, t);
        let want: BTreeMap<i64, bool> = before[*t]
            .iter()
            .filter(|(_, d)| !**d)
            .map(|(k, d)| (*k, *d))
            .collect();
        assert_eq!(after, want, "{t}: the live rows, and only them");
        let everywhere = ids_in_files(&out.join(t));
        let raw = ids_in_files(&out.join("_raw").join(t));
        for key in &deleted[*t] {
            assert!(
                !everywhere.contains(key),
                "{t}: deleted {key} left in the table folder"
            );
            assert!(!raw.contains(key), "{t}: deleted {key} left in _raw/");
        }
    }
    // No value of the deleted rows reaches stdout or stderr: counts only.
    for key in deleted.values().flatten() {
        assert!(!stdout.contains(&format!("\"{key}\"")) && !stderr.contains(&key.to_string()));
    }
    // latest.json still names the last run and its manifest, names the purge's record, and
    // names files that exist; the state names the same files.
    let latest: Value =
        serde_json::from_slice(&std::fs::read(out.join("_runs/latest.json")).unwrap()).unwrap();
    assert_ne!(latest["run_id"], report[0]["purge_id"]);
    assert!(out.join(latest["manifest"].as_str().unwrap()).exists());
    let record = latest["purge"].as_str().unwrap();
    assert!(record.ends_with(&format!(
        "{}.purge.json",
        report[0]["purge_id"].as_str().unwrap()
    )));
    let recorded: Value =
        serde_json::from_slice(&std::fs::read(out.join(record)).unwrap()).unwrap();
    assert_eq!(
        recorded["raw_files_removed"],
        report[0]["raw_files_removed"]
    );
    let state: Value =
        serde_json::from_slice(&std::fs::read(out.join("_state/nightly.json")).unwrap()).unwrap();
    for line in latest["tables"].as_array().unwrap() {
        let name = line["name"].as_str().unwrap();
        let files: Vec<&str> = line["files"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f.as_str().unwrap())
            .collect();
        for f in &files {
            assert!(out.join(f).exists(), "latest.json names {f}, which is gone");
        }
        let resource = name.split("__").next().unwrap();
        let in_state: Vec<&str> = state["resources"][resource]["tables"][name]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f.as_str().unwrap())
            .collect();
        assert_eq!(files, in_state, "{name}: latest.json and the state agree");
    }

    // The next nightly run goes on from the purged tables.
    sb.advance(1).await;
    let (code, _, stderr) = cli(&["--quiet", "run", p]).await;
    assert_eq!(code, 0, "{stderr}");
    for t in TABLES {
        let now = marks(&out, t);
        for key in &deleted[*t] {
            assert!(!now.contains_key(key), "{t}: purged {key} came back");
        }
        assert!(
            truth_keys(&sb, t).iter().all(|k| now.contains_key(k)),
            "{t}: a live row lost"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn purge_refuses_a_bad_age_and_waits_for_a_running_job() {
    let dir = tempfile::tempdir().unwrap();
    let p = pipeline(dir.path(), "http://127.0.0.1:9", "");
    let p = p.to_str().unwrap();
    let (code, _, stderr) = cli(&["purge", p, "--older-than", "thirty"]).await;
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("not a number of days"), "{stderr}");
    // A run holds the lock: the purge exits 5, naming it, and removes nothing.
    let out = dir.path().join("out");
    std::fs::create_dir_all(out.join("_state")).unwrap();
    let lock = serde_json::json!({
        "run_id": "20991231T000000Z-abcd",
        "host": "another-host",
        "pid": 1,
        "acquired_at": chrono::Utc::now().to_rfc3339(),
        "expires_at": (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339(),
    });
    std::fs::write(out.join("_state/nightly.lock"), lock.to_string()).unwrap();
    let (code, _, stderr) = cli(&["purge", p, "--older-than", "0d"]).await;
    assert_eq!(code, 5, "{stderr}");
    assert!(stderr.contains("20991231T000000Z-abcd"), "{stderr}");
}

/// A practice with rows marked deleted, and a purge of them killed right after it pointed the
/// state at the rewritten files (old files, Delta history, raw copies and `latest.json` not yet
/// done). Returns the sandbox (kept alive), the pipeline and the keys marked deleted per table.
async fn killed_purge(dir: &Path) -> (SandboxHandle, PathBuf, BTreeMap<String, HashSet<i64>>) {
    let sb = sandbox::spawn(SandboxConfig::default().with_scale(0.5))
        .await
        .unwrap();
    let p = pipeline(dir, &sb.base_url(), "");
    let deleted = marked_deletions(dir, &sb, &p).await;
    let (code, _, _) = run_bin(
        &["purge", p.to_str().unwrap(), "--older-than", "0d"],
        &[("DENTALLY_ETL_TEST_CRASH", "purge-after-state")],
    )
    .await;
    assert_ne!(code, 0, "the purge was killed");
    (sb, p, deleted)
}

/// A purge killed after pointing the state at the new files (old files, Delta history and raw
/// copies still there) is finished by the next purge, although that one finds no row left to
/// purge in the files the state names.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_purge_killed_half_way_is_finished_by_the_next() {
    let dir = tempfile::tempdir().unwrap();
    let (_sb, p, deleted) = killed_purge(dir.path()).await;
    let out = dir.path().join("out");
    let p = p.to_str().unwrap();
    let left = |t: &str| {
        let mut ids = ids_in_files(&out.join(t));
        ids.extend(ids_in_files(&out.join("_raw").join(t)));
        deleted[t].iter().filter(|k| ids.contains(k)).count()
    };
    assert!(
        TABLES.iter().any(|t| left(t) > 0),
        "killed before the old files and raw copies went"
    );
    // The lock of the killed purge lapses only later: take it over, as its message says.
    let (code, _, stderr) = cli(&["purge", p, "--older-than", "0d", "--break-lock"]).await;
    assert_eq!(code, 0, "{stderr}");
    for t in TABLES {
        assert_eq!(left(t), 0, "{t}: purged rows left after the second purge");
        let now = marks(&out, t);
        assert!(
            now.values().all(|d| !d),
            "{t}: a row marked deleted is left"
        );
    }
}

/// A run after a purge killed half-way (state pointed at the rewritten files, old files and
/// `latest.json` not yet): its start points the marker at the files the state names, with their
/// rows, and leaves each folder holding only those, so neither a glob reader nor a reader of
/// `latest.json` sees a purged row or a file that is gone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_after_a_killed_purge_leaves_the_marker_and_folders_on_the_purged_files() {
    let dir = tempfile::tempdir().unwrap();
    let (_sb, p, deleted) = killed_purge(dir.path()).await;
    let out = dir.path().join("out");
    let p = p.to_str().unwrap();
    // A run (killed after its first read: only its start's work is seen).
    let (code, _, _) = run_bin(
        &["--quiet", "run", p, "--break-lock"],
        &[
            ("DENTALLY_API_TOKEN", "sandbox-read"),
            ("DENTALLY_ETL_TEST_CRASH", "after-raw"),
        ],
    )
    .await;
    assert_ne!(code, 0, "the run was killed");
    let read =
        |path: &Path| -> Value { serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap() };
    let state = read(&out.join("_state/nightly.json"));
    let latest = read(&out.join("_runs/latest.json"));
    for t in TABLES {
        let named: Vec<String> = state["resources"][t]["tables"][t]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f.as_str().unwrap().to_string())
            .collect();
        let line = latest["tables"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["name"] == *t)
            .unwrap();
        let marked: Vec<String> = line["files"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f.as_str().unwrap().to_string())
            .collect();
        assert_eq!(marked, named, "{t}: the marker names the state's files");
        let rows: usize = read_table(&out, t).iter().map(|b| b.num_rows()).sum();
        assert_eq!(line["rows"].as_u64().unwrap() as usize, rows, "{t}: rows");
        let in_folder = ids_in_files(&out.join(t));
        assert!(
            deleted[*t].iter().all(|k| !in_folder.contains(k)),
            "{t}: a purged row is still in the table folder"
        );
    }
}
