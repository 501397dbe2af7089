//! Cleaning what runs that died left behind, before a run starts.

use std::time::Duration;

use super::{RunError, resume};
use crate::config::ResourceSpec;
use crate::sink::Location;
use crate::state::StateStore;

/// Deletes what runs that died left behind: raw files no checkpoint names, and staging files of
/// interrupted writes, under this practice's partition only (other practices may be running).
pub(super) async fn remove_dead_runs_files(
    loc: &Location,
    state: &StateStore,
    specs: &[ResourceSpec],
    run_id: &str,
    part: &str,
) -> Result<(), RunError> {
    let keep = checkpointed_raw_files(state).await;
    let resources: Vec<&'static crate::catalog::Resource> =
        specs.iter().map(|s| s.resource).collect();
    let tables = table_names(&resources);
    resume::remove_orphan_raw_files(loc, &tables, part, &keep, run_id).await?;
    // Staging files of a killed writer: this run's tables, manifests and state. (Two runs of
    // the same pipeline and practice writing at the same moment are not supported.)
    let mut prefixes = vec![format!("_runs/{part}"), state.dir().to_string()];
    for table in &tables {
        prefixes.push(format!("_raw/{table}/{part}"));
        prefixes.push(format!("{table}/{part}"));
    }
    for prefix in prefixes {
        crate::sink::cleanup::remove_leftovers(loc, &prefix, Duration::ZERO).await?;
    }
    Ok(())
}

/// After a commit: deletes the `_raw/` copies of this practice's committed runs older than the
/// retention (`[output] raw_retention_days`; 0: this run's too). Raw files named by a checkpoint
/// (a resource that did not finish) stay: the next run resumes from them.
pub(super) async fn apply_raw_retention(
    loc: &Location,
    state: &StateStore,
    resources: &[&'static crate::catalog::Resource],
    part: &str,
    retention_days: u64,
) -> Result<usize, RunError> {
    let keep = checkpointed_raw_files(state).await;
    let tables = table_names(resources);
    let days = i64::try_from(retention_days).unwrap_or(i64::MAX / 86_400_000);
    let cutoff = chrono::Utc::now() - chrono::Duration::days(days.min(36_500));
    let removed = resume::remove_expired_raw_files(loc, &tables, part, &keep, cutoff).await?;
    if removed > 0 {
        tracing::info!(
            files = removed,
            retention_days,
            "Removed raw copies of committed runs past their retention."
        );
    }
    Ok(removed)
}

/// Erasure (`purge`): deletes the `_raw/` copies of `tables` from runs started at or before
/// `cutoff`, checkpointed ones too. A resource whose checkpoint names one of them loses its
/// checkpoint, so its next run reads it afresh instead of resuming from a file that is gone.
/// Returns the files removed and the resources whose checkpoints were dropped.
pub async fn erase_raw_copies(
    loc: &Location,
    state: &StateStore,
    tables: &[String],
    part: &str,
    cutoff: chrono::DateTime<chrono::Utc>,
) -> Result<(usize, Vec<String>), RunError> {
    let mut dropped = Vec::new();
    for (name, r) in state.snapshot().await.resources {
        let touches = r.checkpoint.as_ref().is_some_and(|cp| {
            cp.raw_files
                .iter()
                .filter(|(table, _)| tables.contains(table))
                .flat_map(|(_, files)| files)
                .any(|f| resume::started_no_later(&f.path, cutoff))
        });
        if touches {
            state.set_checkpoint(&name, None).await?;
            dropped.push(name);
        }
    }
    let keep = std::collections::BTreeSet::new();
    let removed = resume::remove_expired_raw_files(loc, tables, part, &keep, cutoff).await?;
    Ok((removed, dropped))
}

/// The raw files checkpoints name: an unfinished run resumes from them, so they stay.
async fn checkpointed_raw_files(state: &StateStore) -> std::collections::BTreeSet<String> {
    state
        .snapshot()
        .await
        .resources
        .values()
        .filter_map(|r| r.checkpoint.as_ref())
        .flat_map(|cp| cp.raw_files.values().flatten().map(|f| f.path.clone()))
        .collect()
}

/// Every output table of `resources` (their raw folders are named after them).
fn table_names(resources: &[&'static crate::catalog::Resource]) -> Vec<String> {
    resources
        .iter()
        .flat_map(|r| {
            crate::catalog::tables(r, &crate::catalog::PiiPolicy::Keep)
                .into_iter()
                .map(|t| t.name)
        })
        .collect()
}
