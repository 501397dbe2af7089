//! A run: preflight, then every selected resource (concurrently), then the commit.
//!
//! The commit order is what makes a crash harmless (design §4): data files first (raw, then
//! current, each published atomically), then the manifest naming the current files, then removal
//! of the previous current files, then the state. Until the manifest exists, the previous current
//! files are still there; after it, the new ones are.

mod context;
mod current;
mod finish;
mod group;
mod layout;
mod manifest;
mod merge;
mod progress;
mod raw;
mod resource;
mod resume;
mod strategy;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use arrow::datatypes::SchemaRef;
use chrono::Utc;
use futures::StreamExt;
use sha2::{Digest, Sha256};

pub use context::RunContext;
pub use current::Target;
pub use group::{GroupEntry, GroupManifest, Shard, select_practices};
pub use layout::{current_file, manifest as manifest_path, new_run_id, raw_file};
pub use manifest::{ApiEntry, FileEntry, Manifest, ResourceEntry, TableEntry};
pub use merge::{Coverage, MergeInput, merge};
pub use progress::Progress;
pub use strategy::{Choice, Strategy};

use crate::api::{self, ApiError, Budget, Client, RetryConfig};
use crate::config::{Compression, OutputFormat, PiiMode, Pipeline, ResourceSpec};
use crate::preflight::{self, Refusal};
use crate::sink::{Format, Location, ParquetCompression, ParquetOptions, SinkError, StoreOptions};
use crate::state::StateStore;

/// Choices made on the command line.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Only these resources (`--resources a,b`); empty = all of the pipeline's.
    pub only: Vec<String>,
    /// Ignore saved state (`--full-refresh`).
    pub full_refresh: bool,
    /// Show progress bars (when stderr is a terminal).
    pub progress: bool,
    /// Reconcile deletions now (`--reconcile-deletes`).
    pub reconcile_deletes: bool,
    /// Only these practices of a multi-practice pipeline (`--practice NAME`).
    pub practices: Vec<String>,
    /// Only the practices of this shard (`--shard i/n`).
    pub shard: Option<Shard>,
}

/// Why a run could not go on; each maps to an exit code.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// A usage problem (exit 2).
    #[error("{0}")]
    Usage(String),
    /// The token was refused (exit 3).
    #[error(transparent)]
    Refused(#[from] Refusal),
    /// The output location failed (exit 1).
    #[error(transparent)]
    Output(#[from] SinkError),
    /// The API failed outside a resource (exit 1).
    #[error(transparent)]
    Api(#[from] ApiError),
}

impl RunError {
    /// The process exit code for this error (design §2).
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Usage(_) => 2,
            Self::Refused(Refusal::Api(e)) if !e.is_auth() => 1,
            Self::Refused(_) => 3,
            Self::Api(e) if e.is_auth() => 3,
            Self::Output(_) | Self::Api(_) => 1,
        }
    }
}

/// What a finished run produced.
#[derive(Debug)]
pub struct RunOutcome {
    /// The manifests written: one, or one per practice that got to its commit.
    pub manifests: Vec<Manifest>,
    /// Practices that stopped before their commit: (name, exit code, why).
    pub failures: Vec<(String, u8, String)>,
    /// The run's manifest key (the group manifest for several practices).
    pub manifest_path: String,
    /// Exit code: 0, or 4 when a resource failed or rows were rejected.
    pub exit_code: u8,
}

/// Builds the API client of a pipeline (reads the token).
pub fn client_for(pipeline: &Pipeline) -> Result<Client, RunError> {
    let (token, warnings) =
        api::load_token(&pipeline.source.token).map_err(|e| RunError::Usage(e.to_string()))?;
    for w in warnings {
        tracing::warn!("{w}");
    }
    let source = &pipeline.source;
    let budget = Arc::new(Budget::new(
        source.reserve_percent,
        source.requests_per_hour,
    ));
    Ok(Client::new(
        source.base_url.clone(),
        token,
        &source.user_agent,
        Duration::from_secs(source.timeout_secs),
        budget,
        RetryConfig::default(),
    )?)
}

