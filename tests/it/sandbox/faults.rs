//! Each fault mode, observed from the client side.

use std::collections::BTreeSet;
use std::time::Duration;

use super::{Api, small};
use dentally_etl::sandbox::{FaultConfig, RateLimitConfig, SandboxConfig};

fn with(faults: FaultConfig) -> SandboxConfig {
    SandboxConfig { faults, ..small() }
}

#[tokio::test]
async fn server_errors_are_per_attempt() {
    let api = Api::start(with(FaultConfig {
        error_rate: 1.0,
        ..FaultConfig::default()
    }))
    .await;
    for _ in 0..3 {
        let answer = api.get("/v1/sites").await;
        assert!(
            [500, 502, 503].contains(&answer.status),
            "{}",
            answer.status
        );
        assert!(answer.json()["error"]["type"].is_string());
        assert!(answer.header("x-ratelimit-remaining").is_some());
    }
    assert_eq!(
        api.get("/v1/sites").await.status,
        200,
        "never fails forever"
    );
    let faults: Vec<_> = api
        .sandbox
        .requests()
        .into_iter()
        .map(|r| r.fault)
        .collect();
    assert!(faults[0].as_deref().unwrap().starts_with('5'));
    assert_eq!(faults[3], None);
}

#[tokio::test]
async fn stalls_time_out_short_clients() {
    let api = Api::start(with(FaultConfig {
        stall_rate: 1.0,
        stall: Duration::from_secs(5),
        ..FaultConfig::default()
    }))
    .await;
    let client = reqwest::Client::builder()
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let err = client
        .get(format!("{}/v1/sites", api.sandbox.base_url()))
        .bearer_auth("sandbox-read")
        .header("User-Agent", "t/1")
        .send()
        .await
        .unwrap_err();
    assert!(err.is_timeout(), "{err}");
    assert_eq!(api.sandbox.requests()[0].fault.as_deref(), Some("stall"));
}

#[tokio::test]
async fn truncated_bodies_do_not_parse() {
    let api = Api::start(with(FaultConfig {
        truncate_rate: 1.0,
        ..FaultConfig::default()
    }))
    .await;
    let answer = api.get("/v1/patients").await;
    assert_eq!(answer.status, 200);
    assert!(
        answer
            .header("content-type")
            .unwrap()
            .starts_with("application/json")
    );
    assert!(serde_json::from_slice::<serde_json::Value>(&answer.body).is_err());
    assert!(!answer.body.is_empty());
}

#[tokio::test]
async fn resets_fail_the_request() {
    let api = Api::start(with(FaultConfig {
        reset_rate: 1.0,
        ..FaultConfig::default()
    }))
    .await;
    let result = async {
        let response = api
            .client
            .get(format!(
                "{}/v1/patients?per_page=100",
                api.sandbox.base_url()
            ))
            .bearer_auth("sandbox-read")
            .header("User-Agent", "t/1")
            .send()
            .await?;
        response.bytes().await
    }
    .await;
    assert!(result.is_err(), "the body must not arrive whole");
    assert_eq!(api.sandbox.requests()[0].fault.as_deref(), Some("reset"));
}

#[tokio::test]
async fn latency_is_added() {
    let api = Api::start(SandboxConfig {
        latency: Duration::from_millis(150),
        ..small()
    })
    .await;
    let started = std::time::Instant::now();
    api.get("/v1/sites").await;
    assert!(started.elapsed() >= Duration::from_millis(150));
}

#[tokio::test]
async fn unstable_default_order_shows_but_sort_by_is_stable() {
    let api = Api::start(with(FaultConfig {
        unstable_order_rate: 1.0,
        ..FaultConfig::default()
    }))
    .await;
    let truth: BTreeSet<i64> = api
        .sandbox
        .truth(1, "invoices")
        .iter()
        .map(|p| p["id"].as_i64().unwrap())
        .collect();
    let mut seen = Vec::new();
    for page in 1..=(truth.len() / 20 + 1) {
        seen.extend(
            api.get(&format!("/v1/invoices?per_page=20&page={page}"))
                .await
                .ids("invoices")
                .into_iter()
                .map(|v| v.as_i64().unwrap()),
        );
    }
    let unique: BTreeSet<i64> = seen.iter().copied().collect();
    assert!(
        unique.len() < seen.len() || unique != truth,
        "rows repeat or vanish without sort_by"
    );
    let stable: Vec<i64> = api
        .all("/v1/invoices", "invoices")
        .await
        .iter()
        .map(|p| p["id"].as_i64().unwrap())
        .collect();
    assert_eq!(
        stable,
        truth.into_iter().collect::<Vec<_>>(),
        "sort_by=id is stable under this fault (invoices honour sort_by)"
    );
}

#[tokio::test]
async fn total_pages_can_go_missing() {
    let api = Api::start(with(FaultConfig {
        missing_total_pages_rate: 1.0,
        ..FaultConfig::default()
    }))
    .await;
    let meta = api.get("/v1/patients").await.json()["meta"].clone();
    assert!(meta.get("total_pages").is_none());
    assert!(meta["total_count"].is_u64());
    assert_eq!(
        api.sandbox.requests()[0].fault.as_deref(),
        Some("no_total_pages")
    );
}

#[tokio::test]
async fn rate_limit_blips_right_after_a_reset() {
    let faults = FaultConfig {
        blip_rate: 1.0,
        blip_window: Duration::from_secs(7200),
        ..FaultConfig::default()
    };
    let api = Api::start(SandboxConfig {
        faults,
        rate_limit: RateLimitConfig::default(),
        ..small()
    })
    .await;
    let blip = api.get("/v1/sites").await;
    assert_eq!(blip.status, 403);
    assert_eq!(&blip.body[..], b"403 Forbidden (Rate Limit Exceeded)");
    let remaining: u32 = blip
        .header("x-ratelimit-remaining")
        .unwrap()
        .parse()
        .unwrap();
    assert!(remaining > 3000, "a blip happens while the budget is high");
    let log = api.sandbox.requests();
    assert!(log[0].rate_limited);
    assert_eq!(log[0].fault.as_deref(), Some("blip"));
    for _ in 0..2 {
        api.get("/v1/sites").await;
    }
    assert_eq!(
        api.get("/v1/sites").await.status,
        200,
        "a blip is per attempt"
    );
}

#[tokio::test]
async fn hostile_profile_is_deterministic() {
    let run = || async {
        let api = Api::start(with(FaultConfig {
            stall: Duration::from_millis(10),
            blip_rate: 0.0,
            ..FaultConfig::profile("hostile").unwrap()
        }))
        .await;
        let mut outcomes = Vec::new();
        for page in 1..=30 {
            let response = api
                .client
                .get(format!(
                    "{}/v1/patients?page={}",
                    api.sandbox.base_url(),
                    page % 5 + 1
                ))
                .bearer_auth("sandbox-read")
                .header("User-Agent", "t/1")
                .send()
                .await;
            let status = match response {
                Ok(r) => r.status().as_u16(),
                Err(_) => 0,
            };
            outcomes.push(status);
        }
        let faults: Vec<Option<String>> = api
            .sandbox
            .requests()
            .into_iter()
            .map(|r| r.fault)
            .collect();
        (outcomes, faults)
    };
    let (a, fa) = run().await;
    let (b, fb) = run().await;
    assert_eq!(fa, fb);
    assert_eq!(a, b);
    assert!(fa.iter().any(Option::is_some));
}
