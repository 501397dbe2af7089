//! One resource, end to end: slices → pages → flatten → raw files → current files.
//!
//! The network (a producer future) and the writing (this task) are joined by a bounded channel,
//! so at most a few pages are in memory. Every `checkpoint_pages` pages, and at most once per
//! `checkpoint_secs` (each checkpoint closes the raw files: fewer, larger files), the raw files are
//! published and the position is saved in the state, so a killed run resumes there. A failure
//! marks only this resource failed: its checkpoint stays for the next run, its current files are
//! left as they were.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use arrow::array::AsArray;
use arrow::datatypes::{DataType, Date32Type, TimestampMicrosecondType};
use arrow::record_batch::RecordBatch;
use tokio::sync::mpsc;

use super::context::RunContext;
use super::finish::finish;
use super::resume::{plan_fingerprint, reload_keys};
use super::strategy::{Choice, Strategy};
use crate::catalog::{Kind, Table, Window};
use crate::config::ResourceSpec;
use crate::extract::{
    self, ExtractError, KeySet, Page, Resume, Slice, SliceReader, SliceReport, SliceTotals,
};
use crate::flatten::{BATCH_ROWS, Flattener, Reject};
use crate::manifest::{FileEntry, ResourceEntry, Status};
use crate::sink::SinkError;
use crate::state::{Checkpoint, ResourceState, StateError};
use crate::table::raw::RawTable;

/// Most rejected rows kept with their full record; beyond that only counted.
const MAX_REJECTS_KEPT: usize = 10_000;

