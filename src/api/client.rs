//! The Dentally HTTP client: one `GET` with budget, retries and rate-limit handling.
//!
//! Every request goes through [`Budget::acquire`] first; the answer's rate headers feed the budget
//! back. Retries follow [`RetryConfig`]: 5xx, timeouts, resets and truncated or unparsable bodies
//! are retried; 401, 403 (scope or User-Agent), 404 and 422 are not. A 403 whose body says the
//! rate limit was exceeded, or a 429, is a rate limit: we wait (for the reset or `Retry-After`)
//! and try again without spending an attempt.
//!
//! What the server sends is bounded (security review D3, D4, D11, D19): an answer's body is read
//! up to [`MAX_BODY_BYTES`] and refused beyond; every wait is capped and charged to the run's
//! wait budget; redirects are followed only within the base URL's origin (never to plain
//! http); and failures that would repeat on every attempt (TLS verification, a refused redirect,
//! a 200 that is not JSON) are reported at once instead of being retried eight times.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use reqwest::header::{AUTHORIZATION, HeaderMap, RETRY_AFTER};
use url::Url;

use super::body::{Capped, read_capped};
use super::budget::{Budget, LONG_WAIT, RateHeaders};
use super::error::ApiError;
use super::retry::{Backoff, RetryConfig};
use super::token::ApiToken;

/// Which resource and page a request is for (for messages and logs).
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    /// Resource name.
    pub resource: &'a str,
    /// Page number, 0 when not paged.
    pub page: u32,
}

/// A successful answer.
#[derive(Debug)]
pub struct Reply {
    /// The parsed JSON body.
    pub body: crate::json::Doc,
    /// `X-OAuth-Scopes`, when sent.
    pub scopes: Option<String>,
    /// The rate headers.
    pub rate: RateHeaders,
}

/// Counters of what the client did, for the manifest and summary.
#[derive(Debug, Default)]
pub struct Stats {
    /// HTTP requests sent (attempts included).
    pub requests: AtomicU64,
    /// Retried attempts.
    pub retries: AtomicU64,
    /// Rate-limit refusals received (403/429).
    pub rate_limited: AtomicU64,
    /// Milliseconds spent waiting for the budget.
    pub waited_ms: AtomicU64,
    /// HTTP requests sent per resource (attempts included; `user` for the preflight).
    pub per_resource: std::sync::Mutex<std::collections::BTreeMap<String, u64>>,
}

impl Stats {
    /// Requests sent for `resource` so far.
    pub fn requests_for(&self, resource: &str) -> u64 {
        self.per_resource
            .lock()
            .map_or(0, |m| m.get(resource).copied().unwrap_or(0))
    }
}

/// The API client for one token.
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    base: Url,
    token: ApiToken,
    budget: Arc<Budget>,
    retry: RetryConfig,
    stats: Arc<Stats>,
}

/// Most rate-limit refusals in a row before giving up (a budget that never recovers).
const MAX_REFUSALS_IN_A_ROW: u32 = 30;
/// Largest successful answer read: a Dentally page (at most 100 records) is well under 1 MiB.
pub const MAX_BODY_BYTES: usize = 32 << 20;
/// Largest error answer read (only its start is ever shown).
const MAX_ERROR_BODY_BYTES: usize = 64 << 10;

enum Outcome {
    Done(Reply),
    Retry(String),
    RateLimited(Duration),
    Fatal(ApiError),
}

impl Client {
    /// A client for `base` with `token`, sending `user_agent` (empty = none, for tests).
    pub fn new(
        base: Url,
        token: ApiToken,
        user_agent: &str,
        timeout: Duration,
        budget: Arc<Budget>,
        retry: RetryConfig,
    ) -> Result<Self, ApiError> {
        let mut builder = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(Duration::from_secs(15))
            .redirect(same_origin_redirects(&base))
            .https_only(base.scheme() == "https");
        if !user_agent.is_empty() {
            builder = builder.user_agent(user_agent);
        }
        let http = builder
            .build()
            .map_err(|e| ApiError::Client(e.to_string()))?;
        Ok(Self {
            http,
            base,
            token,
            budget,
            retry,
            stats: Arc::default(),
        })
    }

    /// The budget this client spends.
    pub fn budget(&self) -> &Arc<Budget> {
        &self.budget
    }

