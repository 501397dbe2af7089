//! Filters, checked against the ground truth: the ones the live API honours (per resource,
//! `../shared/docs/api-evidence.md` §2) filter; every other one is silently ignored and the
//! unfiltered list comes back, as on the live API.

use serde_json::Value;

use super::{Api, small};
use dentally_etl::sandbox::SandboxConfig;

/// The range filters the evidence shows, per resource (the sandbox's table, restated).
const HONOURED_RANGES: &[(&str, &[&str])] = &[
    (
        "patients",
        &["updated_after", "created_after", "created_before"],
    ),
    ("invoices", &["updated_after"]),
    ("invoice_items", &["updated_after"]),
    (
        "treatment_plans",
        &["updated_after", "updated_before", "created_after"],
    ),
    ("treatment_plan_items", &["updated_after", "updated_before"]),
    (
        "treatment_appointments",
        &["updated_after", "updated_before"],
    ),
    ("nhs_claims", &["updated_after"]),
    ("recalls", &["updated_after"]),
];

fn honoured(resource: &str, param: &str) -> bool {
    HONOURED_RANGES
        .iter()
        .any(|(r, ps)| *r == resource && ps.contains(&param))
}

fn sorted(mut ids: Vec<Value>) -> Vec<Value> {
    ids.sort_by_key(|v| v.as_i64());
    ids
}

fn instant(v: &Value) -> i64 {
    chrono::DateTime::parse_from_rfc3339(v.as_str().unwrap())
        .unwrap()
        .timestamp_millis()
}

fn ids(rows: &[Value]) -> Vec<Value> {
    rows.iter().map(|r| r["id"].clone()).collect()
}

#[tokio::test]
async fn updated_and_created_filters() {
    let api = Api::start(small()).await;
    let truth = api.sandbox.truth(1, "patients");
    let cut = "2025-01-01T00:00:00Z";
    let cut_ms = chrono::DateTime::parse_from_rfc3339(cut)
        .unwrap()
        .timestamp_millis();
    let expected: Vec<Value> = ids(&truth
        .iter()
        .filter(|p| instant(&p["updated_at"]) >= cut_ms)
        .cloned()
        .collect::<Vec<_>>());
    assert!(!expected.is_empty() && expected.len() < truth.len());
    assert_eq!(
        sorted(ids(&api
            .all(&format!("/v1/patients?updated_after={cut}"), "patients")
            .await)),
        expected
    );
    assert_eq!(
        sorted(ids(&api
            .all(
                "/v1/patients?updated_after=2025-01-01T01:00:00%2B01:00",
                "patients"
            )
            .await)),
        expected,
        "other offset"
    );
    for ignored in ["updated_since", "updated_before"] {
        assert_eq!(
            api.get(&format!("/v1/patients?{ignored}={cut}"))
                .await
                .json()["meta"]["total_count"],
            truth.len(),
            "patients ignore {ignored}"
        );
    }
    let created: Vec<Value> = ids(&truth
        .iter()
        .filter(|p| instant(&p["created_at"]) >= cut_ms)
        .cloned()
        .collect::<Vec<_>>());
    assert_eq!(
        api.all("/v1/patients?created_after=2025-01-01", "patients")
            .await
            .len(),
        {
            let local = dentally_etl_local_midnight("2025-01-01");
            truth
                .iter()
                .filter(|p| instant(&p["created_at"]) >= local)
                .count()
        }
    );
    assert!(!created.is_empty());
    let created_before = api
        .get("/v1/patients?created_before=2020-01-01T00:00:00Z&per_page=100")
        .await
        .rows("patients");
    assert!(created_before.iter().all(|p| {
        instant(&p["created_at"])
            < chrono::DateTime::parse_from_rfc3339("2020-01-01T00:00:00Z")
                .unwrap()
                .timestamp_millis()
    }));
    let bad = api.get("/v1/patients?updated_after=last-tuesday").await;
    assert_eq!(bad.status, 400);
    assert_eq!(bad.json()["error"]["type"], "bad_request");
}

