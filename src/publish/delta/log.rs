//! The Delta transaction log of one table: `<table>/_delta_log/<version:020>.json`, one action
//! per line (Delta protocol, "Delta Log Entries").
//!
//! We write protocol 1/2 tables (no table features), so every Delta reader opens them: Spark,
//! Databricks, Fabric, Trino/Athena, DuckDB's `delta` extension, `deltalake` (delta-rs), polars.
//! A snapshot is the replay of every commit in order: `add` makes a file part of the table,
//! `remove` takes it out. We write no checkpoints (see `docs/DECISIONS.md`), so the replay
//! reads every commit; one run adds one commit per table.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The folder of a table's log, relative to the output location.
pub fn log_dir(table: &str) -> String {
    format!("{table}/_delta_log/")
}

/// The key of commit `version`.
pub fn commit_key(table: &str, version: u64) -> String {
    format!("{table}/_delta_log/{version:020}.json")
}

/// The version of a commit file name (`00000000000000000007.json` → 7); `None` for anything
/// else in the log folder (checkpoints, staging files of other writers, `_last_checkpoint`).
pub fn version_of(file_name: &str) -> Option<u64> {
    let digits = file_name.strip_suffix(".json")?;
    if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// A data file in the table (the `add` action).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Add {
    /// Relative to the table folder, URL-encoded.
    pub path: String,
    /// Partition column → value.
    pub partition_values: BTreeMap<String, Option<String>>,
    /// Bytes.
    pub size: u64,
    /// Milliseconds since the epoch.
    pub modification_time: i64,
    /// Whether the data changed (always true here).
    pub data_change: bool,
    /// `{"numRecords": n}` as a JSON string.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stats: Option<String>,
}

/// A data file taken out of the table (the `remove` action); its bytes stay until vacuumed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Remove {
    /// As in the `add` that brought it in.
    pub path: String,
    /// Milliseconds since the epoch: when the retention of the file starts.
    pub deletion_timestamp: Option<i64>,
    /// Whether the data changed (always true here).
    pub data_change: bool,
    /// Whether the next three fields are set.
    #[serde(default)]
    pub extended_file_metadata: bool,
    /// As in the `add`.
    #[serde(default)]
    pub partition_values: BTreeMap<String, Option<String>>,
    /// As in the `add`.
    #[serde(default)]
    pub size: Option<u64>,
}

/// The table's schema and settings (the `metaData` action).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Metadata {
    /// A UUID, fixed for the table's life.
    pub id: String,
    /// `{"provider": "parquet", "options": {}}`.
    pub format: Value,
    /// The Delta schema as a JSON string.
    pub schema_string: String,
    /// Partition columns (`["practice"]` for a multi-practice pipeline).
    pub partition_columns: Vec<String>,
    /// Table properties (`delta.deletedFileRetentionDuration`, …).
    pub configuration: BTreeMap<String, String>,
    /// Milliseconds since the epoch.
    #[serde(default)]
    pub created_time: Option<i64>,
}

/// One line of a commit. Unknown actions (from other writers) are kept as [`Action::Other`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Action {
    /// Reader and writer versions.
    Protocol {
        /// 1: plain Parquet data files.
        #[serde(rename = "minReaderVersion")]
        min_reader_version: u32,
        /// 2: column invariants (none used) and append-only (not set).
        #[serde(rename = "minWriterVersion")]
        min_writer_version: u32,
    },
    /// Schema and settings.
    MetaData(Metadata),
    /// A file added.
    Add(Add),
    /// A file removed.
    Remove(Remove),
    /// Who committed and why.
    CommitInfo(Value),
}

/// The state of a table at one version.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// The newest version, `None` when the table has no commit yet.
    pub version: Option<u64>,
    /// The newest `metaData`.
    pub metadata: Option<Metadata>,
    /// Files in the table, by path.
    pub files: BTreeMap<String, Add>,
    /// Files removed and not added again, by path: the removal.
    pub removed: BTreeMap<String, Remove>,
}

