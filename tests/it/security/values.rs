//! Values the API should never send, kept safe (review D17, D18): a record with its key twice
//! (the last one null) never commits a row without a key, and a rejected record keeps the exact
//! text received (23-digit ids, `1e400`), not a float's rounding of it.

use std::path::Path;

use arrow::array::Array;
use dentally_etl::sandbox::{self, SandboxConfig};

use super::hostile::{Act, Hostile};
use super::{Ran, pipeline, run};

/// Inserts `extra` at the end of the first record of the `accounts` page (accounts are flat:
/// the first `}` closes the first record).
fn into_first_record(body: &str, extra: &str) -> String {
    let start = body.find("\"accounts\":[{").expect("an accounts page") + "\"accounts\":[".len();
    let end = start + body[start..].find('}').expect("a record");
    format!("{}{extra}{}", &body[..end], &body[end..])
}

fn twice_keyed(body: String) -> String {
    into_first_record(&body, ",\"id\":null")
}

fn unrepresentable(body: String) -> String {
    let start =
        body.find("\"accounts\":[{\"id\":").expect("the id first") + "\"accounts\":[{\"id\":".len();
    let end = start + body[start..].find(',').expect("more fields");
    let body = format!("{}123456789012345678901234{}", &body[..start], &body[end..]);
    into_first_record(&body, ",\"tooth_chart_size\":1e400")
}

fn keep(_: &mut Vec<(String, String)>) {}

/// A run reading `accounts` through an API whose first accounts page is passed through
/// `rewrite`: the rows the sandbox serves, the output folder and how the run went.
async fn accounts_run(rewrite: fn(String) -> String) -> (usize, tempfile::TempDir, Ran) {
    let sb = sandbox::spawn(SandboxConfig::default().with_scale(0.05))
        .await
        .unwrap();
    let served = sb.truth(1, "accounts").len();
    let api = Hostile::start(sb.base_url(), move |target| {
        if target.starts_with("/v1/accounts") && target.contains("page=1") {
            Act::Rewrite(rewrite, keep)
        } else {
            Act::Forward
        }
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let p = pipeline(dir.path(), &api.base_url(), &["accounts"], "", "");
    let ran = run(&p, &[]).await;
    (served, dir, ran)
}

/// The rejected records' text, every `_rejects/` file together.
fn rejects(out: &Path) -> String {
    let mut text = String::new();
    for e in std::fs::read_dir(out.join("_rejects/accounts"))
        .into_iter()
        .flatten()
        .flatten()
    {
        text.push_str(&std::fs::read_to_string(e.path()).unwrap());
    }
    text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_keyed_twice_never_commits_a_row_without_its_key() {
    let (served, dir, ran) = accounts_run(twice_keyed).await;
    let out = dir.path().join("out");
    let mut rows = 0;
    for batch in crate::common::read_table(&out, "accounts") {
        let ids = batch.column_by_name("id").unwrap();
        assert_eq!(ids.null_count(), 0, "a committed row without its key");
        rows += batch.num_rows();
    }
    // The twice-keyed record is either kept under a key or set aside, never lost silently.
    let rejected = rejects(&out).lines().count();
    assert_eq!(rows + rejected, served, "{}", ran.stderr);
    assert_eq!(ran.code, if rejected > 0 { 4 } else { 0 }, "{}", ran.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_record_keeps_the_exact_text_received() {
    let (_, dir, ran) = accounts_run(unrepresentable).await;
    assert_eq!(
        ran.code, 4,
        "a rejected row makes the run partial: {}",
        ran.stderr
    );
    let text = rejects(&dir.path().join("out"));
    assert!(
        text.contains("123456789012345678901234"),
        "the id as received: {text}"
    );
    assert!(text.contains("1e400"), "the number as received: {text}");
    assert!(!text.contains("1.2345678901234568e23"), "{text}");
}
