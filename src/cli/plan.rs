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

/// One practice of a multi-practice pipeline.
#[derive(Debug, Serialize)]
pub struct PracticePlan {
    /// Its name (partition `practice=<name>`).
    pub name: String,
    /// Its API host.
    pub base_url: String,
    /// `k/n`: the shard it belongs to, when `--shard` is given.
    pub shard: Option<String>,
    /// Whether the asked shard (or the whole run) takes it.
    pub selected: bool,
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
    /// Which state the plan used.
    pub state: String,
    /// The practices of a multi-practice pipeline, with their shard.
    pub practices: Vec<PracticePlan>,
    /// Resources.
    pub resources: Vec<ResourcePlan>,
}

async fn load_states(p: &Pipeline) -> (crate::state::State, String) {
    let loaded = async {
        let loc = crate::run::location_for(p).map_err(|e| e.to_string())?;
        let store = crate::state::StateStore::load(&loc, &p.name)
            .await
            .map_err(|e| e.to_string())?;
        Ok::<_, String>((store.snapshot().await, store.path().to_string()))
    };
    match tokio::time::timeout(std::time::Duration::from_secs(10), loaded).await {
        Ok(Ok((state, path))) if state.resources.is_empty() => (
            state,
            format!("no state yet at `{path}`: first run reads everything"),
        ),
        Ok(Ok((state, path))) => (state, format!("state from `{path}`")),
        Ok(Err(e)) => (
            crate::state::State::default(),
            format!("state not read ({e}); shown as a first run"),
        ),
        Err(_) => (
            crate::state::State::default(),
            "state not read (the output did not answer in 10 s)".to_string(),
        ),
    }
}

fn describe_mode(
    spec: &crate::config::ResourceSpec,
    state: &crate::state::ResourceState,
) -> String {
    let r = spec.resource;
    if spec.mode == Mode::Full {
        return "full".to_string();
    }
    let now = chrono::Utc::now();
    let choice = crate::run::Choice {
        full_refresh: false,
        force_reconcile: false,
        today: now.date_naive(),
        now,
    };
    let strategy = crate::run::Strategy::choose(spec, state, choice);
    let base = match (&strategy, r.cursor) {
        (crate::run::Strategy::Full, _) => "first incremental run: full read".to_string(),
        (crate::run::Strategy::Delta { .. }, _) => format!(
            "{} (`{}` cursor)",
            strategy.label(),
            r.cursor.unwrap_or("updated_at")
        ),
        (crate::run::Strategy::Window { .. }, _) => {
            "window re-read (rows of the window not returned are marked deleted)".to_string()
        }
        (crate::run::Strategy::Everything, None) => {
            "full read every run (no `updated_after` support); deletions marked".to_string()
        }
        (crate::run::Strategy::Everything, Some(_)) => {
            "reconcile deletions: full read of every page this run".to_string()
        }
    };
    match state.checkpoint.as_ref() {
        Some(cp) => format!(
            "{base}; resumes run {} at slice {} page {}",
            cp.run_id, cp.slice, cp.next_page
        ),
        None => base,
    }
}

/// Builds the plan of `p` for today, reading the pipeline's state when the output is reachable.
pub async fn build(p: &Pipeline, shard: Option<crate::run::Shard>) -> Plan {
    let today = chrono::Utc::now().date_naive();
    let (states, state_note) = if p.practices.is_empty() {
        load_states(p).await
    } else {
        (
            crate::state::State::default(),
            "state is kept per practice (`_state/<pipeline>/practice=<name>/`)".to_string(),
        )
    };
    let practices = p
        .practices
        .iter()
        .map(|pr| PracticePlan {
            name: pr.name.clone(),
            base_url: pr.source.base_url.to_string(),
            shard: shard.map(|s| format!("{}/{}", pr.shard(s.count), s.count)),
            selected: shard.is_none_or(|s| pr.shard(s.count) == s.index),
        })
        .collect();
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
            let state = states.resources.get(r.name).cloned().unwrap_or_default();
            let mode = describe_mode(spec, &state);
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
        practices,
        state: state_note,
        pipeline: p.name.clone(),
        base_url: p.source.base_url.to_string(),
        output: format!("{} ({ext})", p.output.url),
        resources,
    }
}

/// The plan as text.
pub fn render(plan: &Plan) -> String {
    let mut out = format!(
        "pipeline {}: {} → {}\n{}\n",
        plan.pipeline, plan.base_url, plan.output, plan.state
    );
    for p in &plan.practices {
        let mark = if p.selected { "+" } else { "-" };
        out.push_str(&format!(
            "{mark} practice {:<24} {}{}\n",
            p.name,
            p.base_url,
            p.shard
                .as_ref()
                .map(|s| format!("  shard {s}"))
                .unwrap_or_default()
        ));
    }
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
