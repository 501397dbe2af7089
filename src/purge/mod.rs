//! `purge`: erasure of rows marked deleted in Dentally, once they are older than an age.
//!
//! A reconciling run keeps a row that Dentally no longer lists, with `_deleted_at` set (design
//! §6): analysts can see what went, and when. Health data must not be kept longer than needed,
//! though, so `purge --older-than 30d` removes every row whose `_deleted_at` is older than that,
//! from every current table, per practice, and with it every copy the tool made of the row:
//! - the current files holding such rows are rewritten without them and published like a run's
//!   (plain files: the old files deleted; Delta: one commit, then every data file that the new
//!   version does not name is deleted at once, since older versions hold the rows too: time travel
//!   to before the purge ends, which is the point);
//! - `_raw/` copies: a row marked deleted by a run starting at T was last read by a run that
//!   started before T, so every raw file of a run started at or before the cutoff goes; a
//!   checkpoint naming one is dropped (that resource's next run reads it afresh);
//! - `_runs/latest.json` names the new files, and a record `_runs/<id>.purge.json` says what was
//!   purged (counts, never values).
//!
//! It holds the run lock, so a run and a purge of the same pipeline and practice never overlap.
//! The rows of models (`_models/`) are rebuilt by the next run that has models.

pub mod table;

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::config::Pipeline;
use crate::manifest::FileEntry;
use crate::publish::TableUpdate;
use crate::run::{self, RunError};
use crate::sink::Location;
use crate::sink::lock::RunLock;
use crate::state::StateStore;
use crate::table::layout;

/// What to purge.
#[derive(Debug, Clone)]
pub struct PurgeOptions {
    /// Rows marked deleted more than this many days ago go.
    pub older_than_days: u64,
    /// Only these practices of a multi-practice pipeline (empty: every one).
    pub practices: Vec<String>,
    /// Count only; write and delete nothing.
    pub dry_run: bool,
    /// Take the run lock even if a run holds it.
    pub break_lock: bool,
}

/// One table's purge.
#[derive(Debug, Clone, Serialize)]
pub struct TablePurge {
    /// Table name.
    pub table: String,
    /// Rows before the purge.
    pub rows_before: u64,
    /// Rows marked deleted before the cutoff, removed.
    pub rows_purged: u64,
    /// The table's current files after the purge.
    pub files: Vec<String>,
}

/// One practice's purge (or the pipeline's, with a single practice).
#[derive(Debug, Clone, Serialize)]
pub struct PurgeReport {
    /// The purge's id (a run id: it names the new files).
    pub purge_id: String,
    /// The practice, in a multi-practice pipeline.
    pub practice: Option<String>,
    /// Rows marked deleted before this instant were purged.
    pub cutoff: String,
    /// Counted only.
    pub dry_run: bool,
    /// The tables that held rows to purge.
    pub tables: Vec<TablePurge>,
    /// `_raw/` files removed.
    pub raw_files_removed: usize,
    /// Resources whose checkpoint named a removed raw file (read afresh next run).
    pub checkpoints_dropped: Vec<String>,
}

/// What a purge of several practices did before it stopped, if it stopped.
#[derive(Debug)]
pub struct Stopped {
    /// The practices purged before the failure.
    pub done: Vec<PurgeReport>,
    /// Why it stopped.
    pub error: RunError,
}

/// Purges every selected practice of `pipeline`; on a failure, the reports of the practices
/// already purged come with the error.
pub async fn purge(
    pipeline: &Pipeline,
    options: &PurgeOptions,
) -> Result<Vec<PurgeReport>, Stopped> {
    let nothing_done = |error| Stopped {
        done: Vec::new(),
        error,
    };
    let practices = selected(pipeline, options).map_err(nothing_done)?;
    let loc = run::location_for(pipeline).map_err(nothing_done)?;
    let days = i64::try_from(options.older_than_days.min(36_500)).unwrap_or(36_500);
    let cutoff = Utc::now() - chrono::Duration::days(days);
    let mut reports = Vec::new();
    for practice in &practices {
        match purge_practice(pipeline, &loc, practice.as_deref(), cutoff, options).await {
            Ok(report) => reports.push(report),
            Err(error) => {
                return Err(Stopped {
                    done: reports,
                    error,
                });
            }
        }
    }
    Ok(reports)
}

