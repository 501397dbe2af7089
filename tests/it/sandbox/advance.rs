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
    let mut first_run = api.all("/v1/patients", "patients").await;
    first_run.sort_by_key(|p| p["id"].as_i64());
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
            "/v1/invoice_items?updated_after=2026-06-15T09:00:00%2B01:00",
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
        .get("/v1/appointments?after=2026-01-01&before=2027-01-01&cancelled=true")
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

#[tokio::test]
async fn an_appointment_cancelled_by_advance_leaves_the_default_list() {
    let api = Api::start(small()).await;
    let window = "/v1/appointments?after=2026-06-15&before=2026-06-20";
    let before = ids(&api.all(window, "appointments").await);
    api.sandbox.advance(3).await;
    let all = api
        .all(&format!("{window}&cancelled=true"), "appointments")
        .await;
    let cancelled: BTreeSet<i64> = all
        .iter()
        .filter(|a| matches!(a["state"].as_str(), Some("Cancelled" | "Did not attend")))
        .map(|a| a["id"].as_i64().unwrap())
        .collect();
    let newly: Vec<&i64> = cancelled.intersection(&before).collect();
    assert!(!newly.is_empty(), "some were cancelled or missed");
    let after = ids(&api.all(window, "appointments").await);
    assert!(
        newly.iter().all(|id| !after.contains(id)),
        "gone without cancelled=true"
    );
}

#[tokio::test]
async fn deletions_on_demand_scattered_or_clustered() {
    let api = Api::start(small()).await;
    let truth = ids(&api.sandbox.truth(1, "treatment_plan_items"));
    let scattered = api
        .sandbox
        .delete_rows(1, "treatment_plan_items", 10, false)
        .await
        .unwrap();
    let scattered: BTreeSet<i64> = scattered.iter().map(|v| v.as_i64().unwrap()).collect();
    assert_eq!(scattered.len(), 10);
    assert!(scattered.is_subset(&truth));
    let spread = scattered.iter().max().unwrap() - scattered.iter().min().unwrap();
    assert!(spread > 50, "scattered across the table ({spread})");
    let clustered = api
        .sandbox
        .delete_rows(1, "treatment_plan_items", 20, true)
        .await
        .unwrap();
    let clustered: BTreeSet<i64> = clustered.iter().map(|v| v.as_i64().unwrap()).collect();
    assert_eq!(clustered.len(), 20);
    assert!(clustered.is_disjoint(&scattered));
    let live: BTreeSet<i64> = ids(&api.sandbox.truth(1, "treatment_plan_items"));
    let between = live
        .range(clustered.iter().min().unwrap()..clustered.iter().max().unwrap())
        .count();
    assert_eq!(between, 0, "a cluster is a run of consecutive live rows");
    assert_eq!(live.len(), truth.len() - 30);
    let listed = api.get("/v1/treatment_plan_items?per_page=1").await.json();
    assert_eq!(listed["meta"]["total_count"], live.len(), "counts follow");
    let listed = ids(&api
        .all("/v1/treatment_plan_items", "treatment_plan_items")
        .await);
    assert_eq!(listed, live, "deleted rows vanish from lists");
    let base = api.sandbox.base_url();
    let answer: Value = api
        .client
        .post(format!(
            "{base}/_sandbox/advance?resource=payments&count=3&clustered=true"
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(answer["days"], 0, "deleting alone does not move the clock");
    assert_eq!(answer["deleted"].as_array().unwrap().len(), 3);
    let bad = api
        .client
        .post(format!("{base}/_sandbox/advance?resource=practice&count=1"))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    let guid = api
        .sandbox
        .delete_rows(1, "invoice_items", 2, false)
        .await
        .unwrap();
    assert!(
        guid.iter().all(Value::is_string),
        "GUID keys come back as text"
    );
}
