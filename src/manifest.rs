//! The run manifest `_runs/<run_id>.json`: what a run wrote, and how it went.
//!
//! It is written after every data file of the run exists and before old current files are
//! removed, so it always lists a complete, existing set of current files. Schedulers and analysts
//! read it to learn which tables failed, how many rows each holds, and what the API cost.
//!
//! A module of its own, below `run`: the state, the publishers (Delta), the models and the
//! metrics all read what a run wrote, and none of them may depend on the run that writes it.

use serde::{Deserialize, Serialize};

use crate::api::RateHeaders;
use crate::config::OutputFormat;

/// An error's text, then each cause's (`source()`) text, each once: `#[error(transparent)]`
/// wrappers repeat their cause's text. What the CLI prints as `caused by:` lines, the manifest
/// keeps as `error_chain` and JSON logs carry as a field.
pub fn error_chain(error: &(dyn std::error::Error + 'static)) -> Vec<String> {
    let mut chain: Vec<String> = Vec::new();
    let mut next = Some(error);
    while let Some(e) = next {
        let text = e.to_string();
        if !chain.iter().any(|seen| seen == &text) {
            chain.push(text);
        }
        next = e.source();
    }
    chain
}

/// How a run, a resource or a model ended: one vocabulary for all three, in the manifest, the
/// metrics, the summary and `latest.json`. A run is never `unavailable`; a model only
/// `succeeded` or `failed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Everything read and written.
    Succeeded,
    /// Written, but rows were rejected or are known missing (a resource), or some resources or
    /// models failed (a run).
    Partial,
    /// Nothing committed.
    Failed,
    /// The practice does not use the feature (the list answers 404): nothing to read.
    Unavailable,
}

impl Status {
    /// Every status, in the order the metrics list them.
    pub const ALL: [Self; 4] = [
        Self::Succeeded,
        Self::Partial,
        Self::Failed,
        Self::Unavailable,
    ];

    /// The status as the manifest writes it.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Succeeded => "succeeded",
            Self::Partial => "partial",
            Self::Failed => "failed",
            Self::Unavailable => "unavailable",
        }
    }

    /// Whether its tables were written, so the commit publishes them.
    pub const fn committed(self) -> bool {
        matches!(self, Self::Succeeded | Self::Partial)
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

/// One written file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    /// Key relative to the output location.
    pub path: String,
    /// Rows in the file.
    pub rows: u64,
    /// Bytes in the file.
    pub bytes: u64,
}

/// One output table (a resource's main table or a child table).
#[derive(Debug, Clone, Serialize)]
pub struct TableEntry {
    /// Table name.
    pub name: String,
    /// Rows in the current files.
    pub rows: u64,
    /// Digest of the schema (name, type, nullability of each column): equal in every run.
    pub schema_hash: String,
    /// The current files.
    pub files: Vec<FileEntry>,
    /// The raw files of this run.
    pub raw_files: Vec<FileEntry>,
}

/// One resource of the run.
#[derive(Debug, Clone, Serialize)]
pub struct ResourceEntry {
    /// Resource name.
    pub name: String,
    /// `succeeded`, `partial` (rows rejected), `failed` or `unavailable`.
    pub status: Status,
    /// Why it failed, when it did.
    pub error: Option<String>,
    /// The causes under `error`, outermost first (the object store's, the HTTP client's or
    /// parquet's own words), when it has any.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub error_chain: Vec<String>,
    /// How it was read: `full`, `incremental since <instant>`, `window`, `reconcile`.
    pub mode: String,
    /// Cursor committed with this run (largest `updated_at` read, RFC 3339), when there is one.
    pub cursor: Option<String>,
    /// Rows found deleted in Dentally and marked `_deleted_at` by this run.
    pub reconciled: bool,
    /// The date window read whole by this run (windowed resources), and the rows it held.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub window: Option<WindowRead>,
    /// What count-guided reconciliation did (`reconcile_deletes = "counts"`), when it ran.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reconcile: Option<crate::reconcile::ReconcileReport>,
    /// Distinct rows extracted.
    pub rows: u64,
    /// Pages requested.
    pub pages: u32,
    /// HTTP requests made for the resource, retries and recovery included (practices sharing
    /// a token share one count).
    #[serde(default)]
    pub requests: u64,
    /// Rows dropped as repeats of a key already read.
    pub duplicates: u64,
    /// Sum of `meta.total_count` over the slices.
    pub total_count: Option<u64>,
    /// Slices read (months, treatments).
    pub slices: usize,
    /// How the lists were read past the API's offset wall (routes, keyset restarts, tiles,
    /// 413s met), the filters the API was found to ignore (each also warned about once), and the
    /// rows that unstable paging skipped and recovery brought back, with how and at what cost.
    pub paging: crate::extract::PagingReport,
    /// Rows that broke the type contract (written to `_rejects/`).
    pub rejects: u64,
    /// Fields the catalog does not know, kept in `_extra`.
    pub unknown_fields: Vec<String>,
    /// Values that did not fit their declared column, per table then column: the cell is
    /// null and the value is kept in the row's `_extra` under its key (the row is kept).
    pub mismatches: crate::flatten::ColumnCounts,
    /// Output tables.
    pub tables: Vec<TableEntry>,
    /// Wall time in seconds.
    pub seconds: f64,
}

