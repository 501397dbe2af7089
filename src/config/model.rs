//! The validated pipeline: what `validate` guarantees to the later stages.
//!
//! Everything here is resolved and checked (resource names exist, windows parse, enums are
//! known, variables are expanded); nothing here has touched the network or the output store.

use std::path::PathBuf;

use url::Url;

use super::window::WindowSpec;
use crate::catalog::Resource;

/// A pipeline file, validated.
#[derive(Debug, Clone)]
pub struct Pipeline {
    /// `name`: names the state file and the run manifests.
    pub name: String,
    /// Where the pipeline was read from.
    pub file: PathBuf,
    /// `[source]`.
    pub source: Source,
    /// `[output]`.
    pub output: Output,
    /// The resources to extract, in file order.
    pub resources: Vec<ResourceSpec>,
    /// `[defaults] pii_hash_key_env`: the variable holding the HMAC key for `pii = "hash"`.
    pub pii_hash_key_env: Option<String>,
    /// `[[models]]`: SQL over the current tables, run after each run commits.
    pub models: Vec<ModelSpec>,
    /// `[[sources]]`: the practices of a multi-practice pipeline (empty with a single `[source]`).
    pub practices: Vec<Practice>,
    /// `parallel_practices`: practices extracted at once.
    pub parallel_practices: usize,
}

/// One practice of a multi-practice pipeline: its own API host, token and budget.
#[derive(Debug, Clone)]
pub struct Practice {
    /// Its name: the output partition (`practice=<name>`), the state file, `--practice NAME`.
    pub name: String,
    /// Where and how to read it.
    pub source: Source,
}

impl Practice {
    /// The shard (0-based, of `shards`) this practice belongs to: a stable hash (FNV-1a) of its
    /// name, so every worker of any engine computes the same split with no coordination.
    pub fn shard(&self, shards: u32) -> u32 {
        let hash = self.name.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
        (hash % u64::from(shards.max(1))) as u32
    }
}

/// Where to read and how hard to push.
#[derive(Debug, Clone)]
pub struct Source {
    /// API base URL (from `region` or `base_url`), without a trailing slash.
    pub base_url: Url,
    /// Where the token comes from (never the token itself).
    pub token: TokenSource,
    /// Our own ceiling on requests per hour (the API allows 3,600, shared with other integrations).
    pub requests_per_hour: Option<u32>,
    /// Share of the API's limit left for the practice's other integrations, in percent.
    pub reserve_percent: u32,
    /// Requests in flight at once.
    pub concurrency: usize,
    /// Timeout of one request, in seconds.
    pub timeout_secs: u64,
    /// `User-Agent` sent with every request (the API refuses requests without one).
    pub user_agent: String,
    /// Run even when the token can write (loudly logged).
    pub allow_write_scopes: bool,
    /// Run when the API sends no `X-OAuth-Scopes`, so read-only cannot be verified (recorded
    /// in the manifest).
    pub accept_unverified_scopes: bool,
    /// Pages between checkpoints of a long extraction (a killed run re-reads at most these).
    pub checkpoint_pages: u32,
    /// Least seconds between two checkpoints of a resource (default 30): each checkpoint
    /// closes the open raw files, so this keeps them few and large.
    pub checkpoint_secs: u64,
    /// Rows the API serves by offset before answering 413 (default 45,000, the low end of what
    /// was observed); reads are planned to stay below it, and a 413 lowers it for the run.
    pub offset_wall: u64,
    /// Most seconds a run may spend waiting for the rate limit in total (default 6 hours).
    pub max_wait_secs: u64,
}

pub use crate::api::TokenSource;

/// Days `_raw/` copies of committed runs are kept by default: long enough to look into last
/// week's nights, short for copies of health data nobody reads.
pub const DEFAULT_RAW_RETENTION_DAYS: u64 = 7;

/// Rows assumed safe to page through by offset when nothing else is known (`[source]
/// offset_wall`): the low end of the evidence for the live API's 413 wall, less its drift.
pub const DEFAULT_OFFSET_WALL: u64 = 45_000;

/// One `[[models]]` entry of a pipeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelSpec {
    /// Letters, digits and `_`; the output goes under `_models/<name>/`.
    pub name: String,
    /// The query (polars SQL); every current table is a relation of that name.
    pub sql: String,
}

