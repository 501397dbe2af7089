//! The end of a resource: rejects written, current files built (or merged), counts gathered.

use std::collections::BTreeMap;

use chrono::{DateTime, SecondsFormat};

use super::context::RunContext;
use super::missing::{Missing, rows_known_missing};
use super::resource::{Progress, ResourceError, changed_tables, raw_files};
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
    let missing = rows_known_missing(spec, strategy, &progress, state.window.as_ref(), ctx.today);
    let known_missing = missing.is_some_and(Missing::known);
    let committed_cursor = state
        .cursor
        .as_deref()
        .and_then(|c| DateTime::parse_from_rfc3339(c).ok())
        .map(|c| c.timestamp_micros());
    // A read missing rows does not move the cursor past them: the next delta asks again.
    let cursor = if known_missing {
        committed_cursor
    } else {
        committed_cursor.max(progress.max_cursor)
    };
    // A read known to have missed rows keeps the rows read before (when their schema still
    // holds), even where a full read would replace them; CSV tables cannot be merged.
    let keep_previous = known_missing
        && !state.tables.is_empty()
        && matches!(ctx.out_format, crate::sink::Format::Parquet(_))
        && changed_tables(ctx, tables, state).is_empty();
    let coverage = match strategy.coverage() {
        None if keep_previous => Some(Coverage::Nothing),
        // A read known to have missed rows proves nothing about the rows it did not return:
        // marking them deleted would let `purge` erase rows that still exist.
        Some(_) if missing.is_some() => Some(Coverage::Nothing),
        Some(Coverage::Nothing) if spec.reconcile == Reconcile::Counts => {
            count_deleted(ctx, spec, raws, state, cursor, entry).await
        }
        other => other,
    };
    let merged = coverage.is_some();
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
    // A read missing rows proves no deletion and does not measure the window's density.
    entry.reconciled = missing.is_none() && (strategy.reconciles() || entry.reconcile.is_some());
    entry.window = window_read(ctx, spec, strategy, &progress).filter(|_| missing.is_none());
    let done = &progress.done;
    entry.slices = done.slices;
    entry.pages = u32::try_from(done.pages).unwrap_or(u32::MAX);
    entry.rows = done.rows;
    entry.duplicates = done.duplicates;
    entry.total_count = done.total_count;
    entry.paging = done.paging.clone();
    if let Some(param) = missing.filter(|m| m.known()).map(Missing::param)
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
    let rejected = (entry.rejects > 0).then(|| {
        format!(
            "{} row(s) could not be keyed (primary key missing or invalid); see `_rejects/` (they are not in the tables)",
            entry.rejects
        )
    });
    let errors: Vec<String> = rejected
        .into_iter()
        .chain(missing.and_then(|m| m.error(spec, merged)))
        .collect();
    entry.status = if errors.is_empty() {
        Status::Succeeded
    } else {
        Status::Partial
    };
    entry.error = (!errors.is_empty()).then(|| errors.join("; "));
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
