//! Finishing what a dead run left half-published, before a run starts.
//!
//! Plain table folders are not switched atomically: a run writes its current files next to the
//! previous ones, commits (manifest, then state), and only then deletes the replaced files and
//! writes `_runs/latest.json`. A run killed in between leaves a folder holding two runs' files,
//! and a glob reader (`<table>/*.parquet`, what the README suggests) counts rows twice until a
//! later commit publishes. So a run starts by doing what publication would have done: each plain
//! table folder keeps only the files the state names (the last commit's), and when the state
//! names a newer run than `latest.json`, the marker is written from that run's manifest (and a
//! line naming other files than the state, left by a purge that stopped, is pointed at the
//! state's). Delta tables need neither: their readers see only committed versions.

use serde_json::Value;

use super::RunError;
use crate::config::{ResourceSpec, TableFormat};
use crate::publish::latest::{self, LatestTable, latest_key};
use crate::publish::plain::remove_stale;
use crate::sink::Location;
use crate::state::{State, StateStore};

/// Makes each plain table folder of `specs` hold only the committed files, and `latest.json`
/// name the last committed run.
pub(super) async fn finish_publication(
    loc: &Location,
    state: &StateStore,
    specs: &[ResourceSpec],
    part: &str,
    format: TableFormat,
) -> Result<(), RunError> {
    if format != TableFormat::Parquet {
        return Ok(());
    }
    let snapshot = state.snapshot().await;
    // The marker first: until the folders are cleaned, both the files it named and the state's
    // exist, so it never names a file that is gone.
    let (marked, mut marker) = mark_last_commit(loc, &snapshot, part).await?;
    if let Some(marker) = marker.as_mut() {
        repoint_stale_lines(loc, marker, &snapshot, part).await?;
    }
    let lines = marker.as_ref().map(latest::lines).unwrap_or_default();
    let mut removed = 0;
    for spec in specs {
        // A resource or table the state does not name (a renamed pipeline, a removed state) is
        // left alone: nothing says which of its files are current.
        let Some(committed) = snapshot.resources.get(spec.resource.name) else {
            continue;
        };
        for table in crate::catalog::tables(spec.resource, &crate::catalog::PiiPolicy::Keep) {
            let Some(files) = committed.tables.get(&table.name) else {
                continue;
            };
            // Files the marker names stay too (one it could not repoint: CSV).
            let marked_files = lines
                .iter()
                .filter(|l| l.name == table.name)
                .flat_map(|l| &l.files);
            let keep: Vec<&str> = files
                .iter()
                .chain(marked_files)
                .map(String::as_str)
                .collect();
            removed += remove_stale(loc, &table.name, part, &keep).await?;
        }
    }
    if removed > 0 || marked.is_some() {
        tracing::warn!(
            files = removed,
            run_id = marked.as_deref().unwrap_or("-"),
            "An earlier run stopped before publishing: removed the table files its commit did not name, and pointed `latest.json` at the last committed run."
        );
    }
    Ok(())
}

/// Points the marker's lines at the state's files where the two differ (after the marker was
/// brought up to the state's run): a purge that stopped after pointing the state at its
/// rewritten files. Rows come from the files' footers, so Parquet only (a CSV line keeps its
/// files, and so do the folders).
async fn repoint_stale_lines(
    loc: &Location,
    marker: &mut Value,
    snapshot: &State,
    part: &str,
) -> Result<(), RunError> {
    let mut stale = Vec::new();
    for line in latest::lines(marker) {
        let Some(files) = snapshot
            .resources
            .values()
            .find_map(|r| r.tables.get(&line.name))
        else {
            continue;
        };
        let same = line.files.len() == files.len() && files.iter().all(|f| line.files.contains(f));
        if same || !files.iter().all(|f| f.ends_with(".parquet")) {
            continue;
        }
        let mut rows = 0;
        for file in files {
            let footer = crate::sink::read_parquet(loc, file, 1).await?;
            rows += u64::try_from(footer.num_rows()).unwrap_or(0);
        }
        stale.push(LatestTable {
            files: files.clone(),
            rows,
            ..line
        });
    }
    if !stale.is_empty() {
        latest::put_lines(loc, part, marker, stale).await?;
    }
    Ok(())
}

/// Writes `latest.json` from the manifest of the newest run the state names, when the marker
/// names a run that finished before it (its commit stopped before the marker). Returns that
/// run's id when it wrote the marker, and the marker as it now stands.
async fn mark_last_commit(
    loc: &Location,
    snapshot: &State,
    part: &str,
) -> Result<(Option<String>, Option<Value>), RunError> {
    let key = latest_key(part);
    let marker = loc.get_json(&key).await?;
    let Some(newest) = snapshot
        .resources
        .values()
        .filter_map(|r| r.last_run.as_deref())
        .max()
    else {
        return Ok((None, marker));
    };
    if marker.as_ref().and_then(|l| l["run_id"].as_str()) == Some(newest) {
        return Ok((None, marker));
    }
    let path = crate::table::layout::manifest(part, newest);
    let Some(commit) = loc
        .get_json(&path)
        .await?
        .and_then(|m| latest::from_manifest(&m, &path))
    else {
        return Ok((None, marker));
    };
    // A later run that committed no table (a feature the practice does not use) wrote the
    // marker after this one: it stays.
    let finished = |t: &str| chrono::DateTime::parse_from_rfc3339(t).ok();
    if let Some(marked) = marker
        .as_ref()
        .and_then(|l| l["finished_at"].as_str())
        .and_then(finished)
        && finished(&commit.finished_at).is_none_or(|f| f <= marked)
    {
        return Ok((None, marker));
    }
    let written = latest::to_json(loc, &key, &commit)?;
    loc.put_json_atomic(&key, &written).await?;
    Ok((Some(newest.to_string()), Some(written)))
}
