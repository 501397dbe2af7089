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
use crate::publish::latest::latest_key;
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
    let (marked, mut latest) = mark_last_commit(loc, &snapshot, part).await?;
    if let Some(marker) = latest.as_mut() {
        repoint_stale_lines(loc, marker, &snapshot, part).await?;
    }
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
            let mut keep: Vec<&str> = files.iter().map(String::as_str).collect();
            keep.extend(marker_files(latest.as_ref(), &table.name));
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
    let Some(lines) = marker["tables"].as_array_mut() else {
        return Ok(());
    };
    let mut changed = false;
    for line in lines {
        let Some(name) = line["name"].as_str() else {
            continue;
        };
        let Some(files) = snapshot.resources.values().find_map(|r| r.tables.get(name)) else {
            continue;
        };
        let marked: Vec<&str> = line["files"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        let same =
            marked.len() == files.len() && files.iter().all(|f| marked.contains(&f.as_str()));
        if same || !files.iter().all(|f| f.ends_with(".parquet")) {
            continue;
        }
        let mut rows = 0i64;
        for file in files {
            rows += crate::sink::read_parquet(loc, file, 1).await?.num_rows();
        }
        line["files"] = files.clone().into();
        line["rows"] = rows.into();
        changed = true;
    }
    if changed {
        loc.put_json_atomic(&latest_key(part), &*marker).await?;
    }
    Ok(())
}

/// The files the marker names for `table`.
fn marker_files<'m>(latest: Option<&'m Value>, table: &str) -> impl Iterator<Item = &'m str> {
    latest
        .and_then(|l| l["tables"].as_array())
        .into_iter()
        .flatten()
        .filter(move |t| t["name"] == table)
        .flat_map(|t| t["files"].as_array().into_iter().flatten())
        .filter_map(Value::as_str)
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
    let latest = loc.get_json(&key).await?;
    let Some(newest) = snapshot
        .resources
        .values()
        .filter_map(|r| r.last_run.as_deref())
        .max()
    else {
        return Ok((None, latest));
    };
    if latest.as_ref().and_then(|l| l["run_id"].as_str()) == Some(newest) {
        return Ok((None, latest));
    }
    let path = crate::table::layout::manifest(part, newest);
    let Some(manifest) = loc.get_json(&path).await? else {
        return Ok((None, latest));
    };
    // A later run that committed no table (a feature the practice does not use) wrote the
    // marker after this one: it stays.
    let finished = |v: &Value| {
        v["finished_at"]
            .as_str()
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
    };
    if let Some(marked) = latest.as_ref().and_then(finished)
        && finished(&manifest).is_none_or(|f| f <= marked)
    {
        return Ok((None, latest));
    }
    let marker = marker(&manifest, &path);
    loc.put_json_atomic(&key, &marker).await?;
    Ok((Some(newest.to_string()), Some(marker)))
}

/// The marker of a committed run, from its manifest (as `latest::write_latest` writes it, for
/// plain tables: no Delta versions).
fn marker(manifest: &Value, path: &str) -> Value {
    let committed = |r: &&Value| matches!(r["status"].as_str(), Some("succeeded" | "partial"));
    let tables: Vec<Value> = manifest["resources"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(committed)
        .flat_map(|r| r["tables"].as_array().into_iter().flatten())
        .map(|t| {
            let files: Vec<&Value> = t["files"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|f| &f["path"])
                .collect();
            serde_json::json!({ "name": t["name"], "rows": t["rows"], "files": files })
        })
        .collect();
    serde_json::json!({
        "run_id": manifest["run_id"],
        "status": manifest["status"],
        "finished_at": manifest["finished_at"],
        "manifest": path,
        "table_format": "parquet",
        "tables": tables,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_marker_names_the_committed_resources_tables_and_files() {
        let manifest = serde_json::json!({
            "run_id": "20261130T010000Z-ab12",
            "status": "partial",
            "finished_at": "2026-11-30T01:00:05Z",
            "resources": [
                { "name": "patients", "status": "succeeded", "tables": [
                    { "name": "patients", "rows": 3, "files": [{ "path": "patients/a.parquet", "rows": 3 }] }
                ]},
                { "name": "invoices", "status": "failed", "tables": [] },
                { "name": "payments", "status": "partial", "tables": [
                    { "name": "payments", "rows": 2, "files": [{ "path": "payments/b.parquet", "rows": 2 }] },
                    { "name": "payments__explanations", "rows": 0, "files": [] }
                ]}
            ]
        });
        let m = marker(&manifest, "_runs/20261130T010000Z-ab12.json");
        assert_eq!(m["run_id"], "20261130T010000Z-ab12");
        assert_eq!(m["manifest"], "_runs/20261130T010000Z-ab12.json");
        let names: Vec<&str> = m["tables"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["patients", "payments", "payments__explanations"]);
        assert_eq!(
            m["tables"][0]["files"],
            serde_json::json!(["patients/a.parquet"])
        );
    }

    #[test]
    fn the_marker_files_of_a_table_are_kept() {
        let latest = serde_json::json!({ "tables": [
            { "name": "patients", "files": ["patients/a.parquet", "patients/b.parquet"] },
            { "name": "payments", "files": ["payments/c.parquet"] }
        ]});
        let files: Vec<&str> = marker_files(Some(&latest), "patients").collect();
        assert_eq!(files, ["patients/a.parquet", "patients/b.parquet"]);
        assert_eq!(marker_files(Some(&latest), "invoices").count(), 0);
        assert_eq!(marker_files(None, "patients").count(), 0);
    }
}