/// The practices to purge: every one (or those named) of a multi-practice pipeline, else the
/// pipeline's single one.
fn selected(pipeline: &Pipeline, options: &PurgeOptions) -> Result<Vec<Option<String>>, RunError> {
    let practices: Vec<Option<String>> = if pipeline.practices.is_empty() {
        if !options.practices.is_empty() {
            return Err(RunError::Usage(
                "--practice applies to pipelines with [[sources]] only".into(),
            ));
        }
        vec![None]
    } else {
        run::select_practices(pipeline, &options.practices, None)?
            .into_iter()
            .map(|p| Some(p.name.clone()))
            .collect()
    };
    Ok(practices)
}

async fn purge_practice(
    pipeline: &Pipeline,
    loc: &Location,
    practice: Option<&str>,
    cutoff: DateTime<Utc>,
    options: &PurgeOptions,
) -> Result<PurgeReport, RunError> {
    let purge_id = layout::new_run_id(Utc::now());
    let key = run::lock_key(&pipeline.name, practice);
    let lock = RunLock::acquire(loc, &key, &purge_id, options.break_lock).await?;
    let result = async {
        let state = StateStore::load(loc, &run::state_name(pipeline, practice)).await?;
        let mut report = PurgeReport {
            purge_id: purge_id.clone(),
            practice: practice.map(str::to_string),
            cutoff: cutoff.to_rfc3339(),
            dry_run: options.dry_run,
            tables: Vec::new(),
            raw_files_removed: 0,
            checkpoints_dropped: Vec::new(),
        };
        let part = layout::partition(practice);
        let rewritten = rewrite_tables(pipeline, loc, &state, &part, cutoff, &mut report).await?;
        if options.dry_run {
            return Ok(report);
        }
        point_state_at(&state, &rewritten).await?;
        crate::hooks::crash_point("purge-after-state");
        // From here every step is idempotent and covers every table of the state, so a purge
        // that stopped part-way (a crash, a store error) is finished by the next one, even
        // though that one finds no row left to purge.
        let current = parquet_tables(&state).await;
        let changed =
            publish_all(pipeline, loc, &current, practice, &part, &report.purge_id).await?;
        let tables: Vec<String> = current.into_keys().collect();
        let (removed, dropped) = run::erase_raw_copies(loc, &state, &tables, &part, cutoff).await?;
        report.raw_files_removed = removed;
        report.checkpoints_dropped = dropped;
        if !changed.is_empty() || removed > 0 {
            let record = format!("_runs/{part}{}.purge.json", report.purge_id);
            loc.put_json_atomic(&record, &report).await?;
            crate::publish::latest::repoint(loc, &part, &record, &changed).await?;
        }
        Ok(report)
    }
    .await;
    if let Err(e) = lock.release().await {
        tracing::warn!(key, error = %e, "Cannot remove the run lock; it lapses by itself.");
    }
    result
}

/// Counts each table's rows to purge and, unless a dry run, writes the tables that have some
/// anew (unpublished yet). Returns the new files per table.
async fn rewrite_tables(
    pipeline: &Pipeline,
    loc: &Location,
    state: &StateStore,
    part: &str,
    cutoff: DateTime<Utc>,
    report: &mut PurgeReport,
) -> Result<Vec<(String, Vec<FileEntry>)>, RunError> {
    let (_, format) = run::formats(pipeline);
    let cutoff_us = cutoff.timestamp_micros();
    let mut rewritten = Vec::new();
    for resource in state.snapshot().await.resources.values() {
        for (table, files) in &resource.tables {
            // Only Parquet current files carry `_deleted_at` rows (incremental mode needs Parquet).
            if files.is_empty() || !files.iter().all(|f| f.ends_with(".parquet")) {
                continue;
            }
            let (rows, purgeable) = table::count(loc, files, cutoff_us).await?;
            if purgeable == 0 {
                continue;
            }
            let mut purged = TablePurge {
                table: table.clone(),
                rows_before: rows,
                rows_purged: purgeable,
                files: files.clone(),
            };
            if !report.dry_run {
                let rewrite = table::Rewrite {
                    loc,
                    table,
                    part,
                    files,
                    format: &format,
                    purge_id: &report.purge_id,
                };
                let new = table::rewrite(&rewrite, cutoff_us).await?;
                purged.files = new.iter().map(|f| f.path.clone()).collect();
                rewritten.push((table.clone(), new));
            }
            report.tables.push(purged);
        }
    }
    Ok(rewritten)
}

