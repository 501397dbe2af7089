//! Count-guided reconciliation (`reconcile_deletes = "counts"`): the rows deleted in Dentally
//! are found at the cost of the deletions, not of a full re-read, and no row the API still
//! lists is ever marked deleted.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use arrow::array::{Array, AsArray};
use arrow::datatypes::Int64Type;
use dentally_etl::sandbox::{self, SandboxConfig, SandboxHandle};

use crate::common::{read_table, run_bin};

/// Patients at scale 21: about 21,000 rows, reconciled on `created_at`.
const SCALE: f64 = 21.0;

fn pipeline(dir: &Path, base: &str, resource: &str) -> PathBuf {
    let text = format!(
        "name = \"counts\"\n[source]\nbase_url = \"{base}\"\ntoken_env = \"DENTALLY_API_TOKEN\"\n\
         [output]\nurl = \"{}\"\n[defaults]\nmode = \"incremental\"\nlag_secs = 60\n\
         reconcile_deletes = \"counts\"\n\n[[resources]]\nname = \"{resource}\"\n",
        dir.join("out").display()
    );
    let path = dir.join("counts.toml");
    std::fs::write(&path, text).unwrap();
    path
}

async fn run(p: &Path, env: &[(&str, &str)]) -> (i32, String) {
    let mut envs = vec![("DENTALLY_API_TOKEN", "sandbox-read")];
    envs.extend_from_slice(env);
    let (code, _, stderr) = run_bin(&["--quiet", "run", p.to_str().unwrap()], &envs).await;
    (code, stderr)
}

