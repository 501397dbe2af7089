//! The HTTP face of the sandbox: one axum router, and the pipeline every API request runs
//! through, in the order the real stack applies it:
//!
//! 1. `User-Agent` required (403 JSON);
//! 2. bearer token (401 JSON, including two-week idle expiry on the simulated clock);
//! 3. the owner's rate budget (403 text/plain or the configured mode; blips) — `/rate_limit`
//!    reports the budget without spending it;
//! 4. route (404 JSON) and scope (403 JSON);
//! 5. the answer, with faults applied (latency, 5xx, stall, truncated body, reset);
//! 6. `X-OAuth-Scopes` and `X-RateLimit-*` on every authenticated answer, and a log entry.
//!
//! Control routes under `/_sandbox/` bypass all of it (see `control`).

use std::sync::{Arc, RwLock};

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{Method, StatusCode, header};
use axum::response::Response;
use chrono::Utc;

use super::auth::{Caller, Tokens};
use super::config::SandboxConfig;
use super::control;
use super::data::World;
use super::deep::Wall;
use super::endpoints::{self, Endpoint};
use super::error::ApiError;
use super::faults::{Failure, FaultDice, Plan};
use super::log::{LoggedRequest, RequestLog};
use super::order_cache::OrderCache;
use super::ratelimit::Limiter;
use super::respond::{self, Delivery, Extras};
use super::store::{Clock, Practice};
use super::unstable::Attempts;

/// Everything a running sandbox holds.
#[derive(Debug)]
pub(crate) struct Sandbox {
    pub config: SandboxConfig,
    pub practices: Vec<Practice>,
    pub worlds: Vec<World>,
    pub clock: RwLock<Clock>,
    pub tokens: Tokens,
    pub limiter: Limiter,
    pub dice: FaultDice,
    pub log: RequestLog,
    /// The deep-offset wall.
    pub wall: Wall,
    /// How often each list query was answered (for unstable paging).
    pub attempts: Attempts,
    /// Scanned queries, for their next pages.
    pub orders: OrderCache,
}

impl Sandbox {
    /// A sandbox for `config`: builds nothing but the practices' worlds.
    pub(crate) fn new(config: SandboxConfig) -> Sandbox {
        let practices = config.practices.max(1);
        let worlds: Vec<World> = (1..=practices)
            .map(|p| World::new(config.seed, p, config.scale, config.today))
            .collect();
        let clock = Clock {
            today: config.today,
            days: 0,
        };
        Sandbox {
            practices: worlds.iter().cloned().map(Practice::new).collect(),
            tokens: Tokens::new(practices, config.token_idle_days, clock.now()),
            limiter: Limiter::new(config.rate_limit.clone()),
            dice: FaultDice::new(config.seed, config.faults.clone()),
            log: RequestLog::default(),
            wall: Wall::new(config.seed, config.deep_offset),
            attempts: Attempts::default(),
            orders: OrderCache::default(),
            clock: RwLock::new(clock),
            worlds,
            config,
        }
    }

    /// The simulated time, UTC ms.
    pub(crate) fn now(&self) -> i64 {
        self.clock.read().expect("clock").now()
    }

    /// The practice (1-based), if it exists.
    pub(crate) fn practice(&self, n: u32) -> Option<&Practice> {
        self.practices.get((n as usize).checked_sub(1)?)
    }
}

/// The router of a sandbox: control routes, then every other path as an API request.
pub(crate) fn router(sandbox: Arc<Sandbox>) -> Router {
    control::routes().fallback(api).with_state(sandbox)
}

/// What the log needs to know about a request, filled in as the pipeline runs.
struct Outcome {
    entry: LoggedRequest,
}

impl Outcome {
    fn finish(mut self, sandbox: &Sandbox, response: &Response) {
        self.entry.status = response.status().as_u16();
        sandbox.log.push(self.entry);
    }
}

