//! The inputs of the models: the current tables of a manifest, as local Parquet files.
//!
//! A local output is read in place (no copy). For an object store, the files of the tables the
//! models name are streamed into a temporary directory through our own store client, which is
//! removed when the models are done.

use std::collections::BTreeSet;
use std::path::PathBuf;

use futures::StreamExt;
use object_store::ObjectStoreExt;
use tokio::io::AsyncWriteExt;

use super::ModelSpec;
use crate::manifest::Manifest;
use crate::sink::{Location, SinkError};

/// A current table: its name and its files, relative to the output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct CurrentTable {
    pub(super) name: String,
    pub(super) files: Vec<String>,
}

/// Why the inputs could not be made local.
#[derive(Debug, thiserror::Error)]
pub(super) enum InputError {
    /// The store refused a read.
    #[error(transparent)]
    Store(#[from] SinkError),
    /// The temporary copy failed.
    #[error("cannot write the local copy `{path}`: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// The tables ready for polars: each name with the local paths of its files.
pub(super) struct Staged {
    tables: Vec<(String, Vec<PathBuf>)>,
    _copies: Option<tempfile::TempDir>,
}

impl Staged {
    pub(super) fn tables(&self) -> &[(String, Vec<PathBuf>)] {
        &self.tables
    }
}

/// The current tables of the resources that did not fail, in manifest order.
pub(super) fn current_tables(manifest: &Manifest) -> Vec<CurrentTable> {
    manifest
        .resources
        .iter()
        .filter(|r| r.status != crate::manifest::Status::Failed)
        .flat_map(|r| &r.tables)
        .filter(|t| !t.files.is_empty())
        .map(|t| CurrentTable {
            name: t.name.clone(),
            files: t.files.iter().map(|f| f.path.clone()).collect(),
        })
        .collect()
}

/// The names of the tables that some model's SQL mentions as a whole word (case-insensitive).
/// Over-approximate on purpose (a word inside a string literal counts): it only decides what to
/// copy from an object store, and a table not copied is a table the query cannot see.
pub(super) fn referenced(tables: &[CurrentTable], models: &[ModelSpec]) -> BTreeSet<String> {
    let words: BTreeSet<String> = models
        .iter()
        .flat_map(|m| {
            m.sql
                .split(|c: char| !(c.is_alphanumeric() || c == '_'))
                .filter(|w| !w.is_empty())
                .map(str::to_ascii_lowercase)
        })
        .collect();
    tables
        .iter()
        .filter(|t| words.contains(&t.name.to_ascii_lowercase()))
        .map(|t| t.name.clone())
        .collect()
}

/// Local paths of the `needed` tables: in place for a local output, copies otherwise.
pub(super) async fn stage(
    loc: &Location,
    tables: &[CurrentTable],
    needed: &BTreeSet<String>,
) -> Result<Staged, InputError> {
    let needed: Vec<&CurrentTable> = tables.iter().filter(|t| needed.contains(&t.name)).collect();
    if let Some(root) = loc.local_root() {
        let tables = needed
            .iter()
            .map(|t| {
                (
                    t.name.clone(),
                    t.files.iter().map(|f| root.join(f)).collect(),
                )
            })
            .collect();
        return Ok(Staged {
            tables,
            _copies: None,
        });
    }
    let dir = tempfile::Builder::new()
        .prefix("dentally-etl-models-")
        .tempdir()
        .map_err(|source| InputError::Io {
            path: std::env::temp_dir(),
            source,
        })?;
    let mut staged = Vec::with_capacity(needed.len());
    for t in needed {
        let mut paths = Vec::with_capacity(t.files.len());
        for (n, rel) in t.files.iter().enumerate() {
            let path = dir.path().join(&t.name).join(format!("{n:04}.parquet"));
            download(loc, rel, &path).await?;
            paths.push(path);
        }
        staged.push((t.name.clone(), paths));
    }
    Ok(Staged {
        tables: staged,
        _copies: Some(dir),
    })
}

/// Streams one object into `path` (memory: one chunk at a time).
async fn download(loc: &Location, rel: &str, path: &std::path::Path) -> Result<(), InputError> {
    let io = |source| InputError::Io {
        path: path.to_path_buf(),
        source,
    };
    if let Some(parent) = path.parent() {
        tokio::fs::create_dir_all(parent).await.map_err(io)?;
    }
    let result = loc
        .store()
        .get(&loc.child(rel))
        .await
        .map_err(|e| loc.store_error("read", rel, e))?;
    let mut stream = result.into_stream();
    let mut file = tokio::fs::File::create(path).await.map_err(io)?;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| loc.store_error("read", rel, e))?;
        file.write_all(&chunk).await.map_err(io)?;
    }
    file.flush().await.map_err(io)
}
