//! `plan`: what a run would do, offline: requests, windows, outputs.

use serde::Serialize;

use crate::catalog::{Kind, Window};
use crate::config::{Mode, PiiMode, Pipeline};
use crate::extract::{PER_PAGE, months};

/// One resource's plan.
#[derive(Debug, Serialize)]
pub struct ResourcePlan {
    /// Resource name.
    pub name: String,
    /// Request path.
    pub path: String,
    /// Scope needed.
    pub scope: String,
    /// Parameters of every page request.
    pub query: Vec<(String, String)>,
    /// How the list is cut: `one list`, `N month windows from … to …`, `one list per treatment`.
    pub slices: String,
    /// `full` or `incremental` (and why a resource falls back to full).
    pub mode: String,
    /// PII policy.
    pub pii: String,
    /// Where current files go.
    pub output: String,
}

/// The whole plan.
#[derive(Debug, Serialize)]
pub struct Plan {
    /// Pipeline name.
    pub pipeline: String,
    /// API base URL.
    pub base_url: String,
    /// Output location and format.
    pub output: String,
    /// Resources.
    pub resources: Vec<ResourcePlan>,
}

/// Builds the plan of `p` for today.
pub fn build(p: &Pipeline) -> Plan {
    let today = chrono::Utc::now().date_naive();
    let ext = match p.output.format {
        crate::config::OutputFormat::Parquet => "parquet",
        crate::config::OutputFormat::Csv => "csv",
    };
    let resources = p
        .resources
        .iter()
        .map(|spec| {
            let r = spec.resource;
            let mut query = Vec::new();
            if r.kind == Kind::List {
                query.push(("per_page".to_string(), PER_PAGE.to_string()));
                query.push(("sort_by".to_string(), r.sort_by.to_string()));
                query.push(("sort_direction".to_string(), "asc".to_string()));
            }
            let slices = match (r.window, spec.window) {
                (
                    Window::Required {
                        after_param,
                        before_param,
                        ..
                    },
                    Some(w),
                ) => {
                    let (from, to) = w.resolve(today);
                    let n = months(from, to, after_param, before_param).len();
                    format!("{n} month windows ({after_param}/{before_param}) from {from} to {to}")
                }
                (Window::PerTreatment, _) => {
                    "one list per treatment (treatment ids read from /v1/treatments)".into()
                }
                _ if r.kind == Kind::Single => "one object".into(),
                _ => "one list".into(),
            };
            let mode = match (spec.mode, r.cursor) {
                (Mode::Full, _) => "full".to_string(),
                (Mode::Incremental, Some(c)) => format!("incremental on `{c}`"),
                (Mode::Incremental, None) => {
                    "full (this resource has no `updated_after` cursor)".to_string()
                }
            };
            let pii = match spec.pii {
                PiiMode::Keep => "keep",
                PiiMode::Hash => "hash",
                PiiMode::Drop => "drop",
            };
            ResourcePlan {
                name: r.name.into(),
                path: r.path.into(),
                scope: r.scope.into(),
                query,
                slices,
                mode,
                pii: pii.into(),
                output: format!("{}/part-<run_id>-<n>.{ext}", r.name),
            }
        })
        .collect();
    Plan {
        pipeline: p.name.clone(),
        base_url: p.source.base_url.to_string(),
        output: format!("{} ({ext})", p.output.url),
        resources,
    }
}

/// The plan as text.
pub fn render(plan: &Plan) -> String {
    let mut out = format!(
        "pipeline {}: {} → {}\n",
        plan.pipeline, plan.base_url, plan.output
    );
    for r in &plan.resources {
        let q: Vec<String> = r.query.iter().map(|(k, v)| format!("{k}={v}")).collect();
        out.push_str(&format!(
            "  {:<34} GET {}?{}  [{}; {}; pii {}; scope {}] → {}\n",
            r.name,
            r.path,
            q.join("&"),
            r.slices,
            r.mode,
            r.pii,
            r.scope,
            r.output
        ));
    }
    out
}
