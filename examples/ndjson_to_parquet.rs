//! NDJSON → typed Parquet with our own stages, for the peer comparison in `benches/e2e.py`.
//!
//! ```text
//! cargo run --release --example ndjson_to_parquet -- OUT_DIR RESOURCE=FILE.ndjson...
//! ```
//!
//! Each file holds one JSON record per line, of the named catalog resource. A reader thread cuts
//! the lines into pages of 100 records, as an API page's array, and deals them out in groups of
//! `flatten::BATCH_ROWS` rows, as a run batches them; `WORKERS` threads, each with its own
//! `flatten::Flattener` (PII kept), parse the pages into `json::Doc`s and push them, then take
//! one batch per table for the group; the main thread takes the batches back in order and encodes them with
//! `sink::FileWriter` (Parquet, the default options: Zstd, statistics, Arrow schema) to
//! `OUT_DIR/<table>.parquet`, one file per table. These are the run's own parse, flatten and
//! write stages, without the HTTP client, the raw/current split and the manifest; in a run the
//! same stages overlap with network waits instead of with each other. The last stdout line is
//! JSON: `{"seconds": …, "rows": …, "resources": {name: {"rows", "seconds"}}}`, timed in-process
//! (reading, parsing, flattening, encoding, writing; not process start).
//!
//! `ndjson_to_parquet --catalog` prints the catalog as JSON instead (name, path, envelope, kind,
//! key, window), so the benchmark scripts configure peers from the same source of truth.
//! `ndjson_to_parquet --generate RESOURCE N` prints N generated records of RESOURCE as NDJSON
//! (the generator of `benches/stages.rs`), for trying the converters without a sandbox.

#[path = "../benches/common/records.rs"]
mod records;

use std::collections::BTreeMap;
use std::io::BufRead;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::time::Instant;

use anyhow::{Context, bail};
use dentally_etl::catalog::{self, Kind, PiiPolicy, Window};
use arrow::record_batch::RecordBatch;
use dentally_etl::flatten::{BATCH_ROWS, Flattener, Reject};
use dentally_etl::json::Doc;
use dentally_etl::sink::{FileWriter, Format, Location, StoreOptions};
use serde_json::{Value, json};

/// Records flattened into one batch: one API page, as in a run.
const CHUNK: usize = 100;
/// Parse + flatten threads (the machine's two cores; the encoder shares them).
const WORKERS: usize = 2;
/// Groups of pages queued per thread.
const QUEUE: usize = 2;
/// Pages per batch, as a run writes them.
const PAGES_PER_BATCH: usize = BATCH_ROWS / CHUNK;

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--catalog") {
        println!("{}", catalog_json());
        return Ok(());
    }
    if let [flag, name, n] = args.as_slice() {
        if flag == "--generate" {
            return generate(name, n.parse()?);
        }
    }
    let Some((out, inputs)) = args.split_first() else {
        bail!("usage: ndjson_to_parquet OUT_DIR RESOURCE=FILE.ndjson...");
    };
    let location = Location::parse(out, &StoreOptions::default())?;
    let start = Instant::now();
    let (mut total, mut per) = (0u64, BTreeMap::new());
    for input in inputs {
        let (name, path) = input.split_once('=').context("expected RESOURCE=FILE")?;
        let t = Instant::now();
        let rows = convert(&location, name, path).await?;
        per.insert(
            name.to_string(),
            json!({"rows": rows, "seconds": t.elapsed().as_secs_f64()}),
        );
        total += rows;
    }
    let seconds = start.elapsed().as_secs_f64();
    println!(
        "{}",
        json!({"seconds": seconds, "rows": total, "resources": per})
    );
    Ok(())
}

/// The batches of one page, one per table, and its rejects.
type Flat = (Vec<RecordBatch>, Vec<Reject>);

/// Cuts `path` into pages of `CHUNK` lines (JSON array text), dealing them to the workers in
/// groups of `BATCH_ROWS / CHUNK` pages, in turn.
fn read_pages(path: &str, workers: &[SyncSender<Vec<String>>]) -> anyhow::Result<()> {
    let mut reader = std::io::BufReader::with_capacity(1 << 20, std::fs::File::open(path)?);
    let (mut page, mut count, mut turn) = (String::from("["), 0, 0);
    let mut group = Vec::with_capacity(PAGES_PER_BATCH);
    loop {
        let before = page.len();
        if count > 0 {
            page.push(',');
        }
        let read = reader.read_line(&mut page)?;
        if page[before..].trim_matches([',', ' ', '\t', '\r', '\n']).is_empty() {
            page.truncate(before);
            if read == 0 {
                break;
            }
            continue;
        }
        count += 1;
        if count == CHUNK {
            page.push(']');
            group.push(std::mem::replace(&mut page, "[".into()));
            count = 0;
            if group.len() == PAGES_PER_BATCH {
                let full = std::mem::replace(&mut group, Vec::with_capacity(PAGES_PER_BATCH));
                if workers[turn % WORKERS].send(full).is_err() {
                    return Ok(()); // a worker failed; it reports why
                }
                turn += 1;
            }
        }
    }
    if count > 0 {
        page.push(']');
        group.push(page);
    }
    if !group.is_empty() {
        let _ = workers[turn % WORKERS].send(group);
    }
    Ok(())
}

