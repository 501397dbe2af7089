//! Preflight: before any extraction, prove the token is valid, read-only, and holds every scope
//! the pipeline needs (design §7). One request (`GET /v1/user`), whose `X-OAuth-Scopes` header
//! is judged by [`scopes`]: a scope that can write refuses the run (exit 3). A needed read
//! scope the header does not *name* is not refused on its name alone, because only four scope
//! names are evidenced (api-evidence.md §4 #5): that resource's endpoint is probed instead
//! (`per_page=1`, one request per unmatched scope), and only a 403 that is not a rate-limit
//! refusal means the scope is missing.
//!
//! Without the header nothing proves the token is read-only, so the run is refused unless the
//! pipeline says `accept_unverified_scopes = true`; then every scope is probed and the report
//! (and the run manifest) says read-only was NOT verified.

pub mod probe;
mod scopes;

pub use scopes::EVIDENCED as EVIDENCED_SCOPES;

use std::collections::BTreeSet;

use serde::Serialize;
use serde_json::Value;

use crate::api::{ApiError, Client, RateHeaders, Target};
use crate::catalog::{self, Kind};
use crate::config::{Pipeline, ResourceSpec};

pub use scopes::{is_read_only, missing, parse as parse_scopes, write_scopes};

/// Whether the token was shown to be unable to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReadOnly {
    /// `X-OAuth-Scopes` was sent and names only read scopes.
    Verified,
    /// The API sent no `X-OAuth-Scopes`: accepted because `accept_unverified_scopes = true`.
    Unverified,
    /// The token can write: accepted because `allow_write_scopes = true`.
    No,
}

impl ReadOnly {
    /// How `check` and the run manifest say it.
    pub fn label(self) -> &'static str {
        match self {
            Self::Verified => "read-only (verified from X-OAuth-Scopes)",
            Self::Unverified => {
                "read-only NOT VERIFIED (the API sent no X-OAuth-Scopes; accepted by accept_unverified_scopes)"
            }
            Self::No => "CAN WRITE (allowed by allow_write_scopes)",
        }
    }
}

/// How one resource's scope was established.
#[derive(Debug, Clone, Serialize)]
pub struct ScopeMatch {
    /// Resource name.
    pub resource: String,
    /// The scope the catalog names for it.
    pub scope: String,
    /// `name` (the header names the scope), `preflight` (`GET /v1/user` itself proved
    /// `user:read`) or `probe` (one request to the endpoint answered).
    pub matched_by: &'static str,
    /// For a probe: the resource whose endpoint was asked and what it answered (`200`, or
    /// `404` for a feature the practice does not use).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub probe: Option<String>,
}

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
    /// How scopes were established: `header`, or `probe` when the API sent no header.
    pub scope_check: &'static str,
    /// Whether the token is known not to write.
    pub read_only: ReadOnly,
    /// Scopes the pipeline needs.
    pub needed: Vec<String>,
    /// Per selected resource, how its scope was established.
    pub resources: Vec<ScopeMatch>,
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
        "the token lacks {} needed by this pipeline ({}): the API answered 403 Forbidden. Create a key with these \
         read boxes ticked (Settings → Developer → Generate new token), or remove those resources from the pipeline",
        list(.missing),
        .resources.join(", ")
    )]
    MissingScopes {
        /// Missing scopes.
        missing: Vec<String>,
        /// Resources that need them.
        resources: Vec<String>,
    },
    /// No `X-OAuth-Scopes`: read-only cannot be verified.
    #[error(
        "the API sent no X-OAuth-Scopes header, so nothing proves this token is read-only (it could change \
         patient records). Use a key with only the `read` boxes ticked and, if the API still sends no scopes \
         header, set `accept_unverified_scopes = true` in [source] to run anyway (the run manifest records it)"
    )]
    UnverifiedScopes,
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
        read_only: ReadOnly::Verified,
        needed: needed.iter().map(|s| (*s).to_string()).collect(),
        resources: Vec::new(),
        budget: reply.rate,
        write_scopes_allowed: Vec::new(),
    };
    let held = match reply.scopes.as_deref() {
        Some(header) => {
            let held = parse_scopes(header);
            judge_writes(&mut report, &held, pipeline)?;
            Some(held)
        }
        None if pipeline.source.accept_unverified_scopes => {
            tracing::warn!(
                "read-only: NOT VERIFIED (the API sent no X-OAuth-Scopes); running anyway because `accept_unverified_scopes = true`"
            );
            report.scope_check = "probe";
            report.read_only = ReadOnly::Unverified;
            None
        }
        None => return Err(Refusal::UnverifiedScopes),
    };
    match_scopes(client, pipeline, held.as_ref(), &mut report).await?;
    report.budget = client.budget().snapshot();
    Ok(report)
}

