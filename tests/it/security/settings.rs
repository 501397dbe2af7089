//! Pipeline settings that would leak (review D15, D16): a `base_url` with a query, and plain
//! http to an object store that is not on this machine.

use super::run_measured;

fn write(dir: &std::path::Path, source: &str, output: &str) -> std::path::PathBuf {
    let text = format!(
        "name = \"sec\"\n[source]\n{source}\ntoken_env = \"DENTALLY_API_TOKEN\"\n[output]\n{output}\n\n[[resources]]\nname = \"patients\"\n"
    );
    let path = dir.join("p.toml");
    std::fs::write(&path, text).unwrap();
    path
}

#[tokio::test]
async fn a_base_url_with_a_query_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let p = write(
        dir.path(),
        "base_url = \"http://127.0.0.1:9/?access_token=${DENTALLY_API_TOKEN}\"",
        &format!("url = \"{}\"", out.display()),
    );
    let ran = run_measured(
        &["validate", p.to_str().unwrap()],
        &[("DENTALLY_API_TOKEN", "secret-token-value")],
    )
    .await;
    assert_eq!(ran.code, 2, "{}", ran.stderr);
    assert!(
        ran.stderr.contains("must not have a query"),
        "{}",
        ran.stderr
    );
    assert!(!ran.stderr.contains("secret-token-value"), "{}", ran.stderr);
}

#[tokio::test]
async fn plain_http_to_a_remote_object_store_needs_an_explicit_switch() {
    let dir = tempfile::tempdir().unwrap();
    let remote =
        "url = \"s3://bucket/p\"\nendpoint = \"http://s3.example.com:9000\"\nallow_http = true";
    let p = write(dir.path(), "base_url = \"http://127.0.0.1:9\"", remote);
    let ran = run_measured(&["validate", p.to_str().unwrap()], &[]).await;
    assert_eq!(ran.code, 2, "{}", ran.stderr);
    assert!(ran.stderr.contains("unencrypted"), "{}", ran.stderr);

    let allowed = format!("{remote}\nallow_insecure_http = true");
    let p = write(dir.path(), "base_url = \"http://127.0.0.1:9\"", &allowed);
    let ran = run_measured(&["validate", p.to_str().unwrap()], &[]).await;
    assert_eq!(ran.code, 0, "{}", ran.stderr);

    let loopback =
        "url = \"s3://bucket/p\"\nendpoint = \"http://127.0.0.1:9000\"\nallow_http = true";
    let p = write(dir.path(), "base_url = \"http://127.0.0.1:9\"", loopback);
    let ran = run_measured(&["validate", p.to_str().unwrap()], &[]).await;
    assert_eq!(ran.code, 0, "{}", ran.stderr);
}

#[tokio::test]
async fn plain_http_from_the_environment_is_refused_at_run_time() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(
        dir.path(),
        "base_url = \"http://127.0.0.1:9\"",
        "url = \"s3://bucket/p\"",
    );
    let ran = run_measured(
        &["--quiet", "run", p.to_str().unwrap()],
        &[
            ("DENTALLY_API_TOKEN", "sandbox-read"),
            ("AWS_ENDPOINT_URL", "http://s3.example.com:9000"),
            ("AWS_ALLOW_HTTP", "true"),
            ("AWS_ACCESS_KEY_ID", "AKIAFAKE"),
            ("AWS_SECRET_ACCESS_KEY", "fake"),
            ("AWS_REGION", "eu-west-2"),
        ],
    )
    .await;
    assert_eq!(ran.code, 1, "{}", ran.stderr);
    assert!(ran.stderr.contains("Refusing plain http"), "{}", ran.stderr);
}
