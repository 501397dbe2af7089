//! Building HTTP answers: JSON bodies with the headers every authenticated answer carries, the
//! rate-limit refusal in its three modes, and the broken bodies of injected faults.

use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use bytes::Bytes;

use super::config::RateLimitMode;
use super::error::ApiError;
use super::ratelimit::Quota;

/// `Content-Type` of every JSON answer.
pub(crate) const JSON: &str = "application/json; charset=utf-8";
/// Body of Dentally's rate-limit refusal (its Rack middleware, `docs/dentally-api.md` §7).
pub(crate) const RATE_LIMIT_TEXT: &str = "403 Forbidden (Rate Limit Exceeded)";

/// Headers added to authenticated answers.
#[derive(Debug, Clone, Default)]
pub(crate) struct Extras {
    /// `X-OAuth-Scopes`.
    pub scopes: Option<String>,
    /// `X-RateLimit-*`.
    pub quota: Option<Quota>,
}

impl Extras {
    fn apply(&self, response: &mut Response) {
        let headers = response.headers_mut();
        if let Some(scopes) = self
            .scopes
            .as_deref()
            .and_then(|s| HeaderValue::from_str(s).ok())
        {
            headers.insert("x-oauth-scopes", scopes);
        }
        if let Some(q) = self.quota {
            headers.insert("x-ratelimit-limit", q.limit.into());
            headers.insert("x-ratelimit-remaining", q.remaining.into());
            headers.insert("x-ratelimit-reset", q.reset.into());
        }
    }
}

/// How the body of an answer is delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Delivery {
    /// The whole body.
    Whole,
    /// The first half only, as a complete response (invalid JSON).
    Truncated,
    /// Part of the body, then the connection is aborted.
    Reset,
}

/// A JSON answer.
pub(crate) fn json(
    status: StatusCode,
    body: Vec<u8>,
    extras: &Extras,
    delivery: Delivery,
) -> Response {
    let body = match delivery {
        Delivery::Whole => Body::from(body),
        Delivery::Truncated => {
            let cut = body.len() / 2;
            Body::from(body[..cut].to_vec())
        }
        Delivery::Reset => reset_body(body),
    };
    let mut response = Response::new(body);
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(JSON));
    extras.apply(&mut response);
    response
}

/// An error answer (JSON, or plain text for the errors that are not the API's own).
pub(crate) fn error(err: &ApiError, extras: &Extras) -> Response {
    let Some(text) = err.plain_text() else {
        return json(err.status(), err.body(), extras, Delivery::Whole);
    };
    let mut response = Response::new(Body::from(text));
    *response.status_mut() = err.status();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    extras.apply(&mut response);
    response
}

/// The refusal of a request over its budget (or a blip), in the configured mode.
pub(crate) fn rate_limited(mode: RateLimitMode, quota: Quota, extras: &Extras) -> Response {
    let mut response = match mode {
        RateLimitMode::Forbidden403Text => {
            let mut r = Response::new(Body::from(RATE_LIMIT_TEXT));
            *r.status_mut() = StatusCode::FORBIDDEN;
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; charset=utf-8"),
            );
            r
        }
        RateLimitMode::Forbidden403Json => {
            let body = serde_json::json!({"error": {"type": "rate_limit_exceeded", "message": "Rate limit exceeded: retry after the window resets"}});
            json(
                StatusCode::FORBIDDEN,
                serde_json::to_vec(&body).unwrap_or_default(),
                &Extras::default(),
                Delivery::Whole,
            )
        }
        RateLimitMode::TooMany429 => {
            let body = serde_json::json!({"error": {"type": "rate_limit_exceeded", "message": "Rate limit exceeded"}});
            let mut r = json(
                StatusCode::TOO_MANY_REQUESTS,
                serde_json::to_vec(&body).unwrap_or_default(),
                &Extras::default(),
                Delivery::Whole,
            );
            r.headers_mut()
                .insert(header::RETRY_AFTER, quota.retry_after.into());
            r
        }
    };
    extras.apply(&mut response);
    response
}

/// A body that sends its first half, then fails, so hyper aborts the connection mid-body.
fn reset_body(body: Vec<u8>) -> Body {
    let half = Bytes::from(body).slice(..);
    let cut = half.len() / 2;
    let first = half.slice(..cut);
    let stream = futures::stream::unfold(0u8, move |step| {
        let first = first.clone();
        async move {
            match step {
                0 => Some((Ok(first), 1)),
                1 => {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    Some((
                        Err(std::io::Error::new(
                            std::io::ErrorKind::ConnectionReset,
                            "injected connection reset",
                        )),
                        2,
                    ))
                }
                _ => None,
            }
        }
    });
    Body::from_stream(stream)
}
