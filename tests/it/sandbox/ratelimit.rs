//! The per-user budget: headers, the text/plain 403, resets, the other modes, `/rate_limit`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::{Api, small};
use dentally_etl::sandbox::{RateLimitConfig, RateLimitMode, SandboxConfig};

fn limited(limit: u32, secs: u64, mode: RateLimitMode) -> SandboxConfig {
    SandboxConfig {
        rate_limit: RateLimitConfig {
            limit,
            window: Duration::from_secs(secs),
            mode,
        },
        ..small()
    }
}

/// Sleeps until just after the start of the next `secs`-second window.
async fn window_start(secs: u64) {
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let window = secs * 1000;
    tokio::time::sleep(Duration::from_millis(window - ms % window + 30)).await;
}

#[tokio::test]
async fn budget_headers_refusal_and_reset() {
    let api = Api::start(limited(20, 2, RateLimitMode::Forbidden403Text)).await;
    window_start(2).await;
    let mut reset = 0;
    for n in 0..20u32 {
        let answer = api.get("/v1/sites").await;
        assert_eq!(answer.status, 200, "request {n}");
        assert_eq!(answer.header("x-ratelimit-limit").as_deref(), Some("20"));
        assert_eq!(
            answer.header("x-ratelimit-remaining"),
            Some((19 - n).to_string())
        );
        reset = answer
            .header("x-ratelimit-reset")
            .unwrap()
            .parse::<u64>()
            .unwrap();
    }
    assert_eq!(reset % 2, 0, "reset is the end of an aligned window");
    let refused = api.get("/v1/sites").await;
    assert_eq!(refused.status, 403);
    assert_eq!(
        refused.header("content-type").as_deref(),
        Some("text/plain; charset=utf-8")
    );
    assert_eq!(&refused.body[..], b"403 Forbidden (Rate Limit Exceeded)");
    assert_eq!(
        refused.header("x-ratelimit-remaining").as_deref(),
        Some("0")
    );
    assert_eq!(refused.header("x-ratelimit-reset"), Some(reset.to_string()));
    let status: serde_json::Value = api.get("/rate_limit").await.json();
    assert_eq!(status["resources"]["core"]["remaining"], 0);
    assert_eq!(status["resources"]["core"]["limit"], 20);
    assert_eq!(status["resources"]["core"]["reset"], reset);
    assert!(status["resources"]["sms"]["limit"].is_u64());
    let log = api.sandbox.requests();
    assert!(
        log.iter().filter(|r| r.rate_limited).count() == 1
            && log.last().unwrap().path == "/rate_limit"
    );
    window_start(2).await;
    let again = api.get("/v1/sites").await;
    assert_eq!(again.status, 200, "the window reset");
    assert_eq!(again.header("x-ratelimit-remaining").as_deref(), Some("19"));
}

#[tokio::test]
async fn rate_limit_endpoint_costs_nothing() {
    let api = Api::start(limited(5, 3600, RateLimitMode::Forbidden403Text)).await;
    for _ in 0..10 {
        assert_eq!(api.get("/rate_limit").await.status, 200);
    }
    let answer = api.get("/v1/user").await;
    assert_eq!(answer.header("x-ratelimit-remaining").as_deref(), Some("4"));
    assert_eq!(
        api.get("/rate_limit").await.json()["resources"]["core"]["remaining"],
        4
    );
}

#[tokio::test]
async fn too_many_requests_mode_sends_retry_after() {
    let api = Api::start(limited(3, 3600, RateLimitMode::TooMany429)).await;
    for _ in 0..3 {
        assert_eq!(api.get("/v1/sites").await.status, 200);
    }
    let refused = api.get("/v1/sites").await;
    assert_eq!(refused.status, 429);
    let retry: u64 = refused.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=3600).contains(&retry));
    assert!(
        refused.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Rate limit exceeded")
    );
}

#[tokio::test]
async fn json_mode_is_a_403_with_a_json_body() {
    let api = Api::start(limited(1, 3600, RateLimitMode::Forbidden403Json)).await;
    api.get("/v1/sites").await;
    let refused = api.get("/v1/sites").await;
    assert_eq!(refused.status, 403);
    assert!(
        refused
            .header("content-type")
            .unwrap()
            .starts_with("application/json")
    );
    assert!(
        refused.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Rate limit exceeded")
    );
}

#[tokio::test]
async fn budgets_are_per_owner_and_per_practice() {
    let api = Api::start(SandboxConfig {
        practices: 2,
        ..limited(3, 3600, RateLimitMode::Forbidden403Text)
    })
    .await;
    for _ in 0..3 {
        api.get("/v1/sites").await;
    }
    assert_eq!(api.get("/v1/sites").await.status, 403);
    assert_eq!(
        api.as_token("sandbox-write").get("/v1/sites").await.status,
        403,
        "same owner, same bucket"
    );
    assert_eq!(
        api.as_token("sandbox-patients")
            .get("/v1/user")
            .await
            .status,
        200,
        "another user"
    );
    assert_eq!(
        api.as_token("sandbox-read-2").get("/v1/sites").await.status,
        200,
        "another practice"
    );
}
