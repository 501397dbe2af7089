//! `--metrics-file` and `--pushgateway`: where a `run` leaves its metrics, success or not.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use url::Url;

use crate::manifest::Manifest;
use crate::metrics::{self, RunReport};
use crate::run::Shard;

/// Where the metrics of a run go (neither, one or both).
#[derive(Debug, Clone, Default)]
pub struct Sinks {
    /// The textfile collector's file.
    pub file: Option<PathBuf>,
    /// A Pushgateway's base URL.
    pub pushgateway: Option<Url>,
}

/// The name a pipeline that did not load goes by in the metrics: its file name without `.toml`.
pub fn fallback_name(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "unknown".into())
}

impl Sinks {
    /// Writes and pushes the metrics of a run that ended with `exit_code`. Failures are logged,
    /// never fatal: the run's data is written either way, and its exit code must not change.
    pub async fn write(
        &self,
        pipeline: &str,
        shard: Option<Shard>,
        manifests: &[Manifest],
        exit_code: u8,
        started: DateTime<Utc>,
    ) {
        if self.file.is_none() && self.pushgateway.is_none() {
            return;
        }
        let report = RunReport {
            pipeline,
            manifests,
            exit_code,
            started,
            finished: Utc::now(),
            previous_success: self
                .file
                .as_deref()
                .and_then(|f| metrics::previous_last_success(f, pipeline)),
        };
        let text = metrics::render(&report);
        if let Some(path) = &self.file
            && let Err(e) = metrics::write_atomically(path, &text)
        {
            tracing::error!(
                file = %path.display(),
                error = %e,
                "Cannot write the metrics file; check that its folder exists and is writable."
            );
        }
        if let Some(url) = &self.pushgateway
            && let Err(e) = metrics::push(url, pipeline, shard.map(|s| s.index), &text).await
        {
            tracing::error!(error = %e, "Cannot push the metrics to the Pushgateway.");
        }
    }
}
