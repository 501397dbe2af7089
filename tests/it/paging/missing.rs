//! Filters no other read can replace: appointments' `cancelled=true` (nothing else lists the
//! Cancelled and Did-not-attend rows) and rota's `after` (without it the list answers nothing).
//! When the API ignores one, the run cannot deliver those rows; it must notice, keep every row
//! read before, mark none deleted, and exit 4 naming the resource and the filter.

use std::collections::HashSet;
use std::path::Path;

use serde_json::Value;

use super::{assert_warned, entry, keys, run, walled};
use crate::common::{read_table, run_bin};

/// Rows of `table` marked deleted.
fn marked_deleted(out: &Path, table: &str) -> usize {
    read_table(out, table)
        .iter()
        .map(|b| {
            let c = b.column_by_name("_deleted_at").unwrap();
            c.len() - c.null_count()
        })
        .sum()
}

/// Whether the manifest entry records `filter` as ignored.
fn recorded(e: &Value, filter: &str) -> bool {
    e["paging"]["ignored_filters"]
        .as_array()
        .is_some_and(|f| f.contains(&Value::from(filter)))
}

/// `cancelled=true` ignored: the Cancelled and Did-not-attend appointments are left out without
/// a sign. A large window read with none of them is warned about, naming the resource and the
/// filter, recorded in the manifest, and the resource is partial (exit 4); where the filter is
/// honoured nothing is said and the run succeeds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ignored_cancelled_is_told_by_its_missing_rows() {
    for ignored in [true, false] {
        let sb = walled(2.0, |c| {
            c.deep_offset = None;
            if ignored {
                c.ignore_filters.push("appointments:cancelled".into());
            }
        })
        .await;
        let dir = tempfile::tempdir().unwrap();
        let (code, stderr, m) = run(dir.path(), &sb, &["appointments"], "").await;
        let e = entry(&m, "appointments");
        assert!(e["rows"].as_u64().unwrap() >= 500, "{e}");
        if ignored {
            assert_eq!(code, 4, "{stderr}");
            assert_warned(&stderr, "appointments", "cancelled");
            assert!(recorded(e, "cancelled"), "{}", e["paging"]);
            assert_eq!(e["status"], "partial", "{e}");
            let error = e["error"].as_str().unwrap();
            assert!(
                error.contains("`cancelled`") && error.contains("appointments"),
                "{error}"
            );
        } else {
            assert_eq!(code, 0, "{stderr}");
            assert!(!stderr.contains("`cancelled`"), "{stderr}");
            assert!(!recorded(e, "cancelled"), "{}", e["paging"]);
            assert_eq!(e["status"], "succeeded", "{e}");
        }
    }
}

/// Writes an incremental pipeline reading `resource` over a 490-day window from `base`.
fn incremental(dir: &Path, base: &str, resource: &str) -> std::path::PathBuf {
    let text = format!(
        "name = \"w\"\n[source]\nbase_url = \"{base}\"\ntoken_env = \"DENTALLY_API_TOKEN\"\n\
         [output]\nurl = \"{}\"\n[defaults]\nmode = \"incremental\"\n\n\
         [[resources]]\nname = \"{resource}\"\nwindow = {{ from = \"-400d\", to = \"+90d\" }}\n",
        dir.join("out").display()
    );
    let p = dir.join("w.toml");
    std::fs::write(&p, text).unwrap();
    p
}

/// A reconciling window read that is known to have missed rows (`cancelled=true` ignored: no
/// Cancelled or Did-not-attend row came back) marks nothing deleted and loses nothing: those
/// rows still exist, and a `purge` would otherwise erase them. The table after it holds every
/// row the honest read had.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_missing_rows_marks_nothing_deleted() {
    let honest = walled(2.0, |c| c.deep_offset = None).await;
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let env = [("DENTALLY_API_TOKEN", "sandbox-read")];
    let p = incremental(dir.path(), &honest.base_url(), "appointments");
    let (code, _, stderr) = run_bin(&["--quiet", "run", p.to_str().unwrap()], &env).await;
    assert_eq!(code, 0, "{stderr}");
    let before: HashSet<String> = keys(&out, "appointments", "id").into_iter().collect();
    // The same practice behind an API that ignores `cancelled=true`.
    let lying = walled(2.0, |c| {
        c.deep_offset = None;
        c.ignore_filters.push("appointments:cancelled".into());
    })
    .await;
    let p = incremental(dir.path(), &lying.base_url(), "appointments");
    let (code, _, stderr) = run_bin(
        &["--quiet", "run", p.to_str().unwrap(), "--reconcile-deletes"],
        &env,
    )
    .await;
    assert_eq!(code, 4, "{stderr}");
    assert_warned(&stderr, "appointments", "cancelled");
    assert_eq!(
        marked_deleted(&out, "appointments"),
        0,
        "rows the API left out were marked deleted"
    );
    let after: HashSet<String> = keys(&out, "appointments", "id").into_iter().collect();
    assert_eq!(after, before, "rows read before were lost");
}

