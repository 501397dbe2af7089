//! Paging, meta and sorting.

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
    assert_eq!(first["meta"]["current_page"], 1);
    assert_eq!(first["meta"]["total_pages"], total.div_ceil(25));
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
    assert_eq!(
        ids,
        (20_011..=20_020).collect::<Vec<_>>(),
        "1-based pages in id order"
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
async fn sort_by_and_direction() {
    let api = Api::start(small()).await;
    let desc = api
        .get("/v1/patients?sort_by=id&sort_direction=desc&per_page=5")
        .await
        .ids("patients");
    let truth = api.sandbox.truth(1, "patients");
    let expected: Vec<_> = truth
        .iter()
        .rev()
        .take(5)
        .map(|p| p["id"].clone())
        .collect();
    assert_eq!(desc, expected);
    for (field, direction) in [
        ("last_name", "asc"),
        ("updated_at", "desc"),
        ("date_of_birth", "asc"),
    ] {
        let page = api
            .get(&format!(
                "/v1/patients?sort_by={field}&sort_direction={direction}&per_page=100"
            ))
            .await
            .rows("patients");
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
                "/v1/patients?sort_by=last_name&per_page=50&page={page}"
            ))
            .await
            .ids("patients");
        if rows.is_empty() {
            break;
        }
        ids.extend(rows);
    }
    let n = ids.len();
    ids.sort_by_key(|v| v.as_i64());
    ids.dedup();
    assert_eq!(ids.len(), n, "no duplicates across pages");
    assert_eq!(n, api.sandbox.truth(1, "patients").len());
}
