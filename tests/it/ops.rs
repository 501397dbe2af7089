//! What an operator sees of a nightly job: heartbeats while it waits for the budget, stderr that
//! is JSON line by line, a metrics file a real Prometheus parser reads, and packaging (Dockerfile,
//! completions, man page) that agrees with the crate.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use chrono::{DateTime, Utc};
use dentally_etl::sandbox::{self, RateLimitConfig, SandboxConfig};
use serde_json::Value;

use crate::common::{bin, pipeline};
use crate::pyenv::python_env;
use crate::sandbox::small;

/// Runs the binary with stderr redirected to a file (not a terminal, as under a scheduler).
/// Returns (exit code, stdout, stderr lines).
async fn run_to_file(args: &[&str], envs: &[(&str, &str)], dir: &Path) -> (i32, String, String) {
    let err_path = dir.join(format!(
        "stderr-{}.log",
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    let err_file = std::fs::File::create(&err_path).unwrap();
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_dentally-etl"));
    cmd.args(args)
        .env_remove("RUST_LOG")
        .env_remove("DENTALLY_API_TOKEN")
        .env_remove("DENTALLY_ETL_LOG_FORMAT")
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::from(err_file));
    for (k, v) in envs {
        cmd.env(k, v);
    }
    // Not `output()`: tokio's sends stderr to a pipe whatever was set.
    let out = cmd
        .spawn()
        .expect("run the binary")
        .wait_with_output()
        .await
        .unwrap();
    let stderr = std::fs::read_to_string(&err_path).unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr,
    )
}

/// Sleeps until just after the start of the next `secs`-second window (the sandbox's windows
/// are aligned to the epoch), so a test knows when the budget will run out and reset.
async fn window_start(secs: u64) {
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let window = secs * 1000;
    tokio::time::sleep(Duration::from_millis(window - ms % window + 30)).await;
}

/// `key=value` of a text log line (compact format), quotes removed.
fn field<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    let at = line.find(&format!(" {key}="))? + key.len() + 2;
    let rest = &line[at..];
    let value = match rest.strip_prefix('"') {
        Some(quoted) => &quoted[..quoted.find('"')?],
        None => rest.split_whitespace().next()?,
    };
    Some(value)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heartbeats_show_the_wait_for_the_budget_and_when_it_resets() {
    const WINDOW: u64 = 6;
    let sb = sandbox::spawn(SandboxConfig {
        scale: 3.0,
        rate_limit: RateLimitConfig {
            limit: 20,
            window: Duration::from_secs(WINDOW),
            ..RateLimitConfig::default()
        },
        ..small()
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let p = pipeline(dir.path(), &sb.base_url(), &["patients"], "parquet", "");
    window_start(WINDOW).await;
    let (code, _, stderr) = run_to_file(
        &["--heartbeat-secs", "1", "run", p.to_str().unwrap()],
        &[("DENTALLY_API_TOKEN", "sandbox-read")],
        dir.path(),
    )
    .await;
    assert_eq!(code, 0, "{stderr}");
    let beats: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("Heartbeat."))
        .collect();
    let waiting: Vec<&str> = beats
        .iter()
        .copied()
        .filter(|l| field(l, "waiting_for_budget") == Some("true"))
        .collect();
    assert!(
        waiting.len() >= 2,
        "heartbeats every second during a wait of several seconds:\n{stderr}"
    );
    for line in &waiting {
        let at: DateTime<Utc> = line.split_whitespace().next().unwrap().parse().unwrap();
        let reset: DateTime<Utc> = field(line, "budget_resets_at")
            .unwrap_or_else(|| panic!("no reset time: {line}"))
            .parse()
            .unwrap();
        assert!(
            reset >= at - chrono::Duration::seconds(1)
                && reset <= at + chrono::Duration::seconds(WINDOW as i64),
            "the reset is the end of the current window: {line}"
        );
        assert_eq!(
            reset.timestamp() as u64 % WINDOW,
            0,
            "windows are epoch-aligned: {line}"
        );
        assert_eq!(field(line, "resource"), Some("patients"), "{line}");
        assert!(field(line, "rows").is_some() && field(line, "requests").is_some());
        assert_eq!(field(line, "budget_limit"), Some("20"), "{line}");
        let waited: f64 = field(line, "budget_wait_secs").unwrap().parse().unwrap();
        assert!(waited > 0.0, "{line}");
    }
    assert!(
        stderr.contains("Resource started.") && stderr.contains("Resource finished."),
        "{stderr}"
    );
}

/// Every stderr line parses as a JSON object with a level and a message.
fn json_lines(stderr: &str) -> Vec<Value> {
    assert!(!stderr.trim().is_empty(), "no stderr at all");
    stderr
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l)
                .unwrap_or_else(|e| panic!("not JSON ({e}): {l}\n--- stderr\n{stderr}"));
            assert!(v["level"].is_string() && v["message"].is_string(), "{l}");
            v
        })
        .collect()
}

