//! Criterion benchmarks of the hot stages, on representative records of three resources:
//! `patients` (wide, PII-heavy), `payments` (a child table of explanations) and
//! `treatment_plan_items` (teeth/surfaces lists, JSON text).
//!
//! * `parse`: one API page (100 records) of JSON text → a `json::Doc` (what each fetch does),
//!   and, for comparison, → `serde_json::Value` (what it did before the tape);
//! * `flatten`: parsed pages → `RecordBatch`es with the real catalog schemas;
//! * `parquet`: 100-row batches (as the run hands them over) → Parquet bytes, through
//!   `sink::FileWriter` on a `memory://` location, and through a bare `ArrowWriter` into a `Vec`
//!   (the pure encode cost); every table of the resource is written (payments: two);
//! * `csv`: the same batches → CSV through `sink::FileWriter` on `memory://`.
//!
//! Throughput is in records (elements) of the main table. Run with `cargo bench --bench stages`;
//! `-- --quick` for a fast pass. See BENCHMARKS.md.

#[path = "common/records.rs"]
mod records;

use std::hint::black_box;

use arrow::record_batch::RecordBatch;
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use dentally_etl::catalog::{self, PiiPolicy};
use dentally_etl::flatten::Flattener;
use dentally_etl::json::Doc;
use dentally_etl::sink::{FileWriter, Format, Location, StoreOptions};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::{EnabledStatistics, WriterProperties, WriterVersion};
use serde_json::Value;

const RESOURCES: [&str; 3] = ["patients", "payments", "treatment_plan_items"];
/// Records per API page.
const PAGE: usize = 100;
/// Pages per measured iteration (10,000 records).
const PAGES: usize = 100;

/// `PAGES` pages of `PAGE` records each, parsed (each a JSON array of records).
fn pages(name: &str) -> Vec<Doc> {
    let resource = catalog::find(name).expect("catalog resource");
    let all = records::records(resource, PAGE * PAGES, 7);
    all.chunks(PAGE)
        .map(|page| Doc::from_value(&Value::Array(page.to_vec())))
        .collect()
}

/// The flattened pages: for each page, one batch per table.
fn batches(name: &str) -> Vec<Vec<RecordBatch>> {
    let mut flattener = Flattener::new(catalog::find(name).unwrap(), PiiPolicy::Keep);
    pages(name)
        .iter()
        .map(|p| {
            let flat = flattener.flatten(p.root().items());
            assert!(
                flat.rejects.is_empty(),
                "{name}: {:?}",
                flat.rejects.first()
            );
            flat.tables.into_iter().map(|(_, b)| b).collect()
        })
        .collect()
}

/// The sink's Parquet settings (`sink::ParquetOptions::default()`), for the bare encoder.
fn props() -> WriterProperties {
    WriterProperties::builder()
        .set_writer_version(WriterVersion::PARQUET_2_0)
        .set_compression(Compression::ZSTD(ZstdLevel::default()))
        .set_statistics_enabled(EnabledStatistics::Page)
        .set_dictionary_enabled(false)
        .set_max_row_group_row_count(Some(122_880))
        .build()
}

fn parse(c: &mut Criterion) {
    let mut group = c.benchmark_group("parse");
    for name in RESOURCES {
        let text = records::page_text(catalog::find(name).unwrap(), PAGE, 7);
        group.throughput(Throughput::Elements(PAGE as u64));
        group.bench_function(name, |b| {
            b.iter(|| black_box(Doc::parse(black_box(text.clone())).unwrap()))
        });
        group.bench_function(format!("{name}/serde_value"), |b| {
            b.iter(|| black_box(serde_json::from_str::<Value>(black_box(&text)).unwrap()))
        });
    }
    group.finish();
}

fn flatten(c: &mut Criterion) {
    let mut group = c.benchmark_group("flatten");
    for name in RESOURCES {
        let pages = pages(name);
        let mut flattener = Flattener::new(catalog::find(name).unwrap(), PiiPolicy::Keep);
        group.throughput(Throughput::Elements((PAGE * PAGES) as u64));
        group.bench_function(name, |b| {
            b.iter(|| {
                for page in &pages {
                    black_box(flattener.flatten(black_box(page).root().items()));
                }
            })
        });
    }
    group.finish();
}

/// Writes every table of `batches` through the sink on a fresh `memory://` location.
fn write_sink(rt: &tokio::runtime::Runtime, batches: &[Vec<RecordBatch>], format: &Format) {
    let loc = Location::parse("memory:///bench", &StoreOptions::default()).unwrap();
    rt.block_on(async {
        for t in 0..batches[0].len() {
            let rel = format!("t{t}.{}", format.extension());
            let schema = batches[0][t].schema();
            let mut file = FileWriter::create(&loc, &rel, schema, format).unwrap();
            for page in batches {
                file.write(&page[t]).await.unwrap();
            }
            black_box(file.finish().await.unwrap());
        }
    });
}

fn encode(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    for (group_name, format) in [
        ("parquet", Some(Format::default())),
        ("csv", Some(Format::Csv)),
    ] {
        let mut group = c.benchmark_group(group_name);
        for name in RESOURCES {
            let batches = batches(name);
            group.throughput(Throughput::Elements((PAGE * PAGES) as u64));
            let format = format.unwrap();
            group.bench_function(format!("{name}/sink"), |b| {
                b.iter(|| write_sink(&rt, &batches, &format))
            });
            if group_name == "parquet" {
                group.bench_function(format!("{name}/arrow_writer"), |b| {
                    b.iter_batched(
                        Vec::new,
                        |mut out: Vec<u8>| {
                            for t in 0..batches[0].len() {
                                out.clear();
                                let schema = batches[0][t].schema();
                                let mut w =
                                    ArrowWriter::try_new(&mut out, schema, Some(props())).unwrap();
                                for page in &batches {
                                    w.write(&page[t]).unwrap();
                                }
                                w.close().unwrap();
                            }
                            out
                        },
                        BatchSize::SmallInput,
                    )
                });
            }
        }
        group.finish();
    }
}

criterion_group!(benches, parse, flatten, encode);
criterion_main!(benches);
