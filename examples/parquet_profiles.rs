//! Size and write time of the two Parquet profiles on real output: every current table of a run
//! (e.g. the demo's) is read once into memory, then written again with each profile, three times;
//! the best time and the bytes of each are printed (BENCHMARKS.md, "Compatible Parquet").
//!
//! ```sh
//! cargo run --release --no-default-features -- demo --out /tmp/demo --scale 20
//! cargo run --release --no-default-features --example parquet_profiles /tmp/demo
//! ```

use std::time::Instant;

use arrow::record_batch::RecordBatch;
use dentally_etl::sink::{
    FileWriter, Format, Location, ParquetOptions, ParquetProfile, StoreOptions, read_parquet,
};
use futures::StreamExt;

#[tokio::main]
async fn main() {
    let dir = std::env::args()
        .nth(1)
        .expect("usage: parquet_profiles OUTPUT_DIR");
    let latest: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(format!("{dir}/_runs/latest.json")).expect("a run's output"),
    )
    .expect("latest.json");
    let input = Location::parse(&dir, &StoreOptions::default()).unwrap();
    let mut tables: Vec<(String, Vec<RecordBatch>)> = Vec::new();
    let mut rows = 0;
    for t in latest["tables"].as_array().unwrap() {
        let mut batches = Vec::new();
        for f in t["files"].as_array().unwrap() {
            let mut stream = read_parquet(&input, f.as_str().unwrap(), 8192)
                .await
                .unwrap();
            while let Some(b) = stream.next().await {
                let b = b.unwrap();
                rows += b.num_rows();
                batches.push(b);
            }
        }
        tables.push((t["name"].as_str().unwrap().to_string(), batches));
    }
    println!("{} tables, {rows} rows", tables.len());
    let out = tempfile::tempdir().unwrap();
    let loc = Location::parse(out.path().to_str().unwrap(), &StoreOptions::default()).unwrap();
    let profiles = [
        ("compatible (default)", ParquetOptions::default()),
        (
            "fast (previous default)",
            ParquetOptions {
                profile: ParquetProfile::Fast,
                dictionary: false,
                ..ParquetOptions::default()
            },
        ),
    ];
    for (name, options) in profiles {
        let format = Format::Parquet(options);
        let mut best = f64::MAX;
        let mut bytes = 0;
        for _ in 0..3 {
            bytes = 0;
            let start = Instant::now();
            for (table, batches) in &tables {
                let Some(first) = batches.first() else {
                    continue;
                };
                let rel = format!("{table}.parquet");
                let mut file = FileWriter::create(&loc, &rel, first.schema(), &format).unwrap();
                for b in batches {
                    file.write(b).await.unwrap();
                }
                bytes += file.finish().await.unwrap().bytes;
            }
            best = best.min(start.elapsed().as_secs_f64());
        }
        println!("{name}: {bytes} bytes, {best:.3} s (best of 3)");
    }
}
