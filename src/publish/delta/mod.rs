//! Delta Lake tables (`[output] table_format = "delta"`): each current table is a Delta table
//! whose log we write ourselves (see `docs/DECISIONS.md` for why not `delta_kernel`).
//!
//! A run's publication of a table is one commit: `add` for each new file, `remove` for each file
//! of the same partition it replaces. The commit file is created with a conditional put
//! ([`commit`]), so of two runs racing for version N+1 one wins and the other reads the log again
//! and commits N+2 on top. Until the commit exists a reader sees version N, after it N+1 — the
//! files themselves were written earlier, invisible to Delta readers until added.
//!
//! Replaced files stay on storage, so older versions remain readable (time travel), until the
//! retention (`delta_retention_days`) has passed since their removal; each publication then
//! deletes them ("vacuum"), together with files no commit ever added (a run that died before its
//! commit) once they are as old as the retention.

pub mod commit;
pub mod log;
pub mod schema;

use std::collections::{BTreeMap, BTreeSet};

use async_trait::async_trait;
use chrono::Utc;
use object_store::ObjectStoreExt;
use serde_json::json;

use self::commit::{CommitError, put_commit};
use self::log::{Action, Add, Metadata, Remove, Snapshot, log_dir, render, version_of};
use super::{PublishError, Published, TablePublisher, TableUpdate};
use crate::sink::{Location, read_parquet};

/// The partition column of a multi-practice pipeline's tables: the practice's name, as in the
/// `practice=<name>/` folders.
pub const PARTITION_COLUMN: &str = "practice";

/// Commits tried before giving up when other writers keep winning.
const MAX_ATTEMPTS: u32 = 25;

/// `table_format = "delta"`.
#[derive(Debug, Clone, Copy)]
pub struct DeltaTables {
    retention_ms: i64,
    retention_days: u64,
}

impl DeltaTables {
    /// Tables keeping replaced files readable for `retention_days`.
    pub fn new(retention_days: u64) -> Self {
        Self {
            retention_ms: i64::try_from(retention_days)
                .unwrap_or(i64::MAX / 86_400_000)
                .saturating_mul(86_400_000),
            retention_days,
        }
    }
}

#[async_trait]
impl TablePublisher for DeltaTables {
    fn format(&self) -> crate::config::TableFormat {
        crate::config::TableFormat::Delta
    }

    async fn publish(
        &self,
        loc: &Location,
        update: &TableUpdate<'_>,
    ) -> Result<Published, PublishError> {
        let fail = |reason: String| PublishError::Delta {
            table: update.table.to_string(),
            location: loc.display().to_string(),
            reason,
        };
        let schema = match update.files.first() {
            Some(f) => read_parquet(loc, &f.path, 1).await?.schema(),
            None => return Ok(Published::default()),
        };
        let partitions: Vec<&str> = update
            .practice
            .map(|_| PARTITION_COLUMN)
            .into_iter()
            .collect();
        let schema_string = schema::schema_string(&schema, &partitions).map_err(fail)?;
        for _ in 0..MAX_ATTEMPTS {
            let snapshot = load(loc, update.table).await?;
            let now = Utc::now().timestamp_millis();
            let plan = self
                .plan(&snapshot, update, &schema_string, &partitions, now)
                .map_err(fail)?;
            // The newest version already is this (a purge finishing what an earlier one began,
            // a retried publication): no empty commit.
            if snapshot.version.is_some()
                && plan
                    .actions
                    .iter()
                    .all(|a| matches!(a, Action::CommitInfo(_)))
            {
                return Ok(Published {
                    version: snapshot.version,
                    replaced: 0,
                    deleted: 0,
                });
            }
            let version = snapshot.next_version();
            let bytes = render(&plan.actions).map_err(|e| fail(e.to_string()))?;
            crate::hooks::crash_point("delta-before-commit");
            match put_commit(loc, update.table, version, bytes).await {
                Ok(()) => {
                    crate::hooks::crash_point("delta-after-commit");
                    let deleted = self.vacuum(loc, update, now).await?;
                    return Ok(Published {
                        version: Some(version),
                        replaced: plan.removed,
                        deleted,
                    });
                }
                Err(CommitError::Conflict) => {
                    tracing::info!(
                        table = update.table,
                        version,
                        "Another writer committed this Delta version first; reading the log again."
                    );
                }
                Err(CommitError::Store(e)) => return Err(e.into()),
            }
        }
        Err(fail(format!(
            "{MAX_ATTEMPTS} commits in a row lost to other writers; is another pipeline writing \
             this table in a loop? Give each pipeline its own output folder"
        )))
    }
    async fn erase_history(
        &self,
        loc: &Location,
        table: &str,
        part: &str,
    ) -> Result<usize, PublishError> {
        let snapshot = load(loc, table).await?;
        let mut deleted = 0;
        for meta in loc.list(&format!("{table}/{part}")).await? {
            let Some(rel) = loc.relative(&meta.location) else {
                continue;
            };
            let Ok(path) = table_path(table, &rel) else {
                continue;
            };
            if path.starts_with("_delta_log/") || !path.ends_with(".parquet") {
                continue;
            }
            if !snapshot.files.contains_key(&path) {
                loc.delete(&rel).await?;
                deleted += 1;
            }
        }
        Ok(deleted)
    }
}