/// Deletes `count` rows of `resource` in the sandbox; their ids.
async fn delete(sb: &SandboxHandle, resource: &str, count: u64, clustered: bool) -> BTreeSet<i64> {
    let body: serde_json::Value = reqwest::Client::new()
        .post(format!(
            "{}/_sandbox/advance?resource={resource}&count={count}&clustered={clustered}",
            sb.base_url()
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    body["deleted"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_i64().unwrap())
        .collect()
}

/// Ids of the rows marked `_deleted_at`.
fn marked(out: &Path, table: &str) -> BTreeSet<i64> {
    let mut ids = BTreeSet::new();
    for batch in read_table(out, table) {
        let id = batch
            .column_by_name("id")
            .unwrap()
            .as_primitive::<Int64Type>();
        let deleted = batch.column_by_name("_deleted_at").unwrap();
        ids.extend(
            (0..batch.num_rows())
                .filter(|i| deleted.is_valid(*i))
                .map(|i| id.value(i)),
        );
    }
    ids
}

/// The last run's manifest entry of `resource`, found through `_runs/latest.json` (run ids
/// of runs in the same second do not sort by time).
fn manifest_entry(out: &Path, resource: &str) -> serde_json::Value {
    let latest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("_runs/latest.json")).unwrap()).unwrap();
    let path = out.join(latest["manifest"].as_str().unwrap());
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    manifest["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == resource)
        .unwrap()
        .clone()
}

fn requests_to(sb: &SandboxHandle, path: &str) -> usize {
    sb.requests().iter().filter(|r| r.path == path).count()
}

/// Rounds of deletions (k = 0, 1, 10, 100) on one table, scattered or clustered: each
/// reconciling run marks exactly the keys deleted since the last one, within the stated cost.
async fn rounds(clustered: bool) {
    let sb = sandbox::spawn(SandboxConfig::default().with_scale(SCALE).with_seed(17))
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let p = pipeline(dir.path(), &sb.base_url(), "patients");
    let out = dir.path().join("out");
    assert_eq!(run(&p, &[]).await.0, 0);
    let rows = sb.truth(1, "patients").len() as f64;
    assert!(rows >= 20_000.0, "{rows} patients");
    let mut expected = BTreeSet::new();
    for k in [0u64, 1, 10, 100] {
        expected.extend(delete(&sb, "patients", k, clustered).await);
        sb.clear_requests();
        let (code, stderr) = run(&p, &[]).await;
        assert_eq!(code, 0, "{stderr}");
        assert_eq!(
            marked(&out, "patients"),
            expected,
            "k = {k}, clustered = {clustered}"
        );
        let entry = manifest_entry(&out, "patients");
        let report = &entry["reconcile"];
        assert_eq!(report["method"], "counts", "{entry}");
        assert_eq!(report["rows_marked"], k, "{entry}");
        // The delta (a page: nothing changed); one unfiltered count and the initial partition
        // (about 21,000 rows in ranges of 10,000: 3); per deleted row at most
        // log₂(10,000 / 100) + 2 requests (bisection steps and a page), capped by the pages of
        // the ranges that differ (at most a full re-read, 210); two for the check that no
        // candidate was merely updated meanwhile; plus one probing bisection per initial range.
        let (delta, partition, spare_check) = (1, 1 + 3, 2);
        let per_deletion = (10_000f64 / 100.0).log2().ceil() as u64 + 2;
        let search = (k * per_deletion).min(rows as u64 / 100 + 1 + 3) as usize;
        let bound = delta + partition + search + if k > 0 { spare_check } else { 0 };
        let made = requests_to(&sb, "/v1/patients");
        assert!(made <= bound, "k = {k}: {made} requests, bound {bound}");
        if k == 0 {
            assert!(made <= delta + partition, "k = 0: {made} requests");
        }
    }
    sb.shutdown();
}

#[tokio::test(flavor = "multi_thread")]
async fn scattered_deletions_are_found_exactly_within_the_cost_bound() {
    rounds(false).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn clustered_deletions_are_found_exactly_within_the_cost_bound() {
    rounds(true).await;
}

/// With the range filter ignored by the API, the counts cannot add up: the run falls back to a
/// full key read in the same run, says so in the manifest, and marks the same keys.
#[tokio::test(flavor = "multi_thread")]
async fn an_ignored_range_filter_falls_back_to_a_full_read_with_the_same_result() {
    let config = SandboxConfig {
        ignore_filters: vec!["patients:created_before".into()],
        ..SandboxConfig::default().with_scale(3.0).with_seed(5)
    };
    let sb = sandbox::spawn(config).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let p = pipeline(dir.path(), &sb.base_url(), "patients");
    let out = dir.path().join("out");
    let (code, stderr) = run(&p, &[]).await;
    assert_eq!(code, 0, "{stderr}");
    let deleted = delete(&sb, "patients", 5, false).await;
    let (code, stderr) = run(&p, &[]).await;
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(marked(&out, "patients"), deleted);
    let entry = manifest_entry(&out, "patients");
    let report = &entry["reconcile"];
    assert_eq!(report["method"], "full", "{entry}");
    assert!(
        report["fallback"]
            .as_str()
            .is_some_and(|f| f.contains("created_at") && f.contains("created_after")),
        "{entry}"
    );
    assert!(
        stderr.contains("fell back to a full key read"),
        "the warning names the fallback: {stderr}"
    );
    sb.shutdown();
}

/// Ids of every live patient the sandbox holds now.
fn live_ids(sb: &SandboxHandle) -> BTreeSet<i64> {
    sb.truth(1, "patients")
        .iter()
        .filter_map(|p| p["id"].as_i64())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rows_changed_between_the_delta_and_the_counts_are_never_marked_deleted() {
    let sb = sandbox::spawn(SandboxConfig::default().with_scale(5.0).with_seed(23))
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let p = pipeline(dir.path(), &sb.base_url(), "patients");
    let out = dir.path().join("out");
    assert_eq!(run(&p, &[]).await.0, 0);
    let deleted = delete(&sb, "patients", 10, false).await;
    // The run stops after its delta read, just before the counts; the practice works a day
    // (registers, edits and deletes patients), then the run goes on.
    let gate = dir.path().join("gate");
    let pause = format!("before-counts:{}", gate.display());
    let running = {
        let p = p.clone();
        tokio::spawn(async move { run(&p, &[("DENTALLY_ETL_TEST_PAUSE", pause.as_str())]).await })
    };
    let ready = dir.path().join("gate.ready");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !ready.exists() && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(ready.exists(), "the run reached its counts");
    let before = live_ids(&sb);
    reqwest::Client::new()
        .post(format!("{}/_sandbox/advance?days=1", sb.base_url()))
        .send()
        .await
        .unwrap();
    let after = live_ids(&sb);
    assert!(
        after.difference(&before).count() > 0,
        "the day registered patients"
    );
    std::fs::write(&gate, b"").unwrap();
    let (code, stderr) = running.await.unwrap();
    assert_eq!(code, 0, "{stderr}");
    let marked = marked(&out, "patients");
    assert!(
        deleted.is_subset(&marked),
        "every deletion before the run is found: {:?}",
        deleted.difference(&marked).collect::<Vec<_>>()
    );
    let wrongly: Vec<&i64> = marked.iter().filter(|id| after.contains(id)).collect();
    assert!(
        wrongly.is_empty(),
        "patients that exist (edited or registered meanwhile) marked deleted: {wrongly:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kill_during_reconciliation_and_a_rerun_mark_the_same_keys() {
    let sb = sandbox::spawn(SandboxConfig::default().with_scale(5.0).with_seed(29))
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let p = pipeline(dir.path(), &sb.base_url(), "patients");
    let out = dir.path().join("out");
    assert_eq!(run(&p, &[]).await.0, 0);
    let deleted = delete(&sb, "patients", 25, true).await;
    // Killed right after the counts found the deletions, before anything was committed.
    let (code, _) = run(&p, &[("DENTALLY_ETL_TEST_CRASH", "after-counts")]).await;
    assert_ne!(code, 0, "the run was killed");
    assert!(marked(&out, "patients").is_empty(), "nothing committed");
    let (code, stderr) = run(&p, &[]).await;
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(marked(&out, "patients"), deleted);
    assert_eq!(
        manifest_entry(&out, "patients")["reconcile"]["rows_marked"],
        25
    );
}
