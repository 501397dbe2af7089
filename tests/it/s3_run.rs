//! Runs writing to S3 (a real S3-compatible server, moto, on loopback): the demo output equals a
//! local run's, an outage mid-run publishes nothing and a rerun completes, and a missing bucket or
//! refused credentials stop the run before any API budget is spent.

use std::path::Path;
use std::time::Duration;

use arrow::compute::concat_batches;
use arrow::record_batch::RecordBatch;
use dentally_etl::catalog::{self, PiiPolicy};
use dentally_etl::sandbox::{self, SandboxConfig};
use dentally_etl::sink::{Location, StoreOptions, read_parquet};
use futures::StreamExt;

use crate::common::{read_table, run_bin};
use crate::s3_server::MotoServer;
use crate::tcp_proxy::TcpProxy;

mod unpublished;

fn env_pairs(env: &[(String, String)]) -> Vec<(&str, &str)> {
    env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

fn pipeline(
    dir: &Path,
    base: &str,
    url: &str,
    resources: &[&str],
    extra_output: &str,
    extra_source: &str,
) -> std::path::PathBuf {
    let mut text = format!(
        "name = \"s3\"\n[source]\nbase_url = \"{base}\"\ntoken_env = \"DENTALLY_API_TOKEN\"\n{extra_source}\n[output]\nurl = \"{url}\"\n{extra_output}\n"
    );
    for r in resources {
        text.push_str(&format!("\n[[resources]]\nname = \"{r}\"\n"));
        if *r == "appointments" || *r == "rota_practitioner_diaries" {
            text.push_str("window = { from = \"-400d\", to = \"+90d\" }\n");
        }
    }
    let path = dir.join(format!("{}.toml", fastrand::u32(..)));
    std::fs::write(&path, text).unwrap();
    path
}

async fn s3_table(loc: &Location, table: &str) -> Vec<RecordBatch> {
    let mut keys: Vec<String> = loc
        .list(&format!("{table}/"))
        .await
        .unwrap()
        .iter()
        .filter_map(|m| loc.relative(&m.location))
        .filter(|k| k.ends_with(".parquet") && !k[table.len() + 1..].contains('/'))
        .collect();
    keys.sort();
    let mut out = Vec::new();
    for key in keys {
        let mut batches = read_parquet(loc, &key, 8192).await.unwrap();
        while let Some(b) = batches.next().await {
            out.push(b.unwrap());
        }
    }
    out
}

fn sorted(batches: &[RecordBatch], children: bool) -> RecordBatch {
    let batch = concat_batches(&batches[0].schema(), batches).unwrap();
    let columns: Vec<arrow::compute::SortColumn> = (0..if children { 2 } else { 1 })
        .map(|c| arrow::compute::SortColumn {
            values: batch.column(c).clone(),
            options: None,
        })
        .collect();
    let idx = arrow::compute::lexsort_to_indices(&columns, None).unwrap();
    arrow::compute::take_record_batch(&batch, &idx).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_on_s3_equals_the_local_run_table_by_table() {
    let moto = tokio::task::spawn_blocking(MotoServer::start)
        .await
        .unwrap();
    let sb = sandbox::spawn(SandboxConfig::default().with_scale(0.2))
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let names: Vec<&str> = catalog::all().iter().map(|r| r.name).collect();
    let url = format!("s3://{}/demo", moto.bucket());
    let mut env = moto.env();
    env.push(("DENTALLY_API_TOKEN".into(), "sandbox-read".into()));
    let (code, _, stderr) = run_bin(
        &[
            "--quiet",
            "run",
            pipeline(dir.path(), &sb.base_url(), &url, &names, "", "")
                .to_str()
                .unwrap(),
        ],
        &env_pairs(&env),
    )
    .await;
    assert_eq!(code, 0, "{stderr}");
    let local = dir.path().join("local");
    let (code, _, stderr) = run_bin(
        &[
            "--quiet",
            "run",
            pipeline(
                dir.path(),
                &sb.base_url(),
                local.to_str().unwrap(),
                &names,
                "",
                "",
            )
            .to_str()
            .unwrap(),
        ],
        &[("DENTALLY_API_TOKEN", "sandbox-read")],
    )
    .await;
    assert_eq!(code, 0, "{stderr}");
    let loc = Location::parse_with_env(&url, &StoreOptions::default(), &moto.env()).unwrap();
    for resource in catalog::all() {
        for table in catalog::tables(resource, &PiiPolicy::Keep) {
            let remote = s3_table(&loc, &table.name).await;
            let here = read_table(&local, &table.name);
            assert!(!remote.is_empty(), "{}: no objects", table.name);
            let children = table.parent_key.is_some();
            assert_eq!(
                sorted(&remote, children),
                sorted(&here, children),
                "{}",
                table.name
            );
        }
    }
    assert!(
        !loc.list("_runs/").await.unwrap().is_empty(),
        "the manifest is in the bucket"
    );
    assert!(
        loc.exists("_state/s3.json").await.unwrap(),
        "the state is in the bucket"
    );
    let summary =
        tokio::task::spawn_blocking(move || crate::interop::check_with_python(&url, &moto.env()))
            .await
            .unwrap();
    assert!(summary["tables"].as_object().unwrap().len() >= 30);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_mid_run_publishes_nothing_partial_and_a_rerun_completes() {
    let moto = tokio::task::spawn_blocking(MotoServer::start)
        .await
        .unwrap();
    let proxy = TcpProxy::start(moto.endpoint().trim_start_matches("http://").to_string()).await;
    let config = SandboxConfig {
        latency: Duration::from_millis(20),
        ..SandboxConfig::default().with_scale(0.3)
    };
    let sb = sandbox::spawn(config).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let resources = [
        "patients",
        "invoices",
        "invoice_items",
        "payments",
        "appointments",
        "treatment_plan_items",
    ];
    let url = format!("s3://{}/outage", moto.bucket());
    let p = pipeline(
        dir.path(),
        &sb.base_url(),
        &url,
        &resources,
        "retry_timeout_secs = 2",
        "concurrency = 2\ncheckpoint_pages = 2\ncheckpoint_secs = 0",
    );
    let mut env: Vec<(String, String)> = moto
        .env()
        .into_iter()
        .filter(|(k, _)| k != "AWS_ENDPOINT_URL")
        .collect();
    env.push(("AWS_ENDPOINT_URL".into(), proxy.endpoint()));
    env.push(("DENTALLY_API_TOKEN".into(), "sandbox-read".into()));
    let run = {
        let env = env.clone();
        let p = p.clone();
        tokio::spawn(async move {
            run_bin(&["--quiet", "run", p.to_str().unwrap()], &env_pairs(&env)).await
        })
    };
    tokio::time::sleep(Duration::from_millis(600)).await;
    proxy.cut();
    let (code, _, stderr) = run.await.unwrap();
    assert_ne!(code, 0, "the run fails");
    assert!(
        stderr.contains("s3://test-bucket/outage"),
        "the message names the bucket: {stderr}"
    );
    let direct = Location::parse_with_env(&url, &StoreOptions::default(), &moto.env()).unwrap();
    assert!(
        direct
            .list("_runs/")
            .await
            .unwrap()
            .iter()
            .all(|m| !m.location.as_ref().ends_with(".json")),
        "no manifest"
    );
    assert!(
        !direct.exists("_state/s3.json").await.unwrap(),
        "no committed state"
    );
    for meta in direct.list("").await.unwrap() {
        let key = direct.relative(&meta.location).unwrap();
        if key.ends_with(".parquet") {
            let mut batches = read_parquet(&direct, &key, 8192)
                .await
                .unwrap_or_else(|e| panic!("{key} is not a complete file: {e}"));
            while let Some(b) = batches.next().await {
                b.unwrap();
            }
        }
    }
    proxy.restore();
    let (code, _, stderr) =
        run_bin(&["--quiet", "run", p.to_str().unwrap()], &env_pairs(&env)).await;
    assert_eq!(code, 0, "{stderr}");
    let clean = dir.path().join("clean");
    let (code, _, stderr) = run_bin(
        &[
            "--quiet",
            "run",
            pipeline(
                dir.path(),
                &sb.base_url(),
                clean.to_str().unwrap(),
                &resources,
                "",
                "",
            )
            .to_str()
            .unwrap(),
        ],
        &[("DENTALLY_API_TOKEN", "sandbox-read")],
    )
    .await;
    assert_eq!(code, 0, "{stderr}");
    for name in resources {
        for table in catalog::tables(catalog::find(name).unwrap(), &PiiPolicy::Keep) {
            let children = table.parent_key.is_some();
            assert_eq!(
                sorted(&s3_table(&direct, &table.name).await, children),
                sorted(&read_table(&clean, &table.name), children),
                "{}",
                table.name
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_bucket_or_refused_credentials_stop_before_any_api_request() {
    let moto = tokio::task::spawn_blocking(MotoServer::start)
        .await
        .unwrap();
    let proxy = TcpProxy::start(moto.endpoint().trim_start_matches("http://").to_string()).await;
    let sb = sandbox::spawn(SandboxConfig::default().with_scale(0.05))
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut env = moto.env();
    env.push(("DENTALLY_API_TOKEN".into(), "sandbox-read".into()));
    let p = pipeline(
        dir.path(),
        &sb.base_url(),
        "s3://no-such-bucket/x",
        &["patients"],
        "retry_timeout_secs = 2",
        "",
    );
    let (code, _, stderr) = run_bin(&["run", p.to_str().unwrap()], &env_pairs(&env)).await;
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("no-such-bucket") && stderr.to_lowercase().contains("bucket"),
        "{stderr}"
    );
    assert!(
        sb.requests().is_empty(),
        "no API request: {:?}",
        sb.requests()
    );

    proxy.forbid();
    let mut env: Vec<(String, String)> = moto
        .env()
        .into_iter()
        .filter(|(k, _)| k != "AWS_ENDPOINT_URL")
        .collect();
    env.push(("AWS_ENDPOINT_URL".into(), proxy.endpoint()));
    env.push(("DENTALLY_API_TOKEN".into(), "sandbox-read".into()));
    let p = pipeline(
        dir.path(),
        &sb.base_url(),
        "s3://test-bucket/x",
        &["patients"],
        "retry_timeout_secs = 2",
        "",
    );
    let (code, _, stderr) = run_bin(&["run", p.to_str().unwrap()], &env_pairs(&env)).await;
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("s3://test-bucket/x"), "{stderr}");
    assert!(
        stderr.to_lowercase().contains("credential"),
        "says what to check: {stderr}"
    );
    assert!(
        !stderr.contains("test\n") && !stderr.contains("AWS_SECRET_ACCESS_KEY=test"),
        "{stderr}"
    );
    assert!(sb.requests().is_empty(), "no API request");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_during_the_commit_prints_the_store_cause_and_exits_1() {
    let moto = tokio::task::spawn_blocking(MotoServer::start)
        .await
        .unwrap();
    let proxy = TcpProxy::start(moto.endpoint().trim_start_matches("http://").to_string()).await;
    let sb = sandbox::spawn(SandboxConfig::default().with_scale(0.1))
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let url = format!("s3://{}/commit-outage", moto.bucket());
    let p = pipeline(
        dir.path(),
        &sb.base_url(),
        &url,
        &["patients"],
        "retry_timeout_secs = 2",
        "",
    );
    // The run stops just before its manifest (the commit), the store goes away, the run goes on.
    let gate = dir.path().join("gate");
    let pause = format!("before-manifest:{}", gate.display());
    let mut env: Vec<(String, String)> = moto
        .env()
        .into_iter()
        .filter(|(k, _)| k != "AWS_ENDPOINT_URL")
        .collect();
    env.push(("AWS_ENDPOINT_URL".into(), proxy.endpoint()));
    env.push(("DENTALLY_API_TOKEN".into(), "sandbox-read".into()));
    env.push(("DENTALLY_ETL_TEST_PAUSE".into(), pause));
    let run = {
        let (env, p) = (env.clone(), p.clone());
        tokio::spawn(async move { run_bin(&["run", p.to_str().unwrap()], &env_pairs(&env)).await })
    };
    let ready = dir.path().join("gate.ready");
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while !ready.exists() && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(ready.exists(), "the run reached its commit");
    proxy.cut();
    std::fs::write(&gate, b"").unwrap();
    let (code, _, stderr) = run.await.unwrap();
    assert_eq!(code, 1, "a storage failure is exit 1: {stderr}");
    let error = stderr
        .lines()
        .skip_while(|l| !l.starts_with("error: "))
        .collect::<Vec<_>>()
        .join("\n");
    assert!(error.contains("s3://test-bucket/commit-outage"), "{stderr}");
    assert!(
        error
            .lines()
            .any(|l| l.trim_start().starts_with("caused by:")),
        "the object store's own cause is printed: {stderr}"
    );
}