/// Refuses a token that can write, unless the pipeline allows it.
fn judge_writes(
    report: &mut Report,
    held: &BTreeSet<String>,
    pipeline: &Pipeline,
) -> Result<(), Refusal> {
    report.scopes = Some(held.iter().cloned().collect());
    let writes = write_scopes(held);
    if writes.is_empty() {
        return Ok(());
    }
    if !pipeline.source.allow_write_scopes {
        return Err(Refusal::WriteScopes { scopes: writes });
    }
    tracing::warn!(scopes = %writes.join(" "), "THE TOKEN CAN WRITE: running anyway because `allow_write_scopes = true`. Use a read-only key.");
    report.read_only = ReadOnly::No;
    report.write_scopes_allowed = writes;
    Ok(())
}

/// Establishes each resource's scope: by name from the header when it names it, else by one
/// probe per unmatched scope (403 means missing).
async fn match_scopes(
    client: &Client,
    pipeline: &Pipeline,
    held: Option<&BTreeSet<String>>,
    report: &mut Report,
) -> Result<(), Refusal> {
    let (mut lacking, mut resources) = (Vec::<String>::new(), Vec::new());
    // Scope → what its probe found: `Some(answer)` held, `None` forbidden.
    let mut probed: Vec<(&'static str, Option<String>)> = Vec::new();
    for spec in &pipeline.resources {
        let r = spec.resource;
        let (matched_by, probe) = if held.is_some_and(|h| scopes::names(h, r.scope)) {
            ("name", None)
        } else if r.scope == catalog::USER_SCOPE {
            ("preflight", None)
        } else {
            let known = probed.iter().find(|(s, _)| *s == r.scope).cloned();
            let answer = match known {
                Some((_, answer)) => answer,
                None => {
                    let answer = probe_scope(client, spec).await?;
                    probed.push((r.scope, answer.clone()));
                    answer
                }
            };
            match answer {
                Some(answer) => ("probe", Some(answer)),
                None => {
                    if !lacking.iter().any(|m| m == r.scope) {
                        lacking.push(r.scope.to_string());
                    }
                    resources.push(r.name.to_string());
                    continue;
                }
            }
        };
        report.resources.push(ScopeMatch {
            resource: r.name.to_string(),
            scope: r.scope.to_string(),
            matched_by,
            probe,
        });
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

/// Asks the resource's endpoint for one row: `Some(what it answered)` when the scope is held,
/// `None` on a 403 (the client already told a rate-limit 403 apart and waited it out).
async fn probe_scope(client: &Client, spec: &ResourceSpec) -> Result<Option<String>, Refusal> {
    let r = spec.resource;
    let query: Vec<(&str, String)> = match r.kind {
        Kind::Single => Vec::new(),
        Kind::List => probe_query(r),
    };
    let target = Target {
        resource: r.name,
        page: 1,
    };
    match client.get(r.path, &query, target).await {
        Ok(_) => Ok(Some(format!("{}: 200", r.name))),
        Err(ApiError::NotFound { .. }) => Ok(Some(format!(
            "{}: 404 (a feature the practice does not use)",
            r.name
        ))),
        Err(ApiError::Forbidden { .. }) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// One row of a list, inside a valid window where the list needs one.
fn probe_query(r: &catalog::Resource) -> Vec<(&'static str, String)> {
    let mut q = vec![("per_page", "1".to_string())];
    q.extend(
        r.required_params
            .iter()
            .map(|(k, v)| (*k, (*v).to_string())),
    );
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
    if let catalog::Window::PerParent { param, .. } = r.window {
        q.push((param, "0".to_string()));
    }
    q
}

/// The token's owner as the tool prints it: the user's id (and role), never the name or
/// e-mail address, which would otherwise end up in every nightly job's logs.
fn describe_user(u: &Value) -> String {
    let id = u.get("id").map_or_else(
        || "?".to_string(),
        |v| match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        },
    );
    match u.get("role").and_then(Value::as_str) {
        Some(role) if !role.is_empty() => format!("#{id} ({role})"),
        _ => format!("#{id}"),
    }
}
