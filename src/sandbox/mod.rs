//! The built-in Dentally sandbox: an emulator of the Dentally v1 REST API, quirks included,
//! against which every test of the tool runs (nobody can reach the real API).
//!
//! By default it behaves like the live API as `../shared/docs/api-evidence.md` knows it, and
//! where the evidence is thin it takes the harsher side, because a sandbox kinder than the real
//! API is how bugs hide:
//! * only the filters the evidence shows are applied, per resource; any other parameter is
//!   silently ignored and the unfiltered list comes back (`honoured`: payments ignore
//!   `updated_after`, appointments `updated_before`);
//! * appointments leave out Cancelled and Did-not-attend rows unless `cancelled=true`, and need a
//!   date filter (`after` alone, `on` or `updated_after` alone will do);
//! * a page past an offset of about 50,000 rows (±10 %, drifting) answers 413 (`deep`);
//! * `patient_stats` pages serve about 6 % of rows twice and skip as many, even with `sort_by`
//!   (`unstable`); `GET /v1/patients/{id}/stats` fills the holes;
//! * `meta` has `total_count`, no `current_page`, and no `total_pages` on patients, treatment
//!   plan items and payments; lists come newest first (ascending `updated_at` under
//!   `updated_after`); patients ignore `sort_by` (`order`);
//! * features a practice does not use answer 200 with no rows;
//! * tokens whose `X-OAuth-Scopes` names read scopes otherwise than the catalog (`auth`).
//!
//! It also has what `docs/dentally-api.md` knows: routes with and without `/v1`, envelopes,
//! `per_page` over 100 silently becoming 25, bearer tokens with scopes and the two-week idle
//! expiry, the per-user hourly budget with its text/plain 403, and the data quirks (GUID and
//! integer ids side by side, money as `"-76.0"` strings, London offsets, null patients on diary
//! blocks, negative discount lines, `monthly_memberhsip_fee`). Faults can be switched on per
//! request: latency, 5xx, stalls, truncated bodies, connection resets, rate-limit blips,
//! unstable default order, missing `total_pages`.
//!
//! Kind behaviours of earlier versions stay reachable as knobs (`SandboxConfig::kind()` for all
//! of them, `--kind` on the command line); a test that turns one on says why.
//!
//! The data is generated on the fly from a seed (see the `data` module), so a sandbox of any scale
//! starts instantly and uses little memory; `advance` simulates days of practice activity on
//! top of it. Layout:
//!
//! * [`config`] and [`faults`]: what a sandbox is asked to be;
//! * `server` (pipeline), `endpoints`, `pages`, `honoured`, `order`, `query`, `deep`,
//!   `unstable`, `listing`, `matching`, `respond`: answering requests;
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
mod deep;
mod endpoints;
pub mod error;
pub mod faults;
mod honoured;
mod listing;
pub mod log;
mod matching;
mod order;
mod order_cache;
mod pages;
mod query;
mod ratelimit;
mod respond;
mod server;
mod store;
mod unstable;

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

    /// Deletes `count` rows of list `resource` in `practice` (1-based), a run of consecutive
    /// ids when `clustered`, else scattered at random (seeded), and answers their primary keys
    /// in id order; the rows vanish from every list and count. `None` for an unknown practice
    /// or a resource that is not a list of the catalog.
    pub async fn delete_rows(
        &self,
        practice: u32,
        resource: &str,
        count: u64,
        clustered: bool,
    ) -> Option<Vec<serde_json::Value>> {
        let sandbox = self.sandbox.clone();
        let resource = resource.to_string();
        tokio::task::spawn_blocking(move || {
            advance::delete_rows(&sandbox, practice, &resource, count, clustered)
        })
        .await
        .ok()
        .flatten()
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
