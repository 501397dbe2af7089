//! The end of a resource: rejects written, current files built (or merged), counts gathered.

use std::collections::BTreeMap;

use chrono::{DateTime, SecondsFormat};

use super::context::RunContext;
use super::resource::{Progress, ResourceError, raw_files};
use super::strategy::Strategy;
use crate::catalog::{Resource, Table, Window};
use crate::config::{Reconcile, ResourceSpec};
use crate::flatten::Reject;
use crate::manifest::WindowRead;
use crate::manifest::{ResourceEntry, Status, TableEntry};
use crate::reconcile;
use crate::sink::SinkError;
use crate::state::ResourceState;
use crate::table::current;
use crate::table::layout;
use crate::table::merge::{Coverage, MergeInput, merge};
use crate::table::raw::RawTable;

/// Builds the current files and fills `entry`.
#[allow(clippy::too_many_arguments)]
pub(super) async fn finish(
    ctx: &RunContext,
    spec: &ResourceSpec,
    tables: &[Table],
    raws: &[RawTable],
    progress: Progress,
    strategy: &Strategy,
    state: &ResourceState,
    entry: &mut ResourceEntry,
) -> Result<(), ResourceError> {
    if !progress.rejects.is_empty() {
        write_rejects(ctx, &progress.rejects).await?;
    }
    let cursor = state
        .cursor
        .as_deref()
        .and_then(|c| DateTime::parse_from_rfc3339(c).ok())
        .map(|c| c.timestamp_micros())
        .max(progress.max_cursor);
    let missing = rows_known_missing(spec, strategy, &progress);
    let coverage = match strategy.coverage() {
        // A read known to have missed rows proves nothing about the rows it did not return:
        // marking them deleted would let `purge` erase rows that still exist.
        Some(_) if missing.is_some() => Some(Coverage::Nothing),
        Some(Coverage::Nothing) if spec.reconcile == Reconcile::Counts => {
            count_deleted(ctx, spec, raws, state, cursor, entry).await
        }
        other => other,
    };
    let current = build_current(ctx, spec, tables, raws, coverage, state).await?;
    for (table, raw) in tables.iter().zip(raws) {
        let files = current.get(&table.name).cloned().unwrap_or_default();
        entry.tables.push(TableEntry {
            name: table.name.clone(),
            rows: files.iter().map(|f| f.rows).sum(),
            schema_hash: crate::table::schema_hash(&current::current_schema(
                &table.schema,
                ctx.practice_id.is_some(),
            )),
            files,
            raw_files: raw.files.clone(),
        });
    }
    entry.cursor = cursor
        .and_then(DateTime::from_timestamp_micros)
        .map(|t| t.to_rfc3339_opts(SecondsFormat::Micros, true));
    entry.reconciled = strategy.reconciles() || entry.reconcile.is_some();
    entry.window = window_read(ctx, spec, strategy, &progress);
    let done = &progress.done;
    entry.slices = done.slices;
    entry.pages = u32::try_from(done.pages).unwrap_or(u32::MAX);
    entry.rows = done.rows;
    entry.duplicates = done.duplicates;
    entry.total_count = done.total_count;
    entry.paging = done.paging.clone();
    if let Some(Missing::Witness(param)) = missing
        && !entry.paging.ignored_filters.iter().any(|p| p == param)
    {
        entry.paging.ignored_filters.push(param.to_string());
    }
    entry.rejects = progress.reject_count;
    entry.unknown_fields = progress.unknown.into_iter().collect();
    for field in &entry.unknown_fields {
        ctx.warn_unknown_field(&entry.name, field);
    }
    entry.mismatches = progress.mismatches;
    for (table, columns) in &entry.mismatches {
        for (column, n) in columns {
            tracing::warn!(resource = %entry.name, table = %table, column = %column, values = n, "Values did not fit their declared column: the cells are null and the values are kept in `_extra`.");
        }
    }
    entry.status = if entry.rejects > 0 {
        Status::Partial
    } else {
        Status::Succeeded
    };
    entry.error = (entry.rejects > 0).then(|| {
        format!(
            "{} row(s) could not be keyed (primary key missing or invalid); see `_rejects/` (they are not in the tables)",
            entry.rejects
        )
    });
    Ok(())
}

/// Count-guided reconciliation of an incremental read: the keys gone from Dentally as a
/// coverage for the merge, or `Nothing` (and a warning) when it could not run.
async fn count_deleted(
    ctx: &RunContext,
    spec: &ResourceSpec,
    raws: &[RawTable],
    state: &ResourceState,
    cursor: Option<i64>,
    entry: &mut ResourceEntry,
) -> Option<Coverage> {
    let resource = spec.resource;
    let filter = reconcile::range_for(resource)?;
    let main = raws.first()?;
    let delta: Vec<String> = main.files.iter().map(|f| f.path.clone()).collect();
    let job = reconcile::Reconcile {
        client: &ctx.client,
        resource,
        filter,
        files: reconcile::TableFiles {
            loc: &ctx.loc,
            previous: state.tables.get(&main.name).map_or(&[][..], Vec::as_slice),
            delta: &delta,
            key: resource.primary_key,
            field: filter.field,
        },
        cursor,
        settings: reconcile::Settings::default(),
    };
    match reconcile::find_deleted(&job).await {
        Ok((gone, report)) => {
            crate::hooks::crash_point("after-counts");
            entry.reconcile = Some(report);
            Some(Coverage::Keys(gone))
        }
        Err(why) => {
            tracing::warn!(
                resource = resource.name,
                "Deletions not reconciled this run: {why}"
            );
            Some(Coverage::Nothing)
        }
    }
}

