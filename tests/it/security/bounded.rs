//! Bounded resources (review D3, D4, D5): an endless or huge answer, absurd rate-limit headers,
//! a poisoned budget and a server that sends no rate headers at all.

use dentally_etl::sandbox::{self, SandboxConfig};

use super::hostile::{Act, Hostile, headers};
use super::{pipeline, run};

fn epoch_in(secs: u64) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    (now + secs).to_string()
}

fn set(list: &mut Vec<(String, String)>, name: &str, value: String) {
    list.retain(|(k, _)| k != name);
    list.push((name.to_string(), value));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endless_answer_ends_the_resource_at_the_cap_with_little_memory() {
    let sb = sandbox::spawn(SandboxConfig::default().with_scale(0.05))
        .await
        .unwrap();
    let api = Hostile::start(sb.base_url(), |target| {
        if target.starts_with("/v1/patients") {
            Act::Endless
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
        "timeout_secs = 60",
        "",
    );
    let ran = run(&p, &[]).await;
    assert_eq!(ran.code, 4, "{}", ran.stderr);
    assert!(ran.stderr.contains("larger than 32 MiB"), "{}", ran.stderr);
    assert_eq!(
        api.count("/v1/patients"),
        1,
        "not retried: {:?}",
        api.requests()
    );
    assert!(
        ran.peak_kib < 200 * 1024,
        "peak memory {} MiB",
        ran.peak_kib / 1024
    );
    assert!(ran.elapsed.as_secs() < 60, "{:?}", ran.elapsed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_huge_declared_length_is_refused_before_reading() {
    let sb = sandbox::spawn(SandboxConfig::default().with_scale(0.05))
        .await
        .unwrap();
    let api = Hostile::start(sb.base_url(), |target| {
        if target.starts_with("/v1/patients") {
            Act::Declared(256 << 20)
        } else {
            Act::Forward
        }
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let p = pipeline(dir.path(), &api.base_url(), &["patients"], "", "");
    let ran = run(&p, &[]).await;
    assert_eq!(ran.code, 4, "{}", ran.stderr);
    assert!(
        ran.stderr.contains("Content-Length 268435456"),
        "{}",
        ran.stderr
    );
    assert_eq!(api.count("/v1/patients"), 1);
    assert!(ran.elapsed.as_secs() < 30, "{:?}", ran.elapsed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reset_ten_years_away_does_not_hang_the_run() {
    let sb = sandbox::spawn(SandboxConfig::default().with_scale(0.05))
        .await
        .unwrap();
    let api = Hostile::start(sb.base_url(), |target| {
        if target.starts_with("/v1/user") {
            Act::Rewrite(
                |b| b,
                |h| {
                    set(h, "x-ratelimit-remaining", "5".into());
                    set(h, "x-ratelimit-reset", epoch_in(10 * 365 * 86_400));
                },
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
        "max_wait_secs = 5",
        "",
    );
    let ran = run(&p, &[]).await;
    assert_eq!(ran.code, 4, "{}", ran.stderr);
    assert!(ran.stderr.contains("wait budget of 5 s"), "{}", ran.stderr);
    assert!(
        ran.stderr.contains("more than two hours away"),
        "{}",
        ran.stderr
    );
    assert!(ran.elapsed.as_secs() < 30, "{:?}", ran.elapsed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_after_of_three_years_is_capped_and_charged() {
    let sb = sandbox::spawn(SandboxConfig::default().with_scale(0.05))
        .await
        .unwrap();
    let api = Hostile::start(sb.base_url(), |target| {
        if target.starts_with("/v1/patients") {
            Act::Answer(
                429,
                headers(&[("retry-after", "99999999")]),
                b"Rate limit exceeded".to_vec(),
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
        "max_wait_secs = 5",
        "",
    );
    let ran = run(&p, &[]).await;
    assert_eq!(ran.code, 4, "{}", ran.stderr);
    assert!(ran.stderr.contains("wait 3660 s more"), "{}", ran.stderr);
    assert!(ran.elapsed.as_secs() < 30, "{:?}", ran.elapsed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poisoned_first_reset_cannot_spend_the_reserve() {
    let sb = sandbox::spawn(SandboxConfig::default().with_scale(0.5))
        .await
        .unwrap();
    let api = Hostile::start(sb.base_url(), |target| {
        if target.starts_with("/v1/user") {
            Act::Rewrite(
                |b| b,
                |h| {
                    set(h, "x-ratelimit-limit", "3600".into());
                    set(h, "x-ratelimit-remaining", "3000".into());
                    set(h, "x-ratelimit-reset", epoch_in(10 * 365 * 86_400));
                },
            )
        } else {
            Act::Rewrite(
                |b| b,
                |h| {
                    set(h, "x-ratelimit-limit", "3600".into());
                    set(h, "x-ratelimit-remaining", "5".into());
                    set(h, "x-ratelimit-reset", epoch_in(1_800));
                },
            )
        }
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let p = pipeline(
        dir.path(),
        &api.base_url(),
        &["patients"],
        "max_wait_secs = 5",
        "",
    );
    let ran = run(&p, &[]).await;
    // The second page must wait for the window (half an hour), beyond the wait budget.
    assert_eq!(ran.code, 4, "{}", ran.stderr);
    assert!(ran.stderr.contains("wait budget"), "{}", ran.stderr);
    assert_eq!(api.count("/v1/patients"), 1, "{:?}", api.requests());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_request_ceiling_holds_when_the_server_sends_no_rate_headers() {
    let sb = sandbox::spawn(SandboxConfig::default().with_scale(0.5))
        .await
        .unwrap();
    let api = Hostile::start(sb.base_url(), |_| {
        Act::Rewrite(|b| b, |h| h.retain(|(k, _)| !k.starts_with("x-ratelimit-")))
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let p = pipeline(
        dir.path(),
        &api.base_url(),
        &["patients"],
        "requests_per_hour = 3\nmax_wait_secs = 0",
        "",
    );
    let ran = run(&p, &[]).await;
    assert_eq!(ran.code, 4, "{}", ran.stderr);
    assert!(ran.stderr.contains("wait budget"), "{}", ran.stderr);
    assert_eq!(api.requests().len(), 3, "{:?}", api.requests());
}

/// Row 42: a `total_count` no practice could hold is refused at once, not planned as pages.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_absurd_total_count_is_refused_not_paged() {
    let sb = sandbox::spawn(SandboxConfig::default().with_scale(0.05))
        .await
        .unwrap();
    let api = Hostile::start(sb.base_url(), |target| {
        if target.starts_with("/v1/accounts") {
            Act::Rewrite(
                |body| {
                    let mut v: serde_json::Value = serde_json::from_str(&body).unwrap();
                    v["meta"]["total_count"] = 1_000_000_000_000u64.into();
                    v.to_string()
                },
                |_| {},
            )
        } else {
            Act::Forward
        }
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let p = pipeline(dir.path(), &api.base_url(), &["accounts"], "", "");
    let ran = run(&p, &[]).await;
    assert_eq!(ran.code, 4, "{}", ran.stderr);
    assert!(ran.stderr.contains("total_count"), "{}", ran.stderr);
    assert!(
        api.count("/v1/accounts") <= 2,
        "{} requests: {:?}",
        api.count("/v1/accounts"),
        api.requests()
    );
}

/// Row 42, plausible size: a total that overstates the list ends at the first empty page,
/// and the shortfall is reported (exit 4), within a bounded number of requests.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_overstated_total_ends_at_the_first_empty_page() {
    let sb = sandbox::spawn(SandboxConfig::default().with_scale(0.05))
        .await
        .unwrap();
    let api = Hostile::start(sb.base_url(), |target| {
        if target.starts_with("/v1/accounts") {
            Act::Rewrite(
                |body| {
                    let mut v: serde_json::Value = serde_json::from_str(&body).unwrap();
                    v["meta"]["total_count"] = 900_000u64.into();
                    v.to_string()
                },
                |_| {},
            )
        } else {
            Act::Forward
        }
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let p = pipeline(dir.path(), &api.base_url(), &["accounts"], "", "");
    let ran = run(&p, &[]).await;
    assert_eq!(ran.code, 4, "{}", ran.stderr);
    let made = api.count("/v1/accounts");
    assert!(made <= 40, "{made} requests: {:?}", api.requests());
}

/// Runs `accounts` against a server whose every page number answers the same 100 accounts,
/// with `meta`; returns the server, the output folder and the run.
async fn same_accounts_page_every_time(
    meta: serde_json::Value,
) -> (Hostile, tempfile::TempDir, super::Ran) {
    let sb = sandbox::spawn(SandboxConfig::default().with_scale(0.05))
        .await
        .unwrap();
    let rows: Vec<serde_json::Value> = (1..=100)
        .map(|i| serde_json::json!({ "id": i, "patient_id": i, "current_balance": "0.00" }))
        .collect();
    let body = serde_json::json!({ "accounts": rows, "meta": meta }).to_string();
    let api = Hostile::start(sb.base_url(), move |target| {
        if target.starts_with("/v1/accounts") {
            Act::Answer(
                200,
                vec![("content-type".into(), "application/json".into())],
                body.clone().into_bytes(),
            )
        } else {
            Act::Forward
        }
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let p = pipeline(dir.path(), &api.base_url(), &["accounts"], "", "");
    let ran = run(&p, &[]).await;
    (api, dir, ran)
}

/// Row 44: no `total_count`, and every page number answers the same full page: the read stops
/// at the first page that brings nothing new, with each row once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_repeating_its_page_cannot_loop_forever() {
    let (api, dir, ran) = same_accounts_page_every_time(serde_json::json!({})).await;
    let made = api.count("/v1/accounts");
    assert!(made <= 4, "{made} requests: {:?}", api.requests());
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    assert_eq!(
        crate::common::count_rows(&dir.path().join("out"), "accounts"),
        100
    );
}

/// Row 44 with a total: every page number answers the same full page and `total_count` claims
/// 900,000 rows. The planned pages stop at the first page that repeats the walk, not 9,000
/// requests later.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_repeating_its_page_under_a_big_total_is_stopped_early() {
    let (api, _dir, ran) =
        same_accounts_page_every_time(serde_json::json!({ "total_count": 900_000 })).await;
    let made = api.count("/v1/accounts");
    assert!(made <= 60, "{made} requests");
    assert_eq!(ran.code, 4, "the shortfall is reported: {}", ran.stderr);
}