    /// What the client did so far.
    pub fn stats(&self) -> &Arc<Stats> {
        &self.stats
    }

    /// The base URL.
    pub fn base_url(&self) -> &Url {
        &self.base
    }

    fn url(&self, path: &str, query: &[(&str, String)]) -> Url {
        let mut url = self.base.clone();
        let joined = format!("{}{}", self.base.path().trim_end_matches('/'), path);
        url.set_path(&joined);
        if !query.is_empty() {
            url.query_pairs_mut()
                .extend_pairs(query.iter().map(|(k, v)| (*k, v.as_str())));
        }
        url
    }

    /// `GET path?query` with retries; the JSON body on success.
    pub async fn get(
        &self,
        path: &str,
        query: &[(&str, String)],
        target: Target<'_>,
    ) -> Result<Reply, ApiError> {
        let url = self.url(path, query);
        let shown = display_path(&url);
        let started = Instant::now();
        let mut backoff = Backoff::new(self.retry);
        let (mut attempts, mut refusals) = (0u32, 0u32);
        loop {
            attempts += 1;
            let outcome = self.attempt(&url, &shown, target).await;
            let reason = match outcome {
                Outcome::Done(reply) => return Ok(reply),
                Outcome::Fatal(e) => return Err(e),
                Outcome::RateLimited(wait) => {
                    refusals += 1;
                    attempts -= 1;
                    if refusals > MAX_REFUSALS_IN_A_ROW {
                        return Err(gave_up(
                            target,
                            &shown,
                            attempts,
                            "the rate limit never recovered".into(),
                        ));
                    }
                    let wait = self.budget.charge_wait(wait)?;
                    tracing::warn!(
                        resource = target.resource,
                        page = target.page,
                        wait_secs = wait.as_secs_f64(),
                        "Rate limit reached; waiting for the reset."
                    );
                    self.stats
                        .waited_ms
                        .fetch_add(wait.as_millis() as u64, Ordering::Relaxed);
                    tokio::time::sleep(wait).await;
                    continue;
                }
                Outcome::Retry(reason) => reason,
            };
            refusals = 0;
            if attempts >= self.retry.max_attempts || started.elapsed() >= self.retry.max_elapsed {
                return Err(gave_up(target, &shown, attempts, reason));
            }
            let delay = backoff.next_delay();
            self.stats.retries.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(resource = target.resource, page = target.page, attempt = attempts, delay_ms = delay.as_millis() as u64, %reason, "Request failed; retrying.");
            tokio::time::sleep(delay).await;
        }
    }

