//! The pipeline file: parse, then validate purely, then hand a [`Pipeline`] to the run.
//!
//! `load` reads a file and the process environment (for `${VAR}` only); everything after is pure,
//! so `validate` and `plan` never touch the network or the output store.

mod diagnostic;
mod interpolate;
mod model;
mod models;
mod parse;
mod practices;
mod reader;
mod source;
mod table_format;
mod window;

use std::path::Path;

pub use diagnostic::Diagnostic;
pub use model::{
    Compression, DEFAULT_OFFSET_WALL, Mode, ModelSpec, Output, OutputFormat, ParquetProfileChoice,
    PiiMode, Pipeline, Practice, Reconcile, ResourceSpec, Source, TableFormat, TokenSource,
    cursor_is_date, region_base_url,
};
pub use parse::{DEFAULT_LOOKBACK_DAYS, DEFAULT_USER_AGENT, parse};
pub use table_format::{DEFAULT_DELTA_RETENTION_DAYS, TableSettings};
pub use window::{DateBound, WindowSpec};

/// Why a pipeline could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The file could not be read.
    #[error("cannot read pipeline file `{path}`: {source}")]
    Read {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file has problems; all of them are listed.
    #[error("{}", render(.0))]
    Invalid(Vec<Diagnostic>),
}

fn render(diags: &[Diagnostic]) -> String {
    let mut out = String::new();
    for d in diags {
        out.push_str(&d.to_string());
        out.push('\n');
    }
    out.push_str(&format!(
        "{} problem{} found",
        diags.len(),
        if diags.len() == 1 { "" } else { "s" }
    ));
    out
}

/// Reads and validates a pipeline file, expanding `${VAR}` from the process environment.
pub fn load(path: &Path) -> Result<Pipeline, LoadError> {
    let text = std::fs::read_to_string(path).map_err(|source| LoadError::Read {
        path: path.display().to_string(),
        source,
    })?;
    parse(path, &text, &|name| std::env::var(name).ok()).map_err(LoadError::Invalid)
}
