//! A run killed between its current files and their publication leaves a plain table folder
//! holding two runs' files; a glob reader would count rows twice. The next run starts by
//! finishing the publication: each folder holds only the files the state names, and
//! `latest.json` names the last committed run.

use std::collections::BTreeSet;
use std::path::Path;

use dentally_etl::sandbox::{self, SandboxConfig};
use serde_json::Value;

use super::{RESOURCES, pipeline, rows, run};
use crate::common::{committed_files, marker_files};

fn json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// The Parquet files directly in a table's folder, relative to the output.
fn folder(out: &Path, table: &str) -> BTreeSet<String> {
    std::fs::read_dir(out.join(table))
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().to_string())
                .filter(|n| n.ends_with(".parquet"))
                .map(|n| format!("{table}/{n}"))
                .collect()
        })
        .unwrap_or_default()
}

/// Every table folder holds exactly the files the state names, `latest.json` names the run the
/// state last committed (and only files that exist), and no key is in a table twice.
fn assert_published(out: &Path, stage: &str) -> String {
    let state = json(&out.join("_state/nightly.json"));
    let mut newest = String::new();
    for c in committed_files(&state) {
        newest = newest.max(c.last_run);
        let (resource, table) = (&c.resource, &c.table);
        assert_eq!(folder(out, table), c.files, "{stage}: {resource}/{table}");
    }
    let latest = json(&out.join("_runs/latest.json"));
    assert_eq!(latest["run_id"], newest.as_str(), "{stage}: {latest}");
    for f in marker_files(&latest) {
        assert!(out.join(&f).exists(), "{stage}: {f}");
    }
    for table in ["patients", "invoices", "payments", "accounts"] {
        rows(out, table); // panics on a key seen twice
    }
    newest
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_killed_before_publication_is_published_by_the_next_start() {
    let sb = sandbox::spawn(SandboxConfig::default().with_scale(0.3))
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("inc");
    let p = pipeline(dir.path(), &sb.base_url(), "inc", "incremental");
    assert_eq!(run(&p, &[], &[]).await.0, 0);
    let mut published = assert_published(&out, "first run");
    let files_of = |table: &str| folder(&out, table);
    let before = files_of("patients");
    for (point, committed) in [("after-state", true), ("after-manifest", false)] {
        sb.advance(1).await;
        let (code, _) = run(&p, &[], &[("DENTALLY_ETL_TEST_CRASH", point)]).await;
        assert_ne!(code, 0, "the crash hook fired at {point}");
        // Two runs' files side by side: what a glob reader would have read twice.
        assert!(files_of("patients").len() > before.len(), "{point}");
        // The next run finishes the publication before it reads anything (and is killed right
        // after its first read, so nothing of it is published).
        let (code, _) = run(&p, &[], &[("DENTALLY_ETL_TEST_CRASH", "after-raw")]).await;
        assert_ne!(code, 0, "the crash hook fired at after-raw");
        // Killed after its state, the run is published; killed before, the last one stays.
        let newest = assert_published(&out, point);
        assert_eq!(
            newest != published,
            committed,
            "{point}: which run is published"
        );
        published = newest;
    }
    let (code, stderr) = run(&p, &[], &[]).await;
    assert_eq!(code, 0, "{stderr}");
    assert_published(&out, "last run");
    assert_eq!(RESOURCES.len(), 5);
    let killed_early = [("DENTALLY_ETL_TEST_CRASH", "after-raw")];

    // A marker written after the last commit (by a run that committed no table: a feature the
    // practice does not use) is not moved back to the older run.
    let marker = out.join("_runs/latest.json");
    let mut later = json(&marker);
    later["run_id"] = "20991231T000000Z-0000".into();
    later["finished_at"] = "2099-12-31T00:00:00+00:00".into();
    std::fs::write(&marker, serde_json::to_vec(&later).unwrap()).unwrap();
    sb.advance(1).await;
    assert_ne!(run(&p, &[], &killed_early).await.0, 0);
    assert_eq!(json(&marker)["run_id"], "20991231T000000Z-0000");

    // Without a state or a marker (`_state/` and `_runs/` removed to start afresh) nothing says
    // which files are current: the folders are left alone.
    let kept: Vec<BTreeSet<String>> = RESOURCES.iter().map(|t| files_of(t)).collect();
    std::fs::remove_dir_all(out.join("_state")).unwrap();
    std::fs::remove_dir_all(out.join("_runs")).unwrap();
    assert_ne!(run(&p, &[], &killed_early).await.0, 0);
    let now: Vec<BTreeSet<String>> = RESOURCES.iter().map(|t| files_of(t)).collect();
    assert_eq!(now, kept, "files removed without a state naming them");
}
