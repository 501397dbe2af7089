//! `dentally-etl probe`: first contact with a real practice, measured.
//!
//! The catalog is built from evidence of mixed grades (api-evidence.md). With a real key this
//! reads page 1 of each selected resource (`per_page=100`, `sort_by`, the parameters a run
//! sends) and compares it with the catalog; then, for each range filter the catalog relies on,
//! one more request with bounds that should cut rows. It reports **names, JSON types, verdicts
//! and small counts only, never a value of a record**: the report is meant to be shared so the
//! catalog can be corrected, and the data is health data. Bounds, totals and ids are values, so
//! they are not printed either.

mod filters;
mod shape;

use std::sync::atomic::Ordering;

use serde::Serialize;

use super::scopes;
use crate::api::{ApiError, Client, Reply, Target};
use crate::catalog::{self, Kind, Resource, Window};
use crate::config::Pipeline;
use crate::extract::{Slice, list_query, per_parent};
use crate::json::Node;

pub use filters::FilterCheck;
pub use shape::{Fields, TypeMisfit};

/// A verdict on one thing the catalog relies on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// The answer shows the parameter worked.
    TookEffect,
    /// The answer shows the parameter was ignored.
    Ignored,
    /// The page holds too little to tell.
    CannotTell,
}

impl Verdict {
    /// How the text report says it.
    pub fn label(self) -> &'static str {
        match self {
            Self::TookEffect => "took effect",
            Self::Ignored => "IGNORED",
            Self::CannotTell => "cannot tell",
        }
    }
}

/// A verdict with the reason (names and counts only).
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    /// The verdict.
    pub verdict: Verdict,
    /// Why, in words.
    pub detail: String,
}

impl Check {
    pub(crate) fn new(verdict: Verdict, detail: String) -> Self {
        Self { verdict, detail }
    }
}

/// What page 1 of one resource showed.
#[derive(Debug, Clone, Serialize)]
pub struct ResourceProbe {
    /// Resource name.
    pub resource: String,
    /// Request path.
    pub path: String,
    /// `ok`, `forbidden` (403: scope missing), `not_found` (404: feature not used), or
    /// `error: …`.
    pub status: String,
    /// The catalog's scope for it, and whether `X-OAuth-Scopes` names it exactly.
    pub scope: String,
    /// `None` when the API sent no scopes header.
    pub scope_named: Option<bool>,
    /// Rows on page 1.
    pub rows: usize,
    /// Keys of `meta` in the answer.
    pub meta_keys: Vec<String>,
    /// Top-level keys of the answer other than the records' key and `meta`.
    pub other_keys: Vec<String>,
    /// Whether the records' key (`patients`) was in the answer.
    pub envelope_found: bool,
    /// Whether `per_page=100` took effect (lists only).
    pub per_page: Option<Check>,
    /// Whether `sort_by` took effect (lists only).
    pub sort_by: Option<Check>,
    /// The range filters the catalog relies on.
    pub filters: Vec<FilterCheck>,
    /// Field findings.
    pub fields: Fields,
}

/// The whole probe.
#[derive(Debug, Clone, Serialize)]
pub struct ProbeReport {
    /// Pipeline name.
    pub pipeline: String,
    /// Requests sent.
    pub requests: u64,
    /// Scope names in `X-OAuth-Scopes` (`None`: the header was not sent).
    pub scopes: Option<Vec<String>>,
    /// Those of them that can write.
    pub write_scopes: Vec<String>,
    /// One entry per selected resource.
    pub resources: Vec<ResourceProbe>,
}

