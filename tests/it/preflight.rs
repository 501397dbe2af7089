//! Preflight and security against the sandbox: read-only check, scopes, expiry, redaction, PII.

use std::path::Path;

use arrow::array::AsArray;
use dentally_etl::sandbox::{self, SandboxConfig, SandboxHandle};

use crate::common::{pipeline, read_table, run_bin};

async fn sandbox_with(config: SandboxConfig) -> SandboxHandle {
    sandbox::spawn(config).await.unwrap()
}

fn api_requests(sb: &SandboxHandle) -> Vec<String> {
    sb.requests().into_iter().map(|r| r.path).collect()
}

async fn check(
    dir: &Path,
    sb: &SandboxHandle,
    token: &str,
    resources: &[&str],
) -> (i32, String, String) {
    let p = pipeline(dir, &sb.base_url(), resources, "parquet", "");
    run_bin(
        &["check", p.to_str().unwrap()],
        &[("DENTALLY_API_TOKEN", token)],
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_that_can_write_is_refused_before_any_data_request() {
    let sb = sandbox_with(SandboxConfig::default().with_scale(0.05)).await;
    let dir = tempfile::tempdir().unwrap();
    let p = pipeline(dir.path(), &sb.base_url(), &["patients"], "parquet", "");
    let (code, _, stderr) = run_bin(
        &["run", p.to_str().unwrap()],
        &[("DENTALLY_API_TOKEN", "sandbox-write")],
    )
    .await;
    assert_eq!(code, 3, "{stderr}");
    assert!(
        stderr.contains("`appointment:create`") && stderr.contains("`patient:update`"),
        "{stderr}"
    );
    assert!(
        stderr.contains("Settings → Developer → Generate new token"),
        "{stderr}"
    );
    assert_eq!(
        api_requests(&sb),
        vec!["/v1/user".to_string()],
        "only the preflight request"
    );
    assert!(!dir.path().join("out/patients").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_scopes_are_all_listed() {
    let sb = sandbox_with(SandboxConfig::default().with_scale(0.05)).await;
    let dir = tempfile::tempdir().unwrap();
    let (code, _, stderr) = check(
        dir.path(),
        &sb,
        "sandbox-patients",
        &["patients", "appointments", "invoices"],
    )
    .await;
    assert_eq!(code, 3, "{stderr}");
    assert!(
        stderr.contains("`appointment:read`") && stderr.contains("`invoice:read`"),
        "{stderr}"
    );
    assert!(!stderr.contains("`patient:read`"), "{stderr}");
    assert_eq!(
        api_requests(&sb),
        ["/v1/user", "/v1/appointments", "/v1/invoices"],
        "scopes the header does not name are probed, once each"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_scopes_header_each_resource_is_probed_once_accepted() {
    let sb = sandbox_with(SandboxConfig {
        scopes_header: false,
        ..SandboxConfig::default().with_scale(0.05)
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let p = pipeline(
        dir.path(),
        &sb.base_url(),
        &["patients", "appointments", "invoices"],
        "parquet",
        "accept_unverified_scopes = true",
    );
    let check = |token: &'static str| {
        let p = p.clone();
        async move {
            run_bin(
                &["check", p.to_str().unwrap()],
                &[("DENTALLY_API_TOKEN", token)],
            )
            .await
        }
    };
    let (code, _, stderr) = check("sandbox-patients").await;
    assert_eq!(code, 3, "{stderr}");
    assert!(
        stderr.contains("`appointment:read`") && stderr.contains("`invoice:read`"),
        "{stderr}"
    );
    let requests = api_requests(&sb);
    assert_eq!(
        requests,
        vec![
            "/v1/user",
            "/v1/patients",
            "/v1/appointments",
            "/v1/invoices"
        ]
    );
    assert!(
        sb.requests()
            .iter()
            .skip(1)
            .all(|r| r.query.contains("per_page=1"))
    );
    let (code, _, stderr) = check("sandbox-read").await;
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("read-only NOT VERIFIED"), "{stderr}");
    assert!(
        stderr.contains("patients: patient:read matched by a probe"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_scopes_header_read_only_is_unverified_and_refused() {
    let sb = sandbox_with(SandboxConfig {
        scopes_header: false,
        ..SandboxConfig::default().with_scale(0.05)
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    for token in ["sandbox-write", "sandbox-read"] {
        sb.clear_requests();
        let (code, stdout, stderr) = check(dir.path(), &sb, token, &["patients"]).await;
        assert_eq!(code, 3, "{token}: {stderr}");
        assert!(
            stderr.contains("accept_unverified_scopes = true"),
            "{stderr}"
        );
        assert!(
            !format!("{stdout}{stderr}").contains("token ok"),
            "{stderr}"
        );
        assert_eq!(api_requests(&sb), ["/v1/user"], "refused before any probe");
    }
    let p = pipeline(
        dir.path(),
        &sb.base_url(),
        &["patients"],
        "parquet",
        "accept_unverified_scopes = true",
    );
    let (code, stdout, stderr) = run_bin(
        &["--quiet", "run", "--json", p.to_str().unwrap()],
        &[("DENTALLY_API_TOKEN", "sandbox-read")],
    )
    .await;
    assert_eq!(code, 0, "{stderr}");
    let manifest: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(
        manifest["api"]["read_only"], "unverified",
        "recorded in the manifest"
    );
    let (code, stdout, stderr) = run_bin(
        &["check", "--json", p.to_str().unwrap()],
        &[("DENTALLY_API_TOKEN", "sandbox-read")],
    )
    .await;
    assert_eq!(code, 0, "{stderr}");
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["read_only"], "unverified");
}

/// A hostile API whose `X-OAuth-Scopes` is `scopes` and which forbids `forbidden` paths.
async fn api_with_scopes(scopes: &'static str, forbidden: &'static [&'static str]) -> String {
    crate::lenient::hostile_api(std::sync::Arc::new(move |path: &str, _query: &str| {
        let headers = vec![("X-OAuth-Scopes".to_string(), scopes.to_string())];
        if forbidden.contains(&path) {
            return (403, r#"{"error":{"message":"Forbidden"}}"#.into(), headers);
        }
        let body = match path {
            "/v1/user" => r#"{"user":{"id":1,"practice_id":1}}"#.to_string(),
            "/v1/practice" => r#"{"practice":{"id":1}}"#.to_string(),
            other => {
                let name = other.trim_start_matches("/v1/");
                format!(r#"{{"{name}":[],"meta":{{"total_count":0}}}}"#)
            }
        };
        (200, body, headers)
    }))
    .await
}

async fn check_against(base: &str, resources: &[&str], json: bool) -> (i32, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let p = pipeline(dir.path(), base, resources, "parquet", "");
    let mut args = vec!["check"];
    if json {
        args.push("--json");
    }
    args.push(p.to_str().unwrap());
    run_bin(&args, &[("DENTALLY_API_TOKEN", "hostile-token")]).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_scopes_named_differently_are_probed_not_refused() {
    let base = api_with_scopes("user:read patients.read Invoices:Read", &[]).await;
    let resources = ["patients", "invoices", "practice", "users"];
    let (code, stdout, stderr) = check_against(&base, &resources, true).await;
    assert_eq!(code, 0, "{stderr}");
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["read_only"], "verified");
    let how: Vec<(String, String)> = report["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["resource"].as_str().unwrap().to_string(),
                r["matched_by"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let how: Vec<(&str, &str)> = how.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
    assert_eq!(
        how,
        [
            ("patients", "probe"),
            ("invoices", "probe"),
            ("practice", "probe"),
            ("users", "name")
        ]
    );
    let (code, _, stderr) = check_against(&base, &resources, false).await;
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("read-only (verified"), "{stderr}");
    assert!(
        stderr.contains("invoices: invoice:read matched by a probe (invoices: 200)"),
        "{stderr}"
    );
    assert!(
        stderr.contains("users: user:read matched by name"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_probe_403_names_the_resource_and_a_write_scope_still_refuses() {
    let base = api_with_scopes("user:read patients.read", &["/v1/invoices"]).await;
    let (code, _, stderr) = check_against(&base, &["patients", "invoices"], false).await;
    assert_eq!(code, 3, "{stderr}");
    assert!(
        stderr.contains("`invoice:read`") && stderr.contains("(invoices)"),
        "{stderr}"
    );
    assert!(!stderr.contains("`patient:read`"), "{stderr}");
    for writes in [
        "user:read patients.read patients.write",
        "user:read patient",
    ] {
        let base = api_with_scopes(writes, &[]).await;
        let (code, _, stderr) = check_against(&base, &["patients"], false).await;
        assert_eq!(code, 3, "{writes}: {stderr}");
        assert!(stderr.contains("the token can write"), "{stderr}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_token_gets_the_expiry_explanation() {
    let sb = sandbox_with(SandboxConfig::default().with_scale(0.05)).await;
    let dir = tempfile::tempdir().unwrap();
    let (code, _, stderr) = check(dir.path(), &sb, "sandbox-expired", &["patients"]).await;
    assert_eq!(code, 3, "{stderr}");
    assert!(stderr.contains("expire after two weeks"), "{stderr}");
    assert!(stderr.contains("Generate new token"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_only_token_passes_and_check_json_reports_user_practice_budget() {
    let sb = sandbox_with(SandboxConfig::default().with_scale(0.05)).await;
    let dir = tempfile::tempdir().unwrap();
    let p = pipeline(
        dir.path(),
        &sb.base_url(),
        &["patients", "appointments"],
        "parquet",
        "",
    );
    let (code, stdout, stderr) = run_bin(
        &["check", "--json", p.to_str().unwrap()],
        &[("DENTALLY_API_TOKEN", "sandbox-read")],
    )
    .await;
    assert_eq!(code, 0, "{stderr}");
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert!(
        report["user"].as_str().is_some_and(|u| !u.is_empty()),
        "{report}"
    );
    assert!(report["practice"].is_string(), "{report}");
    assert!(
        report["budget"]["remaining"].as_u64().is_some()
            && report["budget"]["limit"].as_u64() == Some(3600),
        "{report}"
    );
    assert_eq!(report["scope_check"], "header");
}

fn all_files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(all_files(&path))
        } else {
            out.push(path)
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_token_appears_nowhere_in_a_full_run() {
    let sb = sandbox_with(SandboxConfig::default().with_scale(0.05)).await;
    let dir = tempfile::tempdir().unwrap();
    let p = pipeline(
        dir.path(),
        &sb.base_url(),
        &["practice", "patients", "payments", "appointments"],
        "parquet",
        "",
    );
    let (code, stdout, stderr) = run_bin(
        &["--log-format", "json", "run", "--json", p.to_str().unwrap()],
        &[
            ("DENTALLY_API_TOKEN", "sandbox-read"),
            ("RUST_LOG", "trace"),
        ],
    )
    .await;
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.lines().count() > 3, "JSON logs were written");
    for text in [&stdout, &stderr] {
        assert!(!text.contains("sandbox-read"), "token leaked: {text}");
    }
    for file in all_files(&dir.path().join("out")) {
        let bytes = std::fs::read(&file).unwrap();
        assert!(
            !bytes.windows(12).any(|w| w == b"sandbox-read"),
            "token in {}",
            file.display()
        );
    }
}

fn column_values(out: &Path, table: &str, column: &str) -> Vec<String> {
    read_table(out, table)
        .iter()
        .flat_map(|b| {
            b.column_by_name(column)
                .unwrap_or_else(|| panic!("{table}.{column}"))
                .as_string::<i32>()
                .iter()
                .flatten()
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .collect()
}

async fn run_with_pii(
    sb: &SandboxHandle,
    dir: &Path,
    policy: &str,
    key: &str,
) -> std::path::PathBuf {
    let text = format!(
        "name = \"pii\"\n[source]\nbase_url = \"{}\"\ntoken_env = \"DENTALLY_API_TOKEN\"\n[output]\nurl = \"{}\"\n\
         [defaults]\npii = \"{policy}\"\npii_hash_key_env = \"PII_KEY\"\n\
         [[resources]]\nname = \"users\"\n[[resources]]\nname = \"practitioners\"\n[[resources]]\nname = \"patients\"\n",
        sb.base_url(),
        dir.join("out").display()
    );
    let path = dir.join("pii.toml");
    std::fs::write(&path, text).unwrap();
    let (code, _, stderr) = run_bin(
        &["--quiet", "run", path.to_str().unwrap()],
        &[("DENTALLY_API_TOKEN", "sandbox-read"), ("PII_KEY", key)],
    )
    .await;
    assert_eq!(code, 0, "{stderr}");
    dir.join("out")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hashed_pii_joins_across_tables_and_changes_with_the_key() {
    let sb = sandbox_with(SandboxConfig::default().with_scale(0.2)).await;
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let out_a = run_with_pii(&sb, a.path(), "hash", "first-secret-key-0123456789").await;
    let out_b = run_with_pii(&sb, b.path(), "hash", "other-secret-key-0123456789").await;
    let users = column_values(&out_a, "users", "email");
    let practitioners = column_values(&out_a, "practitioners", "user__email");
    assert!(!practitioners.is_empty());
    assert!(
        practitioners
            .iter()
            .all(|h| h.len() == 64 && users.contains(h)),
        "the same email hashes the same in both tables"
    );
    let raw: Vec<String> = sb
        .truth(1, "users")
        .iter()
        .filter_map(|u| u["email"].as_str().map(str::to_string))
        .collect();
    assert!(users.iter().all(|h| !raw.contains(h)));
    let users_b = column_values(&out_b, "users", "email");
    assert!(
        users.iter().all(|h| !users_b.contains(h)),
        "another key gives other digests"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_pii_is_absent_from_files_and_schemas() {
    let sb = sandbox_with(SandboxConfig::default().with_scale(0.05)).await;
    let dir = tempfile::tempdir().unwrap();
    let out = run_with_pii(&sb, dir.path(), "drop", "unused-key-0123456789").await;
    for batch in read_table(&out, "patients") {
        for gone in [
            "first_name",
            "last_name",
            "email_address",
            "date_of_birth",
            "nhs_number",
        ] {
            assert!(
                batch.schema().column_with_name(gone).is_none(),
                "{gone} still in the file"
            );
        }
        assert!(batch.schema().column_with_name("id").is_some());
    }
    let (code, stdout, _) = run_bin(&["schema", "patients", "--pii", "drop"], &[]).await;
    assert_eq!(code, 0);
    assert!(!stdout.contains("first_name"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hashing_without_a_key_is_refused() {
    let sb = sandbox_with(SandboxConfig::default().with_scale(0.05)).await;
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "name = \"pii\"\n[source]\nbase_url = \"{}\"\ntoken_env = \"DENTALLY_API_TOKEN\"\n[output]\nurl = \"{}\"\n\
         [defaults]\npii = \"hash\"\npii_hash_key_env = \"PII_KEY\"\n[[resources]]\nname = \"patients\"\n",
        sb.base_url(),
        dir.path().join("out").display()
    );
    let path = dir.path().join("pii.toml");
    std::fs::write(&path, text).unwrap();
    let (code, _, stderr) = run_bin(
        &["run", path.to_str().unwrap()],
        &[("DENTALLY_API_TOKEN", "sandbox-read")],
    )
    .await;
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("PII_KEY"), "{stderr}");
    assert!(sb.requests().is_empty(), "nothing spent");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sandboxs_renamed_read_token_passes_check_and_its_write_twin_exits_3() {
    // The default sandbox: `sandbox-read-renamed` names most read scopes differently from the
    // catalog (as a real key may); each is proven by a probe. Its write twin is refused.
    let sb = sandbox_with(SandboxConfig::default().with_scale(0.05)).await;
    let dir = tempfile::tempdir().unwrap();
    let resources = ["patients", "payments", "treatment_plan_items", "practice"];
    let (code, _, stderr) = check(dir.path(), &sb, "sandbox-read-renamed", &resources).await;
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains("patients: patient:read matched by name"),
        "{stderr}"
    );
    assert!(
        stderr.contains("payments: payment:read matched by a probe"),
        "{stderr}"
    );
    let (code, _, stderr) = check(dir.path(), &sb, "sandbox-write-renamed", &resources).await;
    assert_eq!(code, 3, "{stderr}");
    assert!(stderr.contains("patients:update"), "{stderr}");
}