#[tokio::test]
async fn stamp_filters_agree_with_the_truth_on_every_resource() {
    let api = Api::start(small()).await;
    api.sandbox.advance(2).await;
    let cuts = [
        "2024-12-01T10:00:00Z",
        "2026-06-10",
        "2026-06-15T12:00:00%2B01:00",
    ];
    for resource in dentally_etl::catalog::all().iter().filter(|r| {
        r.field("updated_at").is_some() && r.window == dentally_etl::catalog::Window::None
    }) {
        let truth = api.sandbox.truth(1, resource.name);
        for cut in cuts {
            let ms = super::sandbox_instant(cut);
            for (param, field, after) in [
                ("updated_after", "updated_at", true),
                ("updated_before", "updated_at", false),
                ("created_after", "created_at", true),
                ("created_before", "created_at", false),
            ] {
                if resource.field(field).is_none() {
                    continue;
                }
                let expected = if honoured(resource.name, param) {
                    truth
                        .iter()
                        .filter(|r| (instant(&r[field]) >= ms) == after)
                        .count()
                } else {
                    truth.len()
                };
                let got = api
                    .get(&format!("{}?{param}={cut}&per_page=1", resource.path))
                    .await
                    .json()["meta"]["total_count"]
                    .as_u64()
                    .unwrap();
                assert_eq!(got as usize, expected, "{} {param}={cut}", resource.name);
            }
        }
    }
}

/// Local (London) midnight of a date: 2025-01-01 is in winter, so UTC midnight.
fn dentally_etl_local_midnight(date: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(&format!("{date}T00:00:00Z"))
        .unwrap()
        .timestamp_millis()
}

#[tokio::test]
async fn windowed_lists_need_their_window() {
    let api = Api::start(small()).await;
    for path in [
        "/v1/appointments",
        "/v1/appointments?before=2026-07-01",
        "/v1/appointments?updated_before=2026-07-01",
        "/v1/rota_practitioner_diaries?before=2026-07-01",
    ] {
        let answer = api.get(path).await;
        assert_eq!(answer.status, 200, "{path}");
        assert!(
            answer
                .rows(path.split('?').next().unwrap().trim_start_matches("/v1/"))
                .is_empty(),
            "{path}"
        );
        assert_eq!(answer.json()["meta"]["total_count"], 0);
    }
    for path in [
        "/v1/appointments?after=2026-06-01",
        "/v1/appointments?on=2026-06-10",
        "/v1/appointments?updated_after=2026-06-01",
        "/v1/rota_practitioner_diaries?after=2026-06-01",
    ] {
        let answer = api.get(path).await;
        assert_eq!(answer.status, 200, "{path}");
        assert!(
            answer.json()["meta"]["total_count"].as_u64().unwrap() > 0,
            "{path}: one bound is enough"
        );
    }
    let strict = Api::start(SandboxConfig {
        strict_windows: true,
        ..small()
    })
    .await;
    assert_eq!(strict.get("/v1/appointments").await.status, 422);
}

#[tokio::test]
async fn appointments_leave_out_cancelled_and_dna_without_cancelled_true() {
    let api = Api::start(small()).await;
    let truth = api.sandbox.truth(1, "appointments");
    let month = "after=2026-03-01&before=2026-06-01";
    let (a, b) = (
        super::sandbox_instant("2026-03-01"),
        super::sandbox_instant("2026-06-01"),
    );
    let in_window: Vec<&Value> = truth
        .iter()
        .filter(|x| (a..b).contains(&instant(&x["start_time"])))
        .collect();
    let gone = |x: &&Value| matches!(x["state"].as_str(), Some("Cancelled" | "Did not attend"));
    let cancelled = in_window.iter().filter(gone).count();
    assert!(cancelled > 5, "the diary has cancellations ({cancelled})");
    let default = api
        .all(&format!("/v1/appointments?{month}"), "appointments")
        .await;
    assert_eq!(default.len(), in_window.len() - cancelled);
    assert!(!default.iter().any(|x| gone(&x)));
    let all = api
        .all(
            &format!("/v1/appointments?{month}&cancelled=true"),
            "appointments",
        )
        .await;
    assert_eq!(all.len(), in_window.len(), "cancelled=true brings them");
    let kind = Api::start(SandboxConfig {
        include_cancelled: true,
        ..small()
    })
    .await;
    assert_eq!(
        kind.all(&format!("/v1/appointments?{month}"), "appointments")
            .await
            .len(),
        in_window.len(),
        "the old sandbox's knob"
    );
}

