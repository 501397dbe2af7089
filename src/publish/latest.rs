//! `_runs/[practice=<name>/]latest.json`: the completion marker, written after everything else
//! of a run's commit. A scheduler (or a reader) that waits for this object's `run_id` to change
//! knows the run's tables are complete and published; the previous run's marker stays in place
//! until then. It names the run, its manifest, and each table's files (and Delta version).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::manifest::{FileEntry, Manifest, Status};
use crate::sink::{Location, SinkError};

/// One table's line in the marker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LatestTable {
    /// Table name.
    pub name: String,
    /// Rows in its current files.
    pub rows: u64,
    /// Its current files, relative to the output location.
    pub files: Vec<String>,
    /// The Delta version this run committed (Delta tables only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
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
    tables: &[(String, Option<u64>, Vec<FileEntry>)],
) -> Result<(), SinkError> {
    let Some(mut latest) = loc.get_json(&latest_key(part)).await? else {
        return Ok(());
    };
    latest["purge"] = record.into();
    let lines = tables
        .iter()
        .map(|(name, version, files)| LatestTable {
            name: name.clone(),
            rows: files.iter().map(|f| f.rows).sum(),
            files: files.iter().map(|f| f.path.clone()).collect(),
            version: *version,
        })
        .collect();
    put_lines(loc, part, &mut latest, lines).await
}

/// The marker's table lines (those it cannot read are left out).
pub fn lines(latest: &Value) -> Vec<LatestTable> {
    latest["tables"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| serde_json::from_value(t.clone()).ok())
        .collect()
}

/// Replaces the marker's lines of `lines`' tables (adding those it lacks), keeping every other
/// field, and writes it.
pub async fn put_lines(
    loc: &Location,
    part: &str,
    latest: &mut Value,
    lines: Vec<LatestTable>,
) -> Result<(), SinkError> {
    let key = latest_key(part);
    if !latest["tables"].is_array() {
        latest["tables"] = Value::Array(Vec::new());
    }
    for line in lines {
        let name = line.name.clone();
        let line = to_json(loc, &key, &line)?;
        if let Some(existing) = latest["tables"].as_array_mut() {
            match existing.iter_mut().find(|t| t["name"] == name.as_str()) {
                Some(old) => *old = line,
                None => existing.push(line),
            }
        }
    }
    loc.put_json_atomic(&key, &*latest).await
}

/// The marker of a committed run of plain tables, from its manifest as stored (`path`), for a
/// run whose commit stopped before writing it; `None` for a manifest it cannot read.
pub fn from_manifest(manifest: &Value, path: &str) -> Option<Latest> {
    /// The parts of a stored manifest the marker needs.
    #[derive(Deserialize)]
    struct Stored {
        run_id: String,
        status: Status,
        finished_at: String,
        resources: Vec<StoredResource>,
    }
    #[derive(Deserialize)]
    struct StoredResource {
        status: Status,
        #[serde(default)]
        tables: Vec<StoredTable>,
    }
    #[derive(Deserialize)]
    struct StoredTable {
        name: String,
        rows: u64,
        files: Vec<FileEntry>,
    }
    let m: Stored = serde_json::from_value(manifest.clone()).ok()?;
    let tables = m
        .resources
        .into_iter()
        .filter(|r| r.status.committed())
        .flat_map(|r| r.tables)
        .map(|t| LatestTable {
            name: t.name,
            rows: t.rows,
            files: t.files.into_iter().map(|f| f.path).collect(),
            version: None,
        })
        .collect();
    Some(Latest {
        run_id: m.run_id,
        status: m.status,
        finished_at: m.finished_at,
        manifest: path.to_string(),
        table_format: crate::config::TableFormat::Parquet,
        tables,
    })
}

/// `value` as JSON, or the error naming where it was going.
pub fn to_json(loc: &Location, key: &str, value: &impl Serialize) -> Result<Value, SinkError> {
    serde_json::to_value(value).map_err(|source| SinkError::Json {
        location: loc.display().to_string(),
        key: key.to_string(),
        source,
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
                    { "name": "patients", "rows": 3, "files": [{ "path": "patients/a.parquet", "rows": 3, "bytes": 9 }] }
                ]},
                { "name": "invoices", "status": "failed", "tables": [] },
                { "name": "payments", "status": "partial", "tables": [
                    { "name": "payments", "rows": 2, "files": [{ "path": "payments/b.parquet", "rows": 2, "bytes": 9 }] },
                    { "name": "payments__explanations", "rows": 0, "files": [] }
                ]}
            ]
        });
        let m = from_manifest(&manifest, "_runs/20261130T010000Z-ab12.json").unwrap();
        assert_eq!(m.run_id, "20261130T010000Z-ab12");
        assert_eq!(m.manifest, "_runs/20261130T010000Z-ab12.json");
        let names: Vec<&str> = m.tables.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["patients", "payments", "payments__explanations"]);
        assert_eq!(m.tables[0].files, ["patients/a.parquet"]);
    }

    #[test]
    fn the_marker_lines_are_read_back() {
        let marker = serde_json::json!({ "tables": [
            { "name": "patients", "rows": 2, "files": ["patients/a.parquet", "patients/b.parquet"] },
            { "name": "payments", "rows": 1, "files": ["payments/c.parquet"], "version": 3 },
            { "name": "broken" }
        ]});
        let read = lines(&marker);
        assert_eq!(read.len(), 2, "an unreadable line is left out");
        assert_eq!(read[0].files, ["patients/a.parquet", "patients/b.parquet"]);
        assert_eq!(read[1].version, Some(3));
        assert!(lines(&serde_json::json!({})).is_empty());
    }
}
