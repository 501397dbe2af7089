//! The generated data: held to the catalog, deterministic, realistic (quirks included), and
//! cheap at any scale.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use dentally_etl::catalog::{self, FieldKind, FieldType, PiiPolicy};
use dentally_etl::flatten::Flattener;
use dentally_etl::json::Doc;
use dentally_etl::sandbox::{self, SandboxConfig};
use serde_json::Value;

use super::{Api, small};

/// Whether a JSON value may carry a field of type `ty` (checked here independently of the
/// sandbox's own checker).
fn fits(ty: FieldType, v: &Value) -> bool {
    match (ty, v) {
        (_, Value::Null) | (FieldType::Json, _) => true,
        (FieldType::Int, v) => v.is_i64(),
        (FieldType::IdText, v) => v.is_i64() || v.is_string(),
        (FieldType::Bool, v) => v.is_boolean(),
        (FieldType::TextList, Value::Array(a)) => a.iter().all(Value::is_string),
        (FieldType::Decimal, Value::Number(_)) => true,
        (FieldType::Money | FieldType::Decimal, Value::String(s)) => s
            .trim_start_matches('-')
            .split_once('.')
            .is_some_and(|(a, b)| {
                !a.is_empty()
                    && !b.is_empty()
                    && (a.to_string() + b).bytes().all(|c| c.is_ascii_digit())
            }),
        (FieldType::Timestamp, Value::String(s)) => {
            s.len() == 29 && chrono::DateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.3f%:z").is_ok()
        }
        (FieldType::Date, Value::String(s)) => {
            chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").is_ok()
        }
        (FieldType::TimeOfDay, Value::String(s)) => {
            s.len() == 5 && chrono::NaiveTime::parse_from_str(s, "%H:%M").is_ok()
        }
        (FieldType::Guid, Value::String(s)) => s.len() == 36 && s.matches('-').count() == 4,
        (FieldType::Text, v) => v.is_string(),
        _ => false,
    }
}

fn check(
    fields: &[catalog::Field],
    record: &Value,
    at: &str,
    extra: &[&str],
    complete: bool,
    problems: &mut Vec<String>,
) {
    let map = record
        .as_object()
        .unwrap_or_else(|| panic!("{at}: not an object"));
    let known: BTreeSet<&str> = fields
        .iter()
        .map(|f| f.name)
        .chain(extra.iter().copied())
        .collect();
    problems.extend(
        map.keys()
            .filter(|k| !known.contains(k.as_str()))
            .map(|k| format!("{at}.{k}: unknown")),
    );
    for f in fields {
        match (map.get(f.name), f.kind) {
            (None, _) if complete => problems.push(format!("{at}.{}: missing", f.name)),
            (None, _) => {}
            (Some(v), FieldKind::Scalar(ty)) if !fits(ty, v) => {
                problems.push(format!("{at}.{}: {v} is not {ty:?}", f.name))
            }
            (Some(Value::Object(_)), FieldKind::Object(sub)) => check(
                sub,
                &map[f.name],
                &format!("{at}.{}", f.name),
                &[],
                false,
                problems,
            ),
            (Some(Value::Array(items)), FieldKind::Children(sub)) => items
                .iter()
                .for_each(|i| check(sub, i, &format!("{at}.{}[]", f.name), &[], true, problems)),
            (Some(Value::Null), FieldKind::Object(_)) | (Some(_), FieldKind::Scalar(_)) => {}
            (Some(v), _) => problems.push(format!("{at}.{}: {v} has the wrong shape", f.name)),
        }
    }
}

