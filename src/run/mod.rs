//! A run: preflight, then every selected resource (concurrently), then the commit.
//!
//! The commit order is what makes a crash harmless (design §4): data files first (raw, then
//! current, each published atomically), then the manifest naming the current files, then removal
//! of the previous current files, then the state. Until the manifest exists, the previous current
//! files are still there; after it, the new ones are.

mod cleanup;
mod commit;
mod context;
mod finish;
mod group;
mod handoff;
mod heartbeat;
mod missing;
mod progress;
mod resource;
mod resume;
mod setup;
mod strategy;
mod unpublished;

use chrono::Utc;
use futures::StreamExt;

pub use crate::manifest::{ApiEntry, FileEntry, Manifest, ResourceEntry, TableEntry};
pub use crate::table::Target;
pub use crate::table::layout::{current_file, manifest as manifest_path, new_run_id, raw_file};
pub use crate::table::merge::{Coverage, MergeInput, merge};
pub use cleanup::erase_raw_copies;
use cleanup::remove_dead_runs_files;
use commit::commit;
pub use context::RunContext;
pub use group::{GroupEntry, GroupManifest, Shard, select_practices};
pub use progress::{Progress, ResourceProgress};
pub use setup::formats;
pub use setup::{check_output, client_for, location_for, lock_key};
use setup::{pii_key, selected};
pub use strategy::{Choice, Since, Strategy, delta_filter};

use crate::api::ApiError;
use crate::config::Pipeline;
use crate::preflight::{self, Refusal};
use crate::sink::SinkError;
use crate::state::StateStore;

/// Choices made on the command line.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Only these resources (`--resources a,b`); empty = all of the pipeline's.
    pub only: Vec<String>,
    /// Ignore saved state (`--full-refresh`).
    pub full_refresh: bool,
    /// Show progress bars (when stderr is a terminal).
    pub progress: bool,
    /// Without bars, a heartbeat log line this often (zero: at each resource's start and end only).
    pub heartbeat: std::time::Duration,
    /// Reconcile deletions now (`--reconcile-deletes`).
    pub reconcile_deletes: bool,
    /// Only these practices of a multi-practice pipeline (`--practice NAME`).
    pub practices: Vec<String>,
    /// Only the practices of this shard (`--shard i/n`).
    pub shard: Option<Shard>,
    /// Take the run lock even when another run holds it (`--break-lock`).
    pub break_lock: bool,
}

