//! One resource, end to end: slices → pages → flatten → raw files → current files.
//!
//! The network (a producer task) and the writing (this task) are joined by a bounded channel, so
//! at most a few pages are in memory. A failure anywhere marks only this resource failed: its
//! finished raw files stay as a checkpoint, its current files are left as they were.

use std::collections::BTreeSet;
use std::time::Instant;

use tokio::sync::mpsc;

use super::context::RunContext;
use super::manifest::{ResourceEntry, TableEntry};
use super::raw::RawTable;
use super::{current, layout};
use crate::catalog::{Kind, Table};
use crate::config::ResourceSpec;
use crate::extract::{self, ExtractError, KeySet, Page, SliceReader, SliceReport};
use crate::flatten::{Flattener, Reject};
use crate::sink::SinkError;

/// Most rejected rows kept with their full record; beyond that only counted.
const MAX_REJECTS_KEPT: usize = 10_000;

#[derive(Debug, thiserror::Error)]
enum ResourceError {
    #[error(transparent)]
    Extract(#[from] ExtractError),
    #[error(transparent)]
    Sink(#[from] SinkError),
}

#[derive(Default)]
struct Written {
    rejects: Vec<Reject>,
    reject_count: u64,
    unknown: BTreeSet<String>,
}

/// Extracts one resource; never fails the run, reports instead.
pub async fn extract(ctx: &RunContext, spec: &ResourceSpec) -> ResourceEntry {
    let started = Instant::now();
    let resource = spec.resource;
    let bar = ctx.progress.resource(resource.name);
    let mut flattener = Flattener::new(resource, ctx.pii_policy(spec));
    let tables: Vec<Table> = flattener.tables().to_vec();
    let mut raws: Vec<RawTable> = tables
        .iter()
        .map(|t| {
            RawTable::new(
                t.name.clone(),
                t.schema.clone(),
                ctx.raw_format,
                &ctx.run_id,
                ctx.started,
            )
        })
        .collect();
    let mut entry = ResourceEntry {
        name: resource.name.to_string(),
        status: "failed",
        error: None,
        rows: 0,
        pages: 0,
        duplicates: 0,
        total_count: None,
        slices: 0,
        rejects: 0,
        unknown_fields: Vec::new(),
        tables: Vec::new(),
        seconds: 0.0,
    };
    let outcome = run_pages(ctx, spec, &mut flattener, &mut raws, &mut entry, &bar).await;
    let result = match outcome {
        Ok(written) => finish(ctx, &tables, &mut raws, written, &mut entry).await,
        Err(e) => Err(e),
    };
    if let Err(e) = result {
        for raw in &mut raws {
            raw.abort().await;
        }
        tracing::error!(resource = resource.name, error = %e, "Resource failed.");
        entry.status = "failed";
        entry.error = Some(e.to_string());
        bar.abandon_with_message(format!("failed: {e}"));
    } else {
        bar.finish_with_message(format!("{} pages, done", entry.pages));
    }
    entry.seconds = started.elapsed().as_secs_f64();
    entry
}

async fn run_pages(
    ctx: &RunContext,
    spec: &ResourceSpec,
    flattener: &mut Flattener,
    raws: &mut [RawTable],
    entry: &mut ResourceEntry,
    bar: &indicatif::ProgressBar,
) -> Result<Written, ResourceError> {
    let (tx, mut rx) = mpsc::channel::<Page>(ctx.concurrency * 2 + 2);
    let producer = produce(ctx, spec, tx);
    let consumer = async {
        let mut written = Written::default();
        while let Some(page) = rx.recv().await {
            let flat = flattener.flatten(&page.records);
            for ((_, batch), raw) in flat.tables.iter().zip(raws.iter_mut()) {
                raw.write(&ctx.loc, batch).await?;
            }
            written.reject_count += flat.rejects.len() as u64;
            let room = MAX_REJECTS_KEPT.saturating_sub(written.rejects.len());
            written.rejects.extend(flat.rejects.into_iter().take(room));
            written.unknown.extend(flat.unknown_fields);
            bar.inc(page.records.len() as u64);
        }
        Ok::<_, ResourceError>(written)
    };
    let (produced, consumed) = tokio::join!(producer, consumer);
    // A consumer failure shows up in the producer as `Cancelled`: report the cause.
    let written = consumed?;
    let (slices, reports) = produced?;
    entry.slices = slices;
    entry.pages = reports.iter().map(|r| r.pages).sum();
    entry.rows = reports.iter().map(|r| r.rows).sum();
    entry.duplicates = reports.iter().map(|r| r.duplicates).sum();
    entry.total_count = reports.iter().map(|r| r.total_count).sum();
    Ok(written)
}

async fn produce(
    ctx: &RunContext,
    spec: &ResourceSpec,
    tx: mpsc::Sender<Page>,
) -> Result<(usize, Vec<SliceReport>), ExtractError> {
    let resource = spec.resource;
    if resource.kind == Kind::Single {
        let page = extract::read_single(&ctx.client, resource).await?;
        let report = SliceReport {
            pages: 1,
            rows: 1,
            duplicates: 0,
            total_count: Some(1),
            page_size: 1,
        };
        tx.send(page).await.map_err(|_| ExtractError::Cancelled)?;
        return Ok((1, vec![report]));
    }
    let slices = extract::slices(&ctx.client, spec, ctx.today).await?;
    let reader = SliceReader {
        client: &ctx.client,
        resource,
        base_query: Vec::new(),
        concurrency: ctx.concurrency,
    };
    let mut keys = KeySet::default();
    let mut reports = Vec::with_capacity(slices.len());
    for (i, slice) in slices.iter().enumerate() {
        reports.push(reader.read(i, slice, &mut keys, &tx).await?);
    }
    Ok((slices.len(), reports))
}

async fn finish(
    ctx: &RunContext,
    tables: &[Table],
    raws: &mut [RawTable],
    written: Written,
    entry: &mut ResourceEntry,
) -> Result<(), ResourceError> {
    for raw in raws.iter_mut() {
        raw.close().await?;
    }
    if !written.rejects.is_empty() {
        write_rejects(ctx, &written.rejects).await?;
    }
    for (table, raw) in tables.iter().zip(raws.iter()) {
        let files = current::build(
            &ctx.loc,
            &table.name,
            &table.schema,
            &raw.files,
            &ctx.out_format,
            &ctx.run_id,
        )
        .await?;
        entry.tables.push(TableEntry {
            name: table.name.clone(),
            rows: files.iter().map(|f| f.rows).sum(),
            schema_hash: super::schema_hash(&table.schema),
            files,
            raw_files: raw.files.clone(),
        });
    }
    entry.rejects = written.reject_count;
    entry.unknown_fields = written.unknown.into_iter().collect();
    for field in &entry.unknown_fields {
        ctx.warn_unknown_field(&entry.name, field);
    }
    entry.status = if entry.rejects > 0 {
        "partial"
    } else {
        "succeeded"
    };
    entry.error = (entry.rejects > 0).then(|| {
        format!(
            "{} row(s) broke the type contract; see `_rejects/` (they are not in the tables)",
            entry.rejects
        )
    });
    Ok(())
}

async fn write_rejects(ctx: &RunContext, rejects: &[Reject]) -> Result<(), SinkError> {
    let mut by_table: std::collections::BTreeMap<&str, Vec<u8>> = Default::default();
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
            .put_bytes(&layout::rejects(table, &ctx.run_id), bytes)
            .await?;
    }
    Ok(())
}
