//! Simulated days: new rows, updated rows, deleted rows.

use std::collections::BTreeSet;

use serde_json::Value;

use super::{Api, small};

fn ms(v: &Value) -> i64 {
    chrono::DateTime::parse_from_rfc3339(v.as_str().unwrap())
        .unwrap()
        .timestamp_millis()
}

fn ids(rows: &[Value]) -> BTreeSet<i64> {
    rows.iter().map(|r| r["id"].as_i64().unwrap()).collect()
}

#[tokio::test]
async fn advance_creates_updates_and_deletes() {
    let api = Api::start(small()).await;
    let before = api.sandbox.truth(1, "patients");
    let start = api.sandbox.now();
    assert_eq!(start.to_rfc3339(), "2026-06-15T08:00:00+00:00", "09:00 BST");
    let first_run = api.all("/v1/patients", "patients").await;
    assert_eq!(first_run, before);
    let max_updated = before.iter().map(|p| ms(&p["updated_at"])).max().unwrap();
    assert!(
        max_updated <= start.timestamp_millis(),
        "base data never postdates the clock"
    );
    api.sandbox.advance(5).await;
    assert_eq!((api.sandbox.now() - start).num_days(), 5);
    let after = api.sandbox.truth(1, "patients");
    let (old, new) = (ids(&before), ids(&after));
    let created: Vec<i64> = new.difference(&old).copied().collect();
    let deleted: Vec<i64> = old.difference(&new).copied().collect();
    assert!(!created.is_empty(), "new patients");
    assert!(
        created.iter().all(|id| *id > *old.iter().max().unwrap()),
        "new ids are higher"
    );
    assert!(!deleted.is_empty(), "some patients vanished");
    let changed: Vec<&Value> = after
        .iter()
        .filter(|p| {
            old.contains(&p["id"].as_i64().unwrap())
                && before.iter().find(|b| b["id"] == p["id"]) != Some(p)
        })
        .collect();
    assert!(!changed.is_empty(), "some patients changed");
    for p in &changed {
        let old_version = before.iter().find(|b| b["id"] == p["id"]).unwrap();
        assert!(
            ms(&p["updated_at"]) > ms(&old_version["updated_at"]),
            "changed rows have a newer updated_at"
        );
    }
    let since = api
        .all(
            "/v1/patients?updated_after=2026-06-15T09:00:00%2B01:00",
            "patients",
        )
        .await;
    let since_ids = ids(&since);
    assert!(
        created.iter().all(|id| since_ids.contains(id)),
        "new rows appear with updated_after"
    );
    assert!(
        changed
            .iter()
            .all(|p| since_ids.contains(&p["id"].as_i64().unwrap())),
        "updated rows too"
    );
    assert_eq!(
        since_ids.len(),
        created.len() + changed.len(),
        "and nothing else"
    );
    let listed = ids(&api.all("/v1/patients", "patients").await);
    assert_eq!(listed, new, "lists agree with the truth");
    assert!(
        deleted.iter().all(|id| !listed.contains(id)),
        "deleted rows vanish from lists"
    );
    assert_eq!(
        api.get(&format!("/v1/patients/{}", deleted[0]))
            .await
            .status,
        404
    );
    let stats = ids(&api
        .sandbox
        .truth(1, "patient_stats")
        .iter()
        .map(|s| serde_json::json!({"id": s["patient_id"]}))
        .collect::<Vec<_>>());
    assert_eq!(stats, new, "stats follow patients");
}

#[tokio::test]
async fn advance_moves_the_diary_on() {
    let api = Api::start(small()).await;
    let window = "/v1/appointments?after=2026-06-15&before=2026-06-20";
    let before = api.all(window, "appointments").await;
    assert!(before.iter().all(|a| matches!(
        a["state"].as_str().unwrap(),
        "Pending" | "Confirmed" | "Cancelled" | "Arrived" | "In surgery"
    )));
    api.sandbox.advance(3).await;
    let after = api.all(window, "appointments").await;
    let settled: Vec<&Value> = after
        .iter()
        .filter(|a| a["start_time"].as_str().unwrap() < "2026-06-18" && a["patient_id"].is_i64())
        .collect();
    assert!(!settled.is_empty());
    assert!(
        settled
            .iter()
            .all(|a| !matches!(a["state"].as_str().unwrap(), "Pending" | "Confirmed")),
        "seen appointments were settled"
    );
    assert!(
        settled
            .iter()
            .any(|a| a["state"] == "Completed" && a["completed_at"].is_string())
    );
    let invoices = api
        .all(
            "/v1/invoices?updated_after=2026-06-15T09:00:00%2B01:00",
            "invoices",
        )
        .await;
    assert!(!invoices.is_empty(), "the day's work was invoiced");
    let new_items = api
        .all(
            "/v1/invoice_items?created_after=2026-06-15T09:00:00%2B01:00",
            "invoice_items",
        )
        .await;
    for invoice in invoices
        .iter()
        .filter(|i| i["id"].as_i64().unwrap() > 500_000 + 400)
    {
        let detail = api
            .get(&format!("/v1/invoices/{}", invoice["id"]))
            .await
            .json();
        let items = detail["invoice"]["invoice_items"].as_array().unwrap();
        assert!(!items.is_empty());
        assert!(items.iter().all(|i| new_items.contains(i)));
    }
    let sum_before: usize = before.len();
    let total_after = api
        .get("/v1/appointments?after=2026-01-01&before=2027-01-01")
        .await
        .json()["meta"]["total_count"]
        .as_u64()
        .unwrap();
    assert!(total_after > 0 && sum_before > 0);
}

#[tokio::test]
async fn advancing_is_deterministic() {
    let a = Api::start(small()).await;
    let b = Api::start(small()).await;
    a.sandbox.advance(4).await;
    b.sandbox.advance(2).await;
    b.sandbox.advance(2).await;
    for r in [
        "patients",
        "appointments",
        "invoices",
        "payments",
        "invoice_items",
        "treatment_plan_items",
    ] {
        assert!(
            a.sandbox.truth(1, r) == b.sandbox.truth(1, r),
            "{r} differs"
        );
    }
}
