//! Many practices in one pipeline: one process or three shards give the same dataset, shards
//! never write the same object, practices are tagged and isolated, and one failing practice does
//! not stop the others.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use arrow::array::AsArray;
use arrow::compute::concat_batches;
use arrow::record_batch::RecordBatch;
use dentally_etl::sandbox::{self, SandboxConfig, SandboxHandle};

use crate::common::run_bin;

const NAMES: &[&str] = &["north", "south", "east", "west", "central"];
const TABLES: &[&str] = &[
    "patients",
    "payments",
    "payments__explanations",
    "appointments",
];

fn pipeline(dir: &Path, base: &str, out: &str, mode: &str) -> std::path::PathBuf {
    let mut text = format!(
        "name = \"group\"\nparallel_practices = 3\n[output]\nurl = \"{}\"\n[defaults]\nmode = \"{mode}\"\n",
        dir.join(out).display()
    );
    for (i, name) in NAMES.iter().enumerate() {
        text.push_str(&format!(
            "\n[[sources]]\nname = \"{name}\"\nbase_url = \"{base}\"\ntoken_env = \"TOKEN_{}\"\n",
            i + 1
        ));
    }
    text.push_str("\n[[resources]]\nname = \"patients\"\n\n[[resources]]\nname = \"payments\"\n\n[[resources]]\nname = \"appointments\"\nwindow = { from = \"-60d\", to = \"+30d\" }\n");
    let path = dir.join(format!("{out}-{mode}.toml"));
    std::fs::write(&path, text).unwrap();
    path
}

fn tokens() -> Vec<(String, String)> {
    (1..=5)
        .map(|i| {
            (
                format!("TOKEN_{i}"),
                if i == 1 {
                    "sandbox-read".to_string()
                } else {
                    format!("sandbox-read-{i}")
                },
            )
        })
        .collect()
}

async fn run(p: &Path, args: &[&str], tokens: &[(String, String)]) -> (i32, String) {
    let mut all = vec!["--quiet", "run", p.to_str().unwrap()];
    all.extend_from_slice(args);
    let env: Vec<(&str, &str)> = tokens
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let (code, _, stderr) = run_bin(&all, &env).await;
    (code, stderr)
}

/// Every Parquet file under `dir`, relative.
fn files(dir: &Path) -> BTreeSet<String> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeSet<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(root, &path, out);
            } else if path.extension().is_some_and(|e| e == "parquet") {
                out.insert(path.strip_prefix(root).unwrap().display().to_string());
            }
        }
    }
    let mut out = BTreeSet::new();
    walk(dir, dir, &mut out);
    out
}

/// A table's current rows per practice partition, sorted, as text lines.
fn dataset(out: &Path, table: &str) -> BTreeMap<String, Vec<String>> {
    let mut by_practice = BTreeMap::new();
    for name in NAMES {
        let dir = out.join(table).join(format!("practice={name}"));
        let mut batches: Vec<RecordBatch> = Vec::new();
        for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let file = std::fs::File::open(entry.unwrap().path()).unwrap();
            let reader =
                parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
                    .unwrap()
                    .build()
                    .unwrap();
            batches.extend(reader.map(Result::unwrap));
        }
        let batch = concat_batches(&batches[0].schema(), &batches).unwrap();
        let mut lines: Vec<String> = arrow::util::pretty::pretty_format_batches(&[batch])
            .unwrap()
            .to_string()
            .lines()
            .skip(3)
            .map(str::to_string)
            .collect();
        lines.sort();
        by_practice.insert((*name).to_string(), lines);
    }
    by_practice
}

