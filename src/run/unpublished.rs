//! Finishing what a dead run left half-published, before a run starts.
//!
//! Plain table folders are not switched atomically: a run writes its current files next to the
//! previous ones, commits (manifest, then state), and only then deletes the replaced files and
//! writes `_runs/latest.json`. A run killed in between leaves a folder holding two runs' files,
//! and a glob reader (`<table>/*.parquet`, what the README suggests) counts rows twice until a
//! later commit publishes. So a run starts by doing what publication would have done: each plain
//! table folder keeps only the files the state names (the last commit's), and when the state
//! names a newer run than `latest.json`, the marker is written from that run's manifest. Delta
//! tables need neither: their readers see only committed versions.

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
    let mut removed = 0;
    for spec in specs {
        let committed = snapshot.resources.get(spec.resource.name);
        for table in crate::catalog::tables(spec.resource, &crate::catalog::PiiPolicy::Keep) {
            let keep: Vec<&str> = committed
                .and_then(|r| r.tables.get(&table.name))
                .map(|files| files.iter().map(String::as_str).collect())
                .unwrap_or_default();
            removed += remove_stale(loc, &table.name, part, &keep).await?;
        }
    }
    let marked = mark_last_commit(loc, &snapshot, part).await?;
    if removed > 0 || marked.is_some() {
        tracing::warn!(
            files = removed,
            run_id = marked.as_deref().unwrap_or("-"),
            "An earlier run stopped before publishing: removed the table files its commit did not name, and pointed `latest.json` at the last committed run."
        );
    }
    Ok(())
}

/// Writes `latest.json` from the manifest of the newest run the state names, when the marker
/// names another run (its commit stopped before the marker). Returns that run's id.
async fn mark_last_commit(
    loc: &Location,
    snapshot: &State,
    part: &str,
) -> Result<Option<String>, RunError> {
    let Some(newest) = snapshot
        .resources
        .values()
        .filter_map(|r| r.last_run.as_deref())
        .max()
    else {
        return Ok(None);
    };
    let key = latest_key(part);
    let latest = loc.get_json(&key).await?;
    if latest.as_ref().and_then(|l| l["run_id"].as_str()) == Some(newest) {
        return Ok(None);
    }
    let path = crate::table::layout::manifest(part, newest);
    let Some(manifest) = loc.get_json(&path).await? else {
        return Ok(None);
    };
    loc.put_json_atomic(&key, &marker(&manifest, &path)).await?;
    Ok(Some(newest.to_string()))
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
}