impl Snapshot {
    /// Applies one commit's lines (already in version order).
    pub fn apply(&mut self, version: u64, text: &str) -> Result<(), String> {
        for (n, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let value: Value = serde_json::from_str(line)
                .map_err(|e| format!("commit {version}, line {}: {e}", n + 1))?;
            // Actions we do not model (txn, domainMetadata, cdc…) are skipped; a reader-feature
            // protocol would have failed `check_protocol` before any of them mattered.
            let Ok(action) = serde_json::from_value::<Action>(value) else {
                continue;
            };
            match action {
                Action::Protocol {
                    min_reader_version,
                    min_writer_version,
                } if min_reader_version > 1 || min_writer_version > 2 => {
                    return Err(format!(
                        "commit {version} asks for reader version {min_reader_version} and writer \
                         version {min_writer_version}; this writer keeps tables at 1/2, so another \
                         tool upgraded the table: write to a new output folder"
                    ));
                }
                Action::MetaData(m) => self.metadata = Some(m),
                Action::Add(add) => {
                    self.removed.remove(&add.path);
                    self.files.insert(add.path.clone(), add);
                }
                Action::Remove(remove) => {
                    self.files.remove(&remove.path);
                    self.removed.insert(remove.path.clone(), remove);
                }
                Action::Protocol { .. } | Action::CommitInfo(_) => {}
            }
        }
        self.version = Some(version);
        Ok(())
    }

    /// The version the next commit must take.
    pub fn next_version(&self) -> u64 {
        self.version.map_or(0, |v| v + 1)
    }
}

/// The lines of one commit.
pub fn render(actions: &[Action]) -> Result<Vec<u8>, serde_json::Error> {
    let mut out = Vec::new();
    for action in actions {
        serde_json::to_writer(&mut out, action)?;
        out.push(b'\n');
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn add(path: &str) -> Action {
        Action::Add(Add {
            path: path.into(),
            partition_values: BTreeMap::new(),
            size: 10,
            modification_time: 1,
            data_change: true,
            stats: Some(r#"{"numRecords":3}"#.into()),
        })
    }

    #[test]
    fn replay_adds_and_removes_in_order() {
        let mut snap = Snapshot::default();
        assert_eq!(snap.next_version(), 0);
        let v0 = render(&[add("a.parquet"), add("b.parquet")]).unwrap();
        snap.apply(0, std::str::from_utf8(&v0).unwrap()).unwrap();
        let v1 = render(&[
            add("c.parquet"),
            Action::Remove(Remove {
                path: "a.parquet".into(),
                deletion_timestamp: Some(5),
                data_change: true,
                extended_file_metadata: false,
                partition_values: BTreeMap::new(),
                size: None,
            }),
        ])
        .unwrap();
        snap.apply(1, std::str::from_utf8(&v1).unwrap()).unwrap();
        assert_eq!(snap.version, Some(1));
        assert_eq!(snap.next_version(), 2);
        let files: Vec<&str> = snap.files.keys().map(String::as_str).collect();
        assert_eq!(files, ["b.parquet", "c.parquet"]);
        assert_eq!(snap.removed["a.parquet"].deletion_timestamp, Some(5));
    }

    #[test]
    fn actions_are_written_with_the_protocol_names() {
        let line = String::from_utf8(render(&[add("x")]).unwrap()).unwrap();
        assert!(line.starts_with(r#"{"add":{"path":"x","partitionValues":{},"size":10,"modificationTime":1,"dataChange":true"#), "{line}");
        let p = render(&[Action::Protocol {
            min_reader_version: 1,
            min_writer_version: 2,
        }])
        .unwrap();
        assert_eq!(
            String::from_utf8(p).unwrap(),
            "{\"protocol\":{\"minReaderVersion\":1,\"minWriterVersion\":2}}\n"
        );
    }

    #[test]
    fn a_newer_protocol_is_refused_and_unknown_actions_skipped() {
        let mut snap = Snapshot::default();
        snap.apply(0, "{\"txn\":{\"appId\":\"x\",\"version\":1}}\n")
            .unwrap();
        let err = snap
            .apply(
                1,
                "{\"protocol\":{\"minReaderVersion\":3,\"minWriterVersion\":7}}\n",
            )
            .unwrap_err();
        assert!(err.contains("reader version 3"), "{err}");
    }

    #[test]
    fn only_commit_files_have_versions() {
        assert_eq!(version_of("00000000000000000007.json"), Some(7));
        assert_eq!(version_of("00000000000000000007.checkpoint.parquet"), None);
        assert_eq!(version_of("_last_checkpoint"), None);
        assert_eq!(version_of("7.json"), None);
    }
}
