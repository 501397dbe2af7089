//! Publication of current tables: the one place where a run's new current files become *the*
//! table that readers see.
//!
//! A run writes each table's new files beside the old ones (`run::current`), then its manifest and
//! state, then hands every table to a [`TablePublisher`]. What "publish" means depends on the
//! table format of `[output]`:
//!
//! - [`plain`]: the files are the table; the previous run's files are deleted. A reader globbing
//!   `<table>/*.parquet` may, for a moment, see both sets; `_runs/latest.json` (written last, see
//!   [`latest`]) tells schedulers when a run's set is complete.
//! - [`delta`]: the files are added to a Delta Lake table in one commit that also removes the
//!   replaced files, so readers see the old snapshot or the new one, never a mix, and older
//!   versions stay readable until the retention has passed.
//!
//! Another table format (Iceberg) is one more module implementing [`TablePublisher`], chosen in
//! [`publisher`]; the run does not change.

pub mod delta;
pub mod latest;
pub mod plain;

use async_trait::async_trait;

use crate::config::{TableFormat, TableSettings};
use crate::manifest::FileEntry;
use crate::sink::{Location, SinkError};

/// One table's new current files, as a run's commit hands them over.
#[derive(Debug, Clone, Copy)]
pub struct TableUpdate<'a> {
    /// Table name: its folder under the output location.
    pub table: &'a str,
    /// The practice's partition folder (`practice=<name>/`), empty for a single practice.
    pub part: &'a str,
    /// The practice's name, in a multi-practice pipeline (the Delta partition value).
    pub practice: Option<&'a str>,
    /// The new current files (keys relative to the location), replacing the partition's files.
    pub files: &'a [FileEntry],
    /// The run publishing them.
    pub run_id: &'a str,
}

/// Why a table could not be published.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// The store failed.
    #[error(transparent)]
    Sink(#[from] SinkError),
    /// The table's log or schema does not allow the commit.
    #[error("Cannot publish the Delta table `{table}` at `{location}`: {reason}")]
    Delta {
        /// The table.
        table: String,
        /// The output location.
        location: String,
        /// What is wrong, and what to do.
        reason: String,
    },
}

/// What publishing one table did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Published {
    /// The table version now readable (Delta), when the format has versions.
    pub version: Option<u64>,
    /// Files no longer part of the table, deleted now (plain) or after the retention (Delta).
    pub replaced: usize,
    /// Files deleted by this publication (plain: the replaced ones; Delta: expired ones).
    pub deleted: usize,
}

/// A table format: how a table's new files replace its old ones.
#[async_trait]
pub trait TablePublisher: Send + Sync {
    /// The format's name in `_runs/latest.json` (`parquet`, `delta`).
    fn format(&self) -> TableFormat;

    /// Makes `update.files` the table's (partition's) current files.
    async fn publish(
        &self,
        loc: &Location,
        update: &TableUpdate<'_>,
    ) -> Result<Published, PublishError>;

    /// Deletes now every data file of the table's partition `part` that its newest version does
    /// not name: erasure (`purge`) must leave no removed row readable through an older version.
    /// Returns the files deleted.
    async fn erase_history(
        &self,
        loc: &Location,
        table: &str,
        part: &str,
    ) -> Result<usize, PublishError>;
}

/// The publisher of `[output] table_format`.
pub fn publisher(settings: &TableSettings) -> Box<dyn TablePublisher> {
    match settings.table_format {
        TableFormat::Parquet => Box::new(plain::PlainFiles),
        TableFormat::Delta => Box::new(delta::DeltaTables::new(settings.delta_retention_days)),
    }
}
