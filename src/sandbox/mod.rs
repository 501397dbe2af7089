//! The built-in Dentally sandbox: a faithful emulator of the Dentally v1 REST API, quirks
//! included, against which every test of the tool runs (nobody can reach the real API).
//!
//! It reproduces what `docs/dentally-api.md` knows of the real thing — routes with and
//! without `/v1`, envelopes and `meta`, paging rules (`per_page` over 100 silently becomes 25),
//! sorting and filters, bearer tokens with scopes and `X-OAuth-Scopes`, the two-week idle
//! expiry, the per-user hourly budget with its text/plain 403, and the data quirks (GUID and
//! integer ids side by side, money as `"-76.0"` strings, London offsets, null patients on diary
//! blocks, negative discount lines, `monthly_memberhsip_fee`). Faults can be switched on per
//! request: latency, 5xx, stalls, truncated bodies, connection resets, rate-limit blips,
//! unstable default order, missing `total_pages`.
//!
//! The data is generated on the fly from a seed (see the `data` module), so a sandbox of any scale
//! starts instantly and uses little memory; `advance` simulates days of practice activity on
//! top of it. Layout:
//!
//! * [`config`] and [`faults`]: what a sandbox is asked to be;
//! * `server` (pipeline), `endpoints`, `query`, `listing`, `matching`, `respond`: answering
//!   requests;
//! * `auth`, `ratelimit`, `log`: tokens, budgets and the request log;
//! * `store`, `advance`, `activity`: the live state (base data + overlay) and simulated days;
//! * `control`: the `/_sandbox/` routes; [`cli`]: `dentally-etl sandbox`.

mod activity;
mod advance;
mod auth;
pub mod cli;
pub mod config;
mod control;
pub(crate) mod data;
mod endpoints;
pub mod error;
pub mod faults;
mod listing;
pub mod log;
mod matching;
mod query;
mod ratelimit;
mod respond;
mod server;
mod store;

use std::net::SocketAddr;
use std::sync::Arc;

pub use config::{RateLimitConfig, RateLimitMode, SandboxConfig};
pub use error::SandboxError;
pub use faults::FaultConfig;
pub use log::LoggedRequest;

use server::Sandbox;

/// A running sandbox. Dropping it (or [`shutdown`](Self::shutdown)) stops the server.
#[derive(Debug)]
pub struct SandboxHandle {
    addr: SocketAddr,
    sandbox: Arc<Sandbox>,
    task: tokio::task::JoinHandle<()>,
}

/// Starts a sandbox on `127.0.0.1:<config.port>` (0: a free port), serving in a tokio task.
pub async fn spawn(config: SandboxConfig) -> std::io::Result<SandboxHandle> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", config.port)).await?;
    let addr = listener.local_addr()?;
    let sandbox = Arc::new(Sandbox::new(config));
    let app = server::router(sandbox.clone());
    let task = tokio::spawn(async move {
        if let Err(err) = axum::serve(listener, app).await {
            tracing::error!(%err, "sandbox server stopped");
        }
    });
    Ok(SandboxHandle {
        addr,
        sandbox,
        task,
    })
}

impl SandboxHandle {
    /// `http://127.0.0.1:PORT`, without a trailing slash or version.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Every API request so far, oldest first (control routes are not logged).
    pub fn requests(&self) -> Vec<LoggedRequest> {
        self.sandbox.log.all()
    }

    /// Forgets the request log.
    pub fn clear_requests(&self) {
        self.sandbox.log.clear();
    }

    /// Every live record of `resource` in `practice` (1-based), in id order, exactly as the API
    /// serves them (catalog fields in catalog order, plus patients' `portal_registered`).
    /// `practice` is one object; an unknown resource or practice gives an empty list.
    pub fn truth(&self, practice: u32, resource: &str) -> Vec<serde_json::Value> {
        truth(&self.sandbox, practice, resource)
    }

    /// Simulates `days` days of practice activity (new, changed and deleted rows) and moves the
    /// clock on.
    pub async fn advance(&self, days: u32) {
        let sandbox = self.sandbox.clone();
        let _ = tokio::task::spawn_blocking(move || advance::advance(&sandbox, days)).await;
    }

    /// The simulated time now (starts at `today` 09:00 Europe/London).
    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        chrono::DateTime::from_timestamp_millis(self.sandbox.now()).unwrap_or_default()
    }

    /// Replaces the fault configuration of the running sandbox.
    pub fn set_faults(&self, faults: FaultConfig) {
        self.sandbox.dice.set(faults);
    }

    /// Stops the server (requests in flight are dropped).
    pub fn shutdown(self) {
        self.task.abort();
    }
}

impl Drop for SandboxHandle {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Every way `record` departs from the catalog entry of `resource`: missing or unexpected
/// fields (patients may carry `portal_registered`, which the catalog leaves to `_extra`), and
/// values whose JSON type does not fit the field type (money as BigDecimal strings, timestamps
/// with milliseconds and the Europe/London offset of their instant, …). Empty when it conforms.
pub fn check_record(
    resource: &crate::catalog::Resource,
    record: &serde_json::Value,
) -> Vec<String> {
    data::conform::problems(resource, record)
}

fn truth(sandbox: &Sandbox, practice: u32, resource: &str) -> Vec<serde_json::Value> {
    let (Some(p), Some(r)) = (sandbox.practice(practice), crate::catalog::find(resource)) else {
        return Vec::new();
    };
    p.with_view(resource, |v| v.all(r)).unwrap_or_default()
}