    async fn attempt(&self, url: &Url, shown: &str, target: Target<'_>) -> Outcome {
        let stats = Arc::clone(&self.stats);
        let permit = self
            .budget
            .acquire(&move |wait| {
                stats
                    .waited_ms
                    .fetch_add(wait.as_millis() as u64, Ordering::Relaxed);
                if wait >= LONG_WAIT {
                    tracing::warn!(
                        wait_secs = wait.as_secs_f64(),
                        "Budget reserve reached; waiting for the rate-limit reset."
                    );
                } else {
                    tracing::info!(
                        wait_secs = wait.as_secs_f64(),
                        "Budget reserve reached; waiting for the rate-limit reset."
                    );
                }
            })
            .await;
        let permit = match permit {
            Ok(p) => p,
            Err(e) => return Outcome::Fatal(e),
        };
        self.stats.requests.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut m) = self.stats.per_resource.lock() {
            *m.entry(target.resource.to_string()).or_insert(0) += 1;
        }
        let sent = self
            .http
            .get(url.clone())
            .header(AUTHORIZATION, format!("Bearer {}", self.token.expose()))
            .send()
            .await;
        let response = match sent {
            Ok(r) => r,
            Err(e) => return transport_failure(&e, shown, target),
        };
        let status = response.status();
        let headers = response.headers().clone();
        let rate = RateHeaders::from_headers(&headers);
        self.budget.observe(&rate);
        let cap = if status.is_success() {
            MAX_BODY_BYTES
        } else {
            MAX_ERROR_BODY_BYTES
        };
        let body = read_capped(response, cap).await;
        let _ = permit;
        let body = match body {
            Ok(Capped::Whole(b)) => b,
            Ok(Capped::Over { declared, .. }) if status.is_success() => {
                return Outcome::Fatal(ApiError::TooLarge {
                    resource: target.resource.into(),
                    page: target.page,
                    path: shown.into(),
                    limit_mib: (MAX_BODY_BYTES >> 20) as u64,
                    declared,
                });
            }
            // An error answer: its start is all we show.
            Ok(Capped::Over { start, .. }) => start,
            Err(e) => return Outcome::Retry(format!("body cut off: {}", describe_transport(&e))),
        };
        self.classify(status, &headers, rate, body, shown, target)
    }

    fn classify(
        &self,
        status: StatusCode,
        headers: &HeaderMap,
        rate: RateHeaders,
        body: Vec<u8>,
        shown: &str,
        target: Target<'_>,
    ) -> Outcome {
        if status.is_success() {
            return success(headers, rate, body, shown, target);
        }
        let body = body.as_slice();
        let text = || {
            String::from_utf8_lossy(&body[..body.len().min(300)])
                .trim()
                .to_string()
        };
        let path = shown.to_string();
        match status.as_u16() {
            403 if is_rate_limit_body(body) => {
                self.stats.rate_limited.fetch_add(1, Ordering::Relaxed);
                Outcome::RateLimited(self.budget.refused(&rate))
            }
            429 => {
                self.stats.rate_limited.fetch_add(1, Ordering::Relaxed);
                let wait = retry_after(headers).unwrap_or_else(|| self.budget.refused(&rate));
                Outcome::RateLimited(wait)
            }
            401 => Outcome::Fatal(ApiError::Unauthorized { path }),
            403 if text().to_ascii_lowercase().contains("user-agent")
                || text().to_ascii_lowercase().contains("user agent") =>
            {
                Outcome::Fatal(ApiError::MissingUserAgent { path })
            }
            403 => Outcome::Fatal(ApiError::Forbidden {
                resource: target.resource.into(),
                path,
                message: text(),
            }),
            404 => Outcome::Fatal(ApiError::NotFound {
                resource: target.resource.into(),
                path,
            }),
            // Past the offset wall: the reader narrows its read (never retried as is).
            413 => Outcome::Fatal(ApiError::DeepOffset {
                resource: target.resource.into(),
                page: target.page,
                path,
            }),
            s if s >= 500 || s == 408 => Outcome::Retry(format!("{status}: {}", text())),
            s => Outcome::Fatal(ApiError::Status {
                resource: target.resource.into(),
                page: target.page,
                path,
                status: s,
                body: text(),
                attempts: 1,
            }),
        }
    }
}

/// A 2xx answer: its JSON, or why it is not JSON. A body cut short (the error is at its very
/// end) may be a flaky proxy and is retried; anything else would fail again the same way.
fn success(
    headers: &HeaderMap,
    rate: RateHeaders,
    body: Vec<u8>,
    shown: &str,
    target: Target<'_>,
) -> Outcome {
    let len = body.len();
    let content_type = headers
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("no Content-Type")
        .to_string();
    match crate::json::Doc::from_bytes(body) {
        Ok(json) => Outcome::Done(Reply {
            body: json,
            scopes: headers
                .get("x-oauth-scopes")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string),
            rate,
        }),
        Err(e) if e.offset + 4 >= len && content_type.contains("json") => {
            Outcome::Retry(format!("truncated JSON ({len} bytes): {e}"))
        }
        Err(e) => Outcome::Fatal(ApiError::Deterministic {
            resource: target.resource.into(),
            page: target.page,
            path: shown.into(),
            reason: format!(
                "the API answered 200 with {len} bytes of `{content_type}` that are not the JSON expected ({e}); check `base_url` points at the Dentally API"
            ),
        }),
    }
}

/// Follows a redirect only to the same scheme, host and port as the base URL (the API has no
/// reason to redirect elsewhere, and the https rule applies to every hop), at most 5 hops.
fn same_origin_redirects(base: &Url) -> reqwest::redirect::Policy {
    let origin = base.origin();
    reqwest::redirect::Policy::custom(move |attempt| {
        if attempt.previous().len() >= 5 {
            attempt.error("too many redirects")
        } else if attempt.url().origin() == origin {
            attempt.follow()
        } else {
            let to = attempt.url().origin().ascii_serialization();
            attempt.error(RedirectRefused(to))
        }
    })
}

