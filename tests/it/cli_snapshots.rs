//! Snapshots of what people read: `--help` and the help of the main commands, `plan` of a first
//! run, `check` and the end-of-run summary against the sandbox (issue 16).
//!
//! A change to any of these texts shows up as a snapshot diff to review, not as a silent drift.
//! What varies between days, machines and runs (temp paths, the sandbox's port, dates, run ids,
//! durations, the budget left) is redacted, so a snapshot holds on any day and machine.

use std::path::Path;

use dentally_etl::sandbox::{self, SandboxConfig, SandboxHandle};

use crate::common::{bin, pipeline, run_bin, text};

/// A base URL for offline commands: `plan` never contacts it.
const OFFLINE_BASE_URL: &str = "https://api.dentally.co";

/// `dir` (a test's temp dir) replaced by `[TMP]`, also in its canonical form, which the output
/// may print instead (`/tmp` is a link on some systems).
fn scrub(text: &str, dir: &Path) -> String {
    let mut out = text.to_string();
    if let Ok(canonical) = dir.canonicalize() {
        out = out.replace(&canonical.display().to_string(), "[TMP]");
    }
    out.replace(&dir.display().to_string(), "[TMP]")
}

/// [`scrub`], and the sandbox's address (its port is picked at random) replaced by `[SANDBOX]`.
fn scrub_sandbox(text: &str, dir: &Path, sb: &SandboxHandle) -> String {
    scrub(text, dir).replace(&sb.base_url(), "[SANDBOX]")
}

/// Snapshot settings that redact what a pattern can find: dates (plan windows), run ids, the
/// seconds of the summary and of the budget wait, the budget left (`check`). Seconds keep their
/// column's width, so the summary table stays aligned.
fn redactions() -> insta::Settings {
    let mut settings = insta::Settings::clone_current();
    settings.add_filter(r"\b\d{8}T\d{6}Z-[0-9a-f]+\b", "[RUN_ID]");
    settings.add_filter(r"\b\d{4}-\d{2}-\d{2}\b", "[DATE]");
    settings.add_filter(r"(?m) +\d+\.\d$", "   [SECS]");
    settings.add_filter(r"\d+\.\ds waiting", "[SECS]s waiting");
    settings.add_filter(r"budget \d+/", "budget [LEFT]/");
    settings
}

/// The help text of `args`, with no environment: clap prints the value of every variable an
/// option reads (`[env: DENTALLY_ETL_HEARTBEAT_SECS=30]`) and wraps to `COLUMNS`.
fn help(args: &[&str]) -> String {
    let out = bin().env_clear().args(args).output().unwrap();
    let (code, stdout, stderr) = text(&out);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.is_empty(), "{stderr}");
    stdout
}

/// The run's summary: stderr from the summary's header on (heartbeat lines, which `--quiet`
/// keeps, come before it, in no fixed order).
fn summary(stderr: &str) -> String {
    let start = stderr
        .find("resource ")
        .unwrap_or_else(|| panic!("no summary in: {stderr}"));
    stderr[start..].to_string()
}

async fn small_sandbox() -> SandboxHandle {
    sandbox::spawn(SandboxConfig::default().with_scale(0.05))
        .await
        .unwrap()
}

#[test]
fn help_of_the_binary() {
    insta::assert_snapshot!("help", help(&["--help"]));
}

#[test]
fn help_of_run() {
    insta::assert_snapshot!("help_run", help(&["run", "--help"]));
}

#[test]
fn help_of_plan() {
    insta::assert_snapshot!("help_plan", help(&["plan", "--help"]));
}

#[test]
fn help_of_check() {
    insta::assert_snapshot!("help_check", help(&["check", "--help"]));
}

#[test]
fn help_of_purge() {
    insta::assert_snapshot!("help_purge", help(&["purge", "--help"]));
}

#[test]
fn plan_of_a_first_run() {
    let dir = tempfile::tempdir().unwrap();
    let resources = ["practice", "patients", "appointments", "payments"];
    let p = pipeline(dir.path(), OFFLINE_BASE_URL, &resources, "parquet", "");
    let out = bin().arg("plan").arg(&p).output().unwrap();
    let (code, stdout, stderr) = text(&out);
    assert_eq!(code, 0, "{stderr}");
    redactions().bind(|| {
        insta::assert_snapshot!("plan", scrub(&stdout, dir.path()));
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_against_the_sandbox() {
    let sb = small_sandbox().await;
    let dir = tempfile::tempdir().unwrap();
    let p = pipeline(
        dir.path(),
        &sb.base_url(),
        &["practice", "patients"],
        "parquet",
        "",
    );
    let (code, stdout, stderr) = run_bin(
        &["check", p.to_str().unwrap()],
        &[("DENTALLY_API_TOKEN", "sandbox-read")],
    )
    .await;
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.is_empty(), "{stdout}");
    redactions().bind(|| {
        insta::assert_snapshot!("check", scrub_sandbox(&stderr, dir.path(), &sb));
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn summary_of_a_run_against_the_sandbox() {
    let sb = small_sandbox().await;
    let dir = tempfile::tempdir().unwrap();
    let p = pipeline(
        dir.path(),
        &sb.base_url(),
        &["practice", "patients"],
        "parquet",
        "",
    );
    let (code, _, stderr) = run_bin(
        &["--quiet", "run", p.to_str().unwrap()],
        &[("DENTALLY_API_TOKEN", "sandbox-read")],
    )
    .await;
    assert_eq!(code, 0, "{stderr}");
    redactions().bind(|| {
        insta::assert_snapshot!(
            "run_summary",
            scrub_sandbox(&summary(&stderr), dir.path(), &sb)
        );
    });
}
