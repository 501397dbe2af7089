//! The one error type of the sink, [`SinkError`].
//!
//! Every variant names the output location (its redacted display, never a credential) and, when
//! an object is involved, the key relative to that location, so an operator reading
//! ``error: Cannot write `_raw/patients/…` at `s3://warehouse/dentally` `` knows which file of
//! which output failed. Storage failures also carry a hint chosen from the semantic kind of the
//! `object_store` error (credentials, permission, missing bucket, endpoint), because the raw S3 error
//! text rarely says what to check.

use std::path::PathBuf;

/// Everything that can go wrong while addressing, writing or reading the output.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    /// The output URL could not be parsed, or lacks a part the backend needs.
    #[error("Invalid output URL `{url}`: {reason}")]
    InvalidUrl {
        /// The URL with credentials, query and fragment removed.
        url: String,
        /// What is wrong with it.
        reason: String,
    },

    /// The URL scheme is none of `file`, `s3`/`s3a`, `gs`, `az`/`azure`/`abfs(s)`, `memory`.
    #[error(
        "Unsupported output URL scheme `{scheme}` in `{url}`: use a path, `file://`, `s3://`, `gs://`, `az://` or `memory://`"
    )]
    UnsupportedScheme {
        /// The URL with credentials, query and fragment removed.
        url: String,
        /// The scheme as written.
        scheme: String,
    },

    /// A store option (endpoint, region, …) was given for a backend that does not take it.
    #[error("Option `{option}` applies to `s3://` outputs only, not to `{location}`")]
    UnsupportedOption {
        /// The option name as spelled in the pipeline file.
        option: &'static str,
        /// The output location.
        location: String,
    },

    /// The local output directory could not be created or resolved.
    #[error("Cannot create the output directory `{}`", path.display())]
    CreateDir {
        /// The directory.
        path: PathBuf,
        /// The I/O failure.
        source: std::io::Error,
    },

    /// The object store client could not be built from the URL, environment and options.
    #[error(
        "Cannot configure the store for `{location}`; check the bucket name, region, endpoint and credential variables"
    )]
    BuildStore {
        /// The output location.
        location: String,
        /// The builder's error.
        source: Box<object_store::Error>,
    },

    /// A storage operation (get, put, list, delete, upload) failed.
    #[error("Cannot {op} `{key}` at `{location}`; {hint}")]
    Store {
        /// What we were doing: `read`, `write`, `list`, `delete`, …
        op: &'static str,
        /// The output location.
        location: String,
        /// The key relative to the location.
        key: String,
        /// What to check, derived from the kind of failure.
        hint: &'static str,
        /// The store's error.
        source: Box<object_store::Error>,
    },

    /// Encoding or decoding Parquet failed.
    #[error("Parquet error in `{key}` at `{location}`")]
    Parquet {
        /// The output location.
        location: String,
        /// The key relative to the location.
        key: String,
        /// The parquet crate's error.
        source: parquet::errors::ParquetError,
    },

    /// Encoding CSV (or converting a column for CSV) failed.
    #[error("CSV encoding error in `{key}` at `{location}`")]
    Csv {
        /// The output location.
        location: String,
        /// The key relative to the location.
        key: String,
        /// The arrow error.
        source: arrow::error::ArrowError,
    },

    /// A batch handed to a writer does not have the schema the file was created with.
    #[error(
        "Batch schema does not match the schema of `{key}` at `{location}`:\n  file:  {expected}\n  batch: {found}"
    )]
    SchemaMismatch {
        /// The output location.
        location: String,
        /// The key relative to the location.
        key: String,
        /// The file's schema, rendered.
        expected: String,
        /// The batch's schema, rendered.
        found: String,
    },

    /// A previous current file (the input of an incremental merge) has other columns than the
    /// table has now: changed by hand, or written by another version under another policy.
    #[error(
        "A previous current file has other columns than this run's table (expected {expected}, found {found}); run once with `--full-refresh` to rebuild the table"
    )]
    PreviousColumns {
        /// The leading columns expected, rendered.
        expected: String,
        /// The file's leading columns, rendered.
        found: String,
    },

    /// A JSON object (manifest, state) could not be encoded or decoded.
    #[error("Invalid JSON in `{key}` at `{location}`: {source}")]
    Json {
        /// The output location.
        location: String,
        /// The key relative to the location.
        key: String,
        /// The `serde_json` error.
        source: serde_json::Error,
    },

    /// A symbolic link below a local output root (security review D12).
    #[error(
        "Refusing the output: `{}` is a symbolic link; the output folder must hold real files and folders only (a link would send patient data, and the run's deletions, wherever it points). Remove the link, or point `[output] url` at the real folder",
        path.display()
    )]
    Symlink {
        /// The link.
        path: PathBuf,
    },

    /// Plain http to a remote object store (security review D15).
    #[error(
        "Refusing plain http to the object store at `{endpoint}`: it is not on this machine, and patient data would travel unencrypted. Use an https endpoint, or set `allow_insecure_http = true` in [output] if the network is trusted"
    )]
    InsecureHttp {
        /// The endpoint, without credentials or query.
        endpoint: String,
    },

    /// Cleaning up leftover local staging files failed.
    #[error("Cannot remove the leftover file `{}`", path.display())]
    Cleanup {
        /// The file.
        path: PathBuf,
        /// The I/O failure.
        source: std::io::Error,
    },
}