/// A redirect to another origin, refused.
#[derive(Debug)]
struct RedirectRefused(String);

impl std::fmt::Display for RedirectRefused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the API redirected to another origin ({}); redirects are followed only within `base_url`'s scheme, host and port",
            self.0
        )
    }
}

impl std::error::Error for RedirectRefused {}

/// A request that did not get an answer: retried, unless it would fail the same way again.
fn transport_failure(e: &reqwest::Error, shown: &str, target: Target<'_>) -> Outcome {
    let described = describe_transport(e);
    let lower = described.to_ascii_lowercase();
    // rustls' failures: a handshake that failed once fails again (an untrusted certificate, a
    // server that does not speak TLS on that port, no protocol in common). A connection that
    // drops during the handshake ("tls handshake eof") is not among them: it is retried.
    let tls = [
        "certificate",
        "corrupt message",
        "fatal alert",
        "peer is incompatible",
        "peer misbehaved",
    ]
    .iter()
    .any(|m| lower.contains(m));
    let reason = if e.is_redirect() {
        format!("redirect refused: {described}")
    } else if e.is_builder() {
        format!(
            "the request could not be built ({described}); check the token has no stray characters"
        )
    } else if tls {
        format!(
            "TLS failed ({described}); the server's certificate is not trusted, or it does not \
             speak TLS on that port: check `base_url`"
        )
    } else {
        return Outcome::Retry(described);
    };
    Outcome::Fatal(ApiError::Deterministic {
        resource: target.resource.into(),
        page: target.page,
        path: shown.into(),
        reason,
    })
}

/// True when a 403 body says the rate limit was exceeded (text/plain or JSON).
pub fn is_rate_limit_body(body: &[u8]) -> bool {
    String::from_utf8_lossy(body)
        .to_ascii_lowercase()
        .contains("rate limit exceeded")
}

/// `Retry-After` as seconds or an HTTP date (0 allowed).
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let left = when.signed_duration_since(chrono::Utc::now());
    Some(left.to_std().unwrap_or(Duration::ZERO))
}

fn gave_up(target: Target<'_>, shown: &str, attempts: u32, reason: String) -> ApiError {
    ApiError::GaveUp {
        resource: target.resource.into(),
        page: target.page,
        path: shown.into(),
        reason,
        attempts,
    }
}

fn describe_transport(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else if e.is_body() || e.is_decode() {
        "connection closed while reading the body"
    } else {
        "connection failed"
    };
    // Walk the source chain without the URL (reqwest's Display includes it).
    let mut cause = String::new();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        cause = s.to_string();
        source = s.source();
    }
    if cause.is_empty() {
        kind.to_string()
    } else {
        format!("{kind}: {cause}")
    }
}

/// Path and query of a URL, for messages (never credentials, never the host's userinfo).
pub fn display_path(url: &Url) -> String {
    match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_string(),
    }
}

/// True for `localhost`, 127.0.0.0/8 and `::1`: the only hosts allowed over plain http.
pub fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_rate_limit_bodies() {
        assert!(is_rate_limit_body(b"403 Forbidden (Rate Limit Exceeded)"));
        assert!(is_rate_limit_body(
            br#"{"error":{"message":"Rate limit exceeded"}}"#
        ));
        assert!(!is_rate_limit_body(
            br#"{"error":{"message":"requires scope patient:read"}}"#
        ));
    }

    #[test]
    fn parses_retry_after_forms() {
        let mut h = HeaderMap::new();
        h.insert(RETRY_AFTER, "0".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::ZERO));
        h.insert(RETRY_AFTER, "7".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_secs(7)));
        h.insert(
            RETRY_AFTER,
            "Wed, 21 Oct 2015 07:28:00 GMT".parse().unwrap(),
        );
        assert_eq!(retry_after(&h), Some(Duration::ZERO));
    }

    #[test]
    fn only_loopback_hosts_count_as_loopback() {
        for (u, want) in [
            ("http://127.0.0.1:9/x", true),
            ("http://localhost", true),
            ("http://[::1]:8", true),
            ("http://10.0.0.1", false),
            ("https://api.dentally.co", false),
        ] {
            assert_eq!(is_loopback(&Url::parse(u).unwrap()), want, "{u}");
        }
    }
}
