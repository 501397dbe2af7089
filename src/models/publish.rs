//! Publishing a model's result: it appears complete under its final key, then the previous
//! results of the model are removed.
//!
//! Local outputs: polars writes a staging file `<key>#<pid>` beside the final one (a name
//! `object_store`'s local store never lists, and our leftover cleanup knows), renamed on success.
//! Object stores: polars writes into a temporary directory and the file is streamed up through
//! `object_store`'s `BufWriter` (a multipart upload past 10 MiB, visible only once complete).

use std::path::{Path, PathBuf};

use object_store::buffered::BufWriter;
use tokio::io::AsyncWriteExt;

use crate::sink::{Location, SinkError};

/// Where polars writes a result before it is published.
pub(super) enum Target {
    /// Beside the final file, on the output's own disk.
    Local { staging: PathBuf, path: PathBuf },
    /// In a temporary directory, to upload to `rel`.
    Remote {
        dir: tempfile::TempDir,
        path: PathBuf,
        rel: String,
    },
}

/// Why a result could not be published.
#[derive(Debug, thiserror::Error)]
pub(super) enum PublishError {
    /// A local file operation failed.
    #[error("cannot {op} `{path}`: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    /// The store refused the upload.
    #[error(transparent)]
    Store(#[from] SinkError),
}

fn io(op: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> PublishError {
    let path = path.to_path_buf();
    move |source| PublishError::Io { op, path, source }
}

impl Target {
    /// A target for the result `rel` under `loc`.
    pub(super) fn new(loc: &Location, rel: &str) -> Result<Self, PublishError> {
        if let Some(root) = loc.local_root() {
            let path = root.join(rel);
            let dir = path.parent().expect("a model file lies in a folder");
            std::fs::create_dir_all(dir).map_err(io("create", dir))?;
            let mut staging = path.clone().into_os_string();
            staging.push(format!("#{}", std::process::id()));
            return Ok(Self::Local {
                staging: staging.into(),
                path,
            });
        }
        let dir = tempfile::Builder::new()
            .prefix("dentally-etl-model-")
            .tempdir()
            .map_err(io("create a folder in", &std::env::temp_dir()))?;
        let path = dir.path().join("result.parquet");
        Ok(Self::Remote {
            dir,
            path,
            rel: rel.to_string(),
        })
    }

    /// The local file polars writes.
    pub(super) fn path(&self) -> &Path {
        match self {
            Self::Local { staging, .. } => staging,
            Self::Remote { path, .. } => path,
        }
    }

    /// Drops a result that will not be published.
    pub(super) fn discard(self) {
        if let Self::Local { staging, .. } = self {
            let _ = std::fs::remove_file(staging);
        }
    }

    /// Makes the result visible under its final key, complete.
    pub(super) async fn publish(self, loc: &Location) -> Result<(), PublishError> {
        match self {
            Self::Local { staging, path } => {
                let renamed = tokio::fs::rename(&staging, &path).await;
                if renamed.is_err() {
                    let _ = tokio::fs::remove_file(&staging).await;
                }
                renamed.map_err(io("publish", &path))
            }
            Self::Remote { dir, path, rel } => {
                let uploaded = upload(loc, &path, &rel).await;
                drop(dir);
                uploaded
            }
        }
    }
}

async fn upload(loc: &Location, path: &Path, rel: &str) -> Result<(), PublishError> {
    let mut file = tokio::fs::File::open(path)
        .await
        .map_err(io("read", path))?;
    let mut writer = BufWriter::new(loc.store().clone(), loc.child(rel));
    let copied = async {
        tokio::io::copy(&mut file, &mut writer).await?;
        writer.shutdown().await
    }
    .await;
    let Err(e) = copied else {
        return Ok(());
    };
    let _ = writer.abort().await;
    // The store's own error travels inside the `io::Error` of `AsyncWrite`: keep its hint.
    if e.get_ref()
        .is_some_and(|inner| inner.is::<object_store::Error>())
    {
        let inner = e.into_inner().expect("checked above");
        let store = inner
            .downcast::<object_store::Error>()
            .expect("checked above");
        return Err(loc.store_error("write", rel, *store).into());
    }
    Err(io("upload", path)(e))
}

/// Removes the files directly in `dir` (a model's folder) other than `keep`, after `keep` exists.
/// Other practices' partitions below `dir` are left alone.
pub(super) async fn remove_old(loc: &Location, dir: &str, keep: &str) -> Result<(), SinkError> {
    for meta in loc.list(dir).await? {
        let Some(rel) = loc.relative(&meta.location) else {
            continue;
        };
        let own = rel.strip_prefix(dir).is_some_and(|f| !f.contains('/'));
        if own && rel != keep {
            loc.delete(&rel).await?;
        }
    }
    Ok(())
}
