//! Building what a run needs from the pipeline: the API client, the output location, the
//! formats, the PII key and the selected resources, each failing with the right exit code.

use std::sync::Arc;
use std::time::Duration;

use super::RunError;
use crate::api::{self, Budget, Client, RetryConfig};
use crate::config::{
    Compression, OutputFormat, ParquetProfileChoice, PiiMode, Pipeline, ResourceSpec,
};
use crate::sink::lock::RunLock;
use crate::sink::{
    Format, Location, ParquetCompression, ParquetOptions, ParquetProfile, SinkError, StoreOptions,
};

/// Builds the API client of a pipeline (reads the token).
pub fn client_for(pipeline: &Pipeline) -> Result<Client, RunError> {
    let (token, warnings) =
        api::load_token(&pipeline.source.token).map_err(|e| RunError::Usage(e.to_string()))?;
    for w in warnings {
        tracing::warn!("{w}");
    }
    let source = &pipeline.source;
    let budget = Arc::new(
        Budget::new(source.reserve_percent, source.requests_per_hour)
            .with_wait_budget(Duration::from_secs(source.max_wait_secs)),
    );
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
        keep_umask: !o.private,
        allow_insecure_http: o.allow_insecure_http,
    };
    Ok(Location::parse(&o.url, &options)?)
}

pub fn formats(pipeline: &Pipeline) -> (Format, Format) {
    let o = &pipeline.output;
    let parquet = ParquetOptions {
        compression: match o.compression {
            Compression::Zstd => ParquetCompression::Zstd,
            Compression::Snappy => ParquetCompression::Snappy,
            Compression::None => ParquetCompression::None,
        },
        max_row_group_rows: o.row_group_rows,
        max_row_group_bytes: o.row_group_bytes,
        // The fast profile was measured without a dictionary (smaller with Zstd); the compatible
        // one with it, as other writers do.
        dictionary: o
            .dictionary
            .unwrap_or(o.tables.parquet_profile == ParquetProfileChoice::Compatible),
        profile: match o.tables.parquet_profile {
            ParquetProfileChoice::Compatible => ParquetProfile::Compatible,
            ParquetProfileChoice::Fast => ParquetProfile::Fast,
        },
    };
    let out = match o.format {
        OutputFormat::Parquet => Format::Parquet(parquet),
        OutputFormat::Csv if o.csv_guard => Format::Csv,
        OutputFormat::Csv => Format::CsvUnguarded,
    };
    // Raw files are our own staging, read back once to build the current files, so they are
    // written to cost little memory while a big table is read: small row groups, and Snappy,
    // whose codec holds no state, where a Zstd context per column of every open file took more
    // than half the run's heap (BENCHMARKS.md).
    let raw = ParquetOptions {
        compression: ParquetCompression::Snappy,
        max_row_group_rows: parquet.max_row_group_rows.min(RAW_ROW_GROUP_ROWS),
        max_row_group_bytes: parquet.max_row_group_bytes.min(RAW_ROW_GROUP_BYTES),
        // Only we read raw files: the fast profile, as before compatibility was the default.
        dictionary: o.dictionary.unwrap_or(false),
        profile: ParquetProfile::Fast,
    };
    (Format::Parquet(raw), out)
}

/// Most rows in a row group of a raw file (an eighth of the default for current files).
const RAW_ROW_GROUP_ROWS: usize = 4_096;
/// Most encoded bytes of a raw file's row group.
const RAW_ROW_GROUP_BYTES: usize = 4 << 20;

pub(super) fn pii_key(
    pipeline: &Pipeline,
    specs: &[ResourceSpec],
) -> Result<Option<Vec<u8>>, RunError> {
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

pub(super) fn selected(
    pipeline: &Pipeline,
    only: &[String],
) -> Result<Vec<ResourceSpec>, RunError> {
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

/// Takes the run lock of this pipeline (and practice): `_state/<pipeline>.lock`, or
/// `_state/<pipeline>/practice=<name>/run.lock` (security review D9).
pub(super) async fn take_lock(
    loc: &Location,
    pipeline: &Pipeline,
    practice: Option<&str>,
    run_id: &str,
    break_lock: bool,
) -> Result<RunLock, RunError> {
    let key = lock_key(&pipeline.name, practice);
    Ok(RunLock::acquire(loc, &key, run_id, break_lock).await?)
}

/// The key of the run lock of `pipeline` (and `practice`).
pub fn lock_key(pipeline: &str, practice: Option<&str>) -> String {
    match practice {
        Some(name) => format!("_state/{pipeline}/practice={name}/run.lock"),
        None => format!("_state/{pipeline}.lock"),
    }
}

/// Gives the run lock back; a failure only costs the next run the lock's expiry, so it is
/// logged rather than failing a run that has committed.
pub(super) async fn release_lock(lock: RunLock) {
    let key = lock.key().to_string();
    if let Err(e) = lock.release().await {
        tracing::warn!(key, error = %e, "Cannot remove the run lock; it lapses by itself.");
    }
}
