//! Which API paths exist, the scope each needs, and the JSON each answers.
//!
//! Paths work with and without the `/v1` prefix (no prefix means the latest version, which is
//! v1). `/rate_limit` reports the caller's budget; `/v1/user` is the token owner;
//! `/v1/practice` a single object; every list resource of the catalog answers
//! `{"<envelope>": [...], "meta": {...}}` (see `pages`); patients, appointments and invoices
//! also answer by id (`{"patient": {...}}`), an invoice with its `invoice_items[]`; and
//! `/v1/patients/{id}/stats` answers `{"patient_stat": {...}}`, the patient's `patient_stats`
//! row (B: the live API has it, and it is how a client fills the holes unstable paging leaves).

use serde_json::{Value, json};

use crate::catalog::{self, Kind, Resource};

use super::auth::Caller;
use super::data::conform::conform;
use super::data::finance;
use super::error::ApiError;
use super::faults::Plan;
use super::pages;
use super::server::Sandbox;
use super::store::View;

/// Resources that also answer `/<name>/{id}`.
const DETAILS: &[&str] = &["patients", "appointments", "invoices"];

/// A resolved API path.
#[derive(Debug, Clone)]
pub(crate) enum Endpoint {
    /// `/rate_limit`.
    RateLimit,
    /// `/v1/user`.
    User,
    /// `/v1/practice`.
    Single(&'static Resource),
    /// A list resource.
    List(&'static Resource),
    /// One record by id.
    Detail(&'static Resource, String),
    /// `/v1/patients/{id}/stats`: one patient's `patient_stats` row.
    PatientStat(String),
}

impl Endpoint {
    /// The scope a token needs for this endpoint.
    pub(crate) fn scope(&self) -> &'static str {
        match self {
            Endpoint::RateLimit | Endpoint::User => catalog::USER_SCOPE,
            Endpoint::Single(r) | Endpoint::List(r) | Endpoint::Detail(r, _) => r.scope,
            Endpoint::PatientStat(_) => {
                catalog::find("patient_stats").map_or(catalog::USER_SCOPE, |r| r.scope)
            }
        }
    }
}

/// The endpoint of a path, if there is one.
pub(crate) fn resolve(path: &str) -> Option<Endpoint> {
    let path = path.trim_end_matches('/');
    let rest = match path.strip_prefix("/v1") {
        Some(rest) if rest.is_empty() || rest.starts_with('/') => rest,
        _ => path,
    };
    let segments: Vec<&str> = rest.split('/').skip(1).collect();
    match segments.as_slice() {
        ["rate_limit"] => Some(Endpoint::RateLimit),
        ["user"] => Some(Endpoint::User),
        [name] => catalog::find(name).map(|r| {
            if r.kind == Kind::Single {
                Endpoint::Single(r)
            } else {
                Endpoint::List(r)
            }
        }),
        [name, id] if DETAILS.contains(name) => {
            catalog::find(name).map(|r| Endpoint::Detail(r, (*id).to_string()))
        }
        ["patients", id, "stats"] => Some(Endpoint::PatientStat((*id).to_string())),
        _ => None,
    }
}

/// The `/rate_limit` body for the caller (GitHub-style, as MAGI reads it).
pub(crate) fn rate_limit_body(sandbox: &Sandbox, caller: &Caller) -> Vec<u8> {
    let q = sandbox.limiter.peek(&caller.label());
    let body = json!({"resources": {
        "core": {"limit": q.limit, "remaining": q.remaining, "reset": q.reset},
        "sms": {"limit": 1000, "remaining": 1000, "reset": q.reset},
    }});
    serde_json::to_vec(&body).unwrap_or_default()
}

/// The JSON body of an endpoint for the caller's practice.
pub(crate) fn body(
    sandbox: &Sandbox,
    caller: &Caller,
    endpoint: &Endpoint,
    params: &[(String, String)],
    plan: &Plan,
) -> Result<Vec<u8>, ApiError> {
    let practice = sandbox
        .practice(caller.practice)
        .ok_or_else(|| ApiError::NotFound("unknown practice".into()))?;
    let not_found = || ApiError::NotFound("the requested resource does not exist".into());
    let value = match endpoint {
        Endpoint::RateLimit => return Ok(rate_limit_body(sandbox, caller)),
        Endpoint::User => {
            let users = catalog::find("users").ok_or_else(not_found)?;
            let user = practice
                .with_view("users", |v| v.raw(caller.user))
                .flatten()
                .ok_or_else(not_found)?;
            json!({"user": conform(users, user)})
        }
        Endpoint::Single(r) => {
            let record = practice
                .with_view(r.name, |v| v.raw(0))
                .flatten()
                .ok_or_else(not_found)?;
            json!({r.envelope: conform(r, record)})
        }
        Endpoint::List(r)
            if sandbox.config.features_off_404
                && sandbox.config.features_off.iter().any(|f| f == r.name) =>
        {
            return Err(ApiError::NotFound(format!(
                "{} is not enabled for this practice",
                r.name
            )));
        }
        Endpoint::List(r) => pages::answer(sandbox, practice, caller.practice, r, params, plan)?,
        Endpoint::PatientStat(id) => {
            let stats = catalog::find("patient_stats").ok_or_else(not_found)?;
            let missing = || ApiError::NotFound(format!("Couldn't find Patient with 'id'={id}"));
            let id: i64 = id.parse().map_err(|_| missing())?;
            let record = practice
                .with_view(stats.name, |v| {
                    v.index_of(id)
                        .and_then(|i| v.raw(i))
                        .map(|raw| conform(stats, raw))
                })
                .flatten()
                .ok_or_else(missing)?;
            json!({stats.singular(): record})
        }
        Endpoint::Detail(r, id) => {
            let missing = || {
                ApiError::NotFound(format!(
                    "Couldn't find {} with 'id'={id}",
                    capitalised(r.singular())
                ))
            };
            let id: i64 = id.parse().map_err(|_| missing())?;
            let mut record = practice
                .with_view(r.name, |v| {
                    v.index_of(id)
                        .and_then(|i| v.raw(i))
                        .map(|raw| conform(r, raw))
                })
                .flatten()
                .ok_or_else(missing)?;
            if r.name == "invoices" {
                let items = practice
                    .with_view("invoices", |v| v.index_of(id).filter(|&i| i < v.base_len()))
                    .flatten();
                let rows = practice
                    .with_view("invoice_items", |v| invoice_items(v, id, items))
                    .unwrap_or_default();
                if let Value::Object(map) = &mut record {
                    map.insert("invoice_items".into(), Value::Array(rows));
                }
            }
            json!({r.singular(): record})
        }
    };
    Ok(serde_json::to_vec(&value).unwrap_or_default())
}

/// The live items of invoice `id` (`base`: its index when it is a base invoice).
fn invoice_items(view: &View<'_>, id: i64, base: Option<u64>) -> Vec<Value> {
    let Some(resource) = catalog::find("invoice_items") else {
        return Vec::new();
    };
    let mut indices: Vec<u64> = base
        .map(|i| finance::items_of(view.world, i).collect())
        .unwrap_or_default();
    let first_appended = view.base_len();
    indices.extend(
        view.changes
            .appended
            .iter()
            .enumerate()
            .filter(|(_, v)| v["invoice_id"] == id)
            .map(|(k, _)| first_appended + k as u64),
    );
    indices
        .into_iter()
        .filter_map(|i| view.raw(i))
        .filter(|v| v["invoice_id"] == id)
        .map(|raw| conform(resource, raw))
        .collect()
}

fn capitalised(word: &str) -> String {
    let mut parts = word.split('_').map(|w| {
        let mut c = w.chars();
        c.next()
            .map(|f| f.to_uppercase().chain(c).collect::<String>())
            .unwrap_or_default()
    });
    let mut out = String::new();
    for p in parts.by_ref() {
        out.push_str(&p);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_with_and_without_the_version() {
        assert!(matches!(resolve("/v1/patients"), Some(Endpoint::List(r)) if r.name == "patients"));
        assert!(matches!(resolve("/patients/"), Some(Endpoint::List(r)) if r.name == "patients"));
        assert!(matches!(resolve("/v1/practice"), Some(Endpoint::Single(_))));
        assert!(matches!(resolve("/user"), Some(Endpoint::User)));
        assert!(matches!(resolve("/rate_limit"), Some(Endpoint::RateLimit)));
        assert!(
            matches!(resolve("/v1/invoices/500001"), Some(Endpoint::Detail(_, id)) if id == "500001")
        );
        assert!(resolve("/v1/cancellation_reasons").is_none());
        assert!(resolve("/v1/sites/abc").is_none());
        assert!(
            matches!(resolve("/v1/patients/20001/stats"), Some(Endpoint::PatientStat(id)) if id == "20001")
        );
        assert!(resolve("/v1/patients/20001/other").is_none());
        assert!(resolve("/v1x/patients").is_none());
        assert_eq!(capitalised("invoice_item"), "InvoiceItem");
    }
}