/// The actions of one publication.
struct Plan {
    actions: Vec<Action>,
    removed: usize,
}

impl DeltaTables {
    fn plan(
        &self,
        snapshot: &Snapshot,
        update: &TableUpdate<'_>,
        schema_string: &str,
        partitions: &[&str],
        now: i64,
    ) -> Result<Plan, String> {
        let mut actions = vec![Action::CommitInfo(json!({
            "timestamp": now,
            "operation": "WRITE",
            "operationParameters": {"mode": "Overwrite", "partitionBy": partitions},
            "engineInfo": concat!("dentally-etl/", env!("CARGO_PKG_VERSION")),
            "txnId": update.run_id,
            "isBlindAppend": false,
        }))];
        if snapshot.version.is_none() {
            actions.push(Action::Protocol {
                min_reader_version: 1,
                min_writer_version: 2,
            });
        }
        let wanted = Metadata {
            id: snapshot
                .metadata
                .as_ref()
                .map_or_else(new_table_id, |m| m.id.clone()),
            format: json!({"provider": "parquet", "options": {}}),
            schema_string: schema_string.to_string(),
            partition_columns: partitions.iter().map(|p| (*p).to_string()).collect(),
            configuration: BTreeMap::from([(
                "delta.deletedFileRetentionDuration".to_string(),
                format!("interval {} days", self.retention_days),
            )]),
            created_time: snapshot
                .metadata
                .as_ref()
                .map_or(Some(now), |m| m.created_time),
        };
        if let Some(old) = &snapshot.metadata
            && old.partition_columns != wanted.partition_columns
        {
            return Err(format!(
                "the table is partitioned by {:?}, this pipeline by {:?} (single- and \
                 multi-practice pipelines cannot share a Delta table); write to a new folder",
                old.partition_columns, wanted.partition_columns
            ));
        }
        if snapshot.metadata.as_ref() != Some(&wanted) {
            actions.push(Action::MetaData(wanted));
        }
        let values: BTreeMap<String, Option<String>> = update
            .practice
            .map(|p| (PARTITION_COLUMN.to_string(), Some(p.to_string())))
            .into_iter()
            .collect();
        let mut new_paths = BTreeSet::new();
        for f in update.files {
            let path = table_path(update.table, &f.path)?;
            new_paths.insert(path.clone());
            if snapshot.files.contains_key(&path) {
                continue; // published already (a retried publication)
            }
            actions.push(Action::Add(Add {
                path,
                partition_values: values.clone(),
                size: f.bytes,
                modification_time: now,
                data_change: true,
                stats: Some(json!({"numRecords": f.rows}).to_string()),
            }));
        }
        let mut removed = 0;
        for (path, add) in &snapshot.files {
            if add.partition_values == values && !new_paths.contains(path) {
                actions.push(Action::Remove(Remove {
                    path: path.clone(),
                    deletion_timestamp: Some(now),
                    data_change: true,
                    extended_file_metadata: true,
                    partition_values: add.partition_values.clone(),
                    size: Some(add.size),
                }));
                removed += 1;
            }
        }
        Ok(Plan { actions, removed })
    }

