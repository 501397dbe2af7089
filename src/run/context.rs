//! Everything a run shares between its resources: ids, the output, the client, the formats.

use std::collections::BTreeSet;
use std::sync::Mutex;

use chrono::{DateTime, NaiveDate, Utc};

use super::progress::Progress;
use crate::api::Client;
use crate::catalog::PiiPolicy;
use crate::config::{PiiMode, ResourceSpec};
use crate::sink::{Format, Location};
use crate::state::StateStore;

/// Shared, read-mostly state of one run.
pub struct RunContext {
    /// This run's id.
    pub run_id: String,
    /// When it started.
    pub started: DateTime<Utc>,
    /// The date relative windows resolve against.
    pub today: NaiveDate,
    /// The output location.
    pub loc: Location,
    /// The API client (one budget for the token owner).
    pub client: Client,
    /// Format of raw files (always Parquet: the checkpoint must keep exact types).
    pub raw_format: Format,
    /// Format of current files (the pipeline's choice).
    pub out_format: Format,
    /// Pages fetched at once per resource.
    pub concurrency: usize,
    /// The HMAC key for `pii = "hash"`.
    pub pii_key: Option<Vec<u8>>,
    /// Progress display.
    pub progress: Progress,
    /// The pipeline's state (checkpoints, cursors).
    pub state: StateStore,
    /// Pages between checkpoints.
    pub checkpoint_pages: u32,
    /// Least time between two checkpoints of a resource.
    pub checkpoint_every: std::time::Duration,
    /// Ignore checkpoints and cursors.
    pub full_refresh: bool,
    /// Reconcile deletions in this run (`--reconcile-deletes`).
    pub force_reconcile: bool,
    /// The practice's partition folder (`practice=<name>/`; empty for a single practice).
    pub part: String,
    /// The practice's id for the `practice_id` column (multi-practice pipelines only).
    pub practice_id: Option<String>,
    /// Keys handed from a parent to the resource read by them (treatment ids to `fees`,
    /// patient ids to `patient_stats` recovery), by parent name.
    pub key_handoffs: super::handoff::KeyHandoffs,
    /// How deep the API lets a list be paged (shared by every resource of the run).
    pub wall: crate::extract::Wall,
    /// What the preflight proved about the token's write access (for the manifest).
    pub read_only: crate::preflight::ReadOnly,
    warned: Mutex<BTreeSet<String>>,
}

impl RunContext {
    /// A context; see the fields.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        run_id: String,
        started: DateTime<Utc>,
        loc: Location,
        client: Client,
        raw_format: Format,
        out_format: Format,
        concurrency: usize,
        pii_key: Option<Vec<u8>>,
        progress: Progress,
        state: StateStore,
        checkpoint_pages: u32,
        full_refresh: bool,
        force_reconcile: bool,
    ) -> Self {
        Self {
            run_id,
            today: started.date_naive(),
            started,
            loc,
            client,
            raw_format,
            out_format,
            concurrency,
            pii_key,
            progress,
            state,
            checkpoint_pages: checkpoint_pages.max(1),
            checkpoint_every: std::time::Duration::from_secs(30),
            full_refresh,
            force_reconcile,
            part: String::new(),
            practice_id: None,
            key_handoffs: super::handoff::KeyHandoffs::new(),
            wall: crate::extract::Wall::default(),
            read_only: crate::preflight::ReadOnly::Verified,
            warned: Mutex::default(),
        }
    }

    /// The same context for one practice of a multi-practice pipeline.
    pub fn for_practice(mut self, part: String, practice_id: Option<String>) -> Self {
        self.part = part;
        self.practice_id = practice_id;
        self
    }

    /// The same context with keys handed between resources (see [`super::handoff`]).
    pub fn with_key_handoffs(mut self, handoffs: super::handoff::KeyHandoffs) -> Self {
        self.key_handoffs = handoffs;
        self
    }

    /// The same context with what the preflight proved about write access.
    pub fn with_read_only(mut self, read_only: crate::preflight::ReadOnly) -> Self {
        self.read_only = read_only;
        self
    }

    /// The same context with checkpoints at least `secs` seconds apart.
    pub fn with_checkpoint_secs(mut self, secs: u64) -> Self {
        self.checkpoint_every = std::time::Duration::from_secs(secs);
        self
    }

    /// The same context assuming the API's offset wall at `rows`.
    pub fn with_offset_wall(mut self, rows: u64) -> Self {
        self.wall = crate::extract::Wall::new(rows);
        self
    }

    /// Where this run's current files go.
    pub fn target(&self) -> crate::table::Target<'_> {
        crate::table::Target {
            part: &self.part,
            practice_id: self.practice_id.as_deref(),
        }
    }

    /// The PII policy of one resource.
    pub fn pii_policy(&self, spec: &ResourceSpec) -> PiiPolicy {
        match (spec.pii, &self.pii_key) {
            (PiiMode::Keep, _) => PiiPolicy::Keep,
            (PiiMode::Drop, _) => PiiPolicy::Drop,
            (PiiMode::Hash, Some(key)) => PiiPolicy::Hash { key: key.clone() },
            // The run refuses to start without a key; never fall back to an unkeyed hash.
            (PiiMode::Hash, None) => PiiPolicy::Drop,
        }
    }

    /// Warns once per run about a field the catalog does not know.
    pub fn warn_unknown_field(&self, resource: &str, field: &str) {
        let key = format!("{resource}.{field}");
        let mut warned = self
            .warned
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if warned.insert(key) {
            tracing::warn!(
                resource,
                field,
                "The API sent a field the catalog does not know; it is kept in `_extra`."
            );
        }
    }
}
