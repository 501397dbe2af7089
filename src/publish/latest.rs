//! `_runs/[practice=<name>/]latest.json`: the completion marker, written after everything else
//! of a run's commit. A scheduler (or a reader) that waits for this object's `run_id` to change
//! knows the run's tables are complete and published; the previous run's marker stays in place
//! until then. It names the run, its manifest, and each table's files (and Delta version).

use serde::Serialize;

use crate::manifest::Manifest;
use crate::sink::{Location, SinkError};

/// One table's line in the marker.
#[derive(Debug, Clone, Serialize)]
pub struct LatestTable {
    /// Table name.
    pub name: String,
    /// Rows in its current files.
    pub rows: u64,
    /// Its current files, relative to the output location.
    pub files: Vec<String>,
    /// The Delta version this run committed (Delta tables only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<u64>,
}

/// The marker.
#[derive(Debug, Clone, Serialize)]
pub struct Latest {
    /// The run.
    pub run_id: String,
    /// Its status (`succeeded`, `partial`).
    pub status: crate::manifest::Status,
    /// When it finished (RFC 3339).
    pub finished_at: String,
    /// Its manifest, relative to the output location.
    pub manifest: String,
    /// `parquet` or `delta`.
    pub table_format: crate::config::TableFormat,
    /// The tables the run published.
    pub tables: Vec<LatestTable>,
}

/// The marker's key for a practice's partition (`""` for a single practice).
pub fn latest_key(part: &str) -> String {
    format!("_runs/{part}latest.json")
}

/// Writes the marker (a single atomic put) for `manifest`; `versions` holds the Delta version of
/// each published table, by name.
pub async fn write_latest(
    loc: &Location,
    part: &str,
    manifest_path: &str,
    manifest: &Manifest,
    table_format: crate::config::TableFormat,
    versions: &[(String, Option<u64>)],
) -> Result<(), SinkError> {
    let tables = manifest
        .resources
        .iter()
        .filter(|r| r.status.committed())
        .flat_map(|r| &r.tables)
        .map(|t| LatestTable {
            name: t.name.clone(),
            rows: t.rows,
            files: t.files.iter().map(|f| f.path.clone()).collect(),
            version: versions
                .iter()
                .find(|(name, _)| *name == t.name)
                .and_then(|(_, v)| *v),
        })
        .collect();
    let latest = Latest {
        run_id: manifest.run_id.clone(),
        status: manifest.status,
        finished_at: manifest.finished_at.clone(),
        manifest: manifest_path.to_string(),
        table_format,
        tables,
    };
    loc.put_json_atomic(&latest_key(part), &latest).await
}

/// After a purge (`crate::purge`): each table the purge changed gets its new files, rows and
/// Delta version, and `purge` names the purge's record (`_runs/<id>.purge.json`); the run's own
/// fields (`run_id`, `manifest`: still a run manifest) and the other tables' lines stay. No
/// marker yet (no run finished): nothing to repoint.
pub async fn repoint(
    loc: &Location,
    part: &str,
    record: &str,
    tables: &[(String, Option<u64>, Vec<crate::manifest::FileEntry>)],
) -> Result<(), SinkError> {
    let key = latest_key(part);
    let Some(mut latest) = loc.get_json(&key).await? else {
        return Ok(());
    };
    latest["purge"] = record.into();
    if !latest["tables"].is_array() {
        latest["tables"] = serde_json::Value::Array(Vec::new());
    }
    for (name, version, files) in tables {
        let line = LatestTable {
            name: name.clone(),
            rows: files.iter().map(|f| f.rows).sum(),
            files: files.iter().map(|f| f.path.clone()).collect(),
            version: *version,
        };
        let line = serde_json::to_value(line).map_err(|e| SinkError::Json {
            location: loc.display().to_string(),
            key: key.clone(),
            source: e,
        })?;
        if let Some(lines) = latest["tables"].as_array_mut() {
            match lines.iter_mut().find(|t| t["name"] == name.as_str()) {
                Some(existing) => *existing = line,
                None => lines.push(line),
            }
        }
    }
    loc.put_json_atomic(&key, &latest).await
}
