//! Complete reads against the live API's paging (issue 14): a 413 past a deep offset, filters
//! silently ignored, unstable pages. The sandbox models each by default; these tests lower the
//! wall to 1,000 rows (±10 % drift) and read tables of at least 10,000 rows.
//!
//! Request bound, stated once: a read of `rows` rows must cost at most
//! `1.05 × ⌈rows / 100⌉ + tiles + restarts + 413s + slices` list requests, where tiles, restarts
//! and 413s are what the manifest reports (each costs at most one extra page: a window's or a
//! restart's last partial page, or the refused page) and slices are the resource's date slices
//! (each has its own last partial page).

use std::collections::HashSet;
use std::path::Path;

use arrow::array::{Array, AsArray};
use arrow::datatypes::{DataType, Int64Type};
use dentally_etl::sandbox::{self, SandboxConfig, SandboxHandle};
use serde_json::Value;

use crate::common::{read_table, run_bin};

mod missing;

/// A sandbox of `scale` with the offset wall at 1,000 rows and stable paging (each test turns on
/// the quirk it is about).
async fn walled(scale: f64, tweak: impl FnOnce(&mut SandboxConfig)) -> SandboxHandle {
    let mut config = SandboxConfig {
        deep_offset: Some(1_000),
        unstable_paging: Vec::new(),
        ..SandboxConfig::default().with_scale(scale)
    };
    tweak(&mut config);
    sandbox::spawn(config).await.unwrap()
}

/// Runs a pipeline reading `resources`; returns the exit code, stderr and the manifest.
async fn run(
    dir: &Path,
    sb: &SandboxHandle,
    resources: &[&str],
    source: &str,
) -> (i32, String, Value) {
    let p = crate::common::pipeline(dir, &sb.base_url(), resources, "parquet", source);
    let (code, _, stderr) = run_bin(
        &["run", p.to_str().unwrap()],
        &[("DENTALLY_API_TOKEN", "sandbox-read")],
    )
    .await;
    (code, stderr, manifest(&dir.join("out")))
}

/// The latest run manifest under `out/_runs`: the one `latest.json` names (run ids of runs in
/// the same second do not sort by time), else the last by name.
fn manifest(out: &Path) -> Value {
    let named = std::fs::read(out.join("_runs/latest.json"))
        .ok()
        .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
        .and_then(|l| l["manifest"].as_str().map(|m| out.join(m)))
        .and_then(|p| std::fs::read_to_string(p).ok())
        .and_then(|t| serde_json::from_str(&t).ok());
    if let Some(m) = named {
        return m;
    }
    let mut runs: Vec<_> = std::fs::read_dir(out.join("_runs"))
        .map(|d| {
            d.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|e| e == "json"))
                .filter(|p| p.file_name().is_some_and(|n| n != "latest.json"))
                .collect()
        })
        .unwrap_or_default();
    runs.sort();
    runs.last()
        .map(|p| serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap())
        .unwrap_or(Value::Null)
}

fn entry<'m>(manifest: &'m Value, resource: &str) -> &'m Value {
    manifest["resources"]
        .as_array()
        .and_then(|r| r.iter().find(|e| e["name"] == resource))
        .unwrap_or_else(|| panic!("no manifest entry for {resource}: {manifest}"))
}

/// The keys of a table, as text, in file order.
fn keys(out: &Path, table: &str, key: &str) -> Vec<String> {
    let mut keys = Vec::new();
    for b in read_table(out, table) {
        let c = b.column_by_name(key).unwrap();
        match c.data_type() {
            DataType::Int64 => keys.extend(
                c.as_primitive::<Int64Type>()
                    .iter()
                    .map(|v| v.unwrap().to_string()),
            ),
            _ => keys.extend(c.as_string::<i32>().iter().map(|v| v.unwrap().to_string())),
        }
    }
    keys
}

/// Every row of the sandbox's `resource` exactly once (the read with no wall).
fn assert_exact(out: &Path, sb: &SandboxHandle, resource: &str, key: &str) -> usize {
    let got = keys(out, resource, key);
    let unique: HashSet<&String> = got.iter().collect();
    assert_eq!(unique.len(), got.len(), "{resource}: a row came twice");
    let truth: HashSet<String> = sb
        .truth(1, resource)
        .iter()
        .map(|r| match &r[key] {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        })
        .collect();
    assert_eq!(
        unique.len(),
        truth.len(),
        "{resource}: rows read vs rows served"
    );
    assert!(
        unique.iter().all(|k| truth.contains(*k)),
        "{resource}: a key the sandbox does not hold"
    );
    got.len()
}

