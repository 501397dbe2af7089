//! The sandbox's own routes under `/_sandbox/`: the request log, the clock, the ground truth
//! and the fault switches. They need no token, are never rate-limited, faulted or logged, so
//! tests and other processes (`dentally-etl sandbox` in a shell) can steer a running sandbox.
//!
//! | route | does |
//! |---|---|
//! | `GET /_sandbox/requests` | the request log (JSON array) |
//! | `DELETE /_sandbox/requests` | clears it |
//! | `POST /_sandbox/advance?days=N` | simulates N days (default 1) |
//! | `POST /_sandbox/advance?resource=R&count=K&clustered=true&practice=P&days=N` | simulates N days (default 0), then deletes K rows of R (a run of consecutive ids when clustered, else scattered), answering their keys in `deleted` |
//! | `GET /_sandbox/truth/<resource>?practice=1` | every live record, as the API would serve them |
//! | `GET /_sandbox/faults` | the fault knobs |
//! | `POST /_sandbox/faults?profile=NAME` and/or a JSON body of knobs | changes them |

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::faults::FaultConfig;
use super::server::Sandbox;

type Shared = State<Arc<Sandbox>>;

/// The control routes (state is supplied by the caller's router).
pub(crate) fn routes() -> Router<Arc<Sandbox>> {
    Router::new()
        .route("/_sandbox/requests", get(requests).delete(clear))
        .route("/_sandbox/advance", post(advance))
        .route("/_sandbox/truth/{resource}", get(truth))
        .route("/_sandbox/faults", get(faults).post(set_faults))
}

async fn requests(State(s): Shared) -> Response {
    axum::Json(s.log.all()).into_response()
}

async fn clear(State(s): Shared) -> StatusCode {
    s.log.clear();
    StatusCode::NO_CONTENT
}

async fn advance(State(s): Shared, Query(q): Query<HashMap<String, String>>) -> Response {
    let resource = q.get("resource").cloned();
    let days = q
        .get("days")
        .and_then(|d| d.parse::<u32>().ok())
        .unwrap_or(if resource.is_some() { 0 } else { 1 });
    let count = q
        .get("count")
        .and_then(|c| c.parse::<u64>().ok())
        .unwrap_or(1);
    let clustered = q.get("clustered").is_some_and(|c| c == "true" || c == "1");
    let practice = q.get("practice").and_then(|p| p.parse().ok()).unwrap_or(1);
    let sandbox = s.clone();
    let deleted = tokio::task::spawn_blocking(move || {
        super::advance::advance(&sandbox, days);
        resource
            .map(|r| super::advance::delete_rows(&sandbox, practice, &r, count, clustered).ok_or(r))
    })
    .await
    .ok()
    .flatten();
    let clock = *s.clock.read().expect("clock");
    let mut body = json!({"days": clock.days, "now": super::data::fmt::timestamp(clock.now())});
    match deleted {
        Some(Ok(keys)) => body["deleted"] = json!(keys),
        Some(Err(resource)) => {
            return (
                StatusCode::BAD_REQUEST,
                axum::Json(json!({"error": {"type": "bad_request", "message": format!(
                    "cannot delete from `{resource}` in practice {practice}: not a list resource of the catalog or no such practice"
                )}})),
            )
                .into_response();
        }
        None => {}
    }
    axum::Json(body).into_response()
}

async fn truth(
    State(s): Shared,
    Path(resource): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let practice = q.get("practice").and_then(|p| p.parse().ok()).unwrap_or(1);
    match crate::catalog::find(&resource) {
        Some(_) => axum::Json(super::truth(&s, practice, &resource)).into_response(),
        None => (StatusCode::NOT_FOUND, axum::Json(json!({"error": {"type": "not_found", "message": format!("no resource `{resource}`")}}))).into_response(),
    }
}

/// The fault knobs as JSON: rates in 0–1, durations in milliseconds; every field optional when
/// posted (absent ones keep their value).
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Knobs {
    error_rate: Option<f64>,
    stall_rate: Option<f64>,
    stall_ms: Option<u64>,
    truncate_rate: Option<f64>,
    reset_rate: Option<f64>,
    latency_rate: Option<f64>,
    latency_max_ms: Option<u64>,
    blip_rate: Option<f64>,
    blip_window_ms: Option<u64>,
    unstable_order_rate: Option<f64>,
    missing_total_pages_rate: Option<f64>,
    max_consecutive: Option<u32>,
}

impl Knobs {
    fn of(c: &FaultConfig) -> Knobs {
        Knobs {
            error_rate: Some(c.error_rate),
            stall_rate: Some(c.stall_rate),
            stall_ms: Some(c.stall.as_millis() as u64),
            truncate_rate: Some(c.truncate_rate),
            reset_rate: Some(c.reset_rate),
            latency_rate: Some(c.latency_rate),
            latency_max_ms: Some(c.latency_max.as_millis() as u64),
            blip_rate: Some(c.blip_rate),
            blip_window_ms: Some(c.blip_window.as_millis() as u64),
            unstable_order_rate: Some(c.unstable_order_rate),
            missing_total_pages_rate: Some(c.missing_total_pages_rate),
            max_consecutive: Some(c.max_consecutive),
        }
    }

    fn apply(self, c: FaultConfig) -> FaultConfig {
        FaultConfig {
            error_rate: self.error_rate.unwrap_or(c.error_rate),
            stall_rate: self.stall_rate.unwrap_or(c.stall_rate),
            stall: self.stall_ms.map_or(c.stall, Duration::from_millis),
            truncate_rate: self.truncate_rate.unwrap_or(c.truncate_rate),
            reset_rate: self.reset_rate.unwrap_or(c.reset_rate),
            latency_rate: self.latency_rate.unwrap_or(c.latency_rate),
            latency_max: self
                .latency_max_ms
                .map_or(c.latency_max, Duration::from_millis),
            blip_rate: self.blip_rate.unwrap_or(c.blip_rate),
            blip_window: self
                .blip_window_ms
                .map_or(c.blip_window, Duration::from_millis),
            unstable_order_rate: self.unstable_order_rate.unwrap_or(c.unstable_order_rate),
            missing_total_pages_rate: self
                .missing_total_pages_rate
                .unwrap_or(c.missing_total_pages_rate),
            max_consecutive: self.max_consecutive.unwrap_or(c.max_consecutive),
        }
    }
}

async fn faults(State(s): Shared) -> Response {
    axum::Json(Knobs::of(&s.dice.config())).into_response()
}

async fn set_faults(
    State(s): Shared,
    Query(q): Query<HashMap<String, String>>,
    body: Bytes,
) -> Response {
    let bad = |message: String| {
        (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({"error": {"type": "bad_request", "message": message}})),
        )
            .into_response()
    };
    let base = match q.get("profile") {
        Some(name) => match FaultConfig::profile(name) {
            Ok(c) => c,
            Err(e) => return bad(e.to_string()),
        },
        None => s.dice.config(),
    };
    let knobs: Knobs = if body.is_empty() {
        Knobs::default()
    } else {
        match serde_json::from_slice(&body) {
            Ok(k) => k,
            Err(e) => return bad(format!("invalid fault knobs: {e}")),
        }
    };
    let config = knobs.apply(base);
    s.dice.set(config.clone());
    axum::Json(Knobs::of(&config)).into_response()
}
