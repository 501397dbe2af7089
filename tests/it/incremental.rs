//! Nightly incremental runs: deltas merged by key, windows re-read, deletions reconciled, and a
//! crash between the data and the state.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

use arrow::array::{Array, AsArray};
use arrow::compute::concat_batches;
use arrow::datatypes::{DataType, Int64Type};
use arrow::record_batch::RecordBatch;
use dentally_etl::sandbox::{self, SandboxConfig, SandboxHandle};

use crate::common::{read_table, run_bin};

mod unpublished;

const RESOURCES: &[&str] = &[
    "patients",
    "appointments",
    "invoices",
    "payments",
    "accounts",
];

fn pipeline(dir: &Path, base: &str, out: &str, mode: &str) -> PathBuf {
    let mut text = format!(
        "name = \"nightly\"\n[source]\nbase_url = \"{base}\"\ntoken_env = \"DENTALLY_API_TOKEN\"\n\
         [output]\nurl = \"{}\"\n[defaults]\nmode = \"{mode}\"\nlag_secs = 60\n",
        dir.join(out).display()
    );
    for r in RESOURCES {
        text.push_str(&format!("\n[[resources]]\nname = \"{r}\"\n"));
        if *r == "appointments" {
            text.push_str("window = { from = \"-30d\", to = \"+90d\" }\n");
        }
    }
    let path = dir.join(format!("{out}-{mode}.toml"));
    std::fs::write(&path, text).unwrap();
    path
}

async fn run(p: &Path, extra: &[&str], env: &[(&str, &str)]) -> (i32, String) {
    let mut args = vec!["--quiet", "run", p.to_str().unwrap()];
    args.extend_from_slice(extra);
    let mut envs = vec![("DENTALLY_API_TOKEN", "sandbox-read")];
    envs.extend_from_slice(env);
    let (code, _, stderr) = run_bin(&args, &envs).await;
    (code, stderr)
}

/// Rows of a table by key (`id`), each row as its columns' display text, `_deleted_at` apart.
fn rows(out: &Path, table: &str) -> BTreeMap<i64, (Vec<String>, bool)> {
    let batches = read_table(out, table);
    let batch: RecordBatch = concat_batches(&batches[0].schema(), &batches).unwrap();
    let ids = batch
        .column_by_name("id")
        .unwrap()
        .as_primitive::<Int64Type>();
    let deleted = batch.column_by_name("_deleted_at").unwrap();
    let opts = arrow::util::display::FormatOptions::default();
    let formatters: Vec<_> = batch
        .schema()
        .fields()
        .iter()
        .zip(batch.columns())
        .filter(|(f, _)| f.name() != "_deleted_at")
        .map(|(_, c)| arrow::util::display::ArrayFormatter::try_new(c.as_ref(), &opts).unwrap())
        .collect();
    let mut out = BTreeMap::new();
    for i in 0..batch.num_rows() {
        let values = formatters.iter().map(|f| f.value(i).to_string()).collect();
        assert!(
            out.insert(ids.value(i), (values, deleted.is_valid(i)))
                .is_none(),
            "{table}: key {} twice",
            ids.value(i)
        );
    }
    out
}

fn truth_keys(sb: &SandboxHandle, resource: &str) -> HashSet<i64> {
    sb.truth(1, resource)
        .iter()
        .map(|r| r["id"].as_i64().unwrap())
        .collect()
}

async fn total(sb: &SandboxHandle, path_and_query: &str) -> u64 {
    crate::common::total_count(&sb.base_url(), path_and_query).await
}

