//! Read strategies against the sandbox's default (live-like) behaviour: appointments read by
//! `updated_after` with `cancelled=true`, payments by `dated_after`, windows sized, and the
//! requests each costs counted from the sandbox's log.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use arrow::array::{Array, AsArray};
use arrow::datatypes::Int64Type;
use dentally_etl::sandbox::{self, SandboxConfig, SandboxHandle};

use crate::common::{read_table, run_bin};

fn pipeline(dir: &Path, base: &str, mode: &str, entries: &str) -> PathBuf {
    let text = format!(
        "name = \"nightly\"\n[source]\nbase_url = \"{base}\"\ntoken_env = \"DENTALLY_API_TOKEN\"\n\
         [output]\nurl = \"{}\"\n[defaults]\nmode = \"{mode}\"\nlag_secs = 60\n{entries}",
        dir.join("out").display()
    );
    let path = dir.join(format!("{mode}.toml"));
    std::fs::write(&path, text).unwrap();
    path
}

async fn run(p: &Path, extra: &[&str]) {
    let mut args = vec!["--quiet", "run", p.to_str().unwrap()];
    args.extend_from_slice(extra);
    let (code, _, stderr) = run_bin(&args, &[("DENTALLY_API_TOKEN", "sandbox-read")]).await;
    assert_eq!(code, 0, "{stderr}");
}

/// `(state, deleted)` of each appointment of the current table, by id.
fn appointments(out: &Path) -> BTreeMap<i64, (String, bool)> {
    let mut rows = BTreeMap::new();
    for b in read_table(out, "appointments") {
        let ids = b.column_by_name("id").unwrap().as_primitive::<Int64Type>();
        let states = b.column_by_name("state").unwrap().as_string::<i32>();
        let deleted = b.column_by_name("_deleted_at").unwrap();
        for i in 0..b.num_rows() {
            let state = states.is_valid(i).then(|| states.value(i).to_string());
            let row = (state.unwrap_or_default(), deleted.is_valid(i));
            assert!(rows.insert(ids.value(i), row).is_none(), "id twice");
        }
    }
    rows
}

/// Requests of this run to `path` (control routes are never logged).
fn requests_to(sb: &SandboxHandle, path: &str) -> Vec<String> {
    sb.requests()
        .into_iter()
        .filter(|r| r.path == path)
        .map(|r| r.query)
        .collect()
}