#[tokio::test]
async fn every_record_has_exactly_the_catalog_fields() {
    let api = Api::start(SandboxConfig {
        scale: 0.3,
        ..small()
    })
    .await;
    api.sandbox.advance(2).await;
    let mut problems = Vec::new();
    for resource in catalog::all() {
        let records = api.sandbox.truth(1, resource.name);
        assert!(!records.is_empty(), "{} has no records", resource.name);
        let extra: &[&str] = if resource.name == "patients" {
            &["portal_registered"]
        } else {
            &[]
        };
        for record in &records {
            check(
                resource.fields,
                record,
                resource.name,
                extra,
                true,
                &mut problems,
            );
            problems.extend(sandbox::check_record(resource, record));
            let keys: Vec<&str> = record
                .as_object()
                .unwrap()
                .keys()
                .map(String::as_str)
                .collect();
            let order: Vec<&str> = resource
                .fields
                .iter()
                .map(|f| f.name)
                .chain(extra.iter().copied())
                .collect();
            assert_eq!(keys, order, "{}: catalog order", resource.name);
        }
        if resource.name == "patients" {
            assert!(records.iter().all(|r| r["portal_registered"].is_boolean()));
        }
    }
    problems.truncate(30);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// Every record the sandbox serves, the lenient values included (text in
/// `proof_of_identification`, objects in `specialisms` and `allowed_sites`), flattens whole:
/// no reject, and no field outside the catalog but the deliberate `portal_registered`.
#[tokio::test]
async fn every_record_flattens_without_rejects() {
    let api = Api::start(small()).await;
    api.sandbox.advance(1).await;
    for resource in catalog::all() {
        let records = api.sandbox.truth(1, resource.name);
        let docs: Vec<Doc> = records.iter().map(Doc::from_value).collect();
        let mut flattener = Flattener::new(resource, PiiPolicy::Keep);
        let page = flattener.flatten(docs.iter().map(Doc::root));
        assert!(
            page.rejects.is_empty(),
            "{}: {:?}",
            resource.name,
            page.rejects.first()
        );
        let expected: BTreeSet<String> = if resource.name == "patients" {
            BTreeSet::from(["portal_registered".to_string()])
        } else {
            BTreeSet::new()
        };
        assert_eq!(page.unknown_fields, expected, "{}", resource.name);
        let main = &page.tables[0].1;
        assert_eq!(main.num_rows(), records.len(), "{}", resource.name);
    }
}

/// The shapes the evidence review found (api-evidence.md §2), as the sandbox serves them.
#[tokio::test]
async fn shapes_follow_the_evidence() {
    let api = Api::start(SandboxConfig {
        scale: 1.0,
        ..small()
    })
    .await;
    let practice = api.get("/v1/practice").await.json();
    let hours = practice["practice"]["opening_hours"].as_object().unwrap();
    assert!(!hours.contains_key("Sunday"), "closed days are absent");
    assert!(hours.values().all(|d| d["open"].is_string()), "{hours:?}");

    let users = api.sandbox.truth(1, "users");
    let roles: BTreeSet<&str> = users.iter().map(|u| u["role"].as_str().unwrap()).collect();
    assert!(
        roles.contains("Dentist") && roles.contains("Receptionist"),
        "{roles:?}"
    );
    assert!(
        roles
            .iter()
            .all(|r| r.starts_with(|c: char| c.is_ascii_uppercase()))
    );
    let site_shapes = |pred: fn(&Value) -> bool| {
        users
            .iter()
            .flat_map(|u| u["allowed_sites"].as_array().unwrap())
            .any(pred)
    };
    assert!(site_shapes(Value::is_string) && site_shapes(Value::is_object));

    let specialisms: Vec<Value> = api
        .sandbox
        .truth(1, "practitioners")
        .iter()
        .flat_map(|p| p["specialisms"].as_array().unwrap().clone())
        .collect();
    assert!(specialisms.iter().any(Value::is_string));
    assert!(specialisms.iter().any(|s| s["name"].is_string()));

    let patients = api.sandbox.truth(1, "patients");
    let proofs: BTreeSet<String> = patients
        .iter()
        .map(|p| p["proof_of_identification"].to_string())
        .collect();
    assert!(proofs.contains("true") && proofs.contains("false"));
    assert!(proofs.contains("\"Passport\""), "{proofs:?}");

    let payments = api.sandbox.truth(1, "payments");
    let statuses: BTreeSet<&str> = payments
        .iter()
        .map(|p| p["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, BTreeSet::from(["paid", "partially_explained"]));
    let methods: BTreeSet<&str> = payments
        .iter()
        .map(|p| p["method"].as_str().unwrap())
        .collect();
    for m in ["Credit Card", "Debit Card", "Cash", "BACS"] {
        assert!(methods.contains(m), "{m} in {methods:?}");
    }
    assert!(
        payments.iter().any(|p| p["deleted"] == true),
        "soft-deleted payments"
    );

    // Each invoice embeds exactly its items of the `invoice_items` list (compared with the
    // list's truth: the live API's `invoice_id` filter is not evidenced, so the harsh sandbox
    // ignores it).
    let items = api.sandbox.truth(1, "invoice_items");
    let page = api.get("/v1/invoices?per_page=20").await.rows("invoices");
    for invoice in &page {
        let embedded = invoice["invoice_items"].as_array().unwrap();
        assert!(!embedded.is_empty());
        let mut listed: Vec<&Value> = items
            .iter()
            .filter(|i| i["invoice_id"] == invoice["id"])
            .collect();
        let mut embedded: Vec<&Value> = embedded.iter().collect();
        let by_id = |v: &&Value| v["id"].to_string();
        listed.sort_by_key(by_id);
        embedded.sort_by_key(by_id);
        assert_eq!(embedded, listed, "invoice {}", invoice["id"]);
    }

    let recalls = api.sandbox.truth(1, "recalls");
    assert!(
        recalls
            .iter()
            .all(|r| r["due_date"].is_string() && r.get("created_at").is_none())
    );
    assert!(recalls.iter().any(|r| r["times_contacted"] == 2));
    assert!(
        recalls
            .iter()
            .any(|r| r["prebooked"] == true && r["appointment_id"].is_i64())
    );
    let lists = api.sandbox.truth(1, "waiting_lists");
    assert!(
        lists
            .iter()
            .all(|l| l["name"].is_string() && l.get("patient_id").is_none())
    );
    let rooms = api.sandbox.truth(1, "rooms");
    assert!(
        rooms
            .iter()
            .all(|r| r["practice_id"] == practice["practice"]["id"])
    );
    let categories = api.sandbox.truth(1, "treatment_categories");
    assert!(categories.iter().all(|c| c.as_object().unwrap().len() == 2));
}

#[tokio::test]
async fn same_seed_same_bytes() {
    let a = Api::start(small()).await;
    let b = Api::start(small()).await;
    let c = Api::start(SandboxConfig { seed: 2, ..small() }).await;
    for path in [
        "/v1/patients?per_page=100&page=2",
        "/v1/appointments?after=2026-05-01&before=2026-07-01&per_page=100",
        "/v1/invoice_items",
        "/v1/practitioners",
        "/v1/payments?sort_by=amount",
    ] {
        let (x, y) = (a.get(path).await, b.get(path).await);
        assert_eq!(x.body, y.body, "{path}");
        assert_ne!(
            x.body,
            c.get(path).await.body,
            "{path}: another seed, other data"
        );
    }
}

fn ms(v: &Value) -> i64 {
    chrono::DateTime::parse_from_rfc3339(v.as_str().unwrap())
        .unwrap()
        .timestamp_millis()
}

fn rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

#[tokio::test]
async fn scale_1000_serves_deep_pages_quickly() {
    let before = rss_kb();
    // The speed of deep pages is the point here, not the 413 wall or the default order.
    let api = Api::start(SandboxConfig {
        scale: 1000.0,
        deep_offset: None,
        newest_first: false,
        ..small()
    })
    .await;
    let started = Instant::now();
    let page = api.get("/v1/patients?page=5000").await;
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    let body = page.json();
    assert_eq!(body["meta"]["total_count"], 1_000_000);
    assert_eq!(body["patients"].as_array().unwrap().len(), 25);
    assert_eq!(body["patients"][0]["id"], 20_001 + 4_999 * 25);
    let fees = api
        .get("/v1/fees?treatment_id=40001&per_page=100&page=40")
        .await
        .json();
    assert_eq!(
        fees["meta"]["total_count"], 4_000,
        "one fee per plan, found by range"
    );
    assert!(
        fees["fees"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["treatment_id"] == 40_001)
    );
    let items = api.get("/v1/invoice_items?invoice_id=1500001").await.json();
    assert!(items["meta"]["total_count"].as_u64().unwrap() >= 1);
    let deep = api
        .get("/v1/appointments?after=2026-06-01&before=2026-06-02&per_page=100&page=3")
        .await
        .json();
    assert!(deep["meta"]["total_count"].as_u64().unwrap() > 1_000);
    assert!(
        rss_kb().saturating_sub(before) < 200_000,
        "memory does not grow with scale"
    );
}

#[tokio::test]
async fn data_quirks() {
    let api = Api::start(small()).await;
    let site = &api.sandbox.truth(1, "sites")[0];
    assert_eq!(site["id"].as_str().unwrap().len(), 36, "site ids are GUIDs");
    assert!(
        api.sandbox.truth(1, "patients")[0]["id"].is_i64(),
        "patient ids are integers"
    );
    let plan = &api.sandbox.truth(1, "payment_plans")[0];
    assert!(plan["monthly_memberhsip_fee"].is_string(), "the API's typo");
    let appointments = api.sandbox.truth(1, "appointments");
    assert!(
        appointments
            .iter()
            .any(|a| a["patient_id"].is_null() && a["state"] == "Pending"),
        "diary blocks"
    );
    let offsets: BTreeSet<&str> = appointments
        .iter()
        .map(|a| &a["start_time"].as_str().unwrap()[23..])
        .collect();
    assert_eq!(offsets, BTreeSet::from(["+00:00", "+01:00"]), "GMT and BST");
    for a in &appointments {
        let (s, state) = (
            a["start_time"].as_str().unwrap(),
            a["state"].as_str().unwrap(),
        );
        let month: u32 = s[5..7].parse().unwrap();
        if (5..=8).contains(&month) {
            assert!(s.ends_with("+01:00"), "{s}");
        }
        if [1, 2, 12].contains(&month) {
            assert!(s.ends_with("+00:00"), "{s}");
        }
        assert_eq!(a["completed_at"].is_null(), state != "Completed", "{state}");
        assert_eq!(a["cancelled_at"].is_null(), state != "Cancelled");
        assert_eq!(a["did_not_attend_at"].is_null(), state != "Did not attend");
        assert!(ms(&a["created_at"]) <= ms(&a["updated_at"]));
    }
    let states: BTreeSet<&str> = appointments
        .iter()
        .map(|a| a["state"].as_str().unwrap())
        .collect();
    for s in [
        "Pending",
        "Confirmed",
        "Completed",
        "Cancelled",
        "Did not attend",
    ] {
        assert!(states.contains(s), "{s}");
    }
    let items = api.sandbox.truth(1, "invoice_items");
    assert!(items.iter().any(|i| i["name"] == "Discount" && i["total_price"].as_str().unwrap().starts_with('-')), "negative discounts");
    assert!(
        items.iter().any(|i| i["practitioner_id"].is_null()),
        "import rows without practitioner"
    );
    assert!(items.iter().all(|i| i["id"].as_str().unwrap().len() == 36));
    let money: Vec<&str> = items
        .iter()
        .map(|i| i["total_price"].as_str().unwrap())
        .collect();
    assert!(money.iter().any(|m| m.ends_with(".0")), "BigDecimal style");
    assert!(
        money
            .iter()
            .all(|m| !m.contains('.') || m.split('.').nth(1).unwrap().len() <= 2)
    );
    let patients = api.sandbox.truth(1, "patients");
    assert!(
        patients
            .iter()
            .all(|p| ms(&p["created_at"]) <= ms(&p["updated_at"]))
    );
    assert!(
        patients
            .iter()
            .any(|p| p["nhs_number"].as_str().is_some_and(|n| n.len() == 10))
    );
    assert!(patients.iter().any(|p| {
        p["mobile_phone"]
            .as_str()
            .is_some_and(|m| m.starts_with("07700 900"))
    }));
    let rota = api
        .get("/v1/rota_practitioner_diaries?after=2026-06-15&before=2026-06-16")
        .await
        .rows("rota_practitioner_diaries");
    assert!(
        rota.iter()
            .any(|r| !r["breaks"].as_array().unwrap().is_empty())
    );
    let payments = api.sandbox.truth(1, "payments");
    assert!(
        payments
            .iter()
            .all(|p| (1..=2).contains(&p["explanations"].as_array().unwrap().len()))
    );
    assert!(
        payments
            .iter()
            .any(|p| p["explanations"].as_array().unwrap().len() == 2)
    );
}

#[tokio::test]
async fn sizes_follow_the_scale() {
    let api = Api::start(SandboxConfig {
        scale: 1.0,
        ..small()
    })
    .await;
    let count = |r: &str| api.sandbox.truth(1, r).len();
    assert_eq!(count("patients"), 1_000);
    assert_eq!(count("patient_stats"), 1_000);
    assert_eq!(count("accounts"), 1_000);
    assert_eq!(count("appointments"), 3_000);
    assert_eq!(count("invoices"), 2_000);
    assert_eq!(count("invoice_items"), 4_000);
    assert_eq!(count("fees"), count("treatments") * count("payment_plans"));
    assert_eq!(
        count("rota_practitioner_diaries"),
        731 * count("practitioners")
    );
    let tiny = Api::start(SandboxConfig {
        scale: 0.001,
        ..small()
    })
    .await;
    for r in catalog::all() {
        assert!(
            !tiny.sandbox.truth(1, r.name).is_empty(),
            "{} keeps a row",
            r.name
        );
    }
}
