//! Surviving the real API: the rate budget, hostile faults, SIGKILL and resume, minimal requests.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use arrow::compute::{concat_batches, sort_to_indices, take_record_batch};
use arrow::record_batch::RecordBatch;
use dentally_etl::catalog::{self, PiiPolicy};
use dentally_etl::sandbox::{self, FaultConfig, RateLimitConfig, SandboxConfig, SandboxHandle};

use crate::common::{read_table, run_bin};

const RESOURCES: &[&str] = &[
    "practice",
    "treatments",
    "fees",
    "patients",
    "appointments",
    "invoices",
    "invoice_items",
    "payments",
    "treatment_plan_items",
];

fn pipeline(dir: &Path, base: &str, out: &str, source_extra: &str) -> std::path::PathBuf {
    let mut text = format!(
        "name = \"resilience\"\n[source]\nbase_url = \"{base}\"\ntoken_env = \"DENTALLY_API_TOKEN\"\n{source_extra}\n[output]\nurl = \"{}\"\n",
        dir.join(out).display()
    );
    for r in RESOURCES {
        text.push_str(&format!("\n[[resources]]\nname = \"{r}\"\n"));
        if *r == "appointments" {
            text.push_str("window = { from = \"-200d\", to = \"+60d\" }\n");
        }
    }
    let path = dir.join(format!("{out}.toml"));
    std::fs::write(&path, text).unwrap();
    path
}

async fn run(p: &Path) -> (i32, String) {
    let (code, _, stderr) = run_bin(
        &["--quiet", "run", p.to_str().unwrap()],
        &[("DENTALLY_API_TOKEN", "sandbox-read")],
    )
    .await;
    (code, stderr)
}

/// Every current table of the run, its rows sorted by the first column (the key), without
/// `_deleted_at`'s run-specific nothing (it is null in these runs anyway).
fn tables(out: &Path) -> BTreeMap<String, RecordBatch> {
    let mut all = BTreeMap::new();
    for name in RESOURCES {
        for table in catalog::tables(catalog::find(name).unwrap(), &PiiPolicy::Keep) {
            let batches = read_table(out, &table.name);
            let Some(first) = batches.first() else {
                panic!("{}: no files", table.name)
            };
            let batch = concat_batches(&first.schema(), &batches).unwrap();
            let sort_columns: Vec<usize> = if table.parent_key.is_some() {
                vec![0, 1]
            } else {
                vec![0]
            };
            let sorted = sort_rows(&batch, &sort_columns);
            all.insert(table.name.clone(), sorted);
        }
    }
    all
}

fn sort_rows(batch: &RecordBatch, columns: &[usize]) -> RecordBatch {
    let sort: Vec<arrow::compute::SortColumn> = columns
        .iter()
        .map(|c| arrow::compute::SortColumn {
            values: batch.column(*c).clone(),
            options: None,
        })
        .collect();
    let indices = if sort.len() == 1 {
        sort_to_indices(&sort[0].values, None, None).unwrap()
    } else {
        arrow::compute::lexsort_to_indices(&sort, None).unwrap()
    };
    take_record_batch(batch, &indices).unwrap()
}

fn assert_same_tables(a: &Path, b: &Path) {
    let (ta, tb) = (tables(a), tables(b));
    assert_eq!(ta.keys().collect::<Vec<_>>(), tb.keys().collect::<Vec<_>>());
    for (name, batch) in &ta {
        assert_eq!(batch.num_rows(), tb[name].num_rows(), "{name}: row count");
        assert_eq!(batch, &tb[name], "{name}: rows differ");
    }
}