/// Parses and flattens the groups of pages one worker is dealt: one batch per table per group.
fn flatten_pages(
    path: &str,
    mut flattener: Flattener,
    groups: Receiver<Vec<String>>,
    out: &SyncSender<Flat>,
) -> anyhow::Result<()> {
    for group in groups {
        let mut rejects = Vec::new();
        for page in group {
            let doc = Doc::parse(page).with_context(|| format!("{path}: bad JSON"))?;
            rejects.extend(flattener.push(doc.root().items()).rejects);
        }
        let batches = flattener.take().into_iter().map(|(_, b)| b).collect();
        if out.send((batches, rejects)).is_err() {
            return Ok(()); // the writer failed; it reports why
        }
    }
    Ok(())
}

/// Converts one NDJSON file; returns the rows of the main table.
async fn convert(location: &Location, name: &str, path: &str) -> anyhow::Result<u64> {
    let resource = catalog::find(name).with_context(|| format!("no resource `{name}`"))?;
    let format = Format::default();
    let mut files = Vec::new();
    for table in Flattener::new(resource, PiiPolicy::Keep).tables() {
        let rel = format!("{}.parquet", table.name);
        files.push(FileWriter::create(
            location,
            &rel,
            table.schema.clone(),
            &format,
        )?);
    }
    let (mut to_workers, mut from_workers, mut threads) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..WORKERS {
        let (page_tx, page_rx) = sync_channel::<Vec<String>>(QUEUE);
        let (flat_tx, flat_rx) = sync_channel::<Flat>(QUEUE);
        let (path, flattener) = (path.to_string(), Flattener::new(resource, PiiPolicy::Keep));
        threads.push(std::thread::spawn(move || {
            flatten_pages(&path, flattener, page_rx, &flat_tx)
        }));
        to_workers.push(page_tx);
        from_workers.push(flat_rx);
    }
    let reader = std::thread::spawn({
        let path = path.to_string();
        move || read_pages(&path, &to_workers)
    });
    // Pages come back in the order they were dealt: the first worker to run dry ends the file.
    for turn in 0.. {
        let Ok((batches, rejects)) = from_workers[turn % WORKERS].recv() else {
            break;
        };
        if let Some(first) = rejects.first() {
            eprintln!("{name}: {} rejects, first {first:?}", rejects.len());
        }
        for (batch, file) in batches.iter().zip(files.iter_mut()) {
            file.write(batch).await?;
        }
    }
    reader.join().expect("reader thread")?;
    for thread in threads {
        thread.join().expect("worker thread")?;
    }
    let mut rows = None;
    for file in files {
        let report = file.finish().await?;
        rows.get_or_insert(report.rows);
    }
    Ok(rows.unwrap_or(0))
}

/// What the peer configurations need to know of each resource.
fn catalog_json() -> Value {
    let entries: Vec<Value> = catalog::all()
        .iter()
        .map(|r| {
            let window = match r.window {
                Window::None => Value::Null,
                Window::Required {
                    after_param,
                    before_param,
                    field,
                } => json!({"after": after_param, "before": before_param, "field": field}),
                Window::PerTreatment => json!("per_treatment"),
            };
            json!({
                "name": r.name,
                "path": r.path,
                "envelope": r.envelope,
                "single": r.kind == Kind::Single,
                "primary_key": r.primary_key,
                "window": window,
            })
        })
        .collect();
    Value::Array(entries)
}

/// Prints `n` generated records of `name`, one per line.
fn generate(name: &str, n: usize) -> anyhow::Result<()> {
    use std::io::Write;
    let resource = catalog::find(name).with_context(|| format!("no resource `{name}`"))?;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for chunk in (0..n).collect::<Vec<_>>().chunks(10_000) {
        let seed = chunk[0] as u64;
        for (i, mut record) in records::records(resource, chunk.len(), seed)
            .into_iter()
            .enumerate()
        {
            record[resource.primary_key] = json!(chunk[0] + i + 1);
            serde_json::to_writer(&mut out, &record)?;
            out.write_all(b"\n")?;
        }
    }
    Ok(())
}