/// Opens the output location of a pipeline.
pub fn location_for(pipeline: &Pipeline) -> Result<Location, RunError> {
    let o = &pipeline.output;
    let options = StoreOptions {
        endpoint: o.endpoint.clone(),
        region: o.region.clone(),
        allow_http: o.allow_http,
        virtual_hosted_style: o.virtual_hosted_style,
        retry_timeout: o.retry_timeout_secs.map(Duration::from_secs),
    };
    Ok(Location::parse(&o.url, &options)?)
}

fn formats(pipeline: &Pipeline) -> (Format, Format) {
    let o = &pipeline.output;
    let parquet = ParquetOptions {
        compression: match o.compression {
            Compression::Zstd => ParquetCompression::Zstd,
            Compression::Snappy => ParquetCompression::Snappy,
            Compression::None => ParquetCompression::None,
        },
        max_row_group_rows: o.row_group_rows,
        max_row_group_bytes: o.row_group_bytes,
    };
    let out = match o.format {
        OutputFormat::Parquet => Format::Parquet(parquet),
        OutputFormat::Csv => Format::Csv,
    };
    (Format::Parquet(parquet), out)
}

fn pii_key(pipeline: &Pipeline, specs: &[ResourceSpec]) -> Result<Option<Vec<u8>>, RunError> {
    if !specs.iter().any(|s| s.pii == PiiMode::Hash) {
        return Ok(None);
    }
    let var = pipeline
        .pii_hash_key_env
        .as_deref()
        .unwrap_or("DENTALLY_PII_KEY");
    match std::env::var(var) {
        Ok(key) if key.len() >= 16 => Ok(Some(key.into_bytes())),
        Ok(_) => Err(RunError::Usage(format!(
            "the PII hash key in `{var}` is shorter than 16 characters; use a long random secret"
        ))),
        Err(_) => Err(RunError::Usage(format!(
            "`pii = \"hash\"` needs a secret key in the environment variable `{var}` (named by `pii_hash_key_env`); refusing to hash without a key"
        ))),
    }
}

fn selected(pipeline: &Pipeline, only: &[String]) -> Result<Vec<ResourceSpec>, RunError> {
    if only.is_empty() {
        return Ok(pipeline.resources.clone());
    }
    let unknown: Vec<&String> = only
        .iter()
        .filter(|n| {
            !pipeline
                .resources
                .iter()
                .any(|r| r.resource.name == n.as_str())
        })
        .collect();
    if !unknown.is_empty() {
        let names: Vec<String> = unknown.iter().map(|n| format!("`{n}`")).collect();
        return Err(RunError::Usage(format!(
            "--resources names {} which the pipeline does not select",
            names.join(", ")
        )));
    }
    Ok(pipeline
        .resources
        .iter()
        .filter(|r| only.iter().any(|n| n == r.resource.name))
        .cloned()
        .collect())
}

/// Checks that the output location is writable (one small object written and removed), so a
/// wrong bucket or credential fails before any API budget is spent.
pub async fn check_output(loc: &Location, tag: &str) -> Result<(), SinkError> {
    let probe = format!("_runs/.write-check-{}", tag.replace('/', "-"));
    loc.put_bytes(&probe, b"ok".to_vec()).await?;
    loc.delete(&probe).await
}

/// Runs `pipeline`: its single practice, or each of its `[[sources]]` practices.
pub async fn run(pipeline: &Pipeline, options: &RunOptions) -> Result<RunOutcome, RunError> {
    let started = Utc::now();
    let run_id = new_run_id(started);
    if pipeline.practices.is_empty() {
        return run_practice(pipeline, options, None, &run_id, started).await;
    }
    group::run_all(pipeline, options, &run_id, started).await
}