/// Probes every resource of `pipeline`.
pub async fn probe(client: &Client, pipeline: &Pipeline) -> ProbeReport {
    let mut header: Option<String> = None;
    // First keys of parents (`treatments`), for per-parent lists (`fees`).
    let mut parent_keys: std::collections::BTreeMap<&'static str, String> = Default::default();
    let mut resources = Vec::new();
    // `fees` needs a treatment id: read `treatments` first when both are selected.
    let mut order: Vec<&'static Resource> = pipeline.resources.iter().map(|s| s.resource).collect();
    order.sort_by_key(|r| matches!(r.window, Window::PerParent { .. }));
    for resource in order {
        let parent = match resource.window {
            Window::PerParent { parent, .. } => Some(parent),
            _ => None,
        };
        if let Some(parent) = parent
            && !parent_keys.contains_key(parent)
            && let Some(key) = first_key_of(client, parent, &mut header).await
        {
            parent_keys.insert(parent, key);
        }
        let key = parent.and_then(|p| parent_keys.get(p)).map(String::as_str);
        let (found, first_key) = probe_one(client, resource, key, &mut header).await;
        if let Some(first) = first_key {
            parent_keys.entry(resource.name).or_insert(first);
        }
        resources.push(found);
    }
    let scopes = header.map(|h| scopes::parse(&h));
    if let Some(held) = &scopes {
        for r in &mut resources {
            r.scope_named = Some(scopes::names(held, &r.scope));
        }
    }
    resources.sort_by_key(|r| {
        pipeline
            .resources
            .iter()
            .position(|s| s.resource.name == r.resource)
    });
    ProbeReport {
        pipeline: pipeline.name.clone(),
        requests: client.stats().requests.load(Ordering::Relaxed),
        write_scopes: scopes
            .as_ref()
            .map(scopes::write_scopes)
            .unwrap_or_default(),
        scopes: scopes.map(|s| s.into_iter().collect()),
        resources,
    }
}

/// One key of the resource `parent` (a treatment id, for `fees`), without keeping anything else.
async fn first_key_of(
    client: &Client,
    parent: &str,
    header: &mut Option<String>,
) -> Option<String> {
    let parent = catalog::find(parent)?;
    let query = vec![("per_page", "1".to_string())];
    let reply = get(client, parent, &query).await.ok()?;
    remember(header, &reply);
    let first = reply.body.root().get(parent.envelope)?.items().next()?;
    first.get(parent.primary_key).map(node_text)
}

/// Probes one resource (a per-parent list with `parent_key`); also returns its first key.
async fn probe_one(
    client: &Client,
    resource: &'static Resource,
    parent_key: Option<&str>,
    header: &mut Option<String>,
) -> (ResourceProbe, Option<String>) {
    let mut out = ResourceProbe {
        resource: resource.name.to_string(),
        path: resource.path.to_string(),
        status: "ok".to_string(),
        scope: resource.scope.to_string(),
        scope_named: None,
        rows: 0,
        meta_keys: Vec::new(),
        other_keys: Vec::new(),
        envelope_found: false,
        per_page: None,
        sort_by: None,
        filters: Vec::new(),
        fields: Fields::default(),
    };
    let base = base_query(resource, parent_key);
    let reply = match get(client, resource, &base).await {
        Ok(reply) => reply,
        Err(e) => {
            out.status = status_of(&e);
            return (out, None);
        }
    };
    remember(header, &reply);
    let root = reply.body.root();
    out.meta_keys = keys(root.get("meta"));
    out.other_keys = root
        .entries()
        .map(|(k, _)| k.into_owned())
        .filter(|k| k != resource.envelope && k != "meta")
        .collect();
    let envelope = root.get(resource.envelope);
    out.envelope_found = envelope.is_some();
    let records: Vec<Node<'_>> = match (resource.kind, envelope) {
        (Kind::Single, Some(object)) if object.is_object() => vec![object],
        (Kind::List, Some(list)) => list.items().collect(),
        _ => Vec::new(),
    };
    out.rows = records.len();
    out.fields = shape::fields(resource, &records);
    let first_key = records
        .first()
        .and_then(|r| r.get(resource.primary_key))
        .map(node_text);
    if resource.kind == Kind::Single {
        return (out, first_key);
    }
    let total = total_count(root);
    out.per_page = Some(shape::per_page(records.len(), total));
    out.sort_by = Some(shape::sort_order(resource, &records));
    for filter in resource.ranges {
        out.filters
            .push(check_filter(client, resource, filter, &base, &records, total, header).await);
    }
    (out, first_key)
}

