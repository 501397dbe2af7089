//! `state show|reset`: look at or forget what incremental runs and checkpoints remember.
//!
//! A multi-practice pipeline keeps one state per practice (`_state/<p>/practice=<n>/state.json`);
//! both commands cover every practice, or those named with `--practice`. `reset` without
//! `--resource` removes the state files without reading them, so a corrupt or foreign state can
//! be cleared with the tool its error message points to (security review D14). It takes the
//! run lock first: resetting under a running job would be undone by that job's commit.

use std::path::Path;
use std::process::ExitCode;

use super::args::StateAction;
use crate::config::{self, Pipeline};
use crate::run;
use crate::sink::Location;
use crate::sink::lock::RunLock;
use crate::state::{self, StateStore};

/// Runs a `state` subcommand.
pub async fn run(action: StateAction) -> ExitCode {
    let result = match &action {
        StateAction::Show {
            pipeline,
            practices,
        } => show(pipeline, practices).await,
        StateAction::Reset {
            pipeline,
            resource,
            practices,
        } => reset(pipeline, resource.as_deref(), practices).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err((code, message)) => {
            super::logging::fatal_message(code, &message);
            ExitCode::from(code)
        }
    }
}

type Failure = (u8, String);

/// The pipeline, its output, and its states: (practice name or `None`, state name).
async fn open(
    path: &Path,
    practices: &[String],
) -> Result<(Pipeline, Location, Vec<(Option<String>, String)>), Failure> {
    let pipeline = config::load(path).map_err(|e| (2, e.to_string()))?;
    let loc = run::location_for(&pipeline).map_err(|e| (e.exit_code(), e.to_string()))?;
    if pipeline.practices.is_empty() {
        if !practices.is_empty() {
            return Err((
                2,
                "--practice applies to pipelines with [[sources]] only".into(),
            ));
        }
        let name = pipeline.name.clone();
        return Ok((pipeline, loc, vec![(None, name)]));
    }
    let names = run::select_practices(&pipeline, practices, None)
        .map_err(|e| (e.exit_code(), e.to_string()))?
        .into_iter()
        .map(|p| {
            let state = run::state_name(&pipeline, Some(&p.name));
            (Some(p.name.clone()), state)
        })
        .collect();
    Ok((pipeline, loc, names))
}

async fn show(path: &Path, practices: &[String]) -> Result<(), Failure> {
    let (pipeline, loc, states) = open(path, practices).await?;
    let mut shown = serde_json::Map::new();
    for (practice, name) in &states {
        let store = StateStore::load(&loc, name)
            .await
            .map_err(|e| (1, e.to_string()))?;
        let value = serde_json::to_value(store.snapshot().await).map_err(|e| (1, e.to_string()))?;
        if practice.is_none() {
            return print(&value);
        }
        shown.insert(practice.clone().unwrap_or_default(), value);
    }
    print(&serde_json::json!({ "pipeline": pipeline.name, "practices": shown }))
}

fn print(value: &serde_json::Value) -> Result<(), Failure> {
    let text = serde_json::to_string_pretty(value).map_err(|e| (1, e.to_string()))?;
    super::print_stdout(&(text + "\n"));
    Ok(())
}

async fn reset(path: &Path, resource: Option<&str>, practices: &[String]) -> Result<(), Failure> {
    let (pipeline, loc, states) = open(path, practices).await?;
    if let Some(name) = resource
        && !pipeline.resources.iter().any(|r| r.resource.name == name)
    {
        return Err((
            2,
            format!("the pipeline does not select a resource named `{name}`"),
        ));
    }
    let run_id = format!("state-reset-{}", std::process::id());
    for (practice, name) in &states {
        let key = run::lock_key(&pipeline.name, practice.as_deref());
        let lock = RunLock::acquire(&loc, &key, &run_id, false)
            .await
            .map_err(|e| {
                let message = format!("cannot reset the state now: {e}");
                (run::RunError::from(e).exit_code(), message)
            })?;
        let done = reset_one(&loc, name, resource).await;
        let _ = lock.release().await;
        let message = done?;
        super::logging::say("INFO", &message, super::logging::fields([]));
    }
    Ok(())
}

/// Resets one state; the line to print.
async fn reset_one(loc: &Location, name: &str, resource: Option<&str>) -> Result<String, Failure> {
    let Some(resource) = resource else {
        let removed = state::erase(loc, name)
            .await
            .map_err(|e| (1, e.to_string()))?;
        let keys: Vec<String> = removed.iter().map(|k| format!("`{k}`")).collect();
        return Ok(if keys.is_empty() {
            format!("no state at `_state/{name}.json`: the next run reads everything anyway")
        } else {
            format!(
                "state reset: removed {}; the next run reads every resource in full",
                keys.join(" and ")
            )
        });
    };
    let store = StateStore::load(loc, name).await.map_err(|e| {
        (
            1,
            format!(
                "{e}\n  hint: `state reset` without `--resource` removes the whole state unread"
            ),
        )
    })?;
    store
        .set_checkpoint(resource, None)
        .await
        .map_err(|e| (1, e.to_string()))?;
    store
        .update(resource, |r| *r = state::ResourceState::default())
        .await
        .map_err(|e| (1, e.to_string()))?;
    Ok(format!(
        "state reset for `{resource}` in `{}`: the next run reads it in full",
        store.path()
    ))
}
