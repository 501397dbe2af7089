//! Paging, meta and sorting: `meta` as evidenced (`total_count`; no `current_page`; no
//! `total_pages` on patients, treatment plan items and payments), newest-first default order,
//! ascending `updated_at` under `updated_after`, `sort_by` ignored on patients.

use super::{Api, small};
use dentally_etl::sandbox::SandboxConfig;

#[tokio::test]
async fn paging_rules() {
    let api = Api::start(small()).await;
    let total = api.sandbox.truth(1, "patients").len() as u64;
    let first = api.get("/v1/patients").await.json();
    assert_eq!(
        first["patients"].as_array().unwrap().len(),
        25,
        "default per_page"
    );
    assert_eq!(first["meta"]["total_count"], total);
    assert!(
        first["meta"].get("current_page").is_none(),
        "never evidenced"
    );
    assert!(
        first["meta"].get("total_pages").is_none(),
        "patients omit total_pages"
    );
    let invoices = api.get("/v1/invoices").await.json();
    let invoice_total = api.sandbox.truth(1, "invoices").len() as u64;
    assert_eq!(invoices["meta"]["total_pages"], invoice_total.div_ceil(25));
    assert_eq!(
        api.get("/v1/patients?per_page=100")
            .await
            .rows("patients")
            .len(),
        100,
        "max per_page"
    );
    assert_eq!(
        api.get("/v1/patients?per_page=101")
            .await
            .rows("patients")
            .len(),
        25,
        "over 100 silently falls back to 25"
    );
    let second = api.get("/v1/patients?per_page=10&page=2").await;
    let ids: Vec<i64> = second
        .ids("patients")
        .iter()
        .map(|v| v.as_i64().unwrap())
        .collect();
    let newest = 20_000 + total as i64;
    assert_eq!(
        ids,
        (newest - 19..=newest - 10).rev().collect::<Vec<_>>(),
        "1-based pages, newest first"
    );
    let past = api
        .get(&format!(
            "/v1/patients?per_page=100&page={}",
            total / 100 + 2
        ))
        .await;
    assert_eq!(past.status, 200);
    assert!(
        past.rows("patients").is_empty(),
        "out-of-range page is an empty 200"
    );
    assert_eq!(past.json()["meta"]["total_count"], total);
    let last = api
        .get(&format!(
            "/v1/patients?per_page=100&page={}",
            total.div_ceil(100)
        ))
        .await;
    assert_eq!(
        last.rows("patients").len() as u64,
        total - (total.div_ceil(100) - 1) * 100
    );
}

#[tokio::test]
async fn total_pages_can_be_switched_off() {
    let api = Api::start(SandboxConfig {
        total_pages: false,
        ..small()
    })
    .await;
    let meta = api.get("/v1/patients").await.json()["meta"].clone();
    assert!(meta.get("total_pages").is_none());
    assert!(meta["total_count"].as_u64().unwrap() > 0);
}

#[tokio::test]
async fn meta_and_order_of_the_old_sandbox_are_knobs() {
    let api = Api::start(small().kind()).await;
    let first = api.get("/v1/patients?per_page=10&page=2").await;
    let meta = &first.json()["meta"];
    assert_eq!(meta["current_page"], 2);
    assert!(meta["total_pages"].is_u64());
    let ids: Vec<i64> = first
        .ids("patients")
        .iter()
        .map(|v| v.as_i64().unwrap())
        .collect();
    assert_eq!(ids, (20_011..=20_020).collect::<Vec<_>>(), "id ascending");
}

#[tokio::test]
async fn updated_after_without_sort_by_is_ascending_by_updated_at() {
    let api = Api::start(small()).await;
    let mut stamps = Vec::new();
    for page in 1.. {
        let rows = api
            .get(&format!(
                "/v1/treatment_plans?updated_after=2024-01-01&per_page=100&page={page}"
            ))
            .await
            .rows("treatment_plans");
        if rows.is_empty() {
            break;
        }
        stamps.extend(rows.iter().map(|r| {
            chrono::DateTime::parse_from_rfc3339(r["updated_at"].as_str().unwrap())
                .unwrap()
                .timestamp_millis()
        }));
    }
    assert!(stamps.len() > 100, "{}", stamps.len());
    assert!(
        stamps.windows(2).all(|w| w[0] <= w[1]),
        "ascending updated_at"
    );
    let unfiltered = api
        .get("/v1/treatment_plans?per_page=100")
        .await
        .ids("treatment_plans");
    assert!(
        unfiltered.windows(2).all(|w| w[0].as_i64() > w[1].as_i64()),
        "unfiltered: newest (highest id) first"
    );
}

