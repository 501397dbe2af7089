//! The built-in sandbox, over real HTTP on 127.0.0.1:0: every item of the emulator checklist
//! of `docs/dentally-api.md` (routes, paging, filters, auth, rate limits, data quirks, simulated
//! days, faults, several practices), plus the checked-in `samples/`.

mod advance;
mod auth;
mod data;
mod faults;
mod filters;
mod paging;
mod ratelimit;
mod routes;
mod samples;

use chrono::NaiveDate;
use dentally_etl::sandbox::{self, SandboxConfig, SandboxHandle};
use reqwest::header::HeaderMap;
use serde_json::Value;

/// The fixed date of every test sandbox (a summer day: BST).
pub(crate) fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 6, 15).unwrap()
}

/// A small, deterministic configuration (about 200 patients).
pub(crate) fn small() -> SandboxConfig {
    SandboxConfig {
        scale: 0.2,
        today: today(),
        ..SandboxConfig::default()
    }
}

/// A query-parameter instant (`2026-06-10`, `…Z`, `…%2B01:00`) as UTC ms; dates are London
/// midnight.
pub(crate) fn sandbox_instant(value: &str) -> i64 {
    let value = value.replace("%2B", "+");
    chrono::DateTime::parse_from_rfc3339(&value)
        .map(|t| t.timestamp_millis())
        .unwrap_or_else(|_| {
            let day = NaiveDate::parse_from_str(&value, "%Y-%m-%d").unwrap();
            let local = chrono::TimeZone::from_local_datetime(
                &chrono_tz::Europe::London,
                &day.and_hms_opt(0, 0, 0).unwrap(),
            );
            local.earliest().unwrap().timestamp_millis()
        })
}

/// A started sandbox and a client for it.
pub(crate) struct Api {
    pub sandbox: SandboxHandle,
    pub client: reqwest::Client,
    pub token: String,
}

/// One answer: status, headers, raw body.
pub(crate) struct Answer {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: bytes::Bytes,
}

impl Answer {
    /// The body as JSON (panics with the body when it is not).
    pub(crate) fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    /// A header as text.
    pub(crate) fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    }

    /// The records of a list answer.
    pub(crate) fn rows(&self, envelope: &str) -> Vec<Value> {
        self.json()[envelope]
            .as_array()
            .cloned()
            .unwrap_or_else(|| panic!("no `{envelope}` array"))
    }

    /// The ids of a list answer.
    pub(crate) fn ids(&self, envelope: &str) -> Vec<Value> {
        self.rows(envelope)
            .into_iter()
            .map(|r| r["id"].clone())
            .collect()
    }
}

impl Api {
    /// Starts a sandbox with `config`, read with `sandbox-read`.
    pub(crate) async fn start(config: SandboxConfig) -> Api {
        let sandbox = sandbox::spawn(config).await.expect("sandbox starts");
        Api {
            sandbox,
            client: reqwest::Client::new(),
            token: "sandbox-read".into(),
        }
    }

    /// The same sandbox, read with another token.
    pub(crate) fn as_token(&self, token: &str) -> Api2<'_> {
        Api2 {
            api: self,
            token: token.to_string(),
        }
    }

    /// `GET path_and_query` with a User-Agent and the default token.
    pub(crate) async fn get(&self, path: &str) -> Answer {
        self.send(path, Some(&self.token), Some("dentally-etl-tests/1.0"))
            .await
    }

    /// `GET` with explicit token and User-Agent (either may be absent).
    pub(crate) async fn send(
        &self,
        path: &str,
        token: Option<&str>,
        agent: Option<&str>,
    ) -> Answer {
        let mut request = self
            .client
            .get(format!("{}{path}", self.sandbox.base_url()));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(agent) = agent {
            request = request.header("User-Agent", agent);
        }
        let response = request.send().await.expect("request sent");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.bytes().await.expect("body read");
        Answer {
            status,
            headers,
            body,
        }
    }

    /// Every row of a list, paging with `per_page=100` and `sort_by=id`.
    pub(crate) async fn all(&self, path: &str, envelope: &str) -> Vec<Value> {
        let sep = if path.contains('?') { '&' } else { '?' };
        let mut out = Vec::new();
        for page in 1.. {
            let rows = self
                .get(&format!("{path}{sep}per_page=100&sort_by=id&page={page}"))
                .await
                .rows(envelope);
            if rows.is_empty() {
                break;
            }
            out.extend(rows);
        }
        out
    }
}

/// A view of an [`Api`] with another token.
pub(crate) struct Api2<'a> {
    api: &'a Api,
    token: String,
}

impl Api2<'_> {
    /// `GET` with this token.
    pub(crate) async fn get(&self, path: &str) -> Answer {
        self.api
            .send(path, Some(&self.token), Some("dentally-etl-tests/1.0"))
            .await
    }
}