/// The Parquet current tables the state names, with their files (CSV tables carry no rows
/// marked deleted: incremental mode needs Parquet).
async fn parquet_tables(state: &StateStore) -> BTreeMap<String, Vec<String>> {
    state
        .snapshot()
        .await
        .resources
        .into_values()
        .flat_map(|r| r.tables)
        .filter(|(_, files)| !files.is_empty() && files.iter().all(|f| f.ends_with(".parquet")))
        .collect()
}

/// Points the state at the rewritten tables' new files (before anything old is removed: a
/// crash after this leaves stale files for the next purge or run, never a state naming files
/// that are gone).
async fn point_state_at(
    state: &StateStore,
    rewritten: &[(String, Vec<FileEntry>)],
) -> Result<(), RunError> {
    for (name, resource) in state.snapshot().await.resources {
        let renamed: Vec<&(String, Vec<FileEntry>)> = rewritten
            .iter()
            .filter(|(t, _)| resource.tables.contains_key(t))
            .collect();
        if renamed.is_empty() {
            continue;
        }
        let main = resource.tables.keys().next().cloned();
        let main_rows = renamed
            .iter()
            .find(|(t, _)| Some(t) == main.as_ref())
            .map(|(_, files)| files.iter().map(|f| f.rows).sum::<u64>());
        state
            .update(&name, |s| {
                for (table, files) in &renamed {
                    s.tables.insert(
                        table.clone(),
                        files.iter().map(|f| f.path.clone()).collect(),
                    );
                }
                if main_rows.is_some() {
                    s.rows = main_rows;
                }
            })
            .await?;
    }
    Ok(())
}

/// Publishes every Parquet table as the state names it (plain files: the others are deleted;
/// Delta: a commit when the newest version names other files) and erases what older Delta
/// versions still hold. Returns the tables whose published files changed, with their files and
/// Delta version.
async fn publish_all(
    pipeline: &Pipeline,
    loc: &Location,
    current: &BTreeMap<String, Vec<String>>,
    practice: Option<&str>,
    part: &str,
    purge_id: &str,
) -> Result<Vec<(String, Option<u64>, Vec<FileEntry>)>, RunError> {
    let publisher = crate::publish::publisher(&pipeline.output.tables);
    let mut changed = Vec::new();
    for (table, paths) in current {
        let mut files = Vec::with_capacity(paths.len());
        for path in paths {
            files.push(file_entry(loc, path.clone()).await?);
        }
        let update = TableUpdate {
            table,
            part,
            practice,
            files: &files,
            run_id: purge_id,
        };
        let done = publisher.publish(loc, &update).await?;
        let erased = publisher.erase_history(loc, table, part).await?;
        if done.replaced > 0 || erased > 0 {
            changed.push((table.clone(), done.version, files));
        }
    }
    Ok(changed)
}

/// A current file's entry from its footer (rows) and its object's size: one `HEAD` and a ranged
/// read, not a scan.
async fn file_entry(loc: &Location, path: String) -> Result<FileEntry, RunError> {
    let batches = crate::sink::read_parquet(loc, &path, 1).await?;
    let rows = u64::try_from(batches.num_rows()).unwrap_or(0);
    use object_store::ObjectStoreExt;
    let bytes = loc
        .store()
        .head(&loc.child(&path))
        .await
        .map_err(|e| loc.store_error("read", &path, e))?
        .size;
    Ok(FileEntry { path, rows, bytes })
}