/// Where and how files are written.
#[derive(Debug, Clone)]
pub struct Output {
    /// Output location: a path, `file://`, `s3://bucket/prefix`, `gs://`, `az://`.
    pub url: String,
    /// File format of the current tables.
    pub format: OutputFormat,
    /// Parquet compression.
    pub compression: Compression,
    /// Most rows per Parquet row group.
    pub row_group_rows: usize,
    /// Most encoded bytes buffered per Parquet row group.
    pub row_group_bytes: usize,
    /// Parquet dictionary encoding (`dictionary = true|false`); unset: on, except with
    /// `parquet_profile = "fast"`.
    pub dictionary: Option<bool>,
    /// How current tables are published, and for which readers their Parquet is written.
    pub tables: super::table_format::TableSettings,
    /// Object store overrides (`endpoint`, `region`, `allow_http`, `virtual_hosted_style`).
    pub endpoint: Option<String>,
    /// S3 region override.
    pub region: Option<String>,
    /// Allow plain HTTP to the object store (loopback test servers).
    pub allow_http: Option<bool>,
    /// Virtual-hosted-style S3 addressing.
    pub virtual_hosted_style: Option<bool>,
    /// Total time an object-store request may be retried (S3).
    pub retry_timeout_secs: Option<u64>,
    /// Local outputs: directories 0700 and files 0600 (default `true`); `false` keeps the
    /// process umask.
    pub private: bool,
    /// CSV: prefix `'` to text cells a spreadsheet would run as a formula (default `true`).
    pub csv_guard: bool,
    /// Days the `_raw/` copies and `_rejects/` files of a committed run are kept (default 7; 0:
    /// removed at the commit). Checkpoints of unfinished runs are always kept.
    pub raw_retention_days: u64,
    /// Allow plain http to an object store that is not on loopback (default `false`).
    pub allow_insecure_http: bool,
}

/// File format of the current tables (`parquet` or `csv` in the manifest).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OutputFormat {
    /// Apache Parquet.
    Parquet,
    /// RFC 4180 CSV.
    Csv,
}

impl OutputFormat {
    /// The current files' extension, which is also the format's name (`parquet`, `csv`).
    pub const fn extension(self) -> &'static str {
        match self {
            Self::Parquet => "parquet",
            Self::Csv => "csv",
        }
    }
}

/// How current tables are published (`[output] table_format`; `parquet` or `delta` in
/// `latest.json`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TableFormat {
    /// Plain Parquet (or CSV) files per table, with `_runs/latest.json` written last.
    Parquet,
    /// A Delta Lake table per current table (`<table>/_delta_log/`).
    Delta,
}

/// Which readers current Parquet files are written for (`[output] parquet_profile`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParquetProfileChoice {
    /// Data page V1, PLAIN and dictionary encodings: every reader (default).
    Compatible,
    /// Writer version 2 (data page V2, DELTA encodings), no dictionary: Arrow-family readers.
    Fast,
}

/// Parquet compression codec.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// zstd (default).
    Zstd,
    /// Snappy.
    Snappy,
    /// Uncompressed.
    None,
}

/// Full or incremental extraction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Re-read everything every run.
    Full,
    /// Read what changed since the last committed cursor.
    Incremental,
}

/// What to do with columns tagged as personal data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PiiMode {
    /// Write them as they are.
    Keep,
    /// Replace them by a keyed HMAC-SHA256 digest.
    Hash,
    /// Leave them out of files and schemas.
    Drop,
}

/// One selected resource.
#[derive(Debug, Clone)]
pub struct ResourceSpec {
    /// Its catalog entry.
    pub resource: &'static Resource,
    /// Full or incremental.
    pub mode: Mode,
    /// PII policy.
    pub pii: PiiMode,
    /// Date window (windowed resources only).
    pub window: Option<WindowSpec>,
    /// Incremental overlap: `updated_after = cursor - lag_secs`.
    pub lag_secs: u64,
    /// Incremental overlap of a date cursor (payments' `dated_on`): `dated_after = cursor -
    /// lookback_days`. Rows dated earlier and edited later are left to the reconciling read.
    pub lookback_days: u32,
    /// When an incremental run re-reads everything to find deleted rows.
    pub reconcile: Reconcile,
}

/// Whether `resource`'s incremental cursor is a calendar date (payments' `dated_on`): a delta
/// then steps back `lookback_days` days, not `lag_secs` seconds.
pub fn cursor_is_date(resource: &Resource) -> bool {
    use crate::catalog::{FieldKind, FieldType};
    resource
        .cursor
        .and_then(|c| resource.field(c))
        .is_some_and(|f| matches!(f.kind, FieldKind::Scalar(FieldType::Date)))
}

/// When to reconcile deletions (a full key re-read that marks missing rows `_deleted_at`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reconcile {
    /// Never (deleted rows stay live in incremental current tables).
    Never,
    /// Every run.
    Always,
    /// When at least this many days passed since the last reconciliation.
    EveryDays(u32),
    /// Every N runs.
    EveryRuns(u32),
    /// Every run, by comparing the API's counts over ranges with the table's
    /// (`crate::reconcile`): costs about the number of ranges when nothing was deleted. Lists
    /// with no two-sided range filter are not reconciled.
    Counts,
}

/// Known API hosts by region.
pub fn region_base_url(region: &str) -> Option<&'static str> {
    match region {
        "uk" => Some("https://api.dentally.co"),
        "ca" => Some("https://api.ca.dentally.com"),
        "apac" => Some("https://api.apac.dentally.com"),
        "sandbox" => Some("https://api.sandbox.dentally.co"),
        _ => None,
    }
}
