//! Where things go in the output (design §4), in one place.
//!
//! Current files carry the run id in their name (`part-<run_id>-0000.parquet`) rather than a bare
//! `part-<n>`: a new run's files can then sit beside the old ones until the manifest naming them
//! exists, and only then are the old ones removed. A reader globbing `<table>/*` sees either a
//! complete old set or a complete new set plus, for a moment, both — never a half-written file
//! (see `docs/DECISIONS.md`).

use chrono::{DateTime, Utc};

/// `_raw/<table>/extracted_on=YYYY-MM-DD/<run_id>-<n>.parquet`.
pub fn raw_file(table: &str, started: DateTime<Utc>, run_id: &str, n: usize) -> String {
    format!(
        "_raw/{table}/extracted_on={}/{run_id}-{n:04}.parquet",
        started.format("%Y-%m-%d")
    )
}

/// `<table>/part-<run_id>-<n>.<ext>`.
pub fn current_file(table: &str, run_id: &str, n: usize, ext: &str) -> String {
    format!("{table}/part-{run_id}-{n:04}.{ext}")
}

/// The folder of a table's current files.
pub fn current_dir(table: &str) -> String {
    format!("{table}/")
}

/// `_runs/<run_id>.json`.
pub fn manifest(run_id: &str) -> String {
    format!("_runs/{run_id}.json")
}

/// `_rejects/<table>/<run_id>.jsonl`.
pub fn rejects(table: &str, run_id: &str) -> String {
    format!("_rejects/{table}/{run_id}.jsonl")
}

/// A run id that sorts by time: `20261126T071500Z-3fa2`.
pub fn new_run_id(started: DateTime<Utc>) -> String {
    format!(
        "{}-{:04x}",
        started.format("%Y%m%dT%H%M%SZ"),
        fastrand::u16(..)
    )
}