/// Runs one practice (`practice` is its name in a multi-practice pipeline).
pub(crate) async fn run_practice(
    pipeline: &Pipeline,
    options: &RunOptions,
    practice: Option<&str>,
    run_id: &str,
    started: chrono::DateTime<Utc>,
) -> Result<RunOutcome, RunError> {
    let run_id = run_id.to_string();
    let part = layout::partition(practice);
    let specs = selected(pipeline, options.only.as_slice())?;
    let pii_key = pii_key(pipeline, &specs)?;
    let client = client_for(pipeline)?;
    let loc = location_for(pipeline)?;
    check_output(&loc, &format!("{part}{run_id}")).await?;
    let report = preflight::check(
        &client,
        &Pipeline {
            resources: specs.clone(),
            ..pipeline.clone()
        },
    )
    .await?;
    tracing::info!(run_id = %run_id, practice = practice.unwrap_or("-"), user = report.user.as_deref().unwrap_or("?"), resources = specs.len(), "Preflight passed; extracting.");
    let practice_id = practice.map(|name| match &report.practice {
        Some(serde_json::Value::String(id)) => id.clone(),
        Some(other) if !other.is_null() => other.to_string(),
        _ => name.to_string(),
    });
    let (raw_format, out_format) = formats(pipeline);
    let state_name = match practice {
        Some(name) => format!("{}/practice={name}/state", pipeline.name),
        None => pipeline.name.clone(),
    };
    let state = StateStore::load(&loc, &state_name)
        .await
        .map_err(|e| RunError::Usage(e.to_string()))?;
    remove_dead_runs_files(&loc, &state, &specs, &run_id, &part).await?;
    let ctx = RunContext::new(
        run_id,
        started,
        loc,
        client,
        raw_format,
        out_format,
        pipeline.source.concurrency,
        pii_key,
        Progress::new(options.progress),
        state,
        pipeline.source.checkpoint_pages,
        options.full_refresh,
        options.reconcile_deletes,
    )
    .for_practice(part, practice_id);
    let entries: Vec<ResourceEntry> = futures::stream::iter(specs.iter())
        .map(|spec| resource::extract(&ctx, spec))
        .buffered(2)
        .collect()
        .await;
    commit(&ctx, pipeline, practice, entries).await
}

async fn commit(
    ctx: &RunContext,
    pipeline: &Pipeline,
    practice: Option<&str>,
    resources: Vec<ResourceEntry>,
) -> Result<RunOutcome, RunError> {
    let stats = ctx.client.stats();
    let failed = resources.iter().any(|r| r.status == "failed");
    let partial = resources
        .iter()
        .any(|r| r.status != "succeeded" && r.status != "unavailable");
    let mut manifest = Manifest {
        models: Vec::new(),
        version: 1,
        run_id: ctx.run_id.clone(),
        pipeline: pipeline.name.clone(),
        practice: practice.map(str::to_string),
        practice_id: ctx.practice_id.clone(),
        started_at: ctx.started.to_rfc3339(),
        finished_at: Utc::now().to_rfc3339(),
        status: if failed && resources.iter().all(|r| r.status == "failed") {
            "failed"
        } else if partial {
            "partial"
        } else {
            "succeeded"
        },
        output: ctx.loc.display().to_string(),
        format: ctx.out_format.extension(),
        api: ApiEntry {
            base_url: ctx.client.base_url().to_string(),
            requests: stats.requests.load(Ordering::Relaxed),
            retries: stats.retries.load(Ordering::Relaxed),
            rate_limited: stats.rate_limited.load(Ordering::Relaxed),
            waited_seconds: stats.waited_ms.load(Ordering::Relaxed) as f64 / 1000.0,
            budget: ctx.client.budget().snapshot(),
        },
        resources,
    };
    // Models read the new current files (they exist now); their reports go in the manifest.
    if manifest.status != "failed" && !pipeline.models.is_empty() {
        manifest.models =
            crate::models::run_models(&ctx.loc, &manifest, &pipeline.models, &ctx.run_id).await;
        if manifest
            .models
            .iter()
            .any(crate::models::ModelReport::is_failed)
        {
            manifest.status = "partial";
        }
    }
    let path = manifest_path(&ctx.part, &ctx.run_id);
    ctx.loc.put_json_atomic(&path, &manifest).await?;
    crash_point("after-manifest");
    // State before removing the old files: a crash in between leaves stale files (removed by the
    // next run), never a state naming files that are gone.
    for r in manifest
        .resources
        .iter()
        .filter(|r| r.status == "succeeded" || r.status == "partial")
    {
        let run_id = ctx.run_id.clone();
        let now = ctx.started.to_rfc3339();
        ctx.state
            .update(&r.name, |s| {
                s.last_run = Some(run_id);
                s.cursor.clone_from(&r.cursor);
                s.tables = r
                    .tables
                    .iter()
                    .map(|t| {
                        (
                            t.name.clone(),
                            t.files.iter().map(|f| f.path.clone()).collect(),
                        )
                    })
                    .collect();
                if r.reconciled {
                    s.last_reconcile = Some(now);
                    s.runs_since_reconcile = 0;
                } else {
                    s.runs_since_reconcile += 1;
                }
            })
            .await
            .map_err(|e| RunError::Usage(e.to_string()))?;
    }
    for r in manifest
        .resources
        .iter()
        .filter(|r| r.status == "succeeded" || r.status == "partial")
    {
        ctx.state
            .set_checkpoint(&r.name, None)
            .await
            .map_err(|e| RunError::Usage(e.to_string()))?;
    }
    for r in manifest
        .resources
        .iter()
        .filter(|r| r.status == "succeeded" || r.status == "partial")
    {
        for t in &r.tables {
            current::remove_stale(&ctx.loc, &t.name, &ctx.part, &t.files).await?;
        }
    }
    let exit_code = if manifest.status == "succeeded" { 0 } else { 4 };
    Ok(RunOutcome {
        manifests: vec![manifest],
        failures: Vec::new(),
        manifest_path: path,
        exit_code,
    })
}