/// What an operator should check when `op` failed with this kind of storage error.
pub(crate) fn hint_for(op: &str, error: &object_store::Error) -> &'static str {
    use object_store::Error as E;
    match error {
        // `object_store` has no S3 error codes, only the response body in the message. A 404 on
        // an upload part, or on its completion or abort, means the server forgot the multipart
        // upload (restarted, or a lifecycle rule aborted it), not that the bucket is missing.
        E::NotFound { .. } if error.to_string().contains("NoSuchUpload") => {
            "the server no longer knows this multipart upload (it restarted, or the upload was aborted): write the file again"
        }
        E::NotFound { .. } if op == "write" => {
            "the bucket or container does not exist: create it, or check the output URL"
        }
        E::NotFound { .. } => "the object or its bucket/container does not exist",
        E::Unauthenticated { .. } => {
            "check the credentials (e.g. `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`) and that they have not expired"
        }
        E::PermissionDenied { .. } => {
            "check that the credentials may read, write, list and delete under this prefix"
        }
        E::AlreadyExists { .. } | E::Precondition { .. } | E::NotModified { .. } => {
            "another writer changed the object concurrently"
        }
        E::NotImplemented { .. } | E::NotSupported { .. } => {
            "this backend does not support the operation"
        }
        _ => {
            "check the endpoint, region, network access, that the bucket exists and that the credentials are valid"
        }
    }
}

/// The storage error inside an encoder error, if that is what it is: the writers reach the store
/// through `AsyncWrite`, so an upload failure arrives as `io::Error(object_store::Error)`, often
/// wrapped again in `ParquetError::External` (once or twice). Anything else is handed back.
pub(crate) fn store_error_in(
    error: Box<dyn std::error::Error + Send + Sync>,
) -> Result<object_store::Error, Box<dyn std::error::Error + Send + Sync>> {
    use parquet::errors::ParquetError;
    let error = match error.downcast::<object_store::Error>() {
        Ok(store) => return Ok(*store),
        Err(other) => other,
    };
    let error = match error.downcast::<ParquetError>() {
        Ok(parquet) => match *parquet {
            ParquetError::External(inner) => {
                return store_error_in(inner).map_err(|e| Box::new(ParquetError::External(e)) as _);
            }
            other => return Err(Box::new(other)),
        },
        Err(other) => other,
    };
    match error.downcast::<std::io::Error>() {
        Ok(io) if io.get_ref().is_some_and(|e| e.is::<object_store::Error>()) => {
            let inner = io.into_inner().expect("checked above");
            Ok(*inner
                .downcast::<object_store::Error>()
                .expect("checked above"))
        }
        Ok(io) => Err(io),
        Err(other) => Err(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_errors_are_found_inside_encoder_errors() {
        use parquet::errors::ParquetError;
        let store = || object_store::Error::NotFound {
            path: "p".into(),
            source: "404 NoSuchBucket".into(),
        };
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, store());
        let nested = ParquetError::External(Box::new(ParquetError::External(Box::new(io))));
        let found = store_error_in(Box::new(nested)).unwrap();
        assert!(matches!(found, object_store::Error::NotFound { .. }));
        assert!(store_error_in(Box::new(store())).is_ok());

        let plain = ParquetError::General("bad page".into());
        let back = store_error_in(Box::new(plain)).unwrap_err();
        assert_eq!(back.to_string(), "Parquet error: bad page");
        let io = std::io::Error::other("disk full");
        let back = store_error_in(Box::new(io)).unwrap_err();
        assert_eq!(back.to_string(), "disk full");
    }

    #[test]
    fn lost_multipart_upload_has_its_own_hint() {
        let source = object_store::Error::NotFound {
            path: "p".into(),
            source: "<Code>NoSuchUpload</Code>".into(),
        };
        assert!(hint_for("write", &source).starts_with("the server no longer knows"));
    }

    #[test]
    fn store_error_names_location_key_and_hint() {
        let source = object_store::Error::PermissionDenied {
            path: "p".into(),
            source: "403".into(),
        };
        let hint = hint_for("write", &source);
        let err = SinkError::Store {
            op: "write",
            location: "s3://bucket/out".into(),
            key: "_runs/r1.json".into(),
            hint,
            source: Box::new(source),
        };
        assert_eq!(
            err.to_string(),
            "Cannot write `_runs/r1.json` at `s3://bucket/out`; check that the credentials may \
             read, write, list and delete under this prefix"
        );
    }
}