/// List requests made for `path` (page requests, not the per-id routes).
fn list_requests(sb: &SandboxHandle, path: &str) -> usize {
    sb.requests().iter().filter(|r| r.path == path).count()
}

/// The stated bound (module docs).
fn bound(rows: usize, paging: &Value, slices: u64) -> f64 {
    let n = |k: &str| paging[k].as_u64().unwrap_or(0);
    1.05 * rows.div_ceil(100) as f64 + (n("tiles") + n("restarts") + n("walls") + slices) as f64
}

fn assert_within_bound(sb: &SandboxHandle, m: &Value, resource: &str, rows: usize) -> f64 {
    let e = entry(m, resource);
    let made = list_requests(sb, &format!("/v1/{resource}"));
    let slices = e["slices"].as_u64().unwrap_or(1);
    let limit = bound(rows, &e["paging"], slices);
    assert!(
        made as f64 <= limit,
        "{resource}: {made} requests for {rows} rows, bound {limit:.1} ({})",
        e["paging"]
    );
    // For BENCHMARKS.md (`-- --nocapture`).
    eprintln!(
        "requests per row: {resource} {routes}: {made} requests / {rows} rows = {:.4} \
         (plain offset walk with no wall: {:.4}; {})",
        made as f64 / rows as f64,
        rows.div_ceil(100) as f64 / rows as f64,
        e["paging"],
        routes = e["paging"]["routes"]
    );
    made as f64 / rows as f64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keyset_continuation_reads_past_the_wall_exactly_once() {
    // treatment_appointments: sortable, `updated_after` honoured (B). 2,000 a scale unit.
    let sb = walled(5.0, |_| {}).await;
    let dir = tempfile::tempdir().unwrap();
    // The extractor is not told where the wall is: it meets it once and learns.
    let (code, stderr, m) = run(dir.path(), &sb, &["treatment_appointments"], "").await;
    assert_eq!(code, 0, "{stderr}");
    let out = dir.path().join("out");
    let rows = assert_exact(&out, &sb, "treatment_appointments", "id");
    assert!(rows >= 10_000, "{rows} rows");
    let paging = &entry(&m, "treatment_appointments")["paging"];
    assert_eq!(paging["routes"], serde_json::json!(["keyset"]), "{paging}");
    assert!(paging["restarts"].as_u64().unwrap() >= 10, "{paging}");
    assert!(paging["walls"].as_u64().unwrap() >= 1, "{paging}");
    assert_within_bound(&sb, &m, "treatment_appointments", rows);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn created_tiles_read_a_list_without_sort_exactly_once() {
    // patients ignore `sort_by` (C): tiles of `created_after`/`created_before`.
    let sb = walled(10.0, |_| {}).await;
    let dir = tempfile::tempdir().unwrap();
    let (code, stderr, m) = run(dir.path(), &sb, &["patients"], "offset_wall = 1000").await;
    assert_eq!(code, 0, "{stderr}");
    let rows = assert_exact(&dir.path().join("out"), &sb, "patients", "id");
    assert!(rows >= 10_000, "{rows} rows");
    let paging = &entry(&m, "patients")["paging"];
    assert_eq!(paging["routes"], serde_json::json!(["tiles(created_at)"]));
    assert_within_bound(&sb, &m, "patients", rows);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn updated_tiles_take_over_when_sort_by_is_ignored() {
    let sb = walled(5.0, |c| {
        c.sort_ignored.push("treatment_appointments".into())
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let (code, stderr, m) = run(
        dir.path(),
        &sb,
        &["treatment_appointments"],
        "offset_wall = 1000",
    )
    .await;
    assert_eq!(code, 0, "{stderr}");
    let rows = assert_exact(&dir.path().join("out"), &sb, "treatment_appointments", "id");
    let paging = &entry(&m, "treatment_appointments")["paging"];
    assert_eq!(
        paging["routes"],
        serde_json::json!(["keyset", "tiles(updated_at)"]),
        "{paging}"
    );
    assert_eq!(paging["ignored_filters"], serde_json::json!(["sort_by"]));
    assert_warned(&stderr, "treatment_appointments", "sort_by");
    // The keyset's first page showed the order ignored: one page more than the bound.
    let e = entry(&m, "treatment_appointments");
    let made = list_requests(&sb, "/v1/treatment_appointments") as f64;
    assert!(
        made <= bound(rows, &e["paging"], 1) + 1.0,
        "{made} requests"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dated_tiles_read_payments_exactly_once() {
    // payments: `dated_after`/`dated_before` on `dated_on` (C+), day by day at worst.
    let sb = walled(6.0, |_| {}).await;
    let dir = tempfile::tempdir().unwrap();
    let (code, stderr, m) = run(dir.path(), &sb, &["payments"], "offset_wall = 1000").await;
    assert_eq!(code, 0, "{stderr}");
    let rows = assert_exact(&dir.path().join("out"), &sb, "payments", "id");
    assert!(rows >= 10_000, "{rows} rows");
    let paging = &entry(&m, "payments")["paging"];
    assert_eq!(paging["routes"], serde_json::json!(["tiles(dated_on)"]));
    assert_within_bound(&sb, &m, "payments", rows);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn window_tiles_cut_appointment_slices_below_the_wall() {
    // appointments: month slices of `after`/`before`, cut by day where a month is too deep.
    let sb = walled(12.0, |_| {}).await;
    let dir = tempfile::tempdir().unwrap();
    let (code, stderr, m) = run(dir.path(), &sb, &["appointments"], "offset_wall = 1000").await;
    assert_eq!(code, 0, "{stderr}");
    let out = dir.path().join("out");
    let got = keys(&out, "appointments", "id");
    let unique: HashSet<&String> = got.iter().collect();
    assert_eq!(unique.len(), got.len(), "an appointment came twice");
    let e = entry(&m, "appointments");
    assert_eq!(
        e["total_count"].as_u64(),
        Some(got.len() as u64),
        "every appointment of the window"
    );
    assert!(got.len() >= 10_000, "{} rows", got.len());
    assert!(
        e["paging"]["routes"]
            .as_array()
            .unwrap()
            .contains(&serde_json::json!("tiles(start_time)")),
        "{}",
        e["paging"]
    );
    assert!(e["paging"]["tiles"].as_u64().unwrap() > e["slices"].as_u64().unwrap());
    assert_within_bound(&sb, &m, "appointments", got.len());
}

/// The run warned, naming the resource and the filter.
fn assert_warned(stderr: &str, resource: &str, filter: &str) {
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|l| {
            l.contains("WARN")
                && l.contains("ignored")
                && l.contains(resource)
                && l.contains(filter)
        })
        .collect();
    assert_eq!(
        lines.len(),
        1,
        "one warning for {resource} {filter}:\n{stderr}"
    );
}

/// With the extractor planning for a wall at 1,000 rows (so it relies on its filters) and the
/// sandbox ignoring `filter` on `resource` (with no wall, so a plain read can finish), the output
/// is exact, the warning names both, and the manifest records it.
async fn ignored_filter_case(resource: &str, filter: &str, scale: f64, key: &str) {
    let pattern = format!("{resource}:{filter}");
    let sb = walled(scale, |c| {
        c.deep_offset = None;
        c.ignore_filters.push(pattern);
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let (code, stderr, m) = run(dir.path(), &sb, &[resource], "offset_wall = 1000").await;
    assert_eq!(code, 0, "{stderr}");
    assert_exact(&dir.path().join("out"), &sb, resource, key);
    assert_warned(&stderr, resource, filter);
    let ignored = &entry(&m, resource)["paging"]["ignored_filters"];
    assert!(
        ignored.as_array().unwrap().contains(&Value::from(filter)),
        "{resource}: {ignored}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ignored_updated_after_is_found_and_read_around() {
    ignored_filter_case("treatment_appointments", "updated_after", 2.0, "id").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ignored_updated_before_is_found_and_read_around() {
    // sort_by ignored too, so the read relies on updated tiles.
    let sb = walled(2.0, |c| {
        c.deep_offset = None;
        c.sort_ignored.push("treatment_plans".into());
        c.ignore_filters
            .push("treatment_plans:updated_before".into());
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let (code, stderr, m) = run(dir.path(), &sb, &["treatment_plans"], "offset_wall = 1000").await;
    assert_eq!(code, 0, "{stderr}");
    assert_exact(&dir.path().join("out"), &sb, "treatment_plans", "id");
    assert_warned(&stderr, "treatment_plans", "updated_before");
    let ignored = &entry(&m, "treatment_plans")["paging"]["ignored_filters"];
    assert_eq!(*ignored, serde_json::json!(["sort_by", "updated_before"]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ignored_created_after_is_found_and_read_around() {
    ignored_filter_case("patients", "created_after", 2.0, "id").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ignored_created_before_is_found_and_read_around() {
    ignored_filter_case("patients", "created_before", 2.0, "id").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ignored_dated_after_is_found_and_read_around() {
    ignored_filter_case("payments", "dated_after", 1.0, "id").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ignored_dated_before_is_found_and_read_around() {
    ignored_filter_case("payments", "dated_before", 1.0, "id").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unstable_patient_stats_are_recovered_per_patient() {
    // The default sandbox: patient_stats pages serve rows twice and skip as many.
    let sb = sandbox::spawn(SandboxConfig::default().with_scale(2.0))
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (code, stderr, m) = run(dir.path(), &sb, &["patients", "patient_stats"], "").await;
    assert_eq!(code, 0, "{stderr}");
    let out = dir.path().join("out");
    let rows = assert_exact(&out, &sb, "patient_stats", "patient_id");
    assert_eq!(
        rows,
        keys(&out, "patients", "id").len(),
        "one row per patient"
    );
    let paging = &entry(&m, "patient_stats")["paging"];
    let recovered = paging["recovered"].as_u64().unwrap();
    assert!(recovered > 0, "instability skipped rows: {paging}");
    assert_eq!(
        paging["recovered_by"],
        serde_json::json!(["GET /v1/patients/{id}/stats"])
    );
    let per_patient = sb
        .requests()
        .iter()
        .filter(|r| r.path.ends_with("/stats"))
        .count() as u64;
    assert_eq!(paging["recovery_requests"].as_u64(), Some(per_patient));
    assert!(
        per_patient <= 2 * recovered + 20,
        "{per_patient} requests for {recovered} rows"
    );
    // The patients' ids came from the run, not from a second listing.
    assert_eq!(
        list_requests(&sb, "/v1/patients"),
        entry(&m, "patients")["pages"].as_u64().unwrap() as usize
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unstable_pages_of_a_tiled_list_are_recovered_by_narrow_windows() {
    let sb = walled(2.0, |c| {
        c.unstable_paging.push("treatment_plan_items".into())
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let (code, stderr, m) = run(
        dir.path(),
        &sb,
        &["treatment_plan_items"],
        "offset_wall = 1000",
    )
    .await;
    assert_eq!(code, 0, "{stderr}");
    let rows = assert_exact(&dir.path().join("out"), &sb, "treatment_plan_items", "id");
    let paging = &entry(&m, "treatment_plan_items")["paging"];
    assert!(paging["recovered"].as_u64().unwrap() > 0, "{paging}");
    assert_eq!(
        paging["recovered_by"],
        serde_json::json!(["narrow tiles on updated_at"])
    );
    let spent = paging["recovery_requests"].as_u64().unwrap();
    assert!(spent <= 3 * rows.div_ceil(100) as u64 + 20, "{spent}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kill_in_the_middle_of_a_keyset_sequence_rereads_only_pages_in_flight() {
    let config = |c: &mut SandboxConfig| c.latency = std::time::Duration::from_millis(10);
    let source = "offset_wall = 1000\nconcurrency = 2\ncheckpoint_pages = 1\ncheckpoint_secs = 0";
    let clean = walled(5.0, config).await;
    let dir = tempfile::tempdir().unwrap();
    let (code, stderr, _) = run(dir.path(), &clean, &["treatment_appointments"], source).await;
    assert_eq!(code, 0, "{stderr}");
    let clean_requests = list_requests(&clean, "/v1/treatment_appointments");

    let sb = walled(5.0, config).await;
    let dir = tempfile::tempdir().unwrap();
    let p = crate::common::pipeline(
        dir.path(),
        &sb.base_url(),
        &["treatment_appointments"],
        "parquet",
        source,
    );
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_dentally-etl"))
        .args(["--quiet", "run", p.to_str().unwrap()])
        .env("DENTALLY_API_TOKEN", "sandbox-read")
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Kill once the checkpoint is past the third keyset restart.
    let progress = dir.path().join("out/_state/test.progress.json");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let restarts = std::fs::read_to_string(&progress)
            .ok()
            .and_then(|t| serde_json::from_str::<Value>(&t).ok())
            .and_then(|v| {
                v.pointer("/checkpoints/treatment_appointments/partial/paging/restarts")
                    .or_else(|| v.pointer("/treatment_appointments/partial/paging/restarts"))
                    .and_then(Value::as_u64)
            });
        if restarts.is_some_and(|r| r >= 3) || std::time::Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    child.start_kill().unwrap();
    let _ = child.wait().await;
    let (code, _, stderr) = run_bin(
        &["run", p.to_str().unwrap()],
        &[("DENTALLY_API_TOKEN", "sandbox-read")],
    )
    .await;
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains("Resuming"),
        "the rerun resumed the sequence: {stderr}"
    );
    assert_exact(&dir.path().join("out"), &sb, "treatment_appointments", "id");
    // Pages in flight when killed: 2 fetched, 2 queued, 1 being written.
    let made = list_requests(&sb, "/v1/treatment_appointments");
    assert!(
        made <= clean_requests + 5,
        "{made} requests over both runs; a clean run makes {clean_requests}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ignored_dated_on_bounds_of_invoices_are_found_and_read_around() {
    // sort_by ignored too, so the read relies on the dated_on tiles.
    let sb = walled(2.0, |c| {
        c.deep_offset = None;
        c.sort_ignored.push("invoices".into());
        c.ignore_filters.push("invoices:dated_on_before".into());
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let (code, stderr, m) = run(dir.path(), &sb, &["invoices"], "offset_wall = 1000").await;
    assert_eq!(code, 0, "{stderr}");
    assert_exact(&dir.path().join("out"), &sb, "invoices", "id");
    assert_warned(&stderr, "invoices", "dated_on_before");
    let ignored = &entry(&m, "invoices")["paging"]["ignored_filters"];
    assert_eq!(*ignored, serde_json::json!(["sort_by", "dated_on_before"]));
}

/// With `before` ignored on the windowed `resource` (dated by `field`), the output is exactly the
/// window's rows, each once, and the warning names both. An ignored `after` leaves nothing to
/// read (without it the live API answers no rows, as the sandbox models it): appointments read
/// around it (`an_ignored_window_start_is_found_and_read_around`), rota days cannot
/// (`missing::an_ignored_rota_start_keeps_the_rows_read_before`).
async fn ignored_window_before_case(resource: &str, field: &str) {
    let sb = walled(2.0, |c| {
        c.deep_offset = None;
        c.ignore_filters.push(format!("{resource}:before"));
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let (code, stderr, m) = run(dir.path(), &sb, &[resource], "offset_wall = 1000").await;
    assert_eq!(code, 0, "{resource}: {stderr}");
    let got = keys(&dir.path().join("out"), resource, "id");
    let unique: HashSet<&String> = got.iter().collect();
    assert_eq!(unique.len(), got.len(), "{resource}: a row came twice");
    // Exactly the rows of the window (cancelled appointments included).
    let today = chrono::Utc::now().date_naive();
    let (from, to) = (
        today - chrono::Days::new(400),
        today + chrono::Days::new(90),
    );
    let truth = sb.truth(1, resource);
    let day_of = |r: &Value| r[field].as_str().unwrap()[..10].to_string();
    let want: HashSet<String> = truth
        .iter()
        .filter(|r| day_of(r) >= from.to_string() && day_of(r) < to.to_string())
        .map(|r| r["id"].to_string())
        .collect();
    assert!(want.len() > 100, "{resource}: too few rows to test");
    // Every row of the window; beyond it, at most those of the day after its end (the clip
    // keeps a day of slack: the API may read a date bound as local midnight).
    let missing = want.iter().filter(|k| !unique.contains(k)).count();
    assert_eq!(missing, 0, "{resource}: rows of the window missing");
    let day_after = (to + chrono::Days::new(1)).to_string();
    let slack: HashSet<String> = truth
        .iter()
        .filter(|r| day_of(r) >= from.to_string() && day_of(r) <= day_after)
        .map(|r| r["id"].to_string())
        .collect();
    assert!(
        unique.iter().all(|k| slack.contains(*k)),
        "{resource}: a row far outside the window"
    );
    assert_warned(&stderr, resource, "before");
    let e = entry(&m, resource);
    assert!(
        e["paging"]["ignored_filters"]
            .as_array()
            .unwrap()
            .contains(&Value::from("before")),
        "{resource}: {}",
        e["paging"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ignored_appointment_window_bound_keeps_the_window_exact() {
    ignored_window_before_case("appointments", "start_time").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ignored_rota_window_bound_keeps_the_window_exact() {
    ignored_window_before_case("rota_practitioner_diaries", "day").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ignored_treatment_id_keeps_each_fee_once() {
    // Per-treatment slices of `fees`: with `treatment_id` ignored, each slice answers every fee;
    // each keeps its treatment's, and the total still proves completeness.
    ignored_filter_case("fees", "treatment_id", 1.0, "id").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ignored_dated_on_after_of_invoices_is_found_and_read_around() {
    let sb = walled(2.0, |c| {
        c.deep_offset = None;
        c.sort_ignored.push("invoices".into());
        c.ignore_filters.push("invoices:dated_on_after".into());
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let (code, stderr, m) = run(dir.path(), &sb, &["invoices"], "offset_wall = 1000").await;
    assert_eq!(code, 0, "{stderr}");
    assert_exact(&dir.path().join("out"), &sb, "invoices", "id");
    assert_warned(&stderr, "invoices", "dated_on_after");
    let ignored = &entry(&m, "invoices")["paging"]["ignored_filters"];
    assert_eq!(*ignored, serde_json::json!(["sort_by", "dated_on_after"]));
}

/// `after` ignored: without its start the appointment list answers nothing, which looks like an
/// empty diary. Two counts tell the difference; the window is then read by keyset on
/// `updated_at` from the epoch, each slice clipped to its start: every appointment of the window
/// once (and at most those of the day before it: the clip keeps a day of slack), the warning
/// names the filter, and the manifest records it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ignored_window_start_is_found_and_read_around() {
    let sb = walled(2.0, |c| {
        c.deep_offset = None;
        c.ignore_filters.push("appointments:after".into());
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let (code, stderr, m) = run(dir.path(), &sb, &["appointments"], "offset_wall = 1000").await;
    assert_eq!(code, 0, "{stderr}");
    let got = keys(&dir.path().join("out"), "appointments", "id");
    let unique: HashSet<&String> = got.iter().collect();
    assert_eq!(unique.len(), got.len(), "an appointment came twice");
    let today = chrono::Utc::now().date_naive();
    let (from, to) = (
        today - chrono::Days::new(400),
        today + chrono::Days::new(90),
    );
    let truth = sb.truth(1, "appointments");
    let day_of = |r: &Value| r["start_time"].as_str().unwrap()[..10].to_string();
    let want: HashSet<String> = truth
        .iter()
        .filter(|r| day_of(r) >= from.to_string() && day_of(r) < to.to_string())
        .map(|r| r["id"].to_string())
        .collect();
    assert!(want.len() > 100, "too few appointments to test");
    let missing = want.iter().filter(|k| !unique.contains(k)).count();
    assert_eq!(missing, 0, "appointments of the window missing");
    let day_before = (from - chrono::Days::new(1)).to_string();
    let slack: HashSet<String> = truth
        .iter()
        .filter(|r| day_of(r) >= day_before && day_of(r) < to.to_string())
        .map(|r| r["id"].to_string())
        .collect();
    assert!(
        unique.iter().all(|k| slack.contains(*k)),
        "an appointment far outside the window"
    );
    assert_warned(&stderr, "appointments", "`after`");
    let e = entry(&m, "appointments");
    assert!(
        e["paging"]["ignored_filters"]
            .as_array()
            .unwrap()
            .contains(&Value::from("after")),
        "{}",
        e["paging"]
    );
}