async fn sandbox_with(config: SandboxConfig) -> SandboxHandle {
    sandbox::spawn(config).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scaled_down_budget_is_used_fully_without_a_single_refusal() {
    let window = Duration::from_secs(3);
    let config = SandboxConfig {
        rate_limit: RateLimitConfig {
            limit: 100,
            window,
            ..RateLimitConfig::default()
        },
        ..SandboxConfig::default().with_scale(1.5)
    };
    let sb = sandbox_with(config).await;
    let dir = tempfile::tempdir().unwrap();
    let p = pipeline(dir.path(), &sb.base_url(), "out", "concurrency = 4");
    let (code, stderr) = run(&p).await;
    assert_eq!(code, 0, "{stderr}");
    let log = sb.requests();
    assert!(
        log.len() > 250,
        "the run needs several windows ({} requests)",
        log.len()
    );
    assert_eq!(
        log.iter()
            .filter(|r| r.rate_limited || r.status == 403)
            .count(),
        0,
        "no rate-limit refusal served"
    );
    // Per window of the sandbox's clock: every window but the last is used to ≥ 90 % of what
    // the reserve (10 % by default) leaves us.
    let mut per_window: BTreeMap<i64, usize> = BTreeMap::new();
    for r in &log {
        *per_window
            .entry(r.at.timestamp_millis() / 3000)
            .or_default() += 1;
    }
    let counts: Vec<usize> = per_window.values().copied().collect();
    let allowed = 90;
    for (i, n) in counts.iter().enumerate().take(counts.len() - 1).skip(1) {
        assert!(
            *n >= allowed * 9 / 10,
            "window {i} used {n} of {allowed}: {counts:?}"
        );
        assert!(
            *n <= allowed,
            "window {i} used {n}, more than {allowed}: {counts:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_faults_change_nothing_in_the_output() {
    let clean = sandbox_with(SandboxConfig::default().with_scale(0.4)).await;
    // The hostile profile, with its rarer faults made frequent enough to show in a short run.
    let faults = FaultConfig {
        error_rate: 0.1,
        truncate_rate: 0.08,
        reset_rate: 0.08,
        stall_rate: 0.03,
        stall: Duration::from_secs(4),
        blip_window: Duration::from_secs(1),
        ..FaultConfig::profile("hostile").unwrap()
    };
    let config = SandboxConfig {
        total_pages: false,
        rate_limit: RateLimitConfig {
            limit: 100_000,
            window: Duration::from_secs(10),
            ..RateLimitConfig::default()
        },
        ..SandboxConfig::default().with_scale(0.4).with_faults(faults)
    };
    let hostile = sandbox_with(config).await;
    let dir = tempfile::tempdir().unwrap();
    let (code, stderr) = run(&pipeline(dir.path(), &clean.base_url(), "clean", "")).await;
    assert_eq!(code, 0, "{stderr}");
    let (code, stderr) = run(&pipeline(
        dir.path(),
        &hostile.base_url(),
        "hostile",
        "timeout_secs = 2\nconcurrency = 4",
    ))
    .await;
    assert_eq!(code, 0, "{stderr}");
    let faults: Vec<String> = hostile
        .requests()
        .into_iter()
        .filter_map(|r| r.fault)
        .collect();
    for kind in ["5", "truncat", "reset"] {
        assert!(
            faults.iter().any(|f| f.to_lowercase().contains(kind)),
            "fault {kind} never happened: {faults:?}"
        );
    }
    assert_same_tables(&dir.path().join("clean"), &dir.path().join("hostile"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clean_run_makes_the_minimum_number_of_requests() {
    let sb = sandbox_with(SandboxConfig::default().with_scale(0.3)).await;
    let dir = tempfile::tempdir().unwrap();
    let (code, stderr) = run(&pipeline(dir.path(), &sb.base_url(), "out", "")).await;
    assert_eq!(code, 0, "{stderr}");
    let made = sb.requests().len();
    let base = sb.base_url();
    let total = |query: String| {
        let base = base.clone();
        async move { crate::common::total_count(&base, &query).await }
    };
    let pages = |n: u64| n.div_ceil(100).max(1);
    let mut minimum = 1; // the preflight
    for name in RESOURCES {
        let r = catalog::find(name).unwrap();
        minimum += match *name {
            "practice" => 1,
            "fees" => {
                let treatments: Vec<i64> = sb
                    .truth(1, "treatments")
                    .iter()
                    .map(|t| t["id"].as_i64().unwrap())
                    .collect();
                // No listing of the treatment ids: `treatments`, read in full in the same run,
                // hands them over.
                let mut n = 0;
                for id in treatments {
                    n += pages(total(format!("{}?per_page=1&treatment_id={id}", r.path)).await);
                }
                n
            }
            "appointments" => {
                let today = chrono::Utc::now().date_naive();
                let (from, to) = (
                    today - chrono::Days::new(200),
                    today + chrono::Days::new(60),
                );
                let mut n = 0;
                for s in dentally_etl::extract::windows(from, to, "after", "before", None) {
                    let q: Vec<String> = s
                        .query
                        .iter()
                        .map(|(k, v)| (*k, v.as_str()))
                        .chain(r.required_params.iter().copied())
                        .map(|(k, v)| format!("{k}={v}"))
                        .collect();
                    n += pages(total(format!("{}?per_page=1&{}", r.path, q.join("&"))).await);
                }
                n
            }
            _ => pages(sb.truth(1, name).len() as u64),
        } as usize;
    }
    assert_eq!(made, minimum, "requests made vs the minimum");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_at_any_point_then_rerun_gives_a_clean_runs_output() {
    let config = SandboxConfig {
        latency: Duration::from_millis(15),
        ..SandboxConfig::default().with_scale(0.3)
    };
    let sb = sandbox_with(config).await;
    let dir = tempfile::tempdir().unwrap();
    let (code, stderr) = run(&pipeline(
        dir.path(),
        &sb.base_url(),
        "clean",
        "concurrency = 2\ncheckpoint_pages = 1\ncheckpoint_secs = 0",
    ))
    .await;
    assert_eq!(code, 0, "{stderr}");
    let clean_requests = paged_requests(&sb);
    sb.clear_requests();
    let p = pipeline(
        dir.path(),
        &sb.base_url(),
        "killed",
        "concurrency = 2\ncheckpoint_pages = 1\ncheckpoint_secs = 0",
    );
    let (mut kills, mut finished) = (0, false);
    for delay_ms in [250u64, 500, 750, 1000, 1250] {
        let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_dentally-etl"))
            .args(["--quiet", "run", p.to_str().unwrap()])
            .env("DENTALLY_API_TOKEN", "sandbox-read")
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        tokio::time::sleep(Duration::from_millis(delay_ms)).await;
        if child.try_wait().unwrap().is_none() {
            child.start_kill().unwrap(); // SIGKILL
            let _ = child.wait().await;
            if committed(&dir.path().join("killed")) {
                finished = true; // killed after its commit: the run was complete
                break;
            }
            kills += 1;
        } else {
            finished = true; // this restart completed the run
            break;
        }
    }
    assert!(kills >= 2, "the run was killed mid-way at least twice");
    // Killed between its state and its publication: the data was complete, but a full run
    // reads it all again (and its publication removes the killed session's files).
    let unpublished = !finished && state_complete(&dir.path().join("killed"));
    if !finished {
        let (code, stderr) = run(&p).await;
        assert_eq!(code, 0, "{stderr}");
    }
    assert_same_tables(&dir.path().join("clean"), &dir.path().join("killed"));
    // Each restart repeats the preflight, the treatment ids of `fees` and the single `practice`
    // object (3 requests), and may refetch the pages in flight when it died: per resource being
    // read (2 at once), 2 being fetched, 2 queued and 1 waiting to be queued, plus the first
    // pages of its next slices fetched ahead (2) and a partial last page (1): 8. (Measured
    // under load: at most 7 per restart.)
    let bound = clean_requests + kills * (3 + 2 * 8) + usize::from(unpublished) * clean_requests;
    let made = paged_requests(&sb);
    assert!(
        made <= bound,
        "{made} requests over all runs; a clean run makes {clean_requests}, bound {bound}: {:?}",
        per_path(&sb)
    );
    // Nothing half-written remains.
    let leftovers: Vec<_> = walk(&dir.path().join("killed"))
        .into_iter()
        .filter(|p| p.to_string_lossy().contains('#'))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

/// Requests but the per-patient `patient_stats` recovery (`/v1/patients/{id}/stats`): how many
/// rows the unstable paging skips is random in each session, and so is the number of patients
/// fetched one by one (bounded on its own by the paging tests).
fn paged_requests(sb: &SandboxHandle) -> usize {
    sb.requests()
        .iter()
        .filter(|r| !(r.path.starts_with("/v1/patients/") && r.path.ends_with("/stats")))
        .count()
}

/// Requests per path, for a failure message.
fn per_path(sb: &SandboxHandle) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for r in sb.requests() {
        let path = if r.path.ends_with("/stats") && r.path.starts_with("/v1/patients/") {
            "/v1/patients/{id}/stats".to_string()
        } else {
            r.path.clone()
        };
        *counts.entry(path).or_insert(0) += 1;
    }
    counts
}

/// True when the run's commit finished: `_runs/latest.json`, its last step, exists (after it the
/// files of the run are the table's, and no other's).
fn committed(out: &Path) -> bool {
    state_complete(out) && out.join("_runs/latest.json").exists()
}

/// True when the state records a commit of every resource and no checkpoint is pending.
fn state_complete(out: &Path) -> bool {
    let Ok(text) = std::fs::read_to_string(out.join("_state/resilience.json")) else {
        return false;
    };
    let state: serde_json::Value = serde_json::from_str(&text).unwrap();
    let resources = state["resources"].as_object().unwrap();
    let pending = out.join("_state/resilience.progress.json").exists();
    !pending
        && resources.len() == RESOURCES.len()
        && resources.values().all(|r| r.get("last_run").is_some())
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path))
        } else {
            out.push(path)
        }
    }
    out
}