async fn api(State(sandbox): State<Arc<Sandbox>>, request: Request) -> Response {
    let (parts, _) = request.into_parts();
    let path = parts.uri.path().to_string();
    let query = parts.uri.query().unwrap_or("").to_string();
    let mut outcome = Outcome {
        entry: LoggedRequest {
            method: parts.method.to_string(),
            path: path.clone(),
            query: query.clone(),
            user: None,
            status: 0,
            rate_limited: false,
            fault: None,
            at: Utc::now(),
        },
    };
    let text = |name: header::HeaderName| {
        parts
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    if !sandbox.config.latency.is_zero() {
        tokio::time::sleep(sandbox.config.latency).await;
    }
    if text(header::USER_AGENT).is_none_or(|ua| ua.trim().is_empty()) {
        let response = respond::error(&ApiError::UserAgentRequired, &Extras::default());
        outcome.finish(&sandbox, &response);
        return response;
    }
    let caller = match sandbox.tokens.authenticate(
        text(header::AUTHORIZATION).as_deref(),
        &sandbox.worlds,
        sandbox.now(),
    ) {
        Ok(caller) => caller,
        Err(err) => {
            let response = respond::error(&err, &Extras::default());
            outcome.finish(&sandbox, &response);
            return response;
        }
    };
    outcome.entry.user = Some(caller.label());
    let endpoint = endpoints::resolve(&path);
    let mut extras = Extras {
        scopes: sandbox.config.scopes_header.then(|| caller.scopes_header()),
        quota: None,
    };
    if let Some(Endpoint::RateLimit) = endpoint {
        extras.quota = Some(sandbox.limiter.peek(&caller.label()));
        let body = endpoints::rate_limit_body(&sandbox, &caller);
        let response = respond::json(StatusCode::OK, body, &extras, Delivery::Whole);
        outcome.finish(&sandbox, &response);
        return response;
    }
    let rng = sandbox.dice.next();
    let key = format!("{} {path}?{query} {}", parts.method, caller.label());
    let quota = match sandbox.limiter.consume(&caller.label()) {
        Ok(quota) => quota,
        Err(quota) => return refuse(&sandbox, outcome, quota, &mut extras, None),
    };
    if sandbox.dice.blip(&rng, quota.since_reset, &key) {
        return refuse(&sandbox, outcome, quota, &mut extras, Some("blip"));
    }
    extras.quota = Some(quota);
    let mut plan = sandbox.dice.plan(&rng, &key);
    let listing = matches!(endpoint, Some(Endpoint::List(_)));
    if !listing {
        plan.unstable_order = None;
    }
    if !listing {
        plan.hide_total_pages = false;
    }
    let answer = answer(&sandbox, &caller, endpoint, &parts.method, &query, &plan);
    let plan = match &answer {
        Ok(_) => plan,
        Err(_) => Default::default(),
    };
    outcome.entry.fault = plan.describe();
    let response = match (answer, plan.failure) {
        (Err(err), _) => respond::error(&err, &extras),
        (Ok(_), Some(Failure::Status(code))) => respond::error(&ApiError::Server(code), &extras),
        (Ok(body), Some(Failure::Truncate)) => {
            respond::json(StatusCode::OK, body, &extras, Delivery::Truncated)
        }
        (Ok(body), Some(Failure::Reset)) => {
            respond::json(StatusCode::OK, body, &extras, Delivery::Reset)
        }
        (Ok(body), _) => respond::json(StatusCode::OK, body, &extras, Delivery::Whole),
    };
    outcome.finish(&sandbox, &response);
    let delay = plan.latency
        + if let Some(Failure::Stall(stall)) = plan.failure {
            stall
        } else {
            Default::default()
        };
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    response
}

/// The rate-limit refusal (or a blip, which keeps the real remaining budget in its headers).
fn refuse(
    sandbox: &Sandbox,
    mut outcome: Outcome,
    quota: super::ratelimit::Quota,
    extras: &mut Extras,
    fault: Option<&str>,
) -> Response {
    extras.quota = Some(quota);
    outcome.entry.rate_limited = true;
    outcome.entry.fault = fault.map(str::to_string);
    let response = respond::rate_limited(sandbox.limiter.config().mode, quota, extras);
    outcome.finish(sandbox, &response);
    response
}

/// The body of an authenticated, in-budget request, or the error to answer instead.
fn answer(
    sandbox: &Sandbox,
    caller: &Caller,
    endpoint: Option<Endpoint>,
    method: &Method,
    query: &str,
    plan: &Plan,
) -> Result<Vec<u8>, ApiError> {
    let endpoint = endpoint
        .ok_or_else(|| ApiError::NotFound("the requested resource does not exist".into()))?;
    if method != Method::GET && method != Method::HEAD {
        return Err(ApiError::NotFound(format!(
            "no route matches {method} for this path (the sandbox is read-only)"
        )));
    }
    let scope = endpoint.scope();
    if !caller.allows(scope) {
        return Err(ApiError::MissingScope {
            scope: scope.to_string(),
            granted: caller.scopes_header(),
        });
    }
    let params: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    endpoints::body(sandbox, caller, &endpoint, &params, plan)
}
