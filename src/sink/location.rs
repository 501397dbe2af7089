//! [`Location`]: the output root of a pipeline, as one object store plus a prefix inside it.
//!
//! Every file the tool produces (current tables, `_raw/`, `_runs/`, `_state/`, `_rejects/`) is
//! addressed as a key relative to a `Location`, so the run and commit code never branches on
//! local vs S3. The small JSON helpers here are the building blocks of the commit protocol
//! (design §4): a manifest or state file is one `put`, which every backend publishes atomically
//! (`LocalFileSystem` stages and renames, S3 and the others replace the object in one request).

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use futures::TryStreamExt;
use object_store::path::Path;
use object_store::{ObjectMeta, ObjectStore, ObjectStoreExt, PutPayload};
use serde::Serialize;

use super::backend;

/// Bytes buffered per file before a local write goes multipart.
const LOCAL_BUFFER: usize = 1 << 20;
use super::error::{SinkError, hint_for};

/// Overrides for S3 connection settings, from the pipeline's `[output]` table. Each `None` leaves
/// the value from the environment (`AWS_ENDPOINT_URL`, `AWS_REGION`, …) or the default in place.
///
/// Setting any of them for a non-S3 output is an error rather than silently ignored.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoreOptions {
    /// S3-compatible endpoint, e.g. `http://127.0.0.1:9000` (default: AWS for the region).
    pub endpoint: Option<String>,
    /// Bucket region (default: `AWS_REGION`, then `AWS_DEFAULT_REGION`, then `us-east-1`).
    pub region: Option<String>,
    /// Allow plain `http://` endpoints (default: `false`, HTTPS only).
    pub allow_http: Option<bool>,
    /// `true`: `https://bucket.endpoint/key`; `false` (the default): `https://endpoint/bucket/key`.
    pub virtual_hosted_style: Option<bool>,
    /// Give up on a failing object-store request after this long (retries with backoff until
    /// then; object_store's default is 3 minutes).
    pub retry_timeout: Option<std::time::Duration>,
    /// Local outputs: keep the process umask instead of making files 0600 and directories 0700
    /// (`[output] private = false`). The default, `false`, is private.
    pub keep_umask: bool,
    /// S3: allow a plain-http endpoint that is not on loopback (`[output] allow_insecure_http`).
    pub allow_insecure_http: bool,
}

/// Where the output lives: an object store, a prefix inside it, and a display string that is safe
/// to print (no credentials, no query).
///
/// Cloning is cheap (the store is shared).
#[derive(Clone)]
pub struct Location {
    store: Arc<dyn ObjectStore>,
    prefix: Path,
    display: String,
    local_root: Option<PathBuf>,
}

impl Location {
    /// Resolves an output URL, reading store settings from the process environment.
    ///
    /// Accepts a plain relative or absolute path (created if missing), `file:///abs`,
    /// `file://./rel`, `s3://bucket/prefix` (also `s3a://`), `gs://bucket/prefix`,
    /// `az://container/prefix` (also `azure://`, `adl://`, `abfs[s]://`), and `memory://` (a fresh
    /// in-memory store, for tests). For S3 the usual variables apply: `AWS_ACCESS_KEY_ID`,
    /// `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, `AWS_REGION`/`AWS_DEFAULT_REGION`,
    /// `AWS_ENDPOINT_URL`/`AWS_ENDPOINT`, `AWS_ALLOW_HTTP`; then `options` override them.
    /// No network I/O happens here.
    pub fn parse(url: &str, options: &StoreOptions) -> Result<Self, SinkError> {
        let env: Vec<(String, String)> = std::env::vars().collect();
        Self::parse_with_env(url, options, &env)
    }

    /// [`Location::parse`] with an explicit environment instead of the process's (for tests, and
    /// for callers that snapshot the environment once).
    pub fn parse_with_env(
        url: &str,
        options: &StoreOptions,
        env: &[(String, String)],
    ) -> Result<Self, SinkError> {
        let resolved = backend::resolve(url, options, env)?;
        Ok(Self {
            store: resolved.store,
            prefix: resolved.prefix,
            display: resolved.display,
            local_root: resolved.local_root,
        })
    }

    /// A location over an existing store (tests, or a store wrapped in adapters).
    pub fn from_store(
        store: Arc<dyn ObjectStore>,
        prefix: Path,
        display: impl Into<String>,
    ) -> Self {
        Self {
            store,
            prefix,
            display: display.into(),
            local_root: None,
        }
    }

    /// The underlying store.
    pub fn store(&self) -> &Arc<dyn ObjectStore> {
        &self.store
    }

    /// The prefix of the output inside the store (empty for local directories).
    pub fn prefix(&self) -> &Path {
        &self.prefix
    }

    /// The safe display string: an absolute directory, or a URL without credentials or query.
    pub fn display(&self) -> &str {
        &self.display
    }

