//! `state show|reset`: look at or forget what incremental runs and checkpoints remember.

use std::path::Path;
use std::process::ExitCode;

use super::args::StateAction;
use crate::config;
use crate::run;
use crate::state::StateStore;

/// Runs a `state` subcommand.
pub async fn run(action: StateAction) -> ExitCode {
    let (path, reset, resource) = match &action {
        StateAction::Show { pipeline } => (pipeline, false, None),
        StateAction::Reset { pipeline, resource } => (pipeline, true, resource.clone()),
    };
    match state(path, reset, resource).await {
        Ok(()) => ExitCode::SUCCESS,
        Err((code, message)) => {
            super::logging::fatal_message(code, &message);
            ExitCode::from(code)
        }
    }
}

async fn state(path: &Path, reset: bool, resource: Option<String>) -> Result<(), (u8, String)> {
    let pipeline = config::load(path).map_err(|e| (2, e.to_string()))?;
    let loc = run::location_for(&pipeline).map_err(|e| (e.exit_code(), e.to_string()))?;
    let store = StateStore::load(&loc, &pipeline.name)
        .await
        .map_err(|e| (1, e.to_string()))?;
    if !reset {
        let text = serde_json::to_string_pretty(&store.snapshot().await)
            .map_err(|e| (1, e.to_string()))?;
        super::print_stdout(&(text + "\n"));
        return Ok(());
    }
    let names: Vec<String> = match resource {
        Some(name) => {
            if !pipeline.resources.iter().any(|r| r.resource.name == name) {
                return Err((
                    2,
                    format!("the pipeline does not select a resource named `{name}`"),
                ));
            }
            vec![name]
        }
        None => store.snapshot().await.resources.keys().cloned().collect(),
    };
    for name in &names {
        store
            .set_checkpoint(name, None)
            .await
            .map_err(|e| (1, e.to_string()))?;
        store
            .update(name, |r| *r = crate::state::ResourceState::default())
            .await
            .map_err(|e| (1, e.to_string()))?;
    }
    super::logging::say(
        "INFO",
        &format!(
            "state reset for {} resource(s) in `{}`: the next run reads them in full",
            names.len(),
            store.path()
        ),
        super::logging::fields([("resources", names.len().into())]),
    );
    Ok(())
}