/// A test hook: `DENTALLY_ETL_TEST_CRASH=<point>` aborts the process there, as a crash or a
/// `kill -9` would, so tests can prove the commit protocol at the exact points that matter.
pub(crate) fn crash_point(point: &str) {
    if std::env::var("DENTALLY_ETL_TEST_CRASH").is_ok_and(|p| p == point) {
        eprintln!("test crash at {point}");
        std::process::abort();
    }
}

/// Deletes what runs that died left behind: raw files no checkpoint names, and staging files of
/// interrupted writes, under this practice's partition only (other practices may be running).
async fn remove_dead_runs_files(
    loc: &Location,
    state: &StateStore,
    specs: &[ResourceSpec],
    run_id: &str,
    part: &str,
) -> Result<(), RunError> {
    let snapshot = state.snapshot().await;
    let keep: std::collections::BTreeSet<String> = snapshot
        .resources
        .values()
        .filter_map(|r| r.checkpoint.as_ref())
        .flat_map(|cp| cp.raw_files.values().flatten().map(|f| f.path.clone()))
        .collect();
    let tables: Vec<String> = specs
        .iter()
        .flat_map(|s| {
            crate::catalog::tables(s.resource, &crate::catalog::PiiPolicy::Keep)
                .into_iter()
                .map(|t| t.name)
        })
        .collect();
    resume::remove_orphan_raw_files(loc, &tables, part, &keep, run_id).await?;
    // Staging files of a killed writer: this run's tables, manifests and state. (Two runs of
    // the same pipeline and practice writing at the same moment are not supported.)
    let mut prefixes = vec![format!("_runs/{part}"), state.dir().to_string()];
    for table in &tables {
        prefixes.push(format!("_raw/{table}/{part}"));
        prefixes.push(format!("{table}/{part}"));
    }
    for prefix in prefixes {
        crate::sink::cleanup::remove_leftovers(loc, &prefix, Duration::ZERO).await?;
    }
    Ok(())
}

/// The schema of a current table (the table's columns, then `_deleted_at`), for tools and benches.
pub fn current_schema_of(table: &SchemaRef) -> SchemaRef {
    current::current_schema(table, false)
}

/// `batch` with a null `_deleted_at` column, in `schema` (from [`current_schema_of`]).
pub fn with_deleted_column(
    batch: &arrow::record_batch::RecordBatch,
    schema: &SchemaRef,
) -> arrow::record_batch::RecordBatch {
    current::with_deleted(batch, schema, None, None)
}

/// A short digest of a schema's columns (name, type, nullability), equal across runs.
pub fn schema_hash(schema: &SchemaRef) -> String {
    let mut h = Sha256::new();
    for f in schema.fields() {
        h.update(format!("{}:{}:{};", f.name(), f.data_type(), f.is_nullable()).as_bytes());
    }
    hex::encode(&h.finalize()[..8])
}
