//! NDJSON → typed Parquet with our own stages, for the peer comparison in `benches/e2e.py`.
//!
//! ```text
//! cargo run --release --example ndjson_to_parquet -- OUT_DIR RESOURCE=FILE.ndjson...
//! ```
//!
//! Each file holds one JSON record per line, of the named catalog resource. Lines are taken a
//! page (100 records) at a time, as an API page's array: one thread parses each page into a
//! `json::Doc` (in a run: the page fetch) and flattens it with `flatten::Flattener` (PII kept);
//! the other encodes the batches with `sink::FileWriter` (Parquet, the default options: Zstd,
//! statistics, Arrow schema) to `OUT_DIR/<table>.parquet`, one file per table. This is the run's
//! own parse + flatten + write path, without the HTTP client, the raw/current split and the
//! manifest, split over the two threads where a run overlaps them with network waits. The last stdout line is
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
use std::time::Instant;

use anyhow::{Context, bail};
use dentally_etl::catalog::{self, Kind, PiiPolicy, Window};
use arrow::record_batch::RecordBatch;
use dentally_etl::flatten::{Flattener, Reject};
use dentally_etl::json::Doc;
use dentally_etl::sink::{FileWriter, Format, Location, StoreOptions};
use serde_json::{Value, json};

/// Records flattened into one batch: one API page, as in a run.
const CHUNK: usize = 100;

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

/// Reads `path` a page of `CHUNK` lines at a time, parses and flattens each (the parser thread).
fn parse(
    path: &str,
    mut flattener: Flattener,
    tx: &std::sync::mpsc::SyncSender<Flat>,
) -> anyhow::Result<()> {
    let reader = std::io::BufReader::with_capacity(1 << 20, std::fs::File::open(path)?);
    let mut page = String::with_capacity(CHUNK * 2048);
    let mut count = 0;
    let mut send = |page: &mut String| -> anyhow::Result<bool> {
        page.push(']');
        let doc = Doc::parse(std::mem::take(page)).with_context(|| format!("{path}: bad JSON"))?;
        let flat = flattener.flatten(doc.root().items());
        let batches = flat.tables.into_iter().map(|(_, b)| b).collect();
        // A closed channel means the writer failed; it reports why.
        Ok(tx.send((batches, flat.rejects)).is_ok())
    };
    for line in reader.lines() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        page.push(if count == 0 { '[' } else { ',' });
        page.push_str(&line);
        count += 1;
        if count == CHUNK {
            count = 0;
            if !send(&mut page)? {
                return Ok(());
            }
        }
    }
    if count > 0 {
        send(&mut page)?;
    }
    Ok(())
}

/// Converts one NDJSON file; returns the rows of the main table.
async fn convert(location: &Location, name: &str, path: &str) -> anyhow::Result<u64> {
    let resource = catalog::find(name).with_context(|| format!("no resource `{name}`"))?;
    let flattener = Flattener::new(resource, PiiPolicy::Keep);
    let format = Format::default();
    let mut files = Vec::new();
    for table in flattener.tables() {
        let rel = format!("{}.parquet", table.name);
        files.push(FileWriter::create(
            location,
            &rel,
            table.schema.clone(),
            &format,
        )?);
    }
    let (tx, rx) = std::sync::mpsc::sync_channel::<Flat>(8);
    let parser = std::thread::spawn({
        let path = path.to_string();
        move || parse(&path, flattener, &tx)
    });
    for (batches, rejects) in rx {
        if let Some(first) = rejects.first() {
            eprintln!("{name}: {} rejects, first {first:?}", rejects.len());
        }
        for (batch, file) in batches.iter().zip(files.iter_mut()) {
            file.write(batch).await?;
        }
    }
    parser.join().expect("parser thread")?;
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