/// Sends the request testing one range filter and judges it.
async fn check_filter(
    client: &Client,
    resource: &'static Resource,
    filter: &'static catalog::RangeFilter,
    base: &[(&'static str, String)],
    records: &[Node<'_>],
    total: Option<u64>,
    header: &mut Option<String>,
) -> FilterCheck {
    let not_judged = |detail: String| FilterCheck {
        field: filter.field.to_string(),
        after: filter.after.to_string(),
        before: filter.before.map(str::to_string),
        after_check: Check::new(Verdict::CannotTell, detail.clone()),
        before_check: filter
            .before
            .map(|_| Check::new(Verdict::CannotTell, detail.clone())),
        total_count_went_down: None,
    };
    let Some(plan) = filters::plan(resource, filter, records) else {
        return not_judged(format!(
            "page 1 holds fewer than 2 distinct `{}` values",
            filter.field
        ));
    };
    let replaced: Vec<&str> = plan.params.iter().map(|(k, _)| *k).collect();
    let mut query: Vec<(&'static str, String)> = base
        .iter()
        .filter(|(k, _)| !replaced.contains(k))
        .cloned()
        .collect();
    query.extend(plan.params.iter().cloned());
    match get(client, resource, &query).await {
        Ok(reply) => {
            remember(header, &reply);
            let root = reply.body.root();
            let rows: Vec<Node<'_>> = root
                .get(resource.envelope)
                .map(|l| l.items().collect())
                .unwrap_or_default();
            plan.judge(&rows, total, total_count(root))
        }
        Err(e) => not_judged(format!("the filtered request failed: {}", status_of(&e))),
    }
}

/// Page 1 as a run asks for it (the extractor's own [`list_query`]: `per_page=100`, `sort_by`,
/// required parameters), in a valid window or for one parent key.
fn base_query(resource: &Resource, parent_key: Option<&str>) -> Vec<(&'static str, String)> {
    if resource.kind == Kind::Single {
        return Vec::new();
    }
    let slice = match resource.window {
        Window::Required {
            after_param,
            before_param,
            ..
        } => {
            // Under three months, as the live API prefers.
            let today = chrono::Utc::now().date_naive();
            Slice {
                label: String::new(),
                query: vec![
                    (after_param, (today - chrono::Days::new(89)).to_string()),
                    (before_param, (today + chrono::Days::new(1)).to_string()),
                ],
            }
        }
        Window::PerParent { param, .. } => per_parent(param, &[parent_key.unwrap_or("0").into()])
            .pop()
            .unwrap_or_else(Slice::whole),
        Window::None => Slice::whole(),
    };
    list_query(resource, None, &[], &slice, &[])
}

async fn get(
    client: &Client,
    resource: &'static Resource,
    query: &[(&'static str, String)],
) -> Result<Reply, ApiError> {
    let target = Target {
        resource: resource.name,
        page: 1,
    };
    client.get(resource.path, query, target).await
}

/// Keeps the first `X-OAuth-Scopes` seen.
fn remember(header: &mut Option<String>, reply: &Reply) {
    if header.is_none() {
        header.clone_from(&reply.scopes);
    }
}

/// What went wrong, without the body of the answer (it could quote data).
fn status_of(e: &ApiError) -> String {
    match e {
        ApiError::Forbidden { .. } => "forbidden (403: the token lacks this scope)".to_string(),
        ApiError::NotFound { .. } => {
            "not_found (404: a feature the practice does not use)".to_string()
        }
        ApiError::Unauthorized { .. } => "unauthorized (401: the token was refused)".to_string(),
        other => format!("error: {}", kind_of(other)),
    }
}

fn kind_of(e: &ApiError) -> String {
    let text = format!("{e:?}");
    text.split(|c: char| !c.is_alphanumeric())
        .next()
        .unwrap_or("unknown")
        .to_string()
}

fn keys(node: Option<Node<'_>>) -> Vec<String> {
    node.map(|n| n.entries().map(|(k, _)| k.into_owned()).collect())
        .unwrap_or_default()
}

fn total_count(root: Node<'_>) -> Option<u64> {
    root.get("meta")?.get("total_count")?.number()?.parse().ok()
}

fn node_text(node: Node<'_>) -> String {
    match node.as_str() {
        Some(s) => s.into_owned(),
        None => node.json().into_owned(),
    }
}
