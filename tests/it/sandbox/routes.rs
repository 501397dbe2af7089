//! Routes: both prefixes, envelopes, single objects, details, 404s, JSON everywhere.

use super::{Api, small};

#[tokio::test]
async fn routes_answer_with_and_without_the_version_prefix() {
    let api = Api::start(small()).await;
    let with = api.get("/v1/patients?per_page=5").await;
    let without = api.get("/patients?per_page=5").await;
    assert_eq!(with.status, 200);
    assert_eq!(with.body, without.body);
    assert_eq!(api.get("/user").await.body, api.get("/v1/user").await.body);
}

#[tokio::test]
async fn envelopes_and_single_objects() {
    let api = Api::start(small()).await;
    let user = api.get("/v1/user").await;
    assert_eq!(user.status, 200);
    assert_eq!(user.json()["user"]["id"], 1001, "the token owner");
    assert!(user.json()["user"].is_object());
    let practice = api.get("/v1/practice").await.json();
    assert!(
        practice["practice"].is_object(),
        "practice is one object, not a list"
    );
    assert_eq!(practice["practice"]["time_zone"], "Europe/London");
    assert!(practice.get("meta").is_none());
    for resource in dentally_etl::catalog::all()
        .iter()
        .filter(|r| r.name != "practice")
    {
        let answer = api
            .get(&format!(
                "{}?after=2026-06-01&before=2026-06-08&treatment_id=40001",
                resource.path
            ))
            .await;
        assert_eq!(answer.status, 200, "{}", resource.name);
        assert!(
            answer
                .header("content-type")
                .unwrap()
                .starts_with("application/json")
        );
        let body = answer.json();
        let keys: Vec<&String> = body.as_object().unwrap().keys().collect();
        assert_eq!(keys, [resource.envelope, "meta"], "{}", resource.name);
        assert!(
            body["meta"]["total_count"].as_u64().unwrap() > 0,
            "{} is empty",
            resource.name
        );
    }
}

#[tokio::test]
async fn records_by_id() {
    let api = Api::start(small()).await;
    let patient = api.get("/v1/patients/20005").await;
    assert_eq!(patient.status, 200);
    assert_eq!(patient.json()["patient"]["id"], 20005);
    let appointment = api.get("/v1/appointments/3000010").await.json();
    assert_eq!(appointment["appointment"]["id"], 3000010);
    let invoice = api.get("/v1/invoices/500003").await.json();
    let items = invoice["invoice"]["invoice_items"].as_array().unwrap();
    assert!(!items.is_empty());
    let total: f64 = items
        .iter()
        .map(|i| i["total_price"].as_str().unwrap().parse::<f64>().unwrap())
        .sum();
    let amount: f64 = invoice["invoice"]["amount"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        (total - amount).abs() < 0.001,
        "invoice amount = sum of its items"
    );
    assert!(items.iter().all(|i| i["invoice_id"] == 500003));
    let missing = api.get("/v1/patients/1").await;
    assert_eq!(missing.status, 404);
    assert_eq!(missing.json()["error"]["type"], "not_found");
}

#[tokio::test]
async fn unknown_paths_are_json_404s() {
    let api = Api::start(small()).await;
    for path in [
        "/v1/cancellation_reasons",
        "/v1/nope",
        "/v2/patients",
        "/v1/sites/x/y",
    ] {
        let answer = api.get(path).await;
        assert_eq!(answer.status, 404, "{path}");
        assert!(
            answer
                .header("content-type")
                .unwrap()
                .starts_with("application/json")
        );
        assert_eq!(answer.json()["error"]["type"], "not_found");
        assert!(answer.json()["error"]["message"].is_string());
    }
}

#[tokio::test]
async fn control_routes_are_open_and_unlogged() {
    let api = Api::start(small()).await;
    api.get("/v1/sites").await;
    let base = api.sandbox.base_url();
    let log: serde_json::Value = api
        .client
        .get(format!("{base}/_sandbox/requests"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(log.as_array().unwrap().len(), 1);
    assert_eq!(log[0]["path"], "/v1/sites");
    assert_eq!(log[0]["user"], "p1-u1001");
    let truth: serde_json::Value = api
        .client
        .get(format!("{base}/_sandbox/truth/sites?practice=1"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        truth.as_array().unwrap().len(),
        api.sandbox.truth(1, "sites").len()
    );
    let knobs: serde_json::Value = api
        .client
        .post(format!("{base}/_sandbox/faults?profile=flaky"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(knobs["error_rate"].as_f64().unwrap() > 0.0);
    let bad = api
        .client
        .post(format!("{base}/_sandbox/faults?profile=evil"))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    let now: serde_json::Value = api
        .client
        .post(format!("{base}/_sandbox/advance?days=1"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(now["days"], 1);
    assert_eq!(now["now"], "2026-06-16T09:00:00.000+01:00");
    assert_eq!(
        api.sandbox.requests().len(),
        1,
        "control routes are not logged"
    );
    api.client
        .delete(format!("{base}/_sandbox/requests"))
        .send()
        .await
        .unwrap();
    assert!(api.sandbox.requests().is_empty());
}

#[tokio::test]
async fn a_patients_stats_by_id() {
    let api = Api::start(small()).await;
    let truth = api.sandbox.truth(1, "patient_stats");
    let row = &truth[7];
    let answer = api
        .get(&format!("/v1/patients/{}/stats", row["patient_id"]))
        .await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.json(), serde_json::json!({"patient_stat": row}));
    assert_eq!(
        api.get(&format!("/patients/{}/stats", row["patient_id"]))
            .await
            .body,
        answer.body,
        "without the version prefix too"
    );
    for missing in ["1", "abc", "99999999"] {
        let answer = api.get(&format!("/v1/patients/{missing}/stats")).await;
        assert_eq!(answer.status, 404, "{missing}");
        assert_eq!(answer.json()["error"]["type"], "not_found");
    }
    let gone = api
        .sandbox
        .delete_rows(1, "patients", 1, false)
        .await
        .unwrap();
    assert_eq!(
        api.get(&format!("/v1/patients/{}/stats", gone[0]))
            .await
            .status,
        404,
        "a deleted patient has no stats"
    );
    let denied = api
        .as_token("sandbox-patients")
        .get(&format!("/v1/patients/{}/stats", row["patient_id"]))
        .await;
    assert_eq!(denied.status, 403, "needs the patient_stats scope");
}

#[tokio::test]
async fn unused_features_answer_empty_lists() {
    let api = Api::start(dentally_etl::sandbox::SandboxConfig {
        features_off: vec!["rooms".into(), "nhs_claims".into()],
        ..small()
    })
    .await;
    for name in ["rooms", "nhs_claims"] {
        let answer = api.get(&format!("/v1/{name}")).await;
        assert_eq!(answer.status, 200, "{name}");
        assert!(answer.rows(name).is_empty());
        assert_eq!(answer.json()["meta"]["total_count"], 0);
    }
    assert!(api.get("/v1/sites").await.json()["meta"]["total_count"].as_u64() > Some(0));
    let old = Api::start(dentally_etl::sandbox::SandboxConfig {
        features_off: vec!["rooms".into()],
        features_off_404: true,
        ..small()
    })
    .await;
    assert_eq!(
        old.get("/v1/rooms").await.status,
        404,
        "the old sandbox's knob"
    );
}