fn with_message<'a>(lines: &'a [Value], message: &str) -> Vec<&'a Value> {
    lines.iter().filter(|l| l["message"] == message).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_logs_are_json_on_every_line_for_success_partial_and_failure() {
    let sb = sandbox::spawn(SandboxConfig {
        practices: 2,
        ..small()
    })
    .await
    .unwrap();
    let base = sb.base_url();
    let dir = tempfile::tempdir().unwrap();
    let token = [("DENTALLY_API_TOKEN", "sandbox-read")];
    let json = ["--log-format", "json", "--quiet", "--heartbeat-secs", "1"];

    // Success, as the deploy examples run it (JSON and --quiet).
    let p = pipeline(dir.path(), &base, &["patients", "sites"], "parquet", "");
    let mut args = json.to_vec();
    args.extend(["run", p.to_str().unwrap()]);
    let (code, _, stderr) = run_to_file(&args, &token, dir.path()).await;
    assert_eq!(code, 0, "{stderr}");
    let lines = json_lines(&stderr);
    let run = with_message(&lines, "Run summary.");
    assert_eq!(run.len(), 1, "{stderr}");
    assert_eq!(run[0]["status"], "succeeded");
    let resources = with_message(&lines, "Resource summary.");
    assert_eq!(resources.len(), 2, "{stderr}");
    assert!(resources.iter().all(|r| r["rows"].as_u64() > Some(0)));
    assert_eq!(
        with_message(&lines, "Resource started.").len(),
        2,
        "heartbeats pass --quiet"
    );
    assert_eq!(with_message(&lines, "Resource finished.").len(), 2);

    // Partial (exit 4): one practice of two has an expired token.
    let group = dir.path().join("group.toml");
    std::fs::write(
        &group,
        format!(
            "name = \"group\"\n[output]\nurl = \"{}\"\n\
             [[sources]]\nname = \"north\"\nbase_url = \"{base}\"\ntoken_env = \"T1\"\n\
             [[sources]]\nname = \"south\"\nbase_url = \"{base}\"\ntoken_env = \"T2\"\n\
             [[resources]]\nname = \"sites\"\n",
            dir.path().join("group-out").display()
        ),
    )
    .unwrap();
    let mut args = json.to_vec();
    args.extend(["run", group.to_str().unwrap()]);
    let (code, _, stderr) = run_to_file(
        &args,
        &[("T1", "sandbox-read"), ("T2", "sandbox-expired")],
        dir.path(),
    )
    .await;
    assert_eq!(code, 4, "{stderr}");
    let lines = json_lines(&stderr);
    let failed: Vec<&Value> = lines
        .iter()
        .filter(|l| l["level"] == "ERROR" && l["practice"] == "south")
        .collect();
    assert!(
        !failed.is_empty(),
        "the failed practice is reported: {stderr}"
    );
    assert_eq!(with_message(&lines, "Run summary.").len(), 1, "{stderr}");

    // Failure: the token is refused (exit 3); the error comes with its chain and exit code.
    let mut args = json.to_vec();
    args.extend(["run", p.to_str().unwrap()]);
    let (code, _, stderr) =
        run_to_file(&args, &[("DENTALLY_API_TOKEN", "not-a-token")], dir.path()).await;
    assert_eq!(code, 3, "{stderr}");
    let lines = json_lines(&stderr);
    let fatal = lines.last().unwrap();
    assert_eq!(fatal["level"], "ERROR", "{stderr}");
    assert_eq!(fatal["exit_code"], 3, "{stderr}");
    let chain = fatal["error_chain"].as_array().expect("error_chain");
    assert!(
        !chain.is_empty() && chain.iter().all(Value::is_string),
        "{fatal}"
    );

    // An invalid pipeline (exit 2) and a command line clap refuses (exit 2).
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "name = \"bad\"\n[source]\nbase_url = 3\n").unwrap();
    for args in [
        vec!["--log-format", "json", "run", bad.to_str().unwrap()],
        vec!["--log-format", "json", "run", "--no-such-flag"],
        vec!["--log-format", "json", "validate", bad.to_str().unwrap()],
    ] {
        let (code, _, stderr) = run_to_file(&args, &[], dir.path()).await;
        assert_eq!(code, 2, "{args:?}: {stderr}");
        let lines = json_lines(&stderr);
        assert!(lines.iter().any(|l| l["level"] == "ERROR"), "{stderr}");
    }
}