/// Rota's `after` ignored: without it the list answers nothing, and no other read lists rota
/// days. On a first read that cannot be told from a practice without a rota: a warning, exit 0.
/// After a read that found the window's rows, it is known: every row read before is kept, none
/// marked deleted, the resource is partial (exit 4) with the filter recorded; and the next
/// honest read is exact again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ignored_rota_start_keeps_the_rows_read_before() {
    let resource = "rota_practitioner_diaries";
    let lying = walled(2.0, |c| {
        c.deep_offset = None;
        c.ignore_filters.push(format!("{resource}:after"));
    })
    .await;
    // First read: an empty rota is possible, so only a warning.
    let first = tempfile::tempdir().unwrap();
    let (code, stderr, m) = run(first.path(), &lying, &[resource], "").await;
    assert_eq!(code, 0, "{stderr}");
    assert_warned(&stderr, resource, "`after`");
    let e = entry(&m, resource);
    assert_eq!(e["status"], "succeeded", "{e}");
    assert!(!recorded(e, "after"), "{}", e["paging"]);

    // An honest read, then the API ignoring `after`: the window's rows are known to exist.
    let honest = walled(2.0, |c| c.deep_offset = None).await;
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let (code, stderr, _) = run(dir.path(), &honest, &[resource], "").await;
    assert_eq!(code, 0, "{stderr}");
    let read: Vec<String> = keys(&out, resource, "id");
    assert!(
        read.len() > 100,
        "too few rota days to test: {}",
        read.len()
    );
    let before: HashSet<String> = read.into_iter().collect();
    let (code, stderr, m) = run(dir.path(), &lying, &[resource], "").await;
    assert_eq!(code, 4, "{stderr}");
    assert_warned(&stderr, resource, "`after`");
    let e = entry(&m, resource);
    assert_eq!(e["status"], "partial", "{e}");
    assert!(recorded(e, "after"), "{}", e["paging"]);
    assert!(e["error"].as_str().unwrap().contains(resource), "{e}");
    let after: HashSet<String> = keys(&out, resource, "id").into_iter().collect();
    assert_eq!(after, before, "rota days read before were lost");
    assert_eq!(marked_deleted(&out, resource), 0);
    // The lying night did not overwrite what the window holds: it is still known the next
    // night, and an honest read is exact and succeeds.
    let (code, stderr, _) = run(dir.path(), &lying, &[resource], "").await;
    assert_eq!(code, 4, "a second lying night: {stderr}");
    let (code, stderr, m) = run(dir.path(), &honest, &[resource], "").await;
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(entry(&m, resource)["status"], "succeeded");
    let again: HashSet<String> = keys(&out, resource, "id").into_iter().collect();
    assert_eq!(again, before);
}

/// The witness tally is kept in the checkpoint: a run killed after reading every page, then
/// resumed (reading none), still finds `cancelled=true` ignored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ignored_cancelled_is_found_after_a_resume() {
    let sb = walled(2.0, |c| {
        c.deep_offset = None;
        c.ignore_filters.push("appointments:cancelled".into());
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let p = crate::common::pipeline(dir.path(), &sb.base_url(), &["appointments"], "parquet", "");
    let env = [("DENTALLY_API_TOKEN", "sandbox-read")];
    let killed = [env[0], ("DENTALLY_ETL_TEST_CRASH", "after-raw")];
    let (code, _, _) = run_bin(&["--quiet", "run", p.to_str().unwrap()], &killed).await;
    assert_ne!(code, 0, "the crash hook fired");
    let (code, _, stderr) = run_bin(&["run", p.to_str().unwrap()], &env).await;
    assert!(stderr.contains("Resuming"), "{stderr}");
    assert_eq!(code, 4, "{stderr}");
    assert_warned(&stderr, "appointments", "cancelled");
}

/// CSV tables cannot be merged: a known-missing full read replaces the table, and the resource
/// is partial (exit 4, the error says so), not failed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_known_missing_read_of_csv_output_is_partial() {
    let resource = "rota_practitioner_diaries";
    let honest = walled(1.0, |c| c.deep_offset = None).await;
    let lying = walled(1.0, |c| {
        c.deep_offset = None;
        c.ignore_filters.push(format!("{resource}:after"));
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let env = [("DENTALLY_API_TOKEN", "sandbox-read")];
    for (sb, want) in [(&honest, 0), (&lying, 4)] {
        let p = crate::common::pipeline(dir.path(), &sb.base_url(), &[resource], "csv", "");
        let (code, _, stderr) = run_bin(&["run", p.to_str().unwrap()], &env).await;
        assert_eq!(code, want, "{stderr}");
    }
    let m = super::manifest(&dir.path().join("out"));
    let e = entry(&m, resource);
    assert_eq!(e["status"], "partial", "{e}");
    assert!(e["error"].as_str().unwrap().contains("CSV"), "{e}");
}
