//! Several practices in one pipeline (`[[sources]]`): each runs as its own extraction, with its
//! own token, budget, state and manifest, into its own partition (`practice=<name>/`), so runs
//! of different practices never write the same object — in one process or across the workers
//! of a Kubernetes Indexed Job or an Airflow mapped task (`--shard i/n`).

use std::str::FromStr;

use chrono::{DateTime, Utc};
use futures::StreamExt;
use serde::Serialize;

use super::{RunError, RunOptions, RunOutcome, location_for, manifest_path, run_practice};
use crate::config::{Pipeline, Practice};
use crate::manifest::Status;

/// `--shard i/n`: the i-th (0-based) of n workers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// This worker, `0..count`.
    pub index: u32,
    /// Workers in all.
    pub count: u32,
}

impl FromStr for Shard {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || {
            format!(
                "`{s}` is not a shard: write `i/n` with 0 ≤ i < n (e.g. `0/3`; Kubernetes' JOB_COMPLETION_INDEX is 0-based)"
            )
        };
        let (i, n) = s.split_once('/').ok_or_else(bad)?;
        let (index, count) = (
            i.trim().parse::<u32>().map_err(|_| bad())?,
            n.trim().parse::<u32>().map_err(|_| bad())?,
        );
        if count == 0 || index >= count {
            return Err(bad());
        }
        Ok(Self { index, count })
    }
}

/// One practice's line in the group manifest.
#[derive(Debug, Clone, Serialize)]
pub struct GroupEntry {
    /// Practice name.
    pub name: String,
    /// Its shard when the run was sharded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shard: Option<u32>,
    /// `succeeded`, `partial` or `failed`.
    pub status: Status,
    /// Its exit code alone.
    pub exit_code: u8,
    /// Why it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The causes under `error`, outermost first.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub error_chain: Vec<String>,
    /// Its own manifest, when it got to its commit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub manifest: Option<String>,
}

/// `_runs/<run_id>.json` of a multi-practice run.
#[derive(Debug, Clone, Serialize)]
pub struct GroupManifest {
    /// Format version.
    pub version: u32,
    /// Run id (shared by the practices' manifests).
    pub run_id: String,
    /// Pipeline name.
    pub pipeline: String,
    /// `i/n` when sharded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shard: Option<String>,
    /// RFC 3339 start.
    pub started_at: String,
    /// RFC 3339 end.
    pub finished_at: String,
    /// `succeeded`, `partial` or `failed`.
    pub status: Status,
    /// Practices of this run.
    pub practices: Vec<GroupEntry>,
}

/// The practices a run takes: all, those named by `--practice`, and of those, its shard's.
pub fn select_practices<'p>(
    pipeline: &'p Pipeline,
    names: &[String],
    shard: Option<Shard>,
) -> Result<Vec<&'p Practice>, RunError> {
    let unknown: Vec<String> = names
        .iter()
        .filter(|n| !pipeline.practices.iter().any(|p| &p.name == *n))
        .map(|n| format!("`{n}`"))
        .collect();
    if !unknown.is_empty() {
        return Err(RunError::Usage(format!(
            "--practice names {} which the pipeline does not list in [[sources]]",
            unknown.join(", ")
        )));
    }
    Ok(pipeline
        .practices
        .iter()
        .filter(|p| names.is_empty() || names.contains(&p.name))
        .filter(|p| shard.is_none_or(|s| p.shard(s.count) == s.index))
        .collect())
}

/// Runs every selected practice, at most `parallel_practices` at once; one failing does not stop
/// the others.
pub async fn run_all(
    pipeline: &Pipeline,
    options: &RunOptions,
    run_id: &str,
    started: DateTime<Utc>,
) -> Result<RunOutcome, RunError> {
    let practices = select_practices(pipeline, &options.practices, options.shard)?;
    let loc = location_for(pipeline)?;
    let results: Vec<(&Practice, Result<RunOutcome, RunError>)> = futures::stream::iter(practices)
        .map(|p| async move {
            let one = Pipeline {
                source: p.source.clone(),
                practices: Vec::new(),
                ..pipeline.clone()
            };
            (
                p,
                run_practice(&one, options, Some(&p.name), run_id, started).await,
            )
        })
        .buffer_unordered(pipeline.parallel_practices)
        .collect()
        .await;
    let mut outcome = RunOutcome {
        manifests: Vec::new(),
        failures: Vec::new(),
        manifest_path: manifest_path("", run_id),
        exit_code: 0,
    };
    let mut entries = Vec::new();
    for (p, result) in results {
        let shard = options.shard.map(|s| p.shard(s.count));
        match result {
            Ok(one) => {
                entries.push(GroupEntry {
                    name: p.name.clone(),
                    shard,
                    status: one.manifests[0].status,
                    exit_code: one.exit_code,
                    error: None,
                    error_chain: Vec::new(),
                    manifest: Some(one.manifest_path.clone()),
                });
                outcome.exit_code = outcome.exit_code.max(one.exit_code);
                outcome.manifests.extend(one.manifests);
            }
            Err(e) => {
                tracing::error!(practice = %p.name, error = %e, "Practice failed.");
                entries.push(GroupEntry {
                    name: p.name.clone(),
                    shard,
                    status: Status::Failed,
                    exit_code: e.exit_code(),
                    error: Some(e.to_string()),
                    error_chain: crate::manifest::error_chain(&e)
                        .into_iter()
                        .skip(1)
                        .collect(),
                    manifest: None,
                });
                outcome
                    .failures
                    .push((p.name.clone(), e.exit_code(), e.to_string()));
            }
        }
    }
    entries.sort_by(|a, b| a.name.cmp(&b.name));
    let all_failed = !entries.is_empty() && outcome.manifests.is_empty();
    outcome.exit_code = match (&outcome.failures[..], all_failed) {
        ([], _) => outcome.exit_code,
        // Every practice stopped for the same reason: say that reason (bad token, bad output…).
        ([(_, code, _), rest @ ..], true) if rest.iter().all(|(_, c, _)| c == code) => *code,
        _ => 4,
    };
    let group = GroupManifest {
        version: 1,
        run_id: run_id.to_string(),
        pipeline: pipeline.name.clone(),
        shard: options.shard.map(|s| format!("{}/{}", s.index, s.count)),
        started_at: started.to_rfc3339(),
        finished_at: Utc::now().to_rfc3339(),
        status: if all_failed {
            Status::Failed
        } else if outcome.exit_code == 0 {
            Status::Succeeded
        } else {
            Status::Partial
        },
        practices: entries,
    };
    loc.put_json_atomic(&outcome.manifest_path, &group).await?;
    Ok(outcome)
}