async fn group_sandbox() -> SandboxHandle {
    sandbox::spawn(SandboxConfig {
        practices: 5,
        ..SandboxConfig::default().with_scale(0.15)
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_shards_give_the_one_process_dataset_and_never_write_the_same_object() {
    let sb = group_sandbox().await;
    let dir = tempfile::tempdir().unwrap();
    let (code, stderr) = run(
        &pipeline(dir.path(), &sb.base_url(), "single", "full"),
        &[],
        &tokens(),
    )
    .await;
    assert_eq!(code, 0, "{stderr}");
    let sharded = pipeline(dir.path(), &sb.base_url(), "sharded", "full");
    let runs = (0..3).map(|i| {
        let p = sharded.clone();
        tokio::spawn(async move { run(&p, &["--shard", &format!("{i}/3")], &tokens()).await })
    });
    let mut written: Vec<BTreeSet<String>> = Vec::new();
    let mut before = BTreeSet::new();
    for handle in runs.collect::<Vec<_>>() {
        let (code, stderr) = handle.await.unwrap();
        assert_eq!(code, 0, "{stderr}");
    }
    // Which shard wrote what: each shard's group manifest names its practices, whose own
    // manifests name their files.
    let out = dir.path().join("sharded");
    let mut practices_seen = Vec::new();
    for entry in std::fs::read_dir(out.join("_runs")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "json") {
            continue;
        }
        let group: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let mut mine = BTreeSet::new();
        for p in group["practices"].as_array().unwrap() {
            practices_seen.push(p["name"].as_str().unwrap().to_string());
            let m: serde_json::Value = serde_json::from_str(
                &std::fs::read_to_string(out.join(p["manifest"].as_str().unwrap())).unwrap(),
            )
            .unwrap();
            for r in m["resources"].as_array().unwrap() {
                for t in r["tables"].as_array().unwrap() {
                    for f in t["files"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .chain(t["raw_files"].as_array().unwrap())
                    {
                        mine.insert(f["path"].as_str().unwrap().to_string());
                    }
                }
            }
        }
        assert!(
            mine.is_disjoint(&before),
            "two shards wrote the same object"
        );
        before.extend(mine.iter().cloned());
        written.push(mine);
    }
    practices_seen.sort();
    let mut all: Vec<String> = NAMES.iter().map(|s| s.to_string()).collect();
    all.sort();
    assert_eq!(
        practices_seen, all,
        "every practice exactly once across the shards"
    );
    assert_eq!(before, files(&out), "the manifests name every file written");
    for table in TABLES {
        assert_eq!(
            dataset(&out, table),
            dataset(&dir.path().join("single"), table),
            "{table}"
        );
    }
    // Each practice's rows carry its own practice id, and the ids differ.
    let mut ids = BTreeSet::new();
    for name in NAMES {
        let dir = dir
            .path()
            .join("single/patients")
            .join(format!("practice={name}"));
        for entry in std::fs::read_dir(dir).unwrap() {
            let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(
                std::fs::File::open(entry.unwrap().path()).unwrap(),
            )
            .unwrap()
            .build()
            .unwrap();
            for b in reader {
                let b = b.unwrap();
                let col = b
                    .column_by_name("practice_id")
                    .expect("practice_id column")
                    .as_string::<i32>();
                let distinct: BTreeSet<&str> = col.iter().flatten().collect();
                assert_eq!(distinct.len(), 1, "{name}: one practice id");
                ids.extend(distinct.into_iter().map(str::to_string));
            }
        }
    }
    assert_eq!(
        ids.len(),
        NAMES.len(),
        "practices have distinct ids: {ids:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_failing_practice_does_not_stop_the_others_and_reruns_alone() {
    let sb = group_sandbox().await;
    let dir = tempfile::tempdir().unwrap();
    let p = pipeline(dir.path(), &sb.base_url(), "out", "incremental");
    let mut bad = tokens();
    bad[2].1 = "sandbox-expired".into(); // east
    let (code, stderr) = run(&p, &[], &bad).await;
    assert_eq!(code, 4, "{stderr}");
    assert!(
        stderr.contains("east") && stderr.contains("expire"),
        "{stderr}"
    );
    let out = dir.path().join("out");
    let group_file = std::fs::read_dir(out.join("_runs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "json"))
        .unwrap();
    let group: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(group_file).unwrap()).unwrap();
    let east = group["practices"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "east")
        .unwrap();
    assert_eq!(east["status"], "failed");
    assert_eq!(east["exit_code"], 3);
    assert!(
        out.join("patients/practice=north").exists()
            && !out.join("patients/practice=east").exists()
    );

    sb.clear_requests();
    let (code, stderr) = run(&p, &["--practice", "east"], &tokens()).await;
    assert_eq!(code, 0, "{stderr}");
    let users: BTreeSet<String> = sb.requests().into_iter().filter_map(|r| r.user).collect();
    assert_eq!(
        users.len(),
        1,
        "only east's token owner was asked: {users:?}"
    );
    assert!(out.join("patients/practice=east").exists());

    // An incremental run over all practices merges each practice's own current table.
    sb.advance(1).await;
    let (code, stderr) = run(&p, &[], &tokens()).await;
    assert_eq!(code, 0, "{stderr}");
    let fresh = dir.path().join("fresh");
    let (code, stderr) = run(
        &pipeline(dir.path(), &sb.base_url(), "fresh", "full"),
        &[],
        &tokens(),
    )
    .await;
    assert_eq!(code, 0, "{stderr}");
    let merged = dataset(&out, "payments");
    for (practice, rows) in dataset(&fresh, "payments") {
        let have: BTreeSet<&String> = merged[&practice].iter().collect();
        assert!(
            rows.iter().all(|r| have.contains(r)),
            "{practice}: every live row merged"
        );
    }
}