async fn build_current(
    ctx: &RunContext,
    spec: &ResourceSpec,
    tables: &[Table],
    raws: &[RawTable],
    coverage: Option<Coverage>,
    state: &ResourceState,
) -> Result<BTreeMap<String, Vec<crate::manifest::FileEntry>>, SinkError> {
    let Some(coverage) = coverage else {
        let mut out = BTreeMap::new();
        for (table, raw) in tables.iter().zip(raws) {
            let files = current::build(
                &ctx.loc,
                &table.name,
                ctx.target(),
                &table.schema,
                &raw.files,
                &ctx.out_format,
                &ctx.run_id,
            )
            .await?;
            out.insert(table.name.clone(), files);
        }
        return Ok(out);
    };
    let delta = raw_files(raws);
    let input = MergeInput {
        loc: &ctx.loc,
        format: &ctx.out_format,
        target: ctx.target(),
        run_id: &ctx.run_id,
        now: ctx.started.timestamp_micros(),
        tables,
        previous: &state.tables,
        delta: &delta,
        key: spec.resource.primary_key,
        order: merge_order(spec.resource),
        coverage,
    };
    merge(&input).await
}

/// The column that decides which version of a row is newer in a merge: `updated_at` when the
/// resource has one, even when its cursor is another field (payments' cursor is `dated_on`,
/// which an edit does not move); else the cursor.
fn merge_order(resource: &Resource) -> Option<&'static str> {
    match resource.cursor {
        Some(_) if resource.field("updated_at").is_some() => Some("updated_at"),
        cursor => cursor,
    }
}

/// What this run's read of a windowed resource's whole window found (its density sizes the
/// next window read's slices); `None` for deltas and unwindowed resources.
fn window_read(
    ctx: &RunContext,
    spec: &ResourceSpec,
    strategy: &Strategy,
    progress: &Progress,
) -> Option<WindowRead> {
    let window = spec
        .window
        .filter(|_| matches!(spec.resource.window, Window::Required { .. }))?;
    if matches!(strategy, Strategy::Delta { .. }) {
        return None;
    }
    let (from, to) = window.resolve(ctx.today);
    Some(WindowRead {
        from,
        to,
        rows: progress.done.rows,
    })
}

/// Rows read (in this session) before a witness's absence means anything: a practice's diary of
/// this many appointments without one cancellation or no-show is not believable.
const WITNESS_ROWS: u64 = 500;

/// Why a read is known to have missed rows.
#[derive(Debug, Clone, Copy)]
enum Missing {
    /// A required parameter's witness rows are absent: the API ignored it.
    Witness(&'static str),
    /// A whole window answered nothing (and no other read found its rows).
    EmptyWindow,
}

/// Checked, not trusted: a required parameter the API ignored leaves rows out without a sign
/// (appointments without `cancelled=true` drop Cancelled and Did-not-attend rows), and a window
/// the API reads without its start answers nothing (when no other read could find its rows).
/// Both are warned about, the first recorded in the manifest; such a read marks nothing deleted.
fn rows_known_missing(
    spec: &ResourceSpec,
    strategy: &Strategy,
    progress: &Progress,
) -> Option<Missing> {
    let resource = spec.resource;
    let tally = progress.witness;
    if let Some(w) = resource.witness
        && tally.rows >= WITNESS_ROWS
        && tally.shown == 0
    {
        tracing::warn!(
            resource = resource.name,
            filter = w.param,
            rows = tally.rows,
            "The API seems to have ignored the `{}` filter of `{}`: none of {} rows has {} {}, rows it leaves out without it; they are missing.",
            w.param,
            resource.name,
            tally.rows,
            w.field,
            w.values.join(" or ")
        );
        return Some(Missing::Witness(w.param));
    }
    if let Window::Required { after_param, .. } = resource.window
        && !matches!(strategy, Strategy::Delta { .. })
        && progress.done.rows == 0
        && progress.done.slices > 0
    {
        tracing::warn!(
            resource = resource.name,
            filter = after_param,
            "No row in the whole window of `{}`: if the practice uses it, the API may have ignored the `{after_param}` filter (without it the list answers nothing).",
            resource.name
        );
        return Some(Missing::EmptyWindow);
    }
    None
}

async fn write_rejects(ctx: &RunContext, rejects: &[Reject]) -> Result<(), SinkError> {
    let mut by_table: BTreeMap<&str, Vec<u8>> = BTreeMap::new();
    /// One line of `_rejects/<table>/<run_id>.jsonl` (the record embedded as the text it is).
    #[derive(serde::Serialize)]
    struct Line<'a> {
        run_id: &'a str,
        #[serde(flatten)]
        reject: &'a Reject,
    }
    for r in rejects {
        let line = Line {
            run_id: &ctx.run_id,
            reject: r,
        };
        let buf = by_table.entry(r.table.as_str()).or_default();
        serde_json::to_writer(&mut *buf, &line).map_err(|source| SinkError::Json {
            location: ctx.loc.display().to_string(),
            key: layout::rejects(&r.table, &ctx.part, &ctx.run_id),
            source,
        })?;
        buf.push(b'\n');
    }
    for (table, bytes) in by_table {
        ctx.loc
            .put_bytes(&layout::rejects(table, &ctx.part, &ctx.run_id), bytes)
            .await?;
    }
    Ok(())
}
