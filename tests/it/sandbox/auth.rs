//! User-Agent, tokens, expiry, scopes and `X-OAuth-Scopes`.

use super::{Api, small};
use dentally_etl::sandbox::SandboxConfig;

#[tokio::test]
async fn a_user_agent_is_required() {
    let api = Api::start(small()).await;
    let answer = api.send("/v1/patients", Some("sandbox-read"), None).await;
    assert_eq!(answer.status, 403);
    assert!(
        answer
            .header("content-type")
            .unwrap()
            .starts_with("application/json")
    );
    assert!(
        answer.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("User-Agent")
    );
}

#[tokio::test]
async fn unknown_missing_and_expired_tokens_are_401() {
    let api = Api::start(small()).await;
    for token in [None, Some("nope"), Some("sandbox-read-7")] {
        let answer = api.send("/v1/user", token, Some("t/1")).await;
        assert_eq!(answer.status, 401, "{token:?}");
        assert!(answer.json()["error"]["message"].is_string());
    }
    for _ in 0..2 {
        let expired = api
            .send("/v1/user", Some("sandbox-expired"), Some("t/1"))
            .await;
        assert_eq!(expired.status, 401);
        assert_eq!(expired.json()["error"]["type"], "invalid_token");
        assert!(
            expired.json()["error"]["message"]
                .as_str()
                .unwrap()
                .contains("expire")
        );
    }
}

#[tokio::test]
async fn tokens_die_after_two_idle_weeks_on_the_simulated_clock() {
    let api = Api::start(small()).await;
    assert_eq!(api.get("/v1/user").await.status, 200);
    api.sandbox.advance(10).await;
    assert_eq!(
        api.get("/v1/user").await.status,
        200,
        "used within two weeks"
    );
    api.sandbox.advance(15).await;
    assert_eq!(api.get("/v1/user").await.status, 401);
    api.sandbox.advance(0).await;
    assert_eq!(api.get("/v1/user").await.status, 401, "stays dead");
    let immortal = Api::start(SandboxConfig {
        token_idle_days: None,
        ..small()
    })
    .await;
    immortal.sandbox.advance(30).await;
    assert_eq!(immortal.get("/v1/user").await.status, 200);
}

#[tokio::test]
async fn missing_scope_is_403_naming_it() {
    let api = Api::start(small()).await;
    let limited = api.as_token("sandbox-patients");
    assert_eq!(limited.get("/v1/patients").await.status, 200);
    assert_eq!(limited.get("/v1/user").await.status, 200);
    let refused = limited.get("/v1/invoices").await;
    assert_eq!(refused.status, 403);
    assert_eq!(refused.json()["error"]["type"], "forbidden");
    assert!(
        refused.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("requires scope `invoice:read`")
    );
    assert_eq!(
        refused.header("x-oauth-scopes").as_deref(),
        Some("user:read patient:read")
    );
}

#[tokio::test]
async fn every_authenticated_answer_carries_the_scopes() {
    let api = Api::start(small()).await;
    let expected = dentally_etl::catalog::all_read_scopes().join(" ");
    for path in [
        "/v1/user",
        "/v1/practice",
        "/v1/patients",
        "/v1/nope",
        "/rate_limit",
        "/v1/patients/1",
    ] {
        let answer = api.get(path).await;
        assert_eq!(
            answer.header("x-oauth-scopes").as_deref(),
            Some(expected.as_str()),
            "{path}"
        );
    }
    let write = api.as_token("sandbox-write").get("/v1/user").await;
    let scopes = write.header("x-oauth-scopes").unwrap();
    assert!(scopes.contains("patient:update") && scopes.contains("appointment:create"));
    assert!(
        api.send("/v1/user", Some("nope"), Some("t/1"))
            .await
            .header("x-oauth-scopes")
            .is_none()
    );
    let quiet = Api::start(SandboxConfig {
        scopes_header: false,
        ..small()
    })
    .await;
    assert!(
        quiet
            .get("/v1/user")
            .await
            .header("x-oauth-scopes")
            .is_none()
    );
}

#[tokio::test]
async fn practices_are_isolated() {
    let api = Api::start(SandboxConfig {
        practices: 2,
        ..small()
    })
    .await;
    // Newest first, so the last page of each holds the first ids.
    let last = |total: u64| format!("/v1/patients?per_page=1&page={total}");
    let total = |v: &serde_json::Value| v["meta"]["total_count"].as_u64().unwrap();
    let one = api.get("/v1/patients").await.json();
    let two = api
        .as_token("sandbox-read-2")
        .get("/v1/patients")
        .await
        .json();
    let first_one = api.get(&last(total(&one))).await.json();
    let first_two = api
        .as_token("sandbox-read-2")
        .get(&last(total(&two)))
        .await
        .json();
    assert_eq!(
        first_one["patients"][0]["id"], first_two["patients"][0]["id"],
        "ids overlap across practices"
    );
    assert_ne!(
        first_one["patients"][0]["last_name"],
        first_two["patients"][0]["last_name"]
    );
    assert_ne!(one["meta"]["total_count"], two["meta"]["total_count"]);
    assert_ne!(
        api.get("/v1/practice").await.json(),
        api.as_token("sandbox-read-2")
            .get("/v1/practice")
            .await
            .json()
    );
    assert_eq!(
        api.as_token("sandbox-read-1")
            .get("/v1/patients")
            .await
            .json(),
        one
    );
    assert_eq!(api.sandbox.truth(2, "patients")[0], first_two["patients"][0]);
    let users = api
        .sandbox
        .requests()
        .into_iter()
        .map(|r| r.user.unwrap())
        .collect::<Vec<_>>();
    assert!(users.contains(&"p1-u1001".to_string()) && users.contains(&"p2-u1001".to_string()));
}

#[tokio::test]
async fn renamed_tokens_announce_other_scope_names_but_read_everything() {
    let api = Api::start(small()).await;
    let evidenced = [
        "user:read",
        "patient:read",
        "appointment:read",
        "practice:read",
    ];
    for token in ["sandbox-read-renamed", "sandbox-write-renamed"] {
        let reader = api.as_token(token);
        let answer = reader.get("/v1/payments?per_page=1").await;
        assert_eq!(answer.status, 200, "{token}");
        let header = answer.header("x-oauth-scopes").unwrap();
        let names: Vec<&str> = header.split(' ').collect();
        assert!(evidenced.iter().all(|e| names.contains(e)), "{header}");
        assert!(names.contains(&"payments:read") && !names.contains(&"payment:read"));
        assert!(names.contains(&"treatment_plan_items:read"));
        for r in dentally_etl::catalog::all() {
            let path = format!("{}?per_page=1&after=2026-06-01&treatment_id=40001", r.path);
            assert_eq!(reader.get(&path).await.status, 200, "{token} {}", r.name);
        }
        let writes = names.iter().any(|n| !n.ends_with(":read"));
        assert_eq!(writes, token.starts_with("sandbox-write"), "{header}");
    }
}
