//! `plan`: what a run would do, offline: read strategy, requests, windows, outputs.
//!
//! Everything shown comes from the code a run uses: [`Strategy::choose`] for the strategy and
//! its filter, the slices of [`crate::extract::window_slices`], the route past the deep-offset
//! wall of [`crate::extract::candidates`]. The paging parameters (`page`, `per_page`, `sort_by`)
//! are the reader's, per route, and not shown. The request estimate uses the row counts the state
//! kept from the last run.

use serde::Serialize;

use crate::catalog::{Kind, Window};
use crate::config::{Mode, PiiMode, Pipeline, ResourceSpec};
use crate::extract::{
    DEFAULT_OFFSET_WALL, PER_PAGE, Route, Slice, candidates, list_query, per_parent, window_slices,
};
use crate::run::{Choice, Strategy};
use crate::state::ResourceState;

/// One resource's plan.
#[derive(Debug, Serialize)]
pub struct ResourcePlan {
    /// Resource name.
    pub name: String,
    /// Request path.
    pub path: String,
    /// Scope needed.
    pub scope: String,
    /// Filters of the first request: required parameters, the strategy's delta filter, the
    /// first slice's window.
    pub query: Vec<(String, String)>,
    /// How the list is cut: `one list`, `N windows … from … to …`, `one list per treatment`.
    pub slices: String,
    /// `full` or `incremental` (and why a resource falls back to full).
    pub mode: String,
    /// How the rows are read: `delta by <filter> on <field>`, `window`, `keyset (…)`,
    /// `tiles (…)`, `plain`, `one object`.
    pub read: String,
    /// Requests the read is expected to cost, when the state's row counts allow an estimate.
    pub requests: Option<u64>,
    /// What the estimate rests on (or why there is none).
    pub estimate: String,
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

fn describe_mode(spec: &ResourceSpec, state: &ResourceState, strategy: &Strategy) -> String {
    if spec.mode == Mode::Full {
        return "full".to_string();
    }
    let base = match strategy {
        Strategy::Full => "first incremental run: full read".to_string(),
        Strategy::Delta { filter, .. } if filter.field == "updated_at" => {
            let deletions = match spec.resource.window {
                Window::Required { .. } => format!(
                    "; deletions found by the window re-read ({})",
                    reconcile_rule(spec)
                ),
                _ => String::new(),
            };
            format!("{}{deletions}", strategy.label())
        }
        Strategy::Delta { .. } => format!(
            "{} (the list ignores `updated_after`: rows dated earlier and edited since, such as \
             refunds or `deleted: true`, are caught by the reconciling read, {})",
            strategy.label(),
            reconcile_rule(spec),
        ),
        Strategy::Window { .. } => {
            "window re-read (reconciling: rows of the window not returned are marked deleted)"
                .to_string()
        }
        Strategy::Everything if spec.resource.cursor.is_none() => {
            "full read every run (no `updated_after` support); deletions marked".to_string()
        }
        Strategy::Everything => "reconcile deletions: full read of every page this run".into(),
    };
    match state.checkpoint.as_ref() {
        Some(cp) => format!(
            "{base}; resumes run {} at slice {} page {}",
            cp.run_id, cp.slice, cp.next_page
        ),
        None => base,
    }
}

fn reconcile_rule(spec: &ResourceSpec) -> String {
    match spec.reconcile {
        crate::config::Reconcile::Never => "never (reconcile_deletes = never)".into(),
        crate::config::Reconcile::Always => "every run".into(),
        crate::config::Reconcile::EveryDays(1) => "daily".into(),
        crate::config::Reconcile::EveryDays(7) => "weekly".into(),
        crate::config::Reconcile::EveryDays(n) => format!("every {n} days"),
        crate::config::Reconcile::EveryRuns(n) => format!("every {n} runs"),
        crate::config::Reconcile::Counts => match crate::reconcile::range_for(spec.resource) {
            Some(range) => format!(
                "by counts after every delta over `{}` ({}/{}): about 1 + rows/10,000 \
                 requests, a few more per deleted row",
                range.field,
                range.after,
                range.before.unwrap_or("-")
            ),
            None => "never (no two-sided range filter to count by)".into(),
        },
    }
}

/// The slices a run would read today, as `run` cuts them (a per-parent list's keys, fees'
/// treatments, are not known offline: `None`).
fn planned_slices(
    spec: &ResourceSpec,
    state: &ResourceState,
    strategy: &Strategy,
    today: chrono::NaiveDate,
) -> Option<Vec<Slice>> {
    if let Some(window) = window_slices(spec, today, strategy.window_cut(state)) {
        return Some(window);
    }
    match spec.resource.window {
        Window::PerParent { .. } => None,
        _ => Some(vec![Slice::whole()]),
    }
}

/// Requests one read costs, from the state's row counts: `(estimate, what it rests on)`.
fn estimate(
    spec: &ResourceSpec,
    state: &ResourceState,
    strategy: &Strategy,
    slices: Option<&[Slice]>,
) -> (Option<u64>, String) {
    let r = spec.resource;
    let pages = |rows: f64| ((rows / f64::from(PER_PAGE)).ceil() as u64).max(1);
    if r.kind == Kind::Single {
        return (Some(1), "one object".into());
    }
    let Some(slices) = slices else {
        return (None, format!("one request or more per {}", per_what(r)));
    };
    if let Strategy::Delta { .. } = strategy {
        return (
            None,
            "at least 1: the pages of rows changed since the cursor".into(),
        );
    }
    if matches!(r.window, Window::Required { .. }) {
        let density = state
            .window
            .as_ref()
            .and_then(crate::manifest::WindowRead::rows_per_day);
        let Some(density) = density else {
            return (
                None,
                format!(
                    "at least {} (one per slice; no window read measured yet)",
                    slices.len()
                ),
            );
        };
        let total: u64 = slices.iter().map(|s| pages(density * slice_days(s))).sum();
        return (
            Some(total),
            format!("{density:.1} rows a day at the last window read, one partial page per slice"),
        );
    }
    match state.rows {
        Some(rows) => {
            // Past the deep-offset wall each keyset restart or tile costs one more request.
            let whole = Slice::whole();
            let route = candidates(r, slices.first().unwrap_or(&whole), &[]);
            let detours = match route.first() {
                Some(Route::Keyset(_) | Route::Tiles(_)) => rows / DEFAULT_OFFSET_WALL,
                _ => 0,
            };
            (
                Some(pages(rows as f64) + detours),
                format!("{rows} rows in the current table"),
            )
        }
        None => (None, "at least 1; rows unknown until a first run".into()),
    }
}

/// Days between a window slice's bounds (1 when they cannot be read).
fn slice_days(slice: &Slice) -> f64 {
    let day = |i: usize| {
        slice
            .query
            .get(i)
            .and_then(|(_, v)| chrono::NaiveDate::parse_from_str(v, "%Y-%m-%d").ok())
    };
    match (day(0), day(1)) {
        (Some(from), Some(to)) => (to - from).num_days().max(1) as f64,
        _ => 1.0,
    }
}

/// How the rows are read, for people: the strategy, or for a whole read the route the paging
/// code takes past the deep-offset wall.
fn describe_read(spec: &ResourceSpec, strategy: &Strategy, first: Option<&Slice>) -> String {
    let r = spec.resource;
    if r.kind == Kind::Single {
        return "one object".into();
    }
    if let Strategy::Delta { filter, .. } = strategy {
        return format!("delta by {} on {}", filter.after, filter.field);
    }
    if matches!(r.window, Window::Required { .. }) {
        return "window".into();
    }
    let whole = Slice::whole();
    match candidates(r, first.unwrap_or(&whole), &[]).first() {
        Some(Route::Keyset(f)) => format!("keyset (sort_by={}, {})", f.field, f.after),
        Some(Route::Tiles(f)) => format!("tiles ({}/{})", f.after, f.before.unwrap_or(f.after)),
        _ => "plain".into(),
    }
}

/// How the list is cut, for people.
fn describe_slices(spec: &ResourceSpec, slices: Option<&[Slice]>) -> String {
    let r = spec.resource;
    match (r.window, slices) {
        (Window::PerParent { parent, .. }, _) => format!(
            "one list per {what} ({what} ids read from {})",
            crate::catalog::find(parent).map_or("the API", |p| p.path),
            what = per_what(r),
        ),
        (_, None) => "one list".into(),
        _ if r.kind == Kind::Single => "one object".into(),
        (
            Window::Required {
                after_param,
                before_param,
                ..
            },
            Some(s),
        ) if s.len() > 1 || s.first().is_some_and(|s| !s.query.is_empty()) => {
            let longest = s.iter().map(slice_days).fold(0.0, f64::max);
            let from = s
                .first()
                .and_then(|s| s.query.first())
                .map_or("", |q| q.1.as_str());
            let to = s
                .last()
                .and_then(|s| s.query.get(1))
                .map_or("", |q| q.1.as_str());
            format!(
                "{} windows of at most {longest} days ({after_param}/{before_param}) from {from} to {to}",
                s.len()
            )
        }
        (Window::Required { .. }, Some(_)) => "one list (changes only, not windowed)".into(),
        _ => "one list".into(),
    }
}

/// Builds the plan of `p` for today, reading the pipeline's state when the output is reachable.
pub async fn build(p: &Pipeline, shard: Option<crate::run::Shard>) -> Plan {
    let now = chrono::Utc::now();
    let today = now.date_naive();
    let choice = Choice {
        full_refresh: false,
        force_reconcile: false,
        today,
        now,
    };
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
    let ext = p.output.format.extension();
    let resources = p
        .resources
        .iter()
        .map(|spec| {
            let r = spec.resource;
            let state = states.resources.get(r.name).cloned().unwrap_or_default();
            let strategy = Strategy::choose(spec, &state, choice);
            let slices = planned_slices(spec, &state, &strategy, today);
            let per_parent_slice = match r.window {
                Window::PerParent { param, .. } => per_parent(param, &["<id>".to_string()]),
                _ => Vec::new(),
            };
            let first = match slices.as_deref() {
                Some(s) => s.first(),
                None => per_parent_slice.first(),
            };
            let query = match (r.kind, first) {
                (Kind::List, Some(first)) => list_query(r, None, &strategy.query(), first, &[])
                    .into_iter()
                    .map(|(k, v)| (k.to_string(), v))
                    .collect(),
                _ => Vec::new(),
            };
            let (requests, estimate) = estimate(spec, &state, &strategy, slices.as_deref());
            let slices_text = describe_slices(spec, slices.as_deref());
            let mode = describe_mode(spec, &state, &strategy);
            let read = describe_read(spec, &strategy, first);
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
                slices: slices_text,
                mode,
                read,
                requests,
                estimate,
                pii: pii.into(),
                output: crate::table::layout::current_file(r.name, "", "<run_id>", 0, ext),
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
        let requests = r.requests.map_or_else(
            || r.estimate.clone(),
            |n| format!("≈{n} requests ({})", r.estimate),
        );
        out.push_str(&format!(
            "  {:<34} GET {}?{}  [read {}; {}; {}; {}; pii {}; scope {}] → {}\n",
            r.name,
            r.path,
            q.join("&"),
            r.read,
            requests,
            r.slices,
            r.mode,
            r.pii,
            r.scope,
            r.output
        ));
    }
    out
}

/// What a per-parent list is asked per (`treatment` for fees' `treatment_id`).
fn per_what(r: &crate::catalog::Resource) -> &'static str {
    r.window.per_parent_noun().unwrap_or("key")
}
