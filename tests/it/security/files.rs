//! The files on disk (review D7, D12, D13, D10): private modes, no symlinks, only our own names
//! deleted, CSV formulas guarded, and a row dated in the future kept out of the cursor.

use std::path::Path;

use dentally_etl::sandbox::{self, SandboxConfig};

use super::hostile::{Act, Hostile};
use super::{files_under, pipeline, run};

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::symlink_metadata(path)
        .unwrap()
        .permissions()
        .mode()
        & 0o777
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_file_is_private_by_default() {
    let sb = sandbox::spawn(SandboxConfig::default().with_scale(0.05))
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let p = pipeline(
        dir.path(),
        &sb.base_url(),
        &["patients", "payments"],
        "",
        "",
    );
    let ran = run(&p, &[]).await;
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    let files = files_under(&out);
    assert!(files.iter().any(|f| f.starts_with("_runs/")), "{files:?}");
    for f in &files {
        assert_eq!(mode(&out.join(f)), 0o600, "{f}");
        let mut parent = out.join(f);
        while parent.pop() && parent.starts_with(&out) {
            assert_eq!(mode(&parent), 0o700, "{}", parent.display());
        }
    }
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_symlink_under_the_output_is_refused() {
    let sb = sandbox::spawn(SandboxConfig::default().with_scale(0.05))
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    std::fs::create_dir_all(&out).unwrap();
    std::os::unix::fs::symlink(elsewhere.path(), out.join("patients")).unwrap();
    let p = pipeline(dir.path(), &sb.base_url(), &["patients"], "", "");
    let ran = run(&p, &[]).await;
    assert_eq!(ran.code, 1, "{}", ran.stderr);
    assert!(ran.stderr.contains("is a symbolic link"), "{}", ran.stderr);
    assert!(files_under(elsewhere.path()).is_empty());
    assert!(sb.requests().is_empty(), "refused before any request");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_the_tool_did_not_write_are_never_deleted() {
    let sb = sandbox::spawn(SandboxConfig::default().with_scale(0.05))
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let p = pipeline(dir.path(), &sb.base_url(), &["patients"], "", "");
    assert_eq!(run(&p, &[]).await.code, 0);
    let first: Vec<String> = files_under(&out.join("patients"));
    std::fs::write(out.join("patients/README.md"), "notes").unwrap();
    std::fs::write(out.join("patients/part-notes.parquet"), "mine").unwrap();

    let ran = run(&p, &[]).await;
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    let second = files_under(&out.join("patients"));
    for f in &first {
        assert!(!second.contains(f), "the previous run's {f} was replaced");
    }
    assert!(second.contains(&"README.md".to_string()), "{second:?}");
    assert!(
        second.contains(&"part-notes.parquet".to_string()),
        "{second:?}"
    );
    assert!(
        ran.stderr
            .contains("Not deleting a file the tool did not write"),
        "{}",
        ran.stderr
    );
}

fn formula_names(body: String) -> String {
    body.replace("\"first_name\":\"", "\"first_name\":\"=1+2|")
}

async fn csv_run(guard: &str) -> String {
    let sb = sandbox::spawn(SandboxConfig::default().with_scale(0.05))
        .await
        .unwrap();
    let api = Hostile::start(sb.base_url(), |target| {
        if target.starts_with("/v1/patients") {
            Act::Rewrite(formula_names, |_| {})
        } else {
            Act::Forward
        }
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let output = format!("format = \"csv\"\n{guard}");
    let p = pipeline(dir.path(), &api.base_url(), &["patients"], "", &output);
    let ran = run(&p, &[]).await;
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    let out = dir.path().join("out/patients");
    files_under(&out)
        .iter()
        .map(|f| std::fs::read_to_string(out.join(f)).unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn csv_formulas_are_guarded_unless_switched_off() {
    let guarded = csv_run("").await;
    assert!(
        guarded.contains(",'=1+2|"),
        "{}",
        &guarded[..500.min(guarded.len())]
    );
    assert!(!guarded.contains(",=1+2|"));
    let plain = csv_run("csv_guard = false").await;
    assert!(
        plain.contains(",=1+2|"),
        "{}",
        &plain[..500.min(plain.len())]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_row_dated_in_the_future_does_not_poison_the_cursor() {
    let sb = sandbox::spawn(SandboxConfig::default().with_scale(0.05))
        .await
        .unwrap();
    let api = Hostile::start(sb.base_url(), |target| {
        if target.starts_with("/v1/patients") {
            Act::Rewrite(
                |b| b.replacen("\"updated_at\":\"20", "\"updated_at\":\"29", 1),
                |_| {},
            )
        } else {
            Act::Forward
        }
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let p = pipeline(
        dir.path(),
        &api.base_url(),
        &["patients"],
        "",
        "\n[defaults]\nmode = \"incremental\"",
    );
    let ran = run(&p, &[]).await;
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    assert!(ran.stderr.contains("dated in the future"), "{}", ran.stderr);
    let state: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("out/_state/sec.json")).unwrap(),
    )
    .unwrap();
    let cursor = state["resources"]["patients"]["cursor"].as_str().unwrap();
    let cursor = chrono::DateTime::parse_from_rfc3339(cursor).unwrap();
    assert!(cursor <= chrono::Utc::now(), "{cursor}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raw_copies_are_kept_only_for_their_retention() {
    let sb = sandbox::spawn(SandboxConfig::default().with_scale(0.05))
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let raw = |out: &Path| -> Vec<String> {
        files_under(&out.join("_raw"))
            .into_iter()
            .filter(|f| f.ends_with(".parquet"))
            .collect()
    };
    // Default (7 days): a run's raw copies stay after its commit, next to the previous run's.
    let p = pipeline(dir.path(), &sb.base_url(), &["patients"], "", "");
    assert_eq!(run(&p, &[]).await.code, 0);
    let first = raw(&out);
    assert!(!first.is_empty());
    // A copy of a committed run from ten days ago (same table, own name): past the retention.
    let name = first[0].rsplit('/').next().unwrap();
    let old = first[0].replace(name, "20200101T000000Z-dead-0000.parquet");
    let raw_dir = out.join("_raw");
    std::fs::copy(raw_dir.join(&first[0]), raw_dir.join(&old)).unwrap();
    assert_eq!(run(&p, &[]).await.code, 0);
    let second = raw(&out);
    assert_eq!(
        second.len(),
        2 * first.len(),
        "two runs' copies: {second:?}"
    );
    assert!(
        !second.iter().any(|f| f.contains("20200101T000000Z")),
        "{second:?}"
    );
    // `raw_retention_days = 0`: nothing is kept once committed.
    let p = pipeline(
        dir.path(),
        &sb.base_url(),
        &["patients"],
        "",
        "raw_retention_days = 0",
    );
    assert_eq!(run(&p, &[]).await.code, 0);
    assert_eq!(raw(&out), Vec::<String>::new());
}
