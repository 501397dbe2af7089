//! The transport (review D11, D19, D20): redirects stay within the base URL's origin, and
//! failures that would repeat (a 200 that is not JSON, a malformed or unbounded token file) are
//! reported at once with their own message.

use std::path::Path;

use dentally_etl::sandbox::{self, SandboxConfig};

use super::hostile::{Act, Hostile, headers};
use super::{pipeline, run, run_measured};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redirect_to_another_origin_is_refused() {
    let sb = sandbox::spawn(SandboxConfig::default().with_scale(0.05))
        .await
        .unwrap();
    let elsewhere = Hostile::start(sb.base_url(), |_| Act::Forward).await;
    let to = format!("{}/v1/user", elsewhere.base_url());
    let api = Hostile::start(sb.base_url(), move |target| {
        if target.starts_with("/v1/user") {
            Act::Answer(302, headers(&[("location", to.as_str())]), Vec::new())
        } else {
            Act::Forward
        }
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let p = pipeline(dir.path(), &api.base_url(), &["patients"], "", "");
    let ran = run_measured(
        &["check", p.to_str().unwrap()],
        &[("DENTALLY_API_TOKEN", "sandbox-read")],
    )
    .await;
    assert_eq!(ran.code, 1, "{}", ran.stderr);
    assert!(ran.stderr.contains("another origin"), "{}", ran.stderr);
    assert!(ran.stderr.contains("not retried"), "{}", ran.stderr);
    assert!(
        elsewhere.requests().is_empty(),
        "{:?}",
        elsewhere.requests()
    );
    assert_eq!(api.count("/v1/user"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redirect_within_the_origin_is_followed() {
    let sb = sandbox::spawn(SandboxConfig::default().with_scale(0.05))
        .await
        .unwrap();
    let api = Hostile::start(sb.base_url(), |target| {
        if target == "/v1/old-user" {
            Act::Answer(301, headers(&[("location", "/v1/user")]), Vec::new())
        } else {
            Act::Forward
        }
    })
    .await;
    let client = dentally_etl::api::Client::new(
        url::Url::parse(&api.base_url()).unwrap(),
        dentally_etl::api::ApiToken::new("sandbox-read"),
        "tests",
        std::time::Duration::from_secs(10),
        std::sync::Arc::new(dentally_etl::api::Budget::new(10, None)),
        dentally_etl::api::RetryConfig::default(),
    )
    .unwrap();
    let target = dentally_etl::api::Target {
        resource: "user",
        page: 0,
    };
    let reply = client.get("/v1/old-user", &[], target).await.unwrap();
    assert!(reply.body.root().get("user").is_some());
    assert_eq!(api.requests(), vec!["/v1/old-user", "/v1/user"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_200_that_is_not_json_fails_at_once_naming_its_type() {
    let sb = sandbox::spawn(SandboxConfig::default().with_scale(0.05))
        .await
        .unwrap();
    let api = Hostile::start(sb.base_url(), |target| {
        if target.starts_with("/v1/patients") {
            Act::Answer(
                200,
                headers(&[("content-type", "text/html; charset=utf-8")]),
                b"<html><body>Sign in</body></html>".to_vec(),
            )
        } else {
            Act::Forward
        }
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let p = pipeline(dir.path(), &api.base_url(), &["patients"], "", "");
    let ran = run(&p, &[]).await;
    assert_eq!(ran.code, 4, "{}", ran.stderr);
    assert!(ran.stderr.contains("text/html"), "{}", ran.stderr);
    assert_eq!(api.count("/v1/patients"), 1, "not retried");
    assert!(ran.elapsed.as_secs() < 20, "{:?}", ran.elapsed);
}

fn token_file_pipeline(dir: &Path, base: &str, token_file: &Path) -> std::path::PathBuf {
    let text = format!(
        "name = \"sec\"\n[source]\nbase_url = \"{base}\"\ntoken_file = \"{}\"\n[output]\nurl = \"{}\"\n\n[[resources]]\nname = \"patients\"\n",
        token_file.display(),
        dir.join("out").display()
    );
    let path = dir.join("tf.toml");
    std::fs::write(&path, text).unwrap();
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_or_endless_token_file_is_refused_before_any_request() {
    let sb = sandbox::spawn(SandboxConfig::default().with_scale(0.05))
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("token");
    for (content, why) in [
        ("\u{feff}sandbox-read\n", "byte-order mark"),
        ("sandbox-read\n# rotated monthly\n", "several lines"),
    ] {
        std::fs::write(&token, content).unwrap();
        let p = token_file_pipeline(dir.path(), &sb.base_url(), &token);
        let ran = run_measured(&["check", p.to_str().unwrap()], &[]).await;
        assert_eq!(ran.code, 2, "{}", ran.stderr);
        assert!(ran.stderr.contains(why), "{}", ran.stderr);
        assert!(!ran.stderr.contains("sandbox-read"), "{}", ran.stderr);
    }
    let p = token_file_pipeline(dir.path(), &sb.base_url(), Path::new("/dev/zero"));
    let ran = run_measured(&["check", p.to_str().unwrap()], &[]).await;
    assert_eq!(ran.code, 2, "{}", ran.stderr);
    assert!(ran.stderr.contains("not a regular file"), "{}", ran.stderr);
    assert!(ran.peak_kib < 100 * 1024);
    assert!(sb.requests().is_empty(), "{:?}", sb.requests());
}

/// D19, TLS: an `https://` base URL whose server does not speak TLS fails at the preflight,
/// at once (a handshake that failed will fail again), naming the TLS failure; no retries.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tls_failure_fails_at_once() {
    let sb = sandbox::spawn(SandboxConfig::default().with_scale(0.05))
        .await
        .unwrap();
    let plain = sb.base_url();
    let https = plain.replacen("http://", "https://", 1);
    let dir = tempfile::tempdir().unwrap();
    let p = pipeline(dir.path(), &https, &["patients"], "", "");
    let ran = run(&p, &[]).await;
    assert_eq!(ran.code, 1, "{}", ran.stderr);
    let lower = ran.stderr.to_lowercase();
    assert!(
        lower.contains("tls") || lower.contains("certificate") || lower.contains("handshake"),
        "{}",
        ran.stderr
    );
    assert!(ran.elapsed.as_secs() < 20, "retried: {:?}", ran.elapsed);
}