#[tokio::test]
async fn appointments_honour_updated_after_alone_and_ignore_updated_before() {
    let api = Api::start(small()).await;
    api.sandbox.advance(2).await;
    let truth = api.sandbox.truth(1, "appointments");
    let cut = "2026-06-15T09:00:00%2B01:00";
    let ms = super::sandbox_instant(cut);
    let changed: Vec<Value> = ids(&truth
        .iter()
        .filter(|x| instant(&x["updated_at"]) >= ms)
        .cloned()
        .collect::<Vec<_>>());
    assert!(!changed.is_empty());
    let got = api
        .all(
            &format!("/v1/appointments?updated_after={cut}&cancelled=true"),
            "appointments",
        )
        .await;
    assert_eq!(sorted(ids(&got)), sorted(changed));
    let window = "after=2026-06-01&before=2026-07-01&cancelled=true";
    let plain =
        api.get(&format!("/v1/appointments?{window}")).await.json()["meta"]["total_count"].clone();
    assert_eq!(
        api.get(&format!(
            "/v1/appointments?{window}&updated_before=2026-06-02"
        ))
        .await
        .json()["meta"]["total_count"],
        plain,
        "updated_before is ignored"
    );
}

#[tokio::test]
async fn appointment_filters() {
    let api = Api::start(small()).await;
    let truth = api.sandbox.truth(1, "appointments");
    let (from, to) = ("2026-05-01T00:00:00+01:00", "2026-06-01T00:00:00Z");
    let (a, b) = (
        chrono::DateTime::parse_from_rfc3339(from)
            .unwrap()
            .timestamp_millis(),
        chrono::DateTime::parse_from_rfc3339(to)
            .unwrap()
            .timestamp_millis(),
    );
    let in_window: Vec<Value> = truth
        .iter()
        .filter(|x| (a..b).contains(&instant(&x["start_time"])))
        .cloned()
        .collect();
    assert!(in_window.len() > 20);
    let got = api
        .all(
            &format!(
                "/v1/appointments?after={}&before={to}&cancelled=true",
                from.replace('+', "%2B")
            ),
            "appointments",
        )
        .await;
    assert_eq!(
        ids(&got),
        ids(&in_window),
        "after inclusive, before exclusive, any offset"
    );
    let month = "after=2026-05-01&before=2026-06-01&cancelled=true";
    let sample = &in_window[3];
    for (param, field) in [
        ("patient_id", "patient_id"),
        ("practitioner_id", "practitioner_id"),
        ("room_id", "room_id"),
        ("state", "state"),
        ("site_id", "practitioner_site_id"),
    ] {
        let value = sample[field]
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| sample[field].to_string());
        let expected: Vec<Value> = ids(&in_window
            .iter()
            .filter(|x| x[field] == sample[field])
            .cloned()
            .collect::<Vec<_>>());
        let got = api
            .all(
                &format!(
                    "/v1/appointments?{month}&{param}={}",
                    value.replace(' ', "%20")
                ),
                "appointments",
            )
            .await;
        assert_eq!(ids(&got), expected, "{param}");
    }
    let on = api
        .all(
            "/v1/appointments?after=2026-01-01&before=2027-01-01&on=2026-06-10&cancelled=true",
            "appointments",
        )
        .await;
    assert!(!on.is_empty());
    assert!(
        on.iter()
            .all(|x| x["start_time"].as_str().unwrap().starts_with("2026-06-10"))
    );
}