fn state(out: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(out.join("_state/nightly.json")).unwrap())
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nightly_run_reads_only_changes_and_merges_them_by_key() {
    let sb = sandbox::spawn(SandboxConfig::default().with_scale(0.5))
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let p = pipeline(dir.path(), &sb.base_url(), "inc", "incremental");
    let (code, stderr) = run(&p, &[], &[]).await;
    assert_eq!(code, 0, "{stderr}");
    let before: HashMap<&str, HashSet<i64>> =
        RESOURCES.iter().map(|r| (*r, truth_keys(&sb, r))).collect();
    let cursors = state(&dir.path().join("inc"));

    sb.advance(1).await;
    sb.clear_requests();
    let (code, stderr) = run(&p, &[], &[]).await;
    assert_eq!(code, 0, "{stderr}");
    let made = sb.requests();

    // Requests: the preflight, then per cursor resource the pages of rows updated since the
    // cursor (minus the lag; appointments too, not their window), payments' pages dated since
    // their `dated_on` cursor minus the 7-day lookback, and full reads where there is no cursor.
    let pages = |n: u64| n.div_ceil(100).max(1);
    let mut expected = 1;
    for r in ["patients", "invoices", "appointments", "payments"] {
        let cursor = chrono::DateTime::parse_from_rfc3339(
            cursors["resources"][r]["cursor"].as_str().unwrap(),
        )
        .unwrap();
        let (param, since) = if r == "payments" {
            let day = cursor.date_naive().min(chrono::Utc::now().date_naive());
            let day = day - chrono::Days::new(7);
            ("dated_after", day.format("%Y-%m-%d").to_string())
        } else {
            let since = (cursor - chrono::Duration::seconds(60))
                .with_timezone(&chrono::Utc)
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
            ("updated_after", since)
        };
        let required = if r == "appointments" {
            "&cancelled=true"
        } else {
            ""
        };
        let n = total(
            &sb,
            &format!("/v1/{r}?per_page=1{required}&{param}={since}"),
        )
        .await;
        assert!(
            n < before[r].len() as u64 / 2,
            "{r}: a delta, not everything ({n})"
        );
        expected += pages(n);
        // Count-guided reconciliation (the default for patients and invoices) adds a few
        // requests with its own range filter: one count per 10,000 rows plus, after a deletion,
        // a bisection step or two, a page and the check of rows updated meanwhile.
        let counting = match r {
            "patients" => Some("created_after="),
            "invoices" => Some("dated_on_after="),
            _ => None,
        };
        let of_r: Vec<_> = made
            .iter()
            .filter(|q| q.path == format!("/v1/{r}"))
            .collect();
        // Requests of count-guided reconciliation: counts over ranges (its own filter), one
        // unfiltered count (`per_page=1`, no filter) and the check of rows updated meanwhile.
        let reconciling = |q: &&&dentally_etl::sandbox::LoggedRequest| {
            counting.is_some_and(|c| {
                q.query.contains(c)
                    || (q.query.contains("per_page=1") && !q.query.contains(&format!("{param}=")))
            })
        };
        let extra = match counting {
            Some(_) => of_r.len() as u64 - pages(n).min(of_r.len() as u64),
            None => 0,
        };
        assert!(extra <= 14, "{r}: {extra} requests beyond the delta");
        expected += extra;
        assert!(
            of_r.iter()
                .filter(|q| !reconciling(q))
                .all(|q| q.query.contains(&format!("{param}="))),
            "{r} asked with {param}"
        );
    }
    expected += pages(sb.truth(1, "accounts").len() as u64);
    let made_data = made
        .iter()
        .filter(|r| !r.path.starts_with("/_sandbox"))
        .count() as u64;
    assert_eq!(made_data, expected, "run 2's requests");

    // Values: the merged tables equal a fresh full read of the advanced sandbox, for every key
    // the API still lists; the only extra keys are rows deleted since run 1.
    let full = pipeline(dir.path(), &sb.base_url(), "full", "full");
    let (code, stderr) = run(&full, &[], &[]).await;
    assert_eq!(code, 0, "{stderr}");
    for table in [
        "patients",
        "invoices",
        "payments",
        "payments__explanations",
        "accounts",
        "appointments",
    ] {
        if table.contains("__") {
            continue; // child rows carry no `id`; covered through their parents below
        }
        let merged = rows(&dir.path().join("inc"), table);
        let fresh = rows(&dir.path().join("full"), table);
        let now_keys = truth_keys(&sb, table);
        for (key, values) in &fresh {
            assert_eq!(
                merged.get(key).map(|v| &v.0),
                Some(&values.0),
                "{table} key {key}"
            );
        }
        let deleted: HashSet<i64> = before[table].difference(&now_keys).copied().collect();
        for key in merged.keys().filter(|k| !fresh.contains_key(k)) {
            let in_window_or_deleted = deleted.contains(key) || table == "appointments";
            assert!(
                in_window_or_deleted,
                "{table}: key {key} is neither listed nor deleted"
            );
        }
    }
    let explanations = |out: &str| {
        read_table(&dir.path().join(out), "payments__explanations")
            .iter()
            .map(RecordBatch::num_rows)
            .sum::<usize>()
    };
    let deleted_payments: HashSet<i64> = before["payments"]
        .difference(&truth_keys(&sb, "payments"))
        .copied()
        .collect();
    if deleted_payments.is_empty() {
        assert_eq!(explanations("inc"), explanations("full"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconciling_marks_deleted_rows_and_changes_nothing_else() {
    let sb = sandbox::spawn(SandboxConfig::default().with_scale(0.5))
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let p = pipeline(dir.path(), &sb.base_url(), "inc", "incremental");
    assert_eq!(run(&p, &[], &[]).await.0, 0);
    let before: HashMap<&str, HashSet<i64>> =
        RESOURCES.iter().map(|r| (*r, truth_keys(&sb, r))).collect();
    sb.advance(3).await;
    assert_eq!(run(&p, &[], &[]).await.0, 0);
    let out = dir.path().join("inc");
    let after_delta: HashMap<&str, BTreeMap<i64, (Vec<String>, bool)>> =
        ["patients", "invoices", "payments"]
            .iter()
            .map(|t| (*t, rows(&out, t)))
            .collect();
    let (code, stderr) = run(&p, &["--reconcile-deletes"], &[]).await;
    assert_eq!(code, 0, "{stderr}");
    let mut marked_somewhere = false;
    for table in ["patients", "invoices", "payments"] {
        let deleted: HashSet<i64> = before[table]
            .difference(&truth_keys(&sb, table))
            .copied()
            .collect();
        let reconciled = rows(&out, table);
        for (key, (values, is_deleted)) in &reconciled {
            assert_eq!(
                *is_deleted,
                deleted.contains(key),
                "{table} key {key}: deleted mark"
            );
            assert_eq!(
                Some(values),
                after_delta[table].get(key).map(|v| &v.0),
                "{table} key {key}: values unchanged"
            );
        }
        assert_eq!(
            reconciled.len(),
            after_delta[table].len(),
            "{table}: no row added or lost"
        );
        marked_somewhere |= !deleted.is_empty();
    }
    assert!(marked_somewhere, "the sandbox deleted rows in three days");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_between_the_data_and_the_state_loses_and_duplicates_nothing() {
    let sb = sandbox::spawn(SandboxConfig::default().with_scale(0.3))
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let p = pipeline(dir.path(), &sb.base_url(), "inc", "incremental");
    assert_eq!(run(&p, &[], &[]).await.0, 0);
    sb.advance(1).await;
    for point in ["after-raw", "after-manifest"] {
        let (code, _) = run(&p, &[], &[("DENTALLY_ETL_TEST_CRASH", point)]).await;
        assert_ne!(code, 0, "the crash hook fired at {point}");
    }
    let (code, stderr) = run(&p, &[], &[]).await;
    assert_eq!(code, 0, "{stderr}");
    let full = pipeline(dir.path(), &sb.base_url(), "full", "full");
    assert_eq!(run(&full, &[], &[]).await.0, 0);
    for table in ["patients", "invoices", "payments", "accounts"] {
        let merged = rows(&dir.path().join("inc"), table);
        let fresh = rows(&dir.path().join("full"), table);
        for (key, values) in &fresh {
            assert_eq!(
                merged.get(key).map(|v| &v.0),
                Some(&values.0),
                "{table} key {key}"
            );
        }
        assert!(merged.len() >= fresh.len());
    }
    let batches = read_table(&dir.path().join("inc"), "payments__explanations");
    let mut seen = HashSet::new();
    for b in &batches {
        let parent = b.column_by_name("payment_id").unwrap();
        assert_eq!(parent.data_type(), &DataType::Int64);
        let idx = b
            .column_by_name("_idx")
            .unwrap()
            .as_primitive::<Int64Type>();
        for i in 0..b.num_rows() {
            assert!(
                seen.insert((parent.as_primitive::<Int64Type>().value(i), idx.value(i))),
                "child row twice"
            );
        }
    }
}

/// A delta's cursor filter the API ignores (as `/payments` does `updated_after`): the run reads
/// the whole list, says so once naming the resource and filter, records it in the manifest, and
/// the merge is exactly a fresh full read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ignored_cursor_filter_is_said_and_the_merge_stays_exact() {
    let sb = sandbox::spawn(SandboxConfig {
        ignore_filters: vec![
            "patients:updated_after".into(),
            "invoices:updated_after".into(),
        ],
        ..SandboxConfig::default().with_scale(0.5)
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let p = pipeline(dir.path(), &sb.base_url(), "inc", "incremental");
    let (code, stderr) = run(&p, &[], &[]).await;
    assert_eq!(code, 0, "{stderr}");
    sb.advance(1).await;
    let (code, stderr) = run(&p, &[], &[]).await;
    assert_eq!(code, 0, "{stderr}");
    let out = dir.path().join("inc");
    let latest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("_runs/latest.json")).unwrap()).unwrap();
    let manifest: serde_json::Value = serde_json::from_slice(
        &std::fs::read(out.join(latest["manifest"].as_str().unwrap())).unwrap(),
    )
    .unwrap();
    for resource in ["patients", "invoices"] {
        let warned = stderr
            .lines()
            .filter(|l| l.contains("ignored") && l.contains(resource))
            .filter(|l| l.contains("updated_after"))
            .count();
        assert_eq!(warned, 1, "one warning for {resource}:\n{stderr}");
        let entry = manifest["resources"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["name"] == resource)
            .unwrap();
        assert_eq!(
            entry["paging"]["ignored_filters"],
            serde_json::json!(["updated_after"]),
            "{resource}: {}",
            entry["paging"]
        );
        // The whole list was read: every row the API lists now.
        assert_eq!(
            entry["rows"].as_u64().unwrap(),
            sb.truth(1, resource).len() as u64,
            "{resource}: {entry}"
        );
    }
    // No warning where the filter was honoured.
    assert!(
        !stderr
            .lines()
            .any(|l| l.contains("ignored") && l.contains("`accounts`")),
        "{stderr}"
    );
    let full = pipeline(dir.path(), &sb.base_url(), "full", "full");
    let (code, stderr) = run(&full, &[], &[]).await;
    assert_eq!(code, 0, "{stderr}");
    for table in ["patients", "invoices"] {
        let merged = rows(&out, table);
        let fresh = rows(&dir.path().join("full"), table);
        for (key, values) in &fresh {
            assert_eq!(
                merged.get(key).map(|v| &v.0),
                Some(&values.0),
                "{table} key {key}"
            );
        }
    }
}