/// Why a run could not go on; each maps to an exit code.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// A usage problem (exit 2).
    #[error("{0}")]
    Usage(String),
    /// The token was refused (exit 3).
    #[error(transparent)]
    Refused(#[from] Refusal),
    /// The output location failed (exit 1).
    #[error(transparent)]
    Output(#[from] SinkError),
    /// The API failed outside a resource (exit 1).
    #[error(transparent)]
    Api(#[from] ApiError),
    /// A table could not be published (exit 1).
    #[error(transparent)]
    Publish(#[from] crate::publish::PublishError),
    /// The state could not be loaded or saved: the store failed (exit 1: retry), or the file is
    /// unreadable (exit 2: `state reset`, as the message says).
    #[error(transparent)]
    State(#[from] crate::state::StateError),
    /// Another run of this pipeline and practice holds the lock (exit 5). Boxed: it is the
    /// largest error, and every `Result` of the run carries its size.
    #[error(transparent)]
    Locked(Box<crate::sink::lock::LockError>),
}

impl From<crate::sink::lock::LockError> for RunError {
    fn from(e: crate::sink::lock::LockError) -> Self {
        Self::Locked(Box::new(e))
    }
}

impl RunError {
    /// The process exit code for this error (design §2).
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Usage(_) => 2,
            Self::Refused(Refusal::Api(e)) if !e.is_auth() => 1,
            Self::Refused(_) => 3,
            Self::Api(e) if e.is_auth() => 3,
            Self::Locked(e) if matches!(**e, crate::sink::lock::LockError::Store(_)) => 1,
            Self::Locked(_) => 5,
            // A state file that is not ours to read: retrying will not help, `state reset` will.
            Self::State(crate::state::StateError::Unreadable { .. }) => 2,
            Self::Output(_) | Self::Api(_) | Self::Publish(_) | Self::State(_) => 1,
        }
    }
}

/// What a finished run produced.
#[derive(Debug)]
pub struct RunOutcome {
    /// The manifests written: one, or one per practice that got to its commit.
    pub manifests: Vec<Manifest>,
    /// Practices that stopped before their commit: (name, exit code, why).
    pub failures: Vec<(String, u8, String)>,
    /// The run's manifest key (the group manifest for several practices).
    pub manifest_path: String,
    /// Exit code: 0, or 4 when a resource failed, rows were rejected or rows are known missing.
    pub exit_code: u8,
}

/// Runs `pipeline`: its single practice, or each of its `[[sources]]` practices.
pub async fn run(pipeline: &Pipeline, options: &RunOptions) -> Result<RunOutcome, RunError> {
    let started = Utc::now();
    let run_id = new_run_id(started);
    if pipeline.practices.is_empty() {
        return run_practice(pipeline, options, None, &run_id, started).await;
    }
    group::run_all(pipeline, options, &run_id, started).await
}

/// Runs one practice (`practice` is its name in a multi-practice pipeline).
pub(crate) async fn run_practice(
    pipeline: &Pipeline,
    options: &RunOptions,
    practice: Option<&str>,
    run_id: &str,
    started: chrono::DateTime<Utc>,
) -> Result<RunOutcome, RunError> {
    let run_id = run_id.to_string();
    let part = crate::table::layout::partition(practice);
    let mut specs = selected(pipeline, options.only.as_slice())?;
    let handoffs = handoff::plan(&mut specs);
    let pii_key = pii_key(pipeline, &specs)?;
    let client = client_for(pipeline)?;
    let loc = location_for(pipeline)?;
    check_output(&loc, &format!("{part}{run_id}")).await?;
    let lock = setup::take_lock(&loc, pipeline, practice, &run_id, options.break_lock).await?;
    let outcome = async {
        let report = preflight::check(
            &client,
            &Pipeline {
                resources: specs.clone(),
                ..pipeline.clone()
            },
        )
        .await?;
        tracing::info!(run_id = %run_id, practice = practice.unwrap_or("-"), user = report.user.as_deref().unwrap_or("?"), resources = specs.len(), "Preflight passed; extracting.");
        let practice_id = practice.map(|name| match &report.practice {
            Some(serde_json::Value::String(id)) => id.clone(),
            Some(other) if !other.is_null() => other.to_string(),
            _ => name.to_string(),
        });
        let (raw_format, out_format) = formats(pipeline);
        let state = StateStore::load(&loc, &state_name(pipeline, practice)).await?;
        remove_dead_runs_files(&loc, &state, &specs, &run_id, &part).await?;
        unpublished::finish_publication(
            &loc,
            &state,
            &specs,
            &part,
            pipeline.output.tables.table_format,
        )
        .await?;
        let progress = Progress::new(options.progress, options.heartbeat, practice, &client);
        let ctx = RunContext::new(
            run_id,
            started,
            loc,
            client,
            raw_format,
            out_format,
            pipeline.source.concurrency,
            pii_key,
            progress,
            state,
            pipeline.source.checkpoint_pages,
            options.full_refresh,
            options.reconcile_deletes,
        )
        .for_practice(part, practice_id)
        .with_key_handoffs(handoffs)
        .with_checkpoint_secs(pipeline.source.checkpoint_secs)
        .with_offset_wall(pipeline.source.offset_wall)
        .with_read_only(report.read_only);
        let entries: Vec<ResourceEntry> = futures::stream::iter(specs.iter())
            .map(|spec| resource::extract(&ctx, spec))
            .buffered(2)
            .collect()
            .await;
        commit(&ctx, pipeline, practice, entries).await
    }
    .await;
    setup::release_lock(lock).await;
    outcome
}

/// The name of the state of `pipeline` (and `practice`): `_state/<name>.json`.
pub fn state_name(pipeline: &Pipeline, practice: Option<&str>) -> String {
    match practice {
        Some(name) => format!("{}/practice={name}/state", pipeline.name),
        None => pipeline.name.clone(),
    }
}