#[tokio::test]
async fn patients_ignore_sort_by() {
    let api = Api::start(small()).await;
    let plain = api.get("/v1/patients?per_page=50").await.body;
    for sort in [
        "sort_by=id",
        "sort_by=last_name&sort_direction=asc",
        "sort_direction=asc",
    ] {
        assert_eq!(
            api.get(&format!("/v1/patients?per_page=50&{sort}"))
                .await
                .body,
            plain,
            "{sort}"
        );
    }
    let honoured = Api::start(dentally_etl::sandbox::SandboxConfig {
        sort_ignored: Vec::new(),
        ..small()
    })
    .await;
    let asc = honoured
        .get("/v1/patients?per_page=5&sort_by=id")
        .await
        .ids("patients");
    assert_eq!(asc[0], 20_001, "the knob honours sort_by");
}

#[tokio::test]
async fn sort_by_and_direction() {
    let api = Api::start(small()).await;
    let desc = api
        .get("/v1/invoices?sort_by=id&sort_direction=desc&per_page=5")
        .await
        .ids("invoices");
    let truth = api.sandbox.truth(1, "invoices");
    let expected: Vec<_> = truth
        .iter()
        .rev()
        .take(5)
        .map(|p| p["id"].clone())
        .collect();
    assert_eq!(desc, expected);
    let asc = api
        .get("/v1/invoices?sort_by=id&per_page=5")
        .await
        .ids("invoices");
    assert_eq!(asc[0], truth[0]["id"], "sort_by=id ascending");
    for (field, direction) in [
        ("dated_on", "asc"),
        ("updated_at", "desc"),
        ("dated_on", "desc"),
    ] {
        let page = api
            .get(&format!(
                "/v1/invoices?sort_by={field}&sort_direction={direction}&per_page=100"
            ))
            .await
            .rows("invoices");
        let keys: Vec<String> = page
            .iter()
            .map(|p| p[field].as_str().unwrap_or("").to_string())
            .collect();
        let mut sorted = keys.clone();
        sorted.sort();
        if direction == "desc" {
            sorted.reverse();
        }
        if field == "updated_at" {
            let instants: Vec<i64> = keys
                .iter()
                .map(|k| {
                    chrono::DateTime::parse_from_rfc3339(k)
                        .unwrap()
                        .timestamp_millis()
                })
                .collect();
            assert!(
                instants.windows(2).all(|w| w[0] >= w[1]),
                "updated_at desc by instant"
            );
        } else {
            assert_eq!(keys, sorted, "sorted by {field} {direction}");
        }
    }
    let money = api
        .get("/v1/invoices?sort_by=amount&per_page=100")
        .await
        .rows("invoices");
    let amounts: Vec<f64> = money
        .iter()
        .map(|i| i["amount"].as_str().unwrap().parse().unwrap())
        .collect();
    assert!(
        amounts.windows(2).all(|w| w[0] <= w[1]),
        "money sorts as numbers"
    );
}

#[tokio::test]
async fn sorting_by_a_non_id_field_pages_consistently() {
    let api = Api::start(small()).await;
    let mut ids = Vec::new();
    for page in 1..=100 {
        let rows = api
            .get(&format!(
                "/v1/invoices?sort_by=dated_on&per_page=50&page={page}"
            ))
            .await
            .ids("invoices");
        if rows.is_empty() {
            break;
        }
        ids.extend(rows);
    }
    let n = ids.len();
    ids.sort_by_key(|v| v.as_i64());
    ids.dedup();
    assert_eq!(ids.len(), n, "no duplicates across pages");
    assert_eq!(n, api.sandbox.truth(1, "invoices").len());
}

