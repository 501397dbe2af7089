//! One run per pipeline and practice (review D9): a held lock refuses a second run with exit 5,
//! `--break-lock` takes it over, an expired one is taken over with a warning, and a finished run
//! leaves no lock behind.

use std::path::Path;

use dentally_etl::sandbox::{self, SandboxConfig};

use super::{pipeline, run};

fn plant_lock(out: &Path, key: &str, expires_in_minutes: i64) {
    let path = out.join(key);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let now = chrono::Utc::now();
    let lock = serde_json::json!({
        "run_id": "20260101T000000Z-dead",
        "host": "other-host",
        "pid": 4242,
        "acquired_at": now.to_rfc3339(),
        "expires_at": (now + chrono::Duration::minutes(expires_in_minutes)).to_rfc3339(),
    });
    std::fs::write(path, lock.to_string()).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_run_refuses_while_the_lock_is_held() {
    let sb = sandbox::spawn(SandboxConfig::default().with_scale(0.05))
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let p = pipeline(dir.path(), &sb.base_url(), &["patients"], "", "");
    plant_lock(&out, "_state/sec.lock", 10);

    let ran = run(&p, &[]).await;
    assert_eq!(ran.code, 5, "{}", ran.stderr);
    assert!(
        ran.stderr.contains("20260101T000000Z-dead") && ran.stderr.contains("--break-lock"),
        "{}",
        ran.stderr
    );
    assert!(!out.join("patients").exists(), "nothing written");
    assert!(
        out.join("_state/sec.lock").exists(),
        "the holder's lock stays"
    );

    let ran = run(&p, &["--break-lock"]).await;
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    assert!(out.join("patients").is_dir());
    assert!(!out.join("_state/sec.lock").exists(), "released at the end");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_lock_is_taken_over() {
    let sb = sandbox::spawn(SandboxConfig::default().with_scale(0.05))
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let p = pipeline(dir.path(), &sb.base_url(), &["patients"], "", "");
    plant_lock(&out, "_state/sec.lock", -1);
    let ran = run(&p, &[]).await;
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    assert!(ran.stderr.contains("it expired"), "{}", ran.stderr);
    assert!(!out.join("_state/sec.lock").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_reset_waits_for_no_running_job() {
    let sb = sandbox::spawn(SandboxConfig::default().with_scale(0.05))
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let p = pipeline(dir.path(), &sb.base_url(), &["patients"], "", "");
    assert_eq!(run(&p, &[]).await.code, 0);
    plant_lock(&out, "_state/sec.lock", 10);
    let ran = super::run_measured(&["state", "reset", p.to_str().unwrap()], &[]).await;
    assert_eq!(ran.code, 5, "{}", ran.stderr);
    assert!(
        ran.stderr.contains("cannot reset the state now"),
        "{}",
        ran.stderr
    );
    assert!(out.join("_state/sec.json").exists());
}