#[tokio::test]
async fn rota_filters() {
    let api = Api::start(small()).await;
    let rows = api
        .all(
            "/v1/rota_practitioner_diaries?after=2026-06-01&before=2026-06-08",
            "rota_practitioner_diaries",
        )
        .await;
    let practitioners = api.sandbox.truth(1, "practitioners");
    assert_eq!(rows.len(), 7 * practitioners.len());
    assert!(
        rows.iter()
            .all(|r| ("2026-06-01".."2026-06-08").contains(&r["day"].as_str().unwrap()))
    );
    let p = &practitioners[0];
    let mine = api.all(&format!("/v1/rota_practitioner_diaries?after=2026-06-01&before=2026-06-08&practitioner_id={}", p["id"]), "rota_practitioner_diaries").await;
    assert_eq!(
        mine.len(),
        rows.len(),
        "practitioner_id is not evidenced: ignored"
    );
    let site = p["site_id"].as_str().unwrap();
    let at_site = api
        .all(
            &format!(
                "/v1/rota_practitioner_diaries?after=2026-06-01&before=2026-06-08&site_id={site}"
            ),
            "rota_practitioner_diaries",
        )
        .await;
    assert_eq!(
        at_site.len(),
        rows.len(),
        "site_id is not evidenced: ignored"
    );
    let honoured = Api::start(SandboxConfig {
        honour_filters: vec!["rota_practitioner_diaries:*".into()],
        ..small()
    })
    .await;
    let there = practitioners
        .iter()
        .filter(|x| x["site_id"] == site)
        .count();
    assert_eq!(
        honoured
            .all(
                &format!(
                    "/v1/rota_practitioner_diaries?after=2026-06-01&before=2026-06-08&site_id={site}"
                ),
                "rota_practitioner_diaries",
            )
            .await
            .len(),
        7 * there,
        "the knob applies it"
    );
}

#[tokio::test]
async fn invoice_and_payment_filters() {
    let api = Api::start(small()).await;
    let api = &api;
    for (resource, after, before, site_honoured) in [
        ("invoices", "dated_on_after", "dated_on_before", true),
        ("payments", "dated_after", "dated_before", false),
    ] {
        let truth = api.sandbox.truth(1, resource);
        let expected: Vec<Value> = ids(&truth
            .iter()
            .filter(|x| ("2026-01-01".."2026-02-01").contains(&x["dated_on"].as_str().unwrap()))
            .cloned()
            .collect::<Vec<_>>());
        assert!(!expected.is_empty());
        let got = api
            .all(
                &format!("/v1/{resource}?{after}=2026-01-01&{before}=2026-02-01"),
                resource,
            )
            .await;
        assert_eq!(ids(&got), expected, "{resource} dated_on");
        let count = |path: String| async move {
            api.get(&path).await.json()["meta"]["total_count"]
                .as_u64()
                .unwrap() as usize
        };
        let patient = &truth[5]["patient_id"];
        assert_eq!(
            count(format!("/v1/{resource}?patient_id={patient}")).await,
            truth.len(),
            "{resource}: patient_id is not evidenced: ignored"
        );
        let site = truth[5]["site_id"].as_str().unwrap();
        let at_site = truth.iter().filter(|x| x["site_id"] == site).count();
        assert_eq!(
            count(format!("/v1/{resource}?site_id={site}")).await,
            if site_honoured { at_site } else { truth.len() },
            "{resource} site_id"
        );
    }
    let payments = api.sandbox.truth(1, "payments").len();
    for ignored in [
        "updated_after=2026-06-01",
        "dated_on_after=2026-06-01",
        "created_after=2026-06-01",
    ] {
        assert_eq!(
            api.get(&format!("/v1/payments?{ignored}")).await.json()["meta"]["total_count"],
            payments,
            "payments ignore {ignored}: the whole history comes back"
        );
    }
    let all = api.get("/v1/invoices").await.json()["meta"]["total_count"].clone();
    assert_eq!(
        api.get("/v1/invoices?paid=true").await.json()["meta"]["total_count"],
        all,
        "`paid` is accepted and ignored"
    );
    assert_eq!(
        api.get("/v1/invoices?paid=false&colour=blue").await.json()["meta"]["total_count"],
        all,
        "unknown params are ignored"
    );
}

