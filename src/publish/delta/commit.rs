//! Writing one commit file with "create only if absent", the whole of Delta's concurrency rule:
//! two writers that both read version N and both try to write N+1 cannot both succeed.
//!
//! `object_store`'s `PutMode::Create` is a `create_new` link on local disk and a conditional
//! `PUT` (`If-None-Match: *`) on S3, GCS and Azure, so the loser gets `AlreadyExists` instead of
//! overwriting the winner's commit. The put is a single request, so a reader sees the whole
//! commit or none of it, and a writer killed mid-put leaves at most a staging file (local) that
//! no reader lists.

use object_store::{ObjectStore, PutMode, PutOptions, PutPayload};

use super::log::commit_key;
use crate::sink::{Location, SinkError};

/// Why a commit did not happen.
#[derive(Debug)]
pub enum CommitError {
    /// Another writer committed this version first: read the log again and retry.
    Conflict,
    /// The store failed.
    Store(SinkError),
}

/// Writes `table`'s commit `version`, unless it exists.
pub async fn put_commit(
    loc: &Location,
    table: &str,
    version: u64,
    bytes: Vec<u8>,
) -> Result<(), CommitError> {
    let key = commit_key(table, version);
    let opts = PutOptions {
        mode: PutMode::Create,
        ..PutOptions::default()
    };
    let store: &dyn ObjectStore = loc.store().as_ref();
    match store
        .put_opts(&loc.child(&key), PutPayload::from(bytes), opts)
        .await
    {
        Ok(_) => Ok(()),
        Err(
            object_store::Error::AlreadyExists { .. } | object_store::Error::Precondition { .. },
        ) => Err(CommitError::Conflict),
        Err(e) => Err(CommitError::Store(loc.store_error("write", &key, e))),
    }
}