    /// The absolute root directory when the output is on the local filesystem.
    pub fn local_root(&self) -> Option<&std::path::Path> {
        self.local_root.as_deref()
    }

    /// A buffered writer of the object `rel`: small objects are one `put` when finished, larger
    /// ones a multipart upload.
    ///
    /// The buffer is what an open file costs in memory before any of it is uploaded, so it is
    /// kept small on a local disk: 1 MiB (object_store's default is 10 MiB, and a run keeps
    /// several files open). Object stores keep object_store's defaults (10 MiB parts).
    pub fn writer(&self, rel: &str) -> object_store::buffered::BufWriter {
        use object_store::buffered::BufWriter;
        let (store, path) = (Arc::clone(&self.store), self.child(rel));
        if self.local_root.is_some() {
            BufWriter::with_capacity(store, path, LOCAL_BUFFER)
        } else {
            BufWriter::new(store, path)
        }
    }

    /// The full object path of `rel` (`/`-separated, relative to the location).
    pub fn child(&self, rel: &str) -> Path {
        let mut path = self.prefix.clone();
        path.extend(rel.split('/').filter(|part| !part.is_empty()));
        path
    }

    /// The key of `path` relative to the location, or `None` if it lies outside.
    pub fn relative(&self, path: &Path) -> Option<String> {
        let parts = path.prefix_match(&self.prefix)?;
        Some(
            parts
                .map(|p| p.as_ref().to_string())
                .collect::<Vec<_>>()
                .join("/"),
        )
    }

    /// Writes `value` as pretty JSON in a single `put`: atomic on every backend, so readers see the
    /// old object or the new one, never a mix. Used for manifests and state files.
    pub async fn put_json_atomic<T: Serialize + ?Sized>(
        &self,
        rel: &str,
        value: &T,
    ) -> Result<(), SinkError> {
        let mut bytes = serde_json::to_vec_pretty(value).map_err(|source| SinkError::Json {
            location: self.display.clone(),
            key: rel.to_string(),
            source,
        })?;
        bytes.push(b'\n');
        self.put_bytes(rel, bytes).await
    }

    /// Writes `bytes` as one object in a single `put` (atomic on every backend).
    pub async fn put_bytes(&self, rel: &str, bytes: Vec<u8>) -> Result<(), SinkError> {
        self.store
            .put(&self.child(rel), PutPayload::from(bytes))
            .await
            .map_err(|e| self.store_error("write", rel, e))?;
        Ok(())
    }

    /// Reads a JSON object; `Ok(None)` when it does not exist (e.g. no state before a first run).
    pub async fn get_json(&self, rel: &str) -> Result<Option<serde_json::Value>, SinkError> {
        let result = match self.store.get(&self.child(rel)).await {
            Ok(result) => result,
            Err(object_store::Error::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(self.store_error("read", rel, e)),
        };
        let bytes = result
            .bytes()
            .await
            .map_err(|e| self.store_error("read", rel, e))?;
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|source| SinkError::Json {
                location: self.display.clone(),
                key: rel.to_string(),
                source,
            })
    }

    /// Every object under `rel_prefix` (recursively, whole path segments: `a/b` does not match
    /// `a/bc`). Paths in the result are full store paths; see [`Location::relative`].
    /// `LocalFileSystem` never lists its in-progress staging files.
    pub async fn list(&self, rel_prefix: &str) -> Result<Vec<ObjectMeta>, SinkError> {
        let prefix = self.child(rel_prefix);
        self.store
            .list(Some(&prefix))
            .try_collect()
            .await
            .map_err(|e| self.store_error("list", rel_prefix, e))
    }

    /// Deletes an object. Idempotent: deleting a missing object succeeds.
    ///
    /// Only names the tool writes are deleted (see [`super::is_own_key`]): any other key is
    /// left in place with a warning, so a cleanup can never remove a file someone else put in
    /// the output.
    pub async fn delete(&self, rel: &str) -> Result<(), SinkError> {
        if !super::own_names::is_own_key(rel) {
            tracing::warn!(key = rel, location = %self.display, "Not deleting a file the tool did not write.");
            return Ok(());
        }
        match self.store.delete(&self.child(rel)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(self.store_error("delete", rel, e)),
        }
    }

    /// Whether an object exists (a `HEAD`).
    pub async fn exists(&self, rel: &str) -> Result<bool, SinkError> {
        match self.store.head(&self.child(rel)).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(self.store_error("check", rel, e)),
        }
    }

    /// Wraps a store error with this location, the key and a hint on what to check.
    pub(crate) fn store_error(
        &self,
        op: &'static str,
        rel: &str,
        source: object_store::Error,
    ) -> SinkError {
        SinkError::Store {
            op,
            location: self.display.clone(),
            key: rel.to_string(),
            hint: match self.local_root() {
                // A local folder: the causes below say what the file system refused.
                Some(_) => {
                    "check that the folder exists, is writable, has space, and that no file \
                     stands where a folder of the output must be"
                }
                None => hint_for(op, &source),
            },
            source: Box::new(source),
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.display)
    }
}

