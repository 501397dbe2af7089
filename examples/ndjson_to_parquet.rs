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
use arrow::record_batch::RecordBatch;
use dentally_etl::catalog::{self, Kind, PiiPolicy, Window};
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
    if let [flag, name, n] = args.as_slice()
        && flag == "--generate"
    {
        return generate(name, n.parse()?);
    }
    let Some((out, inputs)) = args.split_first() else {
        bail!("usage: ndjson_to_parquet OUT_DIR RESOURCE=FILE.ndjson...");
    };
    let location = Location::parse(out, &StoreOptions::default())?;
    let mut jobs = Vec::new();
    for input in inputs {
        let (name, path) = input.split_once('=').context("expected RESOURCE=FILE")?;
        let resource = catalog::find(name).with_context(|| format!("no resource `{name}`"))?;
        jobs.push((resource, path.to_string()));
    }
    let start = Instant::now();
    let per = convert_all(&location, &jobs).await?;
    let seconds = start.elapsed().as_secs_f64();
    let total: u64 = per.values().map(|(rows, _)| rows).sum();
    let per: BTreeMap<_, _> = per
        .into_iter()
        .map(|(name, (rows, secs))| (name, json!({"rows": rows, "seconds": secs})))
        .collect();
    println!(
        "{}",
        json!({"seconds": seconds, "rows": total, "resources": per})
    );
    Ok(())
}

/// A group of pages of one input file (by index), as JSON array texts.
type Group = (usize, Vec<String>);
/// The batches of one group, one per table, and its rejects.
type Flat = (usize, Vec<RecordBatch>, Vec<Reject>);

/// Cuts each file into pages of `CHUNK` lines (JSON array text) and deals them to the workers
/// in groups of `BATCH_ROWS / CHUNK` pages, in turn, one file after the other.
fn read_pages(paths: &[String], workers: &[SyncSender<Group>]) -> anyhow::Result<()> {
    let mut turn = 0;
    let mut deal = |group: Group| {
        let sent = workers[turn % WORKERS].send(group).is_ok();
        turn += 1;
        sent
    };
    for (file, path) in paths.iter().enumerate() {
        let mut reader = std::io::BufReader::with_capacity(1 << 20, std::fs::File::open(path)?);
        let (mut page, mut count) = (String::from("["), 0);
        let mut group = Vec::with_capacity(PAGES_PER_BATCH);
        loop {
            let before = page.len();
            if count > 0 {
                page.push(',');
            }
            let read = reader.read_line(&mut page)?;
            if page[before..]
                .trim_matches([',', ' ', '\t', '\r', '\n'])
                .is_empty()
            {
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
                    if !deal((file, full)) {
                        return Ok(()); // a worker failed; it reports why
                    }
                }
            }
        }
        if count > 0 {
            page.push(']');
            group.push(page);
        }
        if !group.is_empty() && !deal((file, group)) {
            return Ok(());
        }
    }
    Ok(())
}

/// Parses and flattens the groups one worker is dealt: one batch per table per group. Each
/// worker has its own flattener per file.
fn flatten_pages(
    resources: &[&'static catalog::Resource],
    groups: Receiver<Group>,
    out: &SyncSender<Flat>,
) -> anyhow::Result<()> {
    let mut flatteners: Vec<Option<Flattener>> = resources.iter().map(|_| None).collect();
    for (file, group) in groups {
        let flattener = flatteners[file]
            .get_or_insert_with(|| Flattener::new(resources[file], PiiPolicy::Keep));
        let mut rejects = Vec::new();
        for page in group {
            let doc =
                Doc::parse(page).with_context(|| format!("{}: bad JSON", resources[file].name))?;
            rejects.extend(flattener.push(doc.root().items()).rejects);
        }
        let batches = flattener.take().into_iter().map(|(_, b)| b).collect();
        if out.send((file, batches, rejects)).is_err() {
            return Ok(()); // the writer failed; it reports why
        }
    }
    Ok(())
}

/// The files of one resource being written.
struct Output {
    files: Vec<FileWriter>,
}

impl Output {
    fn create(location: &Location, resource: &'static catalog::Resource) -> anyhow::Result<Self> {
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
        Ok(Self { files })
    }

    /// Closes every file; returns the rows of the main table.
    async fn finish(self) -> anyhow::Result<u64> {
        let mut rows = None;
        for file in self.files {
            let report = file.finish().await?;
            rows.get_or_insert(report.rows);
        }
        Ok(rows.unwrap_or(0))
    }
}

/// Converts every file in one pipeline (so no core idles between files); returns each
/// resource's rows and seconds. A resource's seconds run from the end of the previous one's
/// last file to the end of its own: the writer's timeline, cut where one output ends.
async fn convert_all(
    location: &Location,
    jobs: &[(&'static catalog::Resource, String)],
) -> anyhow::Result<BTreeMap<String, (u64, f64)>> {
    let resources: Vec<_> = jobs.iter().map(|(r, _)| *r).collect();
    let paths: Vec<_> = jobs.iter().map(|(_, p)| p.clone()).collect();
    let (mut to_workers, mut from_workers, mut threads) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..WORKERS {
        let (page_tx, page_rx) = sync_channel::<Group>(QUEUE);
        let (flat_tx, flat_rx) = sync_channel::<Flat>(QUEUE);
        let resources = resources.clone();
        threads.push(std::thread::spawn(move || {
            flatten_pages(&resources, page_rx, &flat_tx)
        }));
        to_workers.push(page_tx);
        from_workers.push(flat_rx);
    }
    let reader = std::thread::spawn(move || read_pages(&paths, &to_workers));
    let mut per = BTreeMap::new();
    let mut mark = Instant::now();
    let (mut current, mut output) = (0, Output::create(location, resources[0])?);
    let mut finish = |per: &mut BTreeMap<String, (u64, f64)>, rows: u64, file: usize| {
        per.insert(
            resources[file].name.to_string(),
            (rows, mark.elapsed().as_secs_f64()),
        );
        mark = Instant::now();
    };
    // Groups come back in the order they were dealt: the first worker to run dry ends the input.
    for turn in 0.. {
        let Ok((file, batches, rejects)) = from_workers[turn % WORKERS].recv() else {
            break;
        };
        while current < file {
            let done = std::mem::replace(
                &mut output,
                Output::create(location, resources[current + 1])?,
            );
            finish(&mut per, done.finish().await?, current);
            current += 1;
        }
        if let Some(first) = rejects.first() {
            eprintln!(
                "{}: {} rejects, first {first:?}",
                resources[file].name,
                rejects.len()
            );
        }
        for (batch, file) in batches.iter().zip(output.files.iter_mut()) {
            file.write(batch).await?;
        }
    }
    reader.join().expect("reader thread")?;
    for thread in threads {
        thread.join().expect("worker thread")?;
    }
    loop {
        let rows = output.finish().await?;
        finish(&mut per, rows, current);
        current += 1;
        if current == resources.len() {
            break;
        }
        output = Output::create(location, resources[current])?;
    }
    Ok(per)
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
                Window::PerParent { parent, param } => json!({"parent": parent, "param": param}),
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
