//! Preflight: before any extraction, prove the token is valid, read-only, and holds every scope
//! the pipeline needs (design §7). One request (`GET /v1/user`), plus one probe per resource only
//! when the API does not send `X-OAuth-Scopes`.

mod scopes;

use std::collections::BTreeSet;

use serde::Serialize;
use serde_json::Value;

use crate::api::{ApiError, Client, RateHeaders, Target};
use crate::catalog::{self, Kind};
use crate::config::Pipeline;

pub use scopes::{missing, parse as parse_scopes, write_scopes};

/// What the preflight learned.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The token owner (`first_name last_name <email>`), when the API says.
    pub user: Option<String>,
    /// The token owner's id.
    pub user_id: Option<Value>,
    /// The practice the token reads (`practice_id` of the token's user).
    pub practice: Option<Value>,
    /// Scopes the token holds (`None` when the API did not send the header).
    pub scopes: Option<Vec<String>>,
    /// How scopes were established: `header` or `probe`.
    pub scope_check: &'static str,
    /// Scopes the pipeline needs.
    pub needed: Vec<String>,
    /// The budget after the preflight.
    pub budget: RateHeaders,
    /// Write scopes accepted because `allow_write_scopes = true`.
    pub write_scopes_allowed: Vec<String>,
}

/// Why the preflight refused to go on. Exit code 3 for all but `Api`.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    /// The token can write.
    #[error(
        "the token can write: it holds {}. An export job must hold a read-only key. Create one in Dentally under \
         Settings → Developer → Generate new token, tick only the `read` boxes, and use it instead \
         (or set `allow_write_scopes = true` in [source] if you really must)",
        list(.scopes)
    )]
    WriteScopes {
        /// The offending scopes.
        scopes: Vec<String>,
    },
    /// Scopes missing for selected resources.
    #[error(
        "the token lacks {} needed by this pipeline ({}). Create a key with these read boxes ticked \
         (Settings → Developer → Generate new token), or remove those resources from the pipeline",
        list(.missing),
        .resources.join(", ")
    )]
    MissingScopes {
        /// Missing scopes.
        missing: Vec<String>,
        /// Resources that need them.
        resources: Vec<String>,
    },
    /// The API refused the token or the request.
    #[error(transparent)]
    Api(#[from] ApiError),
}

fn list(items: &[String]) -> String {
    items
        .iter()
        .map(|s| format!("`{s}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Runs the preflight for `pipeline` with `client`.
pub async fn check(client: &Client, pipeline: &Pipeline) -> Result<Report, Refusal> {
    let reply = client
        .get(
            "/v1/user",
            &[],
            Target {
                resource: "user",
                page: 0,
            },
        )
        .await?;
    let body = reply.body.root().to_value();
    let user = body.get("user");
    let needed: BTreeSet<&'static str> = pipeline
        .resources
        .iter()
        .map(|r| r.resource.scope)
        .collect();
    let mut report = Report {
        user: user.map(describe_user),
        user_id: user.and_then(|u| u.get("id")).cloned(),
        practice: user.and_then(|u| u.get("practice_id")).cloned(),
        scopes: None,
        scope_check: "header",
        needed: needed.iter().map(|s| (*s).to_string()).collect(),
        budget: reply.rate,
        write_scopes_allowed: Vec::new(),
    };
    match reply.scopes.as_deref() {
        Some(header) => judge_header(&mut report, header, &needed, pipeline)?,
        None => probe(client, pipeline, &mut report).await?,
    }
    report.budget = client.budget().snapshot();
    Ok(report)
}

fn judge_header(
    report: &mut Report,
    header: &str,
    needed: &BTreeSet<&'static str>,
    pipeline: &Pipeline,
) -> Result<(), Refusal> {
    let held = parse_scopes(header);
    report.scopes = Some(held.iter().cloned().collect());
    let writes = write_scopes(&held);
    if !writes.is_empty() {
        if !pipeline.source.allow_write_scopes {
            return Err(Refusal::WriteScopes { scopes: writes });
        }
        tracing::warn!(scopes = %writes.join(" "), "THE TOKEN CAN WRITE: running anyway because `allow_write_scopes = true`. Use a read-only key.");
        report.write_scopes_allowed = writes;
    }
    let lacking = missing(&held, needed);
    if lacking.is_empty() {
        return Ok(());
    }
    let resources = pipeline
        .resources
        .iter()
        .filter(|r| lacking.iter().any(|m| m == r.resource.scope))
        .map(|r| r.resource.name.to_string())
        .collect();
    Err(Refusal::MissingScopes {
        missing: lacking,
        resources,
    })
}

/// Without the header: ask each selected resource for one row; a 403 means its scope is missing.
async fn probe(client: &Client, pipeline: &Pipeline, report: &mut Report) -> Result<(), Refusal> {
    report.scope_check = "probe";
    let (mut lacking, mut resources) = (Vec::new(), Vec::new());
    for spec in &pipeline.resources {
        let r = spec.resource;
        let query: Vec<(&str, String)> = match r.kind {
            Kind::Single => Vec::new(),
            Kind::List => probe_query(r),
        };
        match client
            .get(
                r.path,
                &query,
                Target {
                    resource: r.name,
                    page: 1,
                },
            )
            .await
        {
            Ok(_) | Err(ApiError::NotFound { .. }) => {}
            Err(ApiError::Forbidden { .. }) => {
                if !lacking.contains(&r.scope.to_string()) {
                    lacking.push(r.scope.to_string());
                }
                resources.push(r.name.to_string());
            }
            Err(e) => return Err(e.into()),
        }
    }
    if lacking.is_empty() {
        Ok(())
    } else {
        Err(Refusal::MissingScopes {
            missing: lacking,
            resources,
        })
    }
}

fn probe_query(r: &catalog::Resource) -> Vec<(&'static str, String)> {
    let mut q = vec![("per_page", "1".to_string())];
    if let catalog::Window::Required {
        after_param,
        before_param,
        ..
    } = r.window
    {
        let today = chrono::Utc::now().date_naive();
        q.push((after_param, today.to_string()));
        q.push((before_param, (today + chrono::Days::new(1)).to_string()));
    }
    if r.window == catalog::Window::PerTreatment {
        q.push(("treatment_id", "0".to_string()));
    }
    q
}

fn describe_user(u: &Value) -> String {
    let s = |k: &str| u.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    let name = format!("{} {}", s("first_name"), s("last_name"))
        .trim()
        .to_string();
    match s("email") {
        e if e.is_empty() => name,
        e => format!("{name} <{e}>"),
    }
}