/// Shows only the safe display string: a store's own `Debug` may include its configuration.
impl fmt::Debug for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Location")
            .field("display", &self.display)
            .field("prefix", &self.prefix.as_ref())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fake_aws_env() -> Vec<(String, String)> {
        [
            ("AWS_ACCESS_KEY_ID", "AKIAFAKEFAKEFAKE"),
            ("AWS_SECRET_ACCESS_KEY", "fake-secret-do-not-print"),
            ("AWS_REGION", "eu-west-2"),
            ("HOME", "/root"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    #[test]
    fn relative_path_is_created_and_made_absolute() {
        let dir = tempfile::tempdir().unwrap();
        let rel = dir.path().join("a/b");
        let loc = Location::parse(rel.to_str().unwrap(), &StoreOptions::default()).unwrap();
        assert!(rel.is_dir());
        let root = loc.local_root().unwrap();
        assert!(root.is_absolute());
        assert_eq!(loc.display(), root.display().to_string());
        assert_eq!(loc.prefix().as_ref(), "");

        // A truly relative path, resolved against the current directory.
        let name = format!("target/sink-test-{}", std::process::id());
        let loc = Location::parse(&name, &StoreOptions::default()).unwrap();
        assert!(loc.local_root().unwrap().ends_with(&name));
        std::fs::remove_dir_all(&name).unwrap();
    }

    #[test]
    fn file_url_absolute() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("file://{}/out", dir.path().display());
        let loc = Location::parse(&url, &StoreOptions::default()).unwrap();
        assert!(dir.path().join("out").is_dir());
        assert_eq!(loc.child("t/part-0.parquet").as_ref(), "t/part-0.parquet");
    }

    #[test]
    fn s3_url_builds_from_env_without_io() {
        let loc =
            Location::parse_with_env("s3://bucket/p/q", &StoreOptions::default(), &fake_aws_env())
                .unwrap();
        assert_eq!(loc.display(), "s3://bucket/p/q");
        assert_eq!(loc.prefix().as_ref(), "p/q");
        assert_eq!(loc.child("_runs/r.json").as_ref(), "p/q/_runs/r.json");
        assert!(!format!("{loc:?}").contains("fake-secret"));
    }

    #[test]
    fn s3_options_override_env() {
        let options = StoreOptions {
            endpoint: Some("http://127.0.0.1:9".into()),
            region: Some("us-east-1".into()),
            allow_http: Some(true),
            virtual_hosted_style: Some(false),
            retry_timeout: Some(std::time::Duration::from_secs(5)),
            ..StoreOptions::default()
        };
        let loc = Location::parse_with_env("s3://bucket", &options, &fake_aws_env()).unwrap();
        assert_eq!(loc.prefix().as_ref(), "");
        assert_eq!(loc.display(), "s3://bucket");
    }

    #[test]
    fn bad_urls_say_what_is_wrong() {
        let env = fake_aws_env();
        let err = Location::parse_with_env("ftp://host/x", &StoreOptions::default(), &env)
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("Unsupported output URL scheme `ftp`"),
            "{err}"
        );

        let err = Location::parse_with_env("s3://", &StoreOptions::default(), &env)
            .unwrap_err()
            .to_string();
        assert_eq!(err, "Invalid output URL `s3://`: missing bucket name");

        let err = Location::parse_with_env("s3://AK:SECRET@b/p", &StoreOptions::default(), &env)
            .unwrap_err()
            .to_string();
        assert!(
            !err.contains("SECRET") && err.contains("credentials do not belong"),
            "{err}"
        );

        let options = StoreOptions {
            region: Some("eu-west-2".into()),
            ..StoreOptions::default()
        };
        let err = Location::parse_with_env("memory://", &options, &env).unwrap_err();
        assert!(matches!(
            err,
            SinkError::UnsupportedOption {
                option: "region",
                ..
            }
        ));
    }

    #[tokio::test]
    async fn json_helpers_round_trip() {
        let loc = Location::parse("memory:///out", &StoreOptions::default()).unwrap();
        assert_eq!(loc.get_json("_state/p.json").await.unwrap(), None);
        assert!(!loc.exists("_state/p.json").await.unwrap());

        let value = serde_json::json!({"cursor": "2026-07-04T19:35:55Z"});
        loc.put_json_atomic("_state/p.json", &value).await.unwrap();
        assert_eq!(loc.get_json("_state/p.json").await.unwrap(), Some(value));
        assert!(loc.exists("_state/p.json").await.unwrap());

        let listed = loc.list("_state").await.unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].location.as_ref(), "out/_state/p.json");
        assert_eq!(loc.relative(&listed[0].location).unwrap(), "_state/p.json");

        loc.delete("_state/p.json").await.unwrap();
        loc.delete("_state/p.json").await.unwrap();
        assert!(loc.list("").await.unwrap().is_empty());
    }
}