impl ResourceEntry {
    /// An entry for a resource that has not got anywhere yet (status `failed` until finished).
    pub fn new(name: &str) -> Self {
        Self {
            name: name.to_string(),
            status: Status::Failed,
            error: None,
            error_chain: Vec::new(),
            mode: String::new(),
            cursor: None,
            reconciled: false,
            window: None,
            reconcile: None,
            rows: 0,
            pages: 0,
            requests: 0,
            duplicates: 0,
            total_count: None,
            slices: 0,
            paging: crate::extract::PagingReport::default(),
            rejects: 0,
            unknown_fields: Vec::new(),
            mismatches: Default::default(),
            tables: Vec::new(),
            seconds: 0.0,
        }
    }
}

/// API cost of the run.
#[derive(Debug, Clone, Serialize)]
pub struct ApiEntry {
    /// Base URL.
    pub base_url: String,
    /// HTTP requests sent, the preflight and retries included.
    pub requests: u64,
    /// Retried attempts.
    pub retries: u64,
    /// Rate-limit refusals received.
    pub rate_limited: u64,
    /// Seconds spent waiting for the budget.
    pub waited_seconds: f64,
    /// Budget left at the end.
    pub budget: RateHeaders,
    /// Whether the token was proven read-only: `verified`, `unverified` (no `X-OAuth-Scopes`,
    /// accepted by `accept_unverified_scopes`) or `no` (allowed by `allow_write_scopes`).
    pub read_only: crate::preflight::ReadOnly,
}

/// The whole manifest.
#[derive(Debug, Clone, Serialize)]
pub struct Manifest {
    /// Manifest format version.
    pub version: u32,
    /// Run id.
    pub run_id: String,
    /// Pipeline name.
    pub pipeline: String,
    /// Practice name, in a multi-practice pipeline.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub practice: Option<String>,
    /// Practice id written in the `practice_id` column, in a multi-practice pipeline.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub practice_id: Option<String>,
    /// RFC 3339 start.
    pub started_at: String,
    /// RFC 3339 end.
    pub finished_at: String,
    /// `succeeded`, `partial` or `failed`.
    pub status: Status,
    /// Output location (credentials removed).
    pub output: String,
    /// `parquet` or `csv`.
    pub format: OutputFormat,
    /// API cost.
    pub api: ApiEntry,
    /// Resources, in pipeline order.
    pub resources: Vec<ResourceEntry>,
    /// SQL models run after the tables (`[[models]]`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub models: Vec<ModelReport>,
}

/// What one read of a whole date window found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WindowRead {
    /// First day of the window read (inclusive).
    pub from: chrono::NaiveDate,
    /// Day after the window (exclusive).
    pub to: chrono::NaiveDate,
    /// Distinct rows it returned.
    pub rows: u64,
}

impl WindowRead {
    /// Rows per day of the window, when it spans any day.
    pub fn rows_per_day(&self) -> Option<f64> {
        let days = (self.to - self.from).num_days();
        (days > 0).then(|| self.rows as f64 / days as f64)
    }
}

/// How one model went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ModelReport {
    /// The model's name.
    pub name: String,
    /// `succeeded` or `failed`.
    pub status: Status,
    /// Why it failed, naming the model (and the position in its SQL, when known).
    pub error: Option<String>,
    /// Rows of the result.
    pub rows: u64,
    /// The result file, relative to the output, when it was written.
    pub file: Option<String>,
}

impl ModelReport {
    /// A failed model, with why.
    pub fn failed(name: &str, error: String) -> Self {
        Self {
            name: name.to_string(),
            status: Status::Failed,
            error: Some(error),
            rows: 0,
            file: None,
        }
    }

    /// Whether the model failed (the run is then partial, exit 4).
    pub fn is_failed(&self) -> bool {
        self.status == Status::Failed
    }
}