#[tokio::test]
async fn deep_offsets_answer_413() {
    let api = Api::start(SandboxConfig {
        scale: 1.0,
        deep_offset: Some(1_000),
        ..small()
    })
    .await;
    let total = api.sandbox.truth(1, "treatment_plan_items").len();
    assert!(total > 2_000, "{total}");
    assert_eq!(
        api.get("/v1/treatment_plan_items?per_page=100&page=9")
            .await
            .status,
        200,
        "offset 800 is inside the wall (1,000 ± 10 %)"
    );
    let deep = api
        .get("/v1/treatment_plan_items?per_page=100&page=13")
        .await;
    assert_eq!(deep.status, 413, "offset 1,200 is past it");
    assert_eq!(&deep.body[..], b"413 Content Too Large");
    assert!(deep.header("x-ratelimit-remaining").is_some());
    assert_eq!(
        api.get("/v1/treatment_plan_items?per_page=100&page=13&sort_by=id")
            .await
            .status,
        413,
        "whatever the order"
    );
    assert_eq!(
        api.get("/v1/patients?per_page=25&page=100").await.status,
        413,
        "any list, past its end too"
    );
    let filtered = api
        .get("/v1/treatment_plan_items?per_page=100&updated_after=2026-06-01")
        .await;
    assert_eq!(filtered.status, 200, "a narrow window starts at offset 0");
    let log = api.sandbox.requests();
    assert_eq!(log.iter().filter(|r| r.status == 413).count(), 3);
    let default = SandboxConfig::default();
    assert_eq!(default.deep_offset, Some(50_000));
}

#[tokio::test]
async fn patient_stats_paging_repeats_and_skips_even_with_sort_by() {
    let api = Api::start(SandboxConfig {
        scale: 4.0,
        ..small()
    })
    .await;
    let truth: std::collections::BTreeSet<i64> = api
        .sandbox
        .truth(1, "patient_stats")
        .iter()
        .map(|s| s["patient_id"].as_i64().unwrap())
        .collect();
    let mut seen = Vec::new();
    let mut total = 0;
    for page in 1.. {
        let answer = api
            .get(&format!(
                "/v1/patient_stats?per_page=100&sort_by=patient_id&page={page}"
            ))
            .await
            .json();
        total = answer["meta"]["total_count"].as_u64().unwrap();
        let rows = answer["patient_stats"].as_array().unwrap().clone();
        if rows.is_empty() {
            break;
        }
        seen.extend(rows.iter().map(|s| s["patient_id"].as_i64().unwrap()));
    }
    assert_eq!(total as usize, truth.len(), "total_count stays truthful");
    assert_eq!(seen.len(), truth.len(), "every page full");
    let distinct: std::collections::BTreeSet<i64> = seen.iter().copied().collect();
    let missing = truth.len() - distinct.len();
    let share = missing as f64 / truth.len() as f64;
    assert!((0.03..0.09).contains(&share), "about 6 % missed: {share}");
    assert!(distinct.is_subset(&truth));
    let stable = Api::start(SandboxConfig {
        unstable_paging: Vec::new(),
        ..small()
    })
    .await;
    let all = stable.all("/v1/patient_stats", "patient_stats").await;
    assert_eq!(all.len(), stable.sandbox.truth(1, "patient_stats").len());
}

#[tokio::test]
async fn a_page_that_holds_the_whole_list_never_skips() {
    let api = Api::start(SandboxConfig {
        unstable_paging: vec!["treatment_plan_items".into()],
        ..small()
    })
    .await;
    let truth = api.sandbox.truth(1, "treatment_plan_items");
    let mut stamps: Vec<(i64, i64)> = truth
        .iter()
        .map(|r| {
            let at = chrono::DateTime::parse_from_rfc3339(r["updated_at"].as_str().unwrap())
                .unwrap()
                .timestamp_millis();
            (at, r["id"].as_i64().unwrap())
        })
        .collect();
    stamps.sort();
    let (cut, _) = stamps[stamps.len() - 80];
    let cut = chrono::DateTime::from_timestamp_millis(cut)
        .unwrap()
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string();
    let mut expected: Vec<i64> = stamps
        .iter()
        .filter(|(at, _)| *at >= super::sandbox_instant(&cut))
        .map(|(_, id)| *id)
        .collect();
    expected.sort();
    assert!((80..=100).contains(&expected.len()), "{}", expected.len());
    for _ in 0..5 {
        let mut ids: Vec<i64> = api
            .get(&format!(
                "/v1/treatment_plan_items?per_page=100&updated_after={cut}"
            ))
            .await
            .ids("treatment_plan_items")
            .iter()
            .map(|v| v.as_i64().unwrap())
            .collect();
        ids.sort();
        assert_eq!(ids, expected, "one page holds the window: whole every time");
    }
    let walk = || async {
        let mut out = Vec::new();
        for page in 1..=30 {
            out.extend(
                api.get(&format!("/v1/treatment_plan_items?per_page=50&page={page}"))
                    .await
                    .ids("treatment_plan_items"),
            );
        }
        out
    };
    let first = walk().await;
    let second = walk().await;
    assert_ne!(first, second, "a re-read may come back different");
}
