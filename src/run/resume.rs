//! Resuming an interrupted extraction from its checkpoint, and cleaning what a dead run left.
//!
//! A checkpoint names the raw files already published and the next page to read. Resuming
//! reloads the primary keys of those files (so rows repeated by the API across the restart are
//! still dropped) and carries on from that page. Raw files that no checkpoint and no manifest
//! name were written by a run that died before recording them: they are deleted, never read.

use std::collections::BTreeSet;

use arrow::array::{Array, AsArray};
use arrow::datatypes::{DataType, Int64Type};
use futures::StreamExt;

use crate::extract::{KeySet, Slice};
use crate::manifest::FileEntry;
use crate::sink::{Location, SinkError, read_parquet};

/// A fingerprint of the planned slices: a checkpoint is only valid for the same plan.
pub fn plan_fingerprint(slices: &[Slice]) -> String {
    slices
        .iter()
        .map(|s| {
            let q: Vec<String> = s.query.iter().map(|(k, v)| format!("{k}={v}")).collect();
            q.join("&")
        })
        .collect::<Vec<_>>()
        .join("|")
}

/// The primary keys held by `files` (the main table's raw files).
pub async fn reload_keys(
    loc: &Location,
    files: &[FileEntry],
    key: &str,
) -> Result<KeySet, SinkError> {
    let mut keys = KeySet::default();
    for file in files {
        let mut batches = read_parquet(loc, &file.path, 65_536).await?;
        while let Some(batch) = batches.next().await {
            let batch = batch?;
            let Some(column) = batch.column_by_name(key) else {
                continue;
            };
            match column.data_type() {
                DataType::Int64 => {
                    for v in column.as_primitive::<Int64Type>().iter().flatten() {
                        keys.insert_int(v);
                    }
                }
                DataType::Utf8 => {
                    for v in column.as_string::<i32>().iter().flatten() {
                        keys.insert_text(v);
                    }
                }
                _ => {}
            }
        }
    }
    Ok(keys)
}

/// The run id in a raw file name `<run_id>-<nnnn>.parquet` or a rejects file `<run_id>.jsonl`.
pub(super) fn run_of(file_name: &str) -> Option<&str> {
    if let Some(run) = file_name.strip_suffix(".jsonl") {
        return Some(run); // `_rejects/<table>/<run_id>.jsonl`
    }
    let stem = file_name.strip_suffix(".parquet")?;
    stem.rsplit_once('-').map(|(run, _)| run)
}

/// Deletes raw files of `tables` written by runs that have no manifest and that `keep` does not
/// name (the checkpointed files). Returns how many were deleted.
pub async fn remove_orphan_raw_files(
    loc: &Location,
    tables: &[String],
    part: &str,
    keep: &BTreeSet<String>,
    current_run: &str,
) -> Result<usize, SinkError> {
    let manifests: BTreeSet<String> = loc
        .list(&format!("_runs/{part}"))
        .await?
        .iter()
        .filter_map(|m| {
            m.location
                .filename()
                .and_then(|f| f.strip_suffix(".json"))
                .map(str::to_string)
        })
        .collect();
    let mut removed = 0;
    for table in tables {
        for meta in loc.list(&format!("_raw/{table}/{part}")).await? {
            let Some(rel) = loc.relative(&meta.location) else {
                continue;
            };
            let Some(run) = meta.location.filename().and_then(run_of) else {
                continue;
            };
            if run == current_run || manifests.contains(run) || keep.contains(&rel) {
                continue;
            }
            tracing::info!(file = %rel, "Removing a raw file of a run that died before recording it.");
            loc.delete(&rel).await?;
            removed += 1;
        }
    }
    Ok(removed)
}

/// Whether the raw file at `path` is of a run started at or before `cutoff`.
pub fn started_no_later(path: &str, cutoff: chrono::DateTime<chrono::Utc>) -> bool {
    path.rsplit('/')
        .next()
        .and_then(run_of)
        .and_then(started_at)
        .is_some_and(|t| t <= cutoff)
}

/// When a run started, from its id (`20261126T071500Z-3fa2`).
fn started_at(run: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    let stamp = run.get(..16)?;
    chrono::NaiveDateTime::parse_from_str(stamp, "%Y%m%dT%H%M%SZ")
        .ok()
        .map(|t| t.and_utc())
}

/// Deletes the `_raw/` files and `_rejects/` files of `tables` written by runs started at or
/// before `cutoff`, but those `keep` names (the checkpointed files). Returns how many went.
pub async fn remove_expired_raw_files(
    loc: &Location,
    tables: &[String],
    part: &str,
    keep: &BTreeSet<String>,
    cutoff: chrono::DateTime<chrono::Utc>,
) -> Result<usize, SinkError> {
    let mut removed = 0;
    for table in tables {
        for folder in ["_raw", "_rejects"] {
            for meta in loc.list(&format!("{folder}/{table}/{part}")).await? {
                let Some(rel) = loc.relative(&meta.location) else {
                    continue;
                };
                if started_no_later(&rel, cutoff) && !keep.contains(&rel) {
                    loc.delete(&rel).await?;
                    removed += 1;
                }
            }
        }
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_run_id_of_a_raw_file() {
        assert_eq!(
            run_of("20261126T071500Z-3fa2-0003.parquet"),
            Some("20261126T071500Z-3fa2")
        );
        assert_eq!(run_of("notes.txt"), None);
        assert_eq!(
            run_of("20261126T071500Z-3fa2.jsonl"),
            Some("20261126T071500Z-3fa2")
        );
        let t = started_at("20261126T071500Z-3fa2").unwrap();
        assert_eq!(t.to_rfc3339(), "2026-11-26T07:15:00+00:00");
        assert_eq!(started_at("notes"), None);
    }
}