    /// Deletes this partition's files that no retained version needs: removed longer ago than
    /// the retention, or never added and older than the retention.
    async fn vacuum(
        &self,
        loc: &Location,
        update: &TableUpdate<'_>,
        now: i64,
    ) -> Result<usize, PublishError> {
        let cutoff = now.saturating_sub(self.retention_ms);
        let snapshot = load(loc, update.table).await?;
        let mut deleted = 0;
        for meta in loc
            .list(&format!("{}/{}", update.table, update.part))
            .await?
        {
            let Some(rel) = loc.relative(&meta.location) else {
                continue;
            };
            let Ok(path) = table_path(update.table, &rel) else {
                continue;
            };
            if path.starts_with("_delta_log/") || !path.ends_with(".parquet") {
                continue;
            }
            let expired = match snapshot.removed.get(&path) {
                _ if snapshot.files.contains_key(&path) => false,
                Some(r) => r.deletion_timestamp.is_some_and(|t| t < cutoff),
                None => meta.last_modified.timestamp_millis() < cutoff,
            };
            if expired {
                loc.delete(&rel).await?;
                deleted += 1;
            }
        }
        Ok(deleted)
    }
}

/// Reads a table's log and replays it; an empty snapshot when the table has no commit yet.
pub async fn load(loc: &Location, table: &str) -> Result<Snapshot, PublishError> {
    let dir = log_dir(table);
    let mut versions: Vec<u64> = loc
        .list(&dir)
        .await?
        .iter()
        .filter_map(|m| m.location.filename().and_then(version_of))
        .collect();
    versions.sort_unstable();
    let mut snapshot = Snapshot::default();
    for (expected, version) in versions.into_iter().enumerate() {
        let fail = |reason: String| PublishError::Delta {
            table: table.to_string(),
            location: loc.display().to_string(),
            reason,
        };
        if version != expected as u64 {
            return Err(fail(format!(
                "commit {expected} is missing from `{dir}` (checkpointed or cleaned by another \
                 tool?); this writer replays the log from version 0: write to a new folder"
            )));
        }
        let key = log::commit_key(table, version);
        let bytes = loc
            .store()
            .get(&loc.child(&key))
            .await
            .map_err(|e| loc.store_error("read", &key, e))?
            .bytes()
            .await
            .map_err(|e| loc.store_error("read", &key, e))?;
        let text = std::str::from_utf8(&bytes).map_err(|e| fail(format!("{key}: {e}")))?;
        snapshot.apply(version, text).map_err(fail)?;
    }
    Ok(snapshot)
}

/// A file's path in the log: relative to the table folder, URL-encoded as the protocol asks.
fn table_path(table: &str, rel: &str) -> Result<String, String> {
    let inside = rel
        .strip_prefix(table)
        .and_then(|r| r.strip_prefix('/'))
        .ok_or_else(|| format!("file `{rel}` is not inside the table folder `{table}/`"))?;
    let mut out = String::with_capacity(inside.len());
    for b in inside.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~/=".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    Ok(out)
}

/// A random (version 4) UUID for a new table's `metaData.id`.
fn new_table_id() -> String {
    let mut b: [u8; 16] = std::array::from_fn(|_| fastrand::u8(..));
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}