#[tokio::test]
async fn knobs_move_a_filter_across_the_line() {
    let api = Api::start(SandboxConfig {
        honour_filters: vec!["payments:updated_after".into()],
        ignore_filters: vec!["payments:dated_after".into()],
        ..small()
    })
    .await;
    let api = &api;
    let truth = api.sandbox.truth(1, "payments");
    let cut = "2026-01-01";
    let ms = super::sandbox_instant(cut);
    let total = |q: String| async move {
        api.get(&format!("/v1/payments?{q}")).await.json()["meta"]["total_count"]
            .as_u64()
            .unwrap() as usize
    };
    let since = truth
        .iter()
        .filter(|p| instant(&p["updated_at"]) >= ms)
        .count();
    assert!(since < truth.len());
    assert_eq!(total(format!("updated_after={cut}")).await, since);
    assert_eq!(total(format!("dated_after={cut}")).await, truth.len());
}

#[tokio::test]
async fn fees_per_treatment() {
    let api = Api::start(small()).await;
    let treatments = api.sandbox.truth(1, "treatments");
    let plans = api.sandbox.truth(1, "payment_plans");
    let mut seen = 0;
    for t in &treatments {
        let fees = api
            .get(&format!("/v1/fees?treatment_id={}&per_page=100", t["id"]))
            .await
            .rows("fees");
        assert_eq!(fees.len(), plans.len(), "one fee per payment plan");
        assert!(fees.iter().all(|f| f["treatment_id"] == t["id"]));
        seen += fees.len();
    }
    assert_eq!(
        seen,
        api.sandbox.truth(1, "fees").len(),
        "fees = treatments × plans"
    );
    let one = api
        .get(&format!(
            "/v1/fees?treatment_id={}&payment_plan_id={}&per_page=100",
            treatments[0]["id"],
            plans[plans.len() - 1]["id"]
        ))
        .await
        .rows("fees");
    assert_eq!(one.len(), plans.len(), "payment_plan_id is not evidenced");
}

#[tokio::test]
async fn patient_filters() {
    let api = Api::start(small()).await;
    let api = &api;
    let truth = api.sandbox.truth(1, "patients");
    let someone = &truth[17];
    let total = |q: String| async move {
        api.get(&format!("/v1/patients?{q}")).await.json()["meta"]["total_count"]
            .as_u64()
            .unwrap() as usize
    };
    let last = someone["last_name"].as_str().unwrap();
    assert_eq!(
        total(format!(
            "query={}",
            last.to_lowercase().replace('\'', "%27")
        ))
        .await,
        truth.len(),
        "query is not evidenced: ignored"
    );
    assert_eq!(total("active=false".into()).await, truth.len());
    let site = someone["site_id"].as_str().unwrap();
    assert_eq!(
        total(format!("site_id={site}")).await,
        truth.iter().filter(|p| p["site_id"] == site).count()
    );
    let kind = Api::start(small().kind()).await;
    let found = kind
        .all(
            &format!(
                "/v1/patients?query={}",
                last.to_lowercase().replace('\'', "%27")
            ),
            "patients",
        )
        .await;
    assert!(found.iter().any(|p| p["id"] == someone["id"]));
    assert!(found.len() < truth.len(), "the old sandbox searched");
}