/// Why a resource failed.
#[derive(Debug, thiserror::Error)]
pub(super) enum ResourceError {
    #[error(transparent)]
    Extract(#[from] ExtractError),
    #[error(transparent)]
    Sink(#[from] SinkError),
    #[error(transparent)]
    State(#[from] StateError),
}

impl ResourceError {
    /// A 404 on the resource's list: the practice does not use the feature.
    fn is_unavailable(&self) -> bool {
        matches!(
            self,
            Self::Extract(ExtractError::Api(crate::api::ApiError::NotFound { .. }))
        )
    }
}

/// What the pages of this resource produced so far (this run and a resumed checkpoint).
#[derive(Default)]
pub(super) struct Progress {
    pub(super) rejects: Vec<Reject>,
    pub(super) reject_count: u64,
    pub(super) unknown: BTreeSet<String>,
    pub(super) mismatches: crate::flatten::ColumnCounts,
    pub(super) done: SliceTotals,
    last: Option<(usize, u32, SliceReport)>,
    pages_since_checkpoint: u32,
    /// When the last checkpoint was saved (the resource's first page, before any).
    last_checkpoint: Option<Instant>,
    pub(super) max_cursor: Option<i64>,
    /// Rows read in this session and those of them that show a required parameter took effect.
    pub(super) witness: WitnessTally,
}

/// Rows read, and rows only a required parameter brings ([`crate::catalog::Witness`]).
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct WitnessTally {
    pub(super) rows: u64,
    pub(super) shown: u64,
}

/// Where this run starts reading a resource, and how.
pub(super) struct Start {
    slices: Vec<Slice>,
    plan: String,
    slice: usize,
    resume: Option<Resume>,
    keys: KeySet,
    pub(super) strategy: Strategy,
    pub(super) state: ResourceState,
}

/// Extracts one resource; never fails the run, reports instead.
pub async fn extract(ctx: &RunContext, spec: &ResourceSpec) -> ResourceEntry {
    let started = Instant::now();
    let resource = spec.resource;
    let bar = ctx.progress.resource(resource.name);
    let mut flattener = Flattener::new(resource, ctx.pii_policy(spec));
    let tables: Vec<Table> = flattener.tables();
    let mut raws: Vec<RawTable> = tables
        .iter()
        .map(|t| {
            RawTable::new(
                t.name.clone(),
                t.schema.clone(),
                ctx.raw_format,
                &ctx.run_id,
                &ctx.part,
                ctx.started,
            )
        })
        .collect();
    let mut entry = ResourceEntry::new(resource.name);
    let mut progress = Progress::default();
    let result = async {
        let start = prepare(ctx, spec, &tables, &mut raws, &mut progress).await?;
        let (strategy, state) = (start.strategy.clone(), start.state.clone());
        entry.mode = strategy.label();
        let (slices, plan) = (start.slices.len(), start.plan.clone());
        let keys = run_pages(
            ctx,
            spec,
            start,
            &mut flattener,
            &mut raws,
            &mut progress,
            &bar,
        )
        .await?;
        let whole = matches!(strategy, Strategy::Full | Strategy::Everything);
        let ids = || {
            keys.ascending_ints()
                .filter(|_| whole)
                .map(|ids| ids.iter().map(i64::to_string).collect())
        };
        if let Some(handoff) = ctx.key_handoffs.get(resource.name) {
            handoff.publish(ids());
        }
        // Extraction complete: a crash from here on rebuilds the current files without
        // reading a single page again.
        if resource.kind == Kind::List {
            progress.last = None;
            let done = (slices, 1, SliceReport::default());
            save_checkpoint(ctx, spec, &plan, &mut raws, &mut progress, done).await?;
            crate::hooks::crash_point("after-raw");
        } else {
            for raw in &mut raws {
                raw.close().await?;
            }
        }
        finish(
            ctx, spec, &tables, &raws, progress, &strategy, &state, &mut entry,
        )
        .await
    }
    .await;
    // Unless published above: the child (`fees`, `patient_stats`) lists the keys itself rather
    // than wait forever.
    if let Some(handoff) = ctx.key_handoffs.get(resource.name) {
        handoff.publish(None);
    }
    if let Err(e) = result {
        for raw in &mut raws {
            raw.abort().await;
        }
        if e.is_unavailable() {
            // Dentally answers 404 for the lists of features a practice does not use (NHS
            // claims, rota, rooms): nothing to extract, not a failure.
            tracing::warn!(
                resource = resource.name,
                "The practice does not use this feature (404); skipped."
            );
            entry.status = Status::Unavailable;
        } else {
            let chain = crate::manifest::error_chain(&e);
            tracing::error!(
                resource = resource.name,
                error = %e,
                error_chain = %chain.join(" | caused by: "),
                "Resource failed."
            );
            entry.status = Status::Failed;
        }
        let mut chain = crate::manifest::error_chain(&e);
        entry.error = Some(if chain.is_empty() {
            e.to_string()
        } else {
            chain.remove(0)
        });
        entry.error_chain = chain;
    }
    entry.seconds = started.elapsed().as_secs_f64();
    entry.requests = ctx.client.stats().requests_for(resource.name);
    bar.finish(&entry);
    entry
}

/// The tables committed before that have another schema now (another `pii` policy, or an
/// upgrade that added or retyped a column), or whose schema was not recorded (a state of an
/// older version): their previous current files cannot be merged (they may hold plaintext where
/// the column is now hashed or dropped).
pub(super) fn changed_tables<'t>(
    ctx: &RunContext,
    tables: &'t [Table],
    state: &ResourceState,
) -> Vec<&'t str> {
    if state.tables.is_empty() {
        return Vec::new();
    }
    tables
        .iter()
        .filter(|t| {
            let now = crate::table::schema_hash(&crate::table::current::current_schema(
                &t.schema,
                ctx.practice_id.is_some(),
            ));
            state.schemas.get(&t.name) != Some(&now)
        })
        .map(|t| t.name.as_str())
        .collect()
}

/// Whether the resource must be read in full to rebuild its tables ([`changed_tables`]).
fn schema_changed(ctx: &RunContext, tables: &[Table], state: &ResourceState) -> bool {
    let changed = changed_tables(ctx, tables, state);
    if changed.is_empty() {
        return false;
    }
    tracing::warn!(
        tables = ?changed,
        "A table's columns changed since the last run (the `pii` policy or an upgrade): reading it in full to rebuild it, without merging the old rows."
    );
    true
}

/// Plans the slices and the strategy and, when a checkpoint of the same plan exists, takes it up.
async fn prepare(
    ctx: &RunContext,
    spec: &ResourceSpec,
    tables: &[Table],
    raws: &mut [RawTable],
    progress: &mut Progress,
) -> Result<Start, ResourceError> {
    let resource = spec.resource;
    let state = ctx.state.resource(resource.name).await;
    let rebuild = schema_changed(ctx, tables, &state);
    let choice = Choice {
        full_refresh: ctx.full_refresh || rebuild,
        force_reconcile: ctx.force_reconcile,
        today: ctx.today,
        now: ctx.started,
    };
    let strategy = Strategy::choose(spec, &state, choice);
    let slices = match resource.kind {
        Kind::Single => vec![Slice::whole()],
        Kind::List => {
            let known = match resource.window {
                Window::PerParent { parent, .. } => match ctx.key_handoffs.get(parent) {
                    Some(handoff) => handoff.wait().await,
                    None => None,
                },
                _ => None,
            };
            let known = known.as_deref().map(Vec::as_slice);
            let cut = strategy.window_cut(&state);
            extract::slices(&ctx.client, spec, ctx.today, cut, known).await?
        }
    };
    let query_slice = Slice {
        label: String::new(),
        query: strategy.query(),
    };
    let plan = format!(
        "{}#{}",
        plan_fingerprint(&slices),
        plan_fingerprint(&[query_slice])
    );
    let checkpoint = if ctx.full_refresh || rebuild {
        None
    } else {
        state.checkpoint.clone()
    };
    let Some(cp) = checkpoint.filter(|cp| cp.plan == plan) else {
        return Ok(Start {
            slices,
            plan,
            slice: 0,
            resume: None,
            keys: KeySet::default(),
            strategy,
            state,
        });
    };
    tracing::info!(resource = resource.name, run = %cp.run_id, slice = cp.slice, page = cp.next_page, "Resuming from the checkpoint of an unfinished run.");
    for raw in raws.iter_mut() {
        raw.files = cp.raw_files.get(&raw.name).cloned().unwrap_or_default();
    }
    let keys = reload_keys(&ctx.loc, &raws[0].files, resource.primary_key).await?;
    progress.reject_count = cp.rejects;
    progress.unknown = cp.unknown_fields.iter().cloned().collect();
    progress.mismatches = cp.mismatches.clone();
    progress.done = cp.done.clone();
    progress.max_cursor = cp.max_cursor;
    (progress.witness.rows, progress.witness.shown) = cp.witness;
    let resume = (cp.slice < slices.len()).then(|| Resume {
        next_page: cp.next_page,
        report: cp.partial.clone(),
        last_full: true,
    });
    Ok(Start {
        slices,
        plan,
        slice: cp.slice,
        resume,
        keys,
        strategy,
        state,
    })
}

#[allow(clippy::too_many_arguments)]
async fn run_pages(
    ctx: &RunContext,
    spec: &ResourceSpec,
    start: Start,
    flattener: &mut Flattener,
    raws: &mut [RawTable],
    progress: &mut Progress,
    bar: &super::progress::ResourceProgress,
) -> Result<KeySet, ResourceError> {
    // As deep as the fetches in flight: pages fetched but not yet written are what a crash
    // loses, so keep them few.
    let (tx, rx) = mpsc::channel::<Page>(ctx.concurrency.max(1));
    let plan = start.plan.clone();
    bar.slices(start.slice, start.slices.len());
    let producer = produce(ctx, spec, start, tx);
    let consumer = async {
        // Owned here, so a failing consumer drops the receiver and the producer's next send
        // fails (`Cancelled`) instead of waiting forever on a full queue.
        let mut rx = rx;
        while let Some(page) = rx.recv().await {
            if let Some(w) = spec.resource.witness {
                for record in page.records() {
                    progress.witness.rows += 1;
                    let shows = record
                        .get(w.field)
                        .and_then(|v| v.as_str())
                        .is_some_and(|v| w.values.contains(&v.as_ref()));
                    progress.witness.shown += u64::from(shows);
                }
            }
            let report = flattener.push(page.records());
            progress.reject_count += report.rejects.len() as u64;
            let room = MAX_REJECTS_KEPT.saturating_sub(progress.rejects.len());
            progress
                .rejects
                .extend(report.rejects.into_iter().take(room));
            progress.unknown.extend(report.unknown_fields);
            crate::flatten::add_by_column(&mut progress.mismatches, &report.mismatches);
            bar.page(&page);
            note_page(progress, &page);
            let since = *progress.last_checkpoint.get_or_insert_with(Instant::now);
            let checkpoint_due = progress.pages_since_checkpoint >= ctx.checkpoint_pages
                && since.elapsed() >= ctx.checkpoint_every
                && spec.resource.kind == Kind::List;
            // Rows are written in batches of about BATCH_ROWS, and always before a checkpoint:
            // a checkpoint must never name a page whose rows are not in a raw file.
            if checkpoint_due || flattener.buffered_rows() >= BATCH_ROWS {
                write_buffered(ctx, spec, flattener, raws, progress).await?;
            }
            if checkpoint_due {
                checkpoint(ctx, spec, &plan, raws, progress).await?;
            }
        }
        write_buffered(ctx, spec, flattener, raws, progress).await?;
        Ok::<_, ResourceError>(())
    };
    let (produced, consumed) = tokio::join!(producer, consumer);
    // A consumer failure shows up in the producer as `Cancelled`: report the cause.
    consumed?;
    let keys = produced?;
    if let Some((_, _, last)) = progress.last.take() {
        progress.done.add(&last);
    }
    Ok(keys)
}

/// Writes the rows the flattener holds to the raw files, and moves the cursor past them.
async fn write_buffered(
    ctx: &RunContext,
    spec: &ResourceSpec,
    flattener: &mut Flattener,
    raws: &mut [RawTable],
    progress: &mut Progress,
) -> Result<(), ResourceError> {
    if flattener.buffered_rows() == 0 {
        return Ok(());
    }
    let tables = flattener.take();
    for ((_, batch), raw) in tables.iter().zip(raws.iter_mut()) {
        raw.write(&ctx.loc, batch).await?;
    }
    if let (Some(cursor), Some((_, main))) = (spec.resource.cursor, tables.first()) {
        progress.max_cursor = progress.max_cursor.max(max_micros(main, cursor));
    }
    Ok(())
}

/// Tracks slice boundaries: when a page of a new slice arrives, the previous slice is done.
fn note_page(progress: &mut Progress, page: &Page) {
    if let Some((slice, _, report)) = progress.last.take()
        && slice != page.slice
    {
        progress.done.add(&report);
    }
    progress.last = Some((page.slice, page.number, page.progress.clone()));
    progress.pages_since_checkpoint += 1;
}

/// Publishes the open raw files, then records the position after the last page in the state.
async fn checkpoint(
    ctx: &RunContext,
    spec: &ResourceSpec,
    plan: &str,
    raws: &mut [RawTable],
    progress: &mut Progress,
) -> Result<(), ResourceError> {
    let Some((slice, number, partial)) = progress.last.clone() else {
        return Ok(());
    };
    save_checkpoint(
        ctx,
        spec,
        plan,
        raws,
        progress,
        (slice, number + 1, partial),
    )
    .await
}

/// Publishes the open raw files, then records `(slice, next page, what the slice found)`.
async fn save_checkpoint(
    ctx: &RunContext,
    spec: &ResourceSpec,
    plan: &str,
    raws: &mut [RawTable],
    progress: &mut Progress,
    (slice, next_page, partial): (usize, u32, SliceReport),
) -> Result<(), ResourceError> {
    for raw in raws.iter_mut() {
        raw.close().await?;
    }
    let cp = Checkpoint {
        run_id: ctx.run_id.clone(),
        plan: plan.to_string(),
        done: progress.done.clone(),
        slice,
        next_page,
        partial,
        raw_files: raw_files(raws),
        rejects: progress.reject_count,
        unknown_fields: progress.unknown.iter().cloned().collect(),
        mismatches: progress.mismatches.clone(),
        max_cursor: progress.max_cursor,
        witness: (progress.witness.rows, progress.witness.shown),
    };
    ctx.state
        .set_checkpoint(spec.resource.name, Some(cp))
        .await?;
    progress.pages_since_checkpoint = 0;
    progress.last_checkpoint = Some(Instant::now());
    Ok(())
}

/// The published raw files of each table.
pub(super) fn raw_files(raws: &[RawTable]) -> BTreeMap<String, Vec<FileEntry>> {
    raws.iter()
        .map(|r| (r.name.clone(), r.files.clone()))
        .collect()
}

async fn produce(
    ctx: &RunContext,
    spec: &ResourceSpec,
    start: Start,
    tx: mpsc::Sender<Page>,
) -> Result<KeySet, ExtractError> {
    let resource = spec.resource;
    if resource.kind == Kind::Single {
        let page = extract::read_single(&ctx.client, resource).await?;
        tx.send(page).await.map_err(|_| ExtractError::Cancelled)?;
        return Ok(start.keys);
    }
    let mut reader = SliceReader::new(
        &ctx.client,
        resource,
        start.strategy.query(),
        ctx.concurrency,
        ctx.wall.clone(),
    );
    if let Some(handoff) = resource.by_key.and_then(|b| ctx.key_handoffs.get(b.parent)) {
        // Only awaited if bulk paging skipped rows: recovery fetches them one key at a time.
        reader.set_known_keys(Box::pin(handoff.wait()));
    }
    let mut keys = start.keys;
    reader
        .read_all(&start.slices, start.slice, start.resume, &mut keys, &tx)
        .await?;
    Ok(keys)
}

/// Largest value of a timestamp or date column (µs; a date at its UTC midnight), if any.
fn max_micros(batch: &RecordBatch, column: &str) -> Option<i64> {
    let col = batch.column_by_name(column)?;
    match col.data_type() {
        DataType::Timestamp(_, _) => {
            arrow::compute::max(col.as_primitive::<TimestampMicrosecondType>())
        }
        DataType::Date32 => arrow::compute::max(col.as_primitive::<Date32Type>())
            .map(|days| i64::from(days) * 86_400_000_000),
        _ => None,
    }
}
