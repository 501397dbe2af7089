//! Where things go in the output (design §4), in one place.
//!
//! Current files carry the run id in their name (`part-<run_id>-0000.parquet`) rather than a bare
//! `part-<n>`: a new run's files can then sit beside the old ones until the manifest naming them
//! exists, and only then are the old ones removed. A reader globbing `<table>/*` sees either a
//! complete old set or a complete new set plus, for a moment, both — never a half-written file
//! (see `docs/DECISIONS.md`).

use chrono::{DateTime, Utc};

/// `_raw/<table>/extracted_on=YYYY-MM-DD/<run_id>-<n>.parquet`.
pub fn raw_file(table: &str, part: &str, started: DateTime<Utc>, run_id: &str, n: usize) -> String {
    format!(
        "_raw/{table}/{part}extracted_on={}/{run_id}-{n:04}.parquet",
        started.format("%Y-%m-%d")
    )
}

/// `<table>/[practice=<name>/]part-<run_id>-<n>.<ext>`.
pub fn current_file(table: &str, part: &str, run_id: &str, n: usize, ext: &str) -> String {
    format!("{table}/{part}part-{run_id}-{n:04}.{ext}")
}

/// `_runs/[practice=<name>/]<run_id>.json`.
pub fn manifest(part: &str, run_id: &str) -> String {
    format!("_runs/{part}{run_id}.json")
}

/// `_rejects/<table>/[practice=<name>/]<run_id>.jsonl`.
pub fn rejects(table: &str, part: &str, run_id: &str) -> String {
    format!("_rejects/{table}/{part}{run_id}.jsonl")
}

/// The partition folder of a practice (`practice=<name>/`), empty for a single-practice pipeline.
/// Hive-style, so DuckDB, Spark, Athena and BigQuery read `practice` as a column.
pub fn partition(practice: Option<&str>) -> String {
    practice.map_or_else(String::new, |p| format!("practice={p}/"))
}

/// A run id that sorts by time: `20261126T071500Z-3fa2`.
pub fn new_run_id(started: DateTime<Utc>) -> String {
    format!(
        "{}-{:04x}",
        started.format("%Y%m%dT%H%M%SZ"),
        fastrand::u16(..)
    )
}
