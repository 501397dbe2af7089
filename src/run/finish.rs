//! The end of a resource: rejects written, current files built (or merged), counts gathered.

use std::collections::BTreeMap;

use chrono::{DateTime, SecondsFormat};

use super::context::RunContext;
use super::current;
use super::layout;
use super::manifest::{ResourceEntry, TableEntry};
use super::merge::{MergeInput, merge};
use super::raw::RawTable;
use super::resource::{Progress, ResourceError, raw_files};
use super::strategy::Strategy;
use crate::catalog::Table;
use crate::config::ResourceSpec;
use crate::flatten::Reject;
use crate::sink::SinkError;
use crate::state::ResourceState;

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
    let current = build_current(ctx, spec, tables, raws, strategy, state).await?;
    for (table, raw) in tables.iter().zip(raws) {
        let files = current.get(&table.name).cloned().unwrap_or_default();
        entry.tables.push(TableEntry {
            name: table.name.clone(),
            rows: files.iter().map(|f| f.rows).sum(),
            schema_hash: super::schema_hash(&current::current_schema(
                &table.schema,
                ctx.practice_id.is_some(),
            )),
            files,
            raw_files: raw.files.clone(),
        });
    }
    let previous = state
        .cursor
        .as_deref()
        .and_then(|c| DateTime::parse_from_rfc3339(c).ok())
        .map(|c| c.timestamp_micros());
    entry.cursor = previous
        .max(progress.max_cursor)
        .and_then(DateTime::from_timestamp_micros)
        .map(|t| t.to_rfc3339_opts(SecondsFormat::Micros, true));
    entry.reconciled = strategy.reconciles();
    let done = &progress.done;
    entry.slices = done.slices;
    entry.pages = u32::try_from(done.pages).unwrap_or(u32::MAX);
    entry.rows = done.rows;
    entry.duplicates = done.duplicates;
    entry.total_count = done.total_count;
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
        "partial"
    } else {
        "succeeded"
    };
    entry.error = (entry.rejects > 0).then(|| {
        format!(
            "{} row(s) could not be keyed (primary key missing or invalid); see `_rejects/` (they are not in the tables)",
            entry.rejects
        )
    });
    Ok(())
}

async fn build_current(
    ctx: &RunContext,
    spec: &ResourceSpec,
    tables: &[Table],
    raws: &[RawTable],
    strategy: &Strategy,
    state: &ResourceState,
) -> Result<BTreeMap<String, Vec<super::manifest::FileEntry>>, SinkError> {
    let Some(coverage) = strategy.coverage() else {
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
        order: spec.resource.cursor,
        coverage,
    };
    merge(&input).await
}

async fn write_rejects(ctx: &RunContext, rejects: &[Reject]) -> Result<(), SinkError> {
    let mut by_table: BTreeMap<&str, Vec<u8>> = BTreeMap::new();
    for r in rejects {
        let line = serde_json::json!({
            "run_id": ctx.run_id,
            "table": r.table,
            "key": r.key,
            "field": r.field,
            "value": r.value,
            "reason": r.reason,
            "record": r.record,
        });
        let buf = by_table.entry(r.table.as_str()).or_default();
        serde_json::to_writer(&mut *buf, &line).expect("JSON to memory");
        buf.push(b'\n');
    }
    for (table, bytes) in by_table {
        ctx.loc
            .put_bytes(&layout::rejects(table, &ctx.part, &ctx.run_id), bytes)
            .await?;
    }
    Ok(())
}
