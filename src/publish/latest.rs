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
    pub status: &'static str,
    /// When it finished (RFC 3339).
    pub finished_at: String,
    /// Its manifest, relative to the output location.
    pub manifest: String,
    /// `parquet` or `delta`.
    pub table_format: &'static str,
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
    table_format: &'static str,
    versions: &[(String, Option<u64>)],
) -> Result<(), SinkError> {
    let tables = manifest
        .resources
        .iter()
        .filter(|r| r.status == "succeeded" || r.status == "partial")
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