const APPOINTMENTS_30_90: &str =
    "[[resources]]\nname = \"appointments\"\nwindow = { from = \"-30d\", to = \"+90d\" }\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_appointment_gets_its_new_state_and_is_never_marked_deleted() {
    let sb = sandbox::spawn(SandboxConfig::default().with_scale(0.5))
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let p = pipeline(
        dir.path(),
        &sb.base_url(),
        "incremental",
        APPOINTMENTS_30_90,
    );
    run(&p, &[]).await;
    let out = dir.path().join("out");
    let first = appointments(&out);
    // Cancelled and DNA rows arrive on the first run: the window's share of them, all of them.
    let absent: Vec<i64> = sb
        .truth(1, "appointments")
        .iter()
        .filter(|a| matches!(a["state"].as_str(), Some("Cancelled" | "Did not attend")))
        .filter_map(|a| a["id"].as_i64())
        .filter(|id| !first.contains_key(id))
        .collect();
    let settled = first
        .values()
        .filter(|(s, _)| s == "Cancelled" || s == "Did not attend")
        .count();
    assert!(settled > 0, "cancelled/DNA appointments in the first read");
    let requests = requests_to(&sb, "/v1/appointments");
    assert!(
        requests.iter().all(|q| q.contains("cancelled=true")),
        "every appointments request asks for cancelled rows: {requests:?}"
    );
    // Rows outside the window are not expected; inside it every settled row is read.
    let inside = |id: &i64| {
        let min = first.keys().next().copied().unwrap_or(0);
        let max = first.keys().last().copied().unwrap_or(0);
        (min..=max).contains(id)
    };
    assert!(
        absent.iter().filter(|id| inside(id)).count() == 0,
        "cancelled/DNA rows inside the window missing: {absent:?}"
    );

    // Simulate days until an appointment read live in run 1 is cancelled.
    let mut cancelled = None;
    for _ in 0..20 {
        sb.advance(1).await;
        cancelled = sb
            .truth(1, "appointments")
            .iter()
            .filter(|a| a["state"] == "Cancelled")
            .filter_map(|a| a["id"].as_i64())
            .find(|id| first.get(id).is_some_and(|(s, _)| s != "Cancelled"));
        if cancelled.is_some() {
            break;
        }
    }
    let cancelled = cancelled.expect("the sandbox cancels a booked appointment within 20 days");
    sb.clear_requests();
    run(&p, &[]).await;
    let requests = requests_to(&sb, "/v1/appointments");
    assert!(
        requests
            .iter()
            .all(|q| q.contains("updated_after=") && !q.contains("before=")),
        "run 2 reads changes only, not the window: {requests:?}"
    );
    let second = appointments(&out);
    assert_eq!(second[&cancelled], ("Cancelled".to_string(), false));

    // The reconciling window re-read marks only vanished rows deleted, never a cancelled one.
    run(&p, &["--reconcile-deletes"]).await;
    let third = appointments(&out);
    let live: std::collections::HashSet<i64> = sb
        .truth(1, "appointments")
        .iter()
        .filter_map(|a| a["id"].as_i64())
        .collect();
    assert_eq!(third[&cancelled], ("Cancelled".to_string(), false));
    for (id, (state, deleted)) in &third {
        if *deleted {
            assert!(
                !live.contains(id),
                "{id} ({state}) is live but marked deleted"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nightly_payments_cost_requests_in_proportion_to_new_payments() {
    let sb = sandbox::spawn(SandboxConfig::default().with_scale(2.0))
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let p = pipeline(
        dir.path(),
        &sb.base_url(),
        "incremental",
        "[[resources]]\nname = \"payments\"\nlookback_days = 3\n",
    );
    run(&p, &[]).await;
    let state: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("out/_state/nightly.json")).unwrap(),
    )
    .unwrap();
    let cursor = chrono::DateTime::parse_from_rfc3339(
        state["resources"]["payments"]["cursor"].as_str().unwrap(),
    )
    .unwrap()
    .date_naive();
    sb.advance(2).await;
    sb.clear_requests();
    run(&p, &[]).await;
    let made = requests_to(&sb, "/v1/payments");
    let since = (cursor - chrono::Days::new(3))
        .format("%Y-%m-%d")
        .to_string();
    assert!(
        made.iter()
            .all(|q| q.contains(&format!("dated_after={since}")) && !q.contains("updated_after")),
        "{made:?}"
    );
    // The bound: the pages of the payments dated since the cursor less the lookback, plus one
    // partial page. A full re-read would cost ceil(all / 100).
    let truth = sb.truth(1, "payments");
    let recent = truth
        .iter()
        .filter(|p| p["dated_on"].as_str().is_some_and(|d| d >= since.as_str()))
        .count() as u64;
    let all = truth.len() as u64;
    assert!(
        recent * 4 < all,
        "the lookback holds few payments ({recent} of {all})"
    );
    let bound = recent.div_ceil(100) + 1;
    assert!(
        made.len() as u64 <= bound,
        "{} requests for {recent} recent payments (bound {bound}; a full read is {})",
        made.len(),
        all.div_ceil(100)
    );
    // And the merged table holds every payment the API lists.
    let ids: std::collections::HashSet<i64> = read_table(&dir.path().join("out"), "payments")
        .iter()
        .flat_map(|b| {
            let c = b.column_by_name("id").unwrap().as_primitive::<Int64Type>();
            c.iter().flatten().collect::<Vec<_>>()
        })
        .collect();
    for p in &truth {
        assert!(
            ids.contains(&p["id"].as_i64().unwrap()),
            "payment {} lost",
            p["id"]
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fourteen_month_window_costs_its_pages_plus_one_per_slice() {
    let sb = sandbox::spawn(SandboxConfig::default().with_scale(3.0))
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let entry =
        "[[resources]]\nname = \"appointments\"\nwindow = { from = \"-365d\", to = \"+60d\" }\n";
    let p = pipeline(dir.path(), &sb.base_url(), "incremental", entry);
    run(&p, &[]).await;
    let rows = appointments(&dir.path().join("out")).len() as u64;
    let made = requests_to(&sb, "/v1/appointments").len() as u64;
    // 425 days with nothing measured yet: five slices of about three months, each costing at
    // most one partial page more than its rows need (monthly slices would cost 14 more).
    assert!(rows > 1_000, "a window worth slicing ({rows} rows)");
    let bound = rows.div_ceil(100) + 5;
    assert!(
        made <= bound,
        "{made} requests for {rows} rows (bound {bound})"
    );

    // The next window read is sized by the density the first one measured: at most
    // ceil(rows / 100) + the slices `windows` cuts for it.
    let today = chrono::Utc::now().date_naive();
    let (from, to) = (
        today - chrono::Days::new(365),
        today + chrono::Days::new(60),
    );
    let density = rows as f64 / (to - from).num_days() as f64;
    let slices = dentally_etl::extract::windows(from, to, "after", "before", Some(density)).len();
    sb.clear_requests();
    run(&p, &["--reconcile-deletes"]).await;
    let again = requests_to(&sb, "/v1/appointments").len() as u64;
    let bound = rows.div_ceil(100) + slices as u64;
    assert!(
        again <= bound,
        "{again} requests, {slices} slices (bound {bound})"
    );
}