/// The samples of a metrics file, as parsed by `prometheus_client.parser`:
/// `[name, labels, value]` triples.
fn parse_with_prometheus_client(path: &Path) -> Vec<(String, serde_json::Map<String, Value>, f64)> {
    let script = "import json, sys\n\
        from prometheus_client.parser import text_string_to_metric_families\n\
        out = []\n\
        for family in text_string_to_metric_families(open(sys.argv[1]).read()):\n\
        \x20   assert family.type == 'gauge', family\n\
        \x20   for s in family.samples:\n\
        \x20       out.append([s.name, s.labels, s.value])\n\
        print(json.dumps(out))";
    let out = std::process::Command::new(&python_env().python)
        .args(["-c", script])
        .arg(path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "prometheus_client refused the file: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        std::fs::read_to_string(path).unwrap_or_default()
    );
    let samples: Vec<(String, serde_json::Map<String, Value>, f64)> =
        serde_json::from_slice(&out.stdout).unwrap();
    samples
}

fn sample(
    samples: &[(String, serde_json::Map<String, Value>, f64)],
    name: &str,
    labels: &[(&str, &str)],
) -> Option<f64> {
    samples
        .iter()
        .find(|(n, l, _)| {
            n == name
                && labels
                    .iter()
                    .all(|(k, v)| l.get(*k) == Some(&Value::from(*v)))
        })
        .map(|(_, _, v)| *v)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_metrics_file_parses_with_prometheus_client_and_holds_the_manifest_figures() {
    let sb = sandbox::spawn(small()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let p = pipeline(
        dir.path(),
        &sb.base_url(),
        &["patients", "sites", "payments"],
        "parquet",
        "",
    );
    let metrics = dir.path().join("dentally.prom");
    let (code, stdout, stderr) = run_to_file(
        &[
            "--quiet",
            "--metrics-file",
            metrics.to_str().unwrap(),
            "run",
            p.to_str().unwrap(),
            "--json",
        ],
        &[("DENTALLY_API_TOKEN", "sandbox-read")],
        dir.path(),
    )
    .await;
    assert_eq!(code, 0, "{stderr}");
    let manifest: Value = serde_json::from_str(&stdout).unwrap();
    let samples = parse_with_prometheus_client(&metrics);
    let pl = ("pipeline", "test");
    assert_eq!(
        sample(
            &samples,
            "dentally_etl_run_status",
            &[pl, ("status", "succeeded")]
        ),
        Some(1.0)
    );
    assert_eq!(
        sample(
            &samples,
            "dentally_etl_run_status",
            &[pl, ("status", "failed")]
        ),
        Some(0.0)
    );
    assert_eq!(
        sample(&samples, "dentally_etl_run_exit_code", &[pl]),
        Some(0.0)
    );
    assert!(sample(&samples, "dentally_etl_run_duration_seconds", &[pl]).is_some_and(|d| d > 0.0));
    let success = sample(
        &samples,
        "dentally_etl_last_success_timestamp_seconds",
        &[pl],
    )
    .expect("last success");
    assert_eq!(
        sample(&samples, "dentally_etl_api_requests", &[pl]),
        manifest["api"]["requests"].as_f64()
    );
    let per_resource: f64 = manifest["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["requests"].as_f64().unwrap())
        .sum();
    assert!(
        per_resource > 0.0 && per_resource < manifest["api"]["requests"].as_f64().unwrap(),
        "the resources' requests add up to the run's, less the preflight: {per_resource}"
    );
    for r in manifest["resources"].as_array().unwrap() {
        let l = [pl, ("resource", r["name"].as_str().unwrap())];
        for (metric, key) in [
            ("dentally_etl_resource_rows", "rows"),
            ("dentally_etl_resource_pages", "pages"),
            ("dentally_etl_resource_requests", "requests"),
            ("dentally_etl_resource_rejects", "rejects"),
            ("dentally_etl_resource_duplicates", "duplicates"),
            ("dentally_etl_resource_seconds", "seconds"),
        ] {
            assert_eq!(
                sample(&samples, metric, &l),
                r[key].as_f64(),
                "{metric} of {r}"
            );
        }
        let status = r["status"].as_str().unwrap();
        assert_eq!(
            sample(
                &samples,
                "dentally_etl_resource_status",
                &[l[0], l[1], ("status", status)]
            ),
            Some(1.0)
        );
    }

    // A failed run (token refused) rewrites the file: status failed, the last success kept.
    let (code, _, stderr) = run_to_file(
        &[
            "--quiet",
            "--metrics-file",
            metrics.to_str().unwrap(),
            "run",
            p.to_str().unwrap(),
        ],
        &[("DENTALLY_API_TOKEN", "not-a-token")],
        dir.path(),
    )
    .await;
    assert_eq!(code, 3, "{stderr}");
    let samples = parse_with_prometheus_client(&metrics);
    assert_eq!(
        sample(
            &samples,
            "dentally_etl_run_status",
            &[pl, ("status", "failed")]
        ),
        Some(1.0)
    );
    assert_eq!(
        sample(&samples, "dentally_etl_run_exit_code", &[pl]),
        Some(3.0)
    );
    assert_eq!(
        sample(
            &samples,
            "dentally_etl_last_success_timestamp_seconds",
            &[pl]
        ),
        Some(success)
    );
    assert_eq!(sample(&samples, "dentally_etl_resource_rows", &[pl]), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_are_pushed_to_a_pushgateway() {
    use std::sync::{Arc, Mutex};
    let got: Arc<Mutex<Vec<(String, String, String)>>> = Arc::default();
    let seen = Arc::clone(&got);
    let app = axum::Router::new().fallback(move |req: axum::extract::Request| {
        let seen = Arc::clone(&seen);
        async move {
            let method = req.method().to_string();
            let path = req.uri().path().to_string();
            let body = axum::body::to_bytes(req.into_body(), 1 << 20)
                .await
                .unwrap();
            seen.lock()
                .unwrap()
                .push((method, path, String::from_utf8_lossy(&body).into_owned()));
            "ok"
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let gateway = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    let sb = sandbox::spawn(small()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let p = pipeline(dir.path(), &sb.base_url(), &["sites"], "parquet", "");
    let (code, _, stderr) = run_to_file(
        &[
            "--quiet",
            "--pushgateway",
            &gateway,
            "run",
            p.to_str().unwrap(),
        ],
        &[("DENTALLY_API_TOKEN", "sandbox-read")],
        dir.path(),
    )
    .await;
    assert_eq!(code, 0, "{stderr}");
    let got = got.lock().unwrap();
    assert_eq!(got.len(), 1, "{got:?}");
    let (method, path, body) = &got[0];
    assert_eq!(method, "PUT");
    assert_eq!(path, "/metrics/job/dentally_etl/pipeline/test");
    assert!(
        body.contains(
            "dentally_etl_resource_rows{pipeline=\"test\",practice=\"\",resource=\"sites\"}"
        ),
        "{body}"
    );
}

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// The Dockerfile cannot be built here; its commands must at least agree with the crate.
#[test]
fn the_dockerfile_agrees_with_the_crate() {
    let manifest: toml::Table = std::fs::read_to_string(repo("Cargo.toml"))
        .unwrap()
        .parse()
        .unwrap();
    let bin_name = manifest["bin"].as_array().unwrap()[0]["name"]
        .as_str()
        .unwrap()
        .to_string();
    let features = manifest["features"].as_table().unwrap();
    let rust_version = manifest["package"]["rust-version"].as_str().unwrap();
    let docker = std::fs::read_to_string(repo("Dockerfile")).unwrap();

    assert!(
        docker.contains(&format!("ARG RUST_VERSION={rust_version}\n")),
        "the build image's Rust is Cargo.toml's rust-version ({rust_version})"
    );
    assert!(
        docker.contains(&format!("--bin {bin_name} ")),
        "builds the binary {bin_name}"
    );
    assert!(docker.contains(&format!("target/release/{bin_name} ")));
    assert!(docker.contains(&format!("ENTRYPOINT [\"{bin_name}\"]")));
    assert!(docker.contains("cargo build --release --locked --no-default-features"));
    let named: Vec<&str> = docker
        .split("--features ")
        .skip(1)
        .map(|rest| rest.split(['"', ' ', '\n', ';']).next().unwrap())
        .collect();
    assert!(!named.is_empty());
    for f in &named {
        assert!(
            features.contains_key(*f),
            "feature `{f}` is not in Cargo.toml"
        );
    }
    assert_eq!(
        features["default"].as_array().unwrap(),
        &named
            .iter()
            .map(|f| toml::Value::from(*f))
            .collect::<Vec<_>>(),
        "MODELS=true builds the default features"
    );
    // Every file the build stage needs is copied, and none is excluded by .dockerignore.
    let ignore = std::fs::read_to_string(repo(".dockerignore")).unwrap();
    for needed in [
        "Cargo.toml",
        "Cargo.lock",
        "src",
        "pipelines",
        "benches",
        "tests",
        "LICENSE",
    ] {
        assert!(
            docker.lines().any(|l| l.starts_with("COPY ")
                && !l.contains("--from")
                && l.split_whitespace().any(|w| w == needed)),
            "the Dockerfile copies {needed}"
        );
        assert!(
            !ignore.lines().any(|l| l.trim_end_matches('/') == needed),
            ".dockerignore excludes {needed}"
        );
    }
    for target in manifest["test"]
        .as_array()
        .unwrap()
        .iter()
        .chain(manifest["bench"].as_array().unwrap())
    {
        let path = target
            .get("path")
            .and_then(|p| p.as_str())
            .unwrap_or("benches/stages.rs");
        assert!(repo(path).exists(), "{path}");
    }
    // The commands run in the build stage work with this binary.
    for line in docker.lines() {
        let Some(at) = line.find(&format!("&& /out/{bin_name} ")).map(|at| at + 3) else {
            continue;
        };
        let args: Vec<&str> = line[at..]
            .split('>')
            .next()
            .unwrap()
            .split_whitespace()
            .skip(1)
            .collect();
        let out = bin().args(&args).output().unwrap();
        assert!(out.status.success(), "{args:?} fails");
        assert!(!out.stdout.is_empty(), "{args:?} prints nothing");
    }
}

#[test]
fn completions_and_man_page_are_generated_from_the_cli() {
    let out = bin().args(["completions", "bash"]).output().unwrap();
    assert!(out.status.success());
    let script = String::from_utf8(out.stdout).unwrap();
    assert!(
        script.contains("dentally-etl") && script.contains("--metrics-file"),
        "{script}"
    );
    let out = bin().arg("man").output().unwrap();
    assert!(out.status.success());
    let page = String::from_utf8(out.stdout).unwrap();
    assert!(
        page.starts_with(".ie") || page.contains(".TH dentally-etl"),
        "{page}"
    );
    assert!(page.contains("heartbeat"), "global flags are documented");
}

#[test]
fn the_license_file_matches_cargo_toml() {
    let manifest: toml::Table = std::fs::read_to_string(repo("Cargo.toml"))
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(manifest["package"]["license"].as_str(), Some("Apache-2.0"));
    let text = std::fs::read_to_string(repo("LICENSE")).unwrap();
    assert!(text.contains("Apache License\n                        Version 2.0, January 2004"));
    assert!(text.contains("END OF TERMS AND CONDITIONS"));
}

/// A resource that fails for a cause below our own error (here the file system: a file stands
/// where a folder of `_raw/` must go) keeps that cause: in the manifest (`error_chain`), as
/// `caused by:` lines in the summary, and in the JSON log of its failure and its summary.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_resource_keeps_its_causes_in_the_manifest_the_summary_and_json_logs() {
    let sb = sandbox::spawn(small()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let p = pipeline(
        dir.path(),
        &sb.base_url(),
        &["accounts", "sundries"],
        "parquet",
        "",
    );
    let raw = dir.path().join("out/_raw/accounts");
    std::fs::create_dir_all(&raw).unwrap();
    let today = Utc::now().date_naive();
    std::fs::write(raw.join(format!("extracted_on={today}")), b"in the way").unwrap();
    let envs = [("DENTALLY_API_TOKEN", "sandbox-read")];
    let (code, _, stderr) = run_to_file(&["run", p.to_str().unwrap()], &envs, dir.path()).await;
    assert_eq!(code, 4, "{stderr}");
    assert!(stderr.contains("caused by: Not a directory"), "{stderr}");
    let out = dir.path().join("out");
    let latest: Value =
        serde_json::from_slice(&std::fs::read(out.join("_runs/latest.json")).unwrap()).unwrap();
    let manifest: Value = serde_json::from_slice(
        &std::fs::read(out.join(latest["manifest"].as_str().unwrap())).unwrap(),
    )
    .unwrap();
    let accounts = &manifest["resources"][0];
    assert_eq!(accounts["status"], "failed", "{accounts}");
    assert!(
        accounts["error"]
            .as_str()
            .unwrap()
            .contains("Cannot write `_raw/accounts/"),
        "{accounts}"
    );
    let chain = accounts["error_chain"].as_array().expect("error_chain");
    assert!(
        chain.last().and_then(Value::as_str) == Some("Not a directory (os error 20)"),
        "{accounts}"
    );
    assert!(manifest["resources"][1].get("error_chain").is_none());

    // JSON logs: the failure's line and the resource's summary carry the chain.
    let (code, _, stderr) = run_to_file(
        &["--log-format", "json", "run", p.to_str().unwrap()],
        &envs,
        dir.path(),
    )
    .await;
    assert_eq!(code, 4, "{stderr}");
    let lines = json_lines(&stderr);
    let failed = with_message(&lines, "Resource failed.");
    assert!(
        failed[0]["error_chain"]
            .as_str()
            .is_some_and(|c| c.contains("caused by: Not a directory")),
        "{stderr}"
    );
    let summary = with_message(&lines, "Resource summary.");
    let chain = summary
        .iter()
        .find(|l| l["resource"] == "accounts")
        .map(|l| l["error_chain"].clone())
        .unwrap();
    assert!(chain.as_array().is_some_and(|c| !c.is_empty()), "{stderr}");
}
