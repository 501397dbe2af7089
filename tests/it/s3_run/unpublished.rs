//! The start-of-run publication check on S3: a run killed after its state but before it removed
//! the replaced files leaves two runs' files under each table prefix; the next run's start
//! leaves only the committed ones and points `latest.json` at that run.

use std::collections::BTreeSet;

use dentally_etl::sandbox::{self, SandboxConfig};
use dentally_etl::sink::{Location, StoreOptions};

use super::{env_pairs, pipeline};
use crate::common::{committed_files, marker_files, run_bin};
use crate::s3_server::MotoServer;

/// The Parquet keys directly under a table's prefix.
async fn keys(loc: &Location, table: &str) -> BTreeSet<String> {
    loc.list(&format!("{table}/"))
        .await
        .unwrap()
        .iter()
        .filter_map(|m| loc.relative(&m.location))
        .filter(|k| k.ends_with(".parquet") && !k[table.len() + 1..].contains('/'))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_killed_before_publication_on_s3_is_published_by_the_next_start() {
    let moto = tokio::task::spawn_blocking(MotoServer::start)
        .await
        .unwrap();
    let sb = sandbox::spawn(SandboxConfig::default().with_scale(0.3))
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let url = format!("s3://{}/unpublished", moto.bucket());
    let resources = ["patients", "payments"];
    let p = pipeline(dir.path(), &sb.base_url(), &url, &resources, "", "");
    let mut env = moto.env();
    env.push(("DENTALLY_API_TOKEN".into(), "sandbox-read".into()));
    let run = |crash: Option<&'static str>| {
        let mut env = env.clone();
        if let Some(point) = crash {
            env.push(("DENTALLY_ETL_TEST_CRASH".into(), point.into()));
        }
        let p = p.clone();
        async move { run_bin(&["--quiet", "run", p.to_str().unwrap()], &env_pairs(&env)).await }
    };
    let direct = Location::parse_with_env(&url, &StoreOptions::default(), &moto.env()).unwrap();
    assert_eq!(run(None).await.0, 0);
    let one_run = keys(&direct, "patients").await.len();
    assert_ne!(run(Some("after-state")).await.0, 0, "the crash hook fired");
    assert_eq!(
        keys(&direct, "patients").await.len(),
        2 * one_run,
        "two runs' files side by side"
    );
    // The next run is killed after its first read: only its start's work is seen.
    assert_ne!(run(Some("after-raw")).await.0, 0, "the crash hook fired");
    let state = direct.get_json("_state/s3.json").await.unwrap().unwrap();
    let latest = direct.get_json("_runs/latest.json").await.unwrap().unwrap();
    for c in committed_files(&state) {
        let (resource, table) = (&c.resource, &c.table);
        assert_eq!(
            latest["run_id"],
            c.last_run.as_str(),
            "{resource}: the marker names the commit"
        );
        assert_eq!(keys(&direct, table).await, c.files, "{table}");
    }
    for f in marker_files(&latest) {
        assert!(direct.exists(&f).await.unwrap(), "{f}");
    }
}
