//! Output URL → object store: the only place that knows about schemes and backends.
//!
//! Everything after this point writes through `Arc<dyn ObjectStore>` (habit 7: one write path for
//! local files and S3). We do not call `object_store::parse_url_opts` directly because we need
//! three things it does not do: relative paths and `file://./out` (design §3), creating a missing
//! local directory, and reading the environment through an injected iterator, so tests can pass
//! fake `AWS_*` variables (edition 2024 makes `std::env::set_var` unsafe, and the crate forbids
//! unsafe code). The builders themselves do no I/O: credentials are resolved lazily on the first
//! request.

use std::path::{Path as FsPath, PathBuf};
use std::sync::Arc;

use object_store::ObjectStore;
use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
use object_store::azure::{AzureConfigKey, MicrosoftAzureBuilder};
use object_store::gcp::{GoogleCloudStorageBuilder, GoogleConfigKey};
use object_store::local::LocalFileSystem;
use object_store::memory::InMemory;
use object_store::path::Path;
use url::Url;

use super::error::SinkError;
use super::location::StoreOptions;
use super::private;

/// A resolved output: what [`super::Location`] is made of.
pub(crate) struct Resolved {
    pub(crate) store: Arc<dyn ObjectStore>,
    pub(crate) prefix: Path,
    pub(crate) display: String,
    pub(crate) local_root: Option<PathBuf>,
}

/// Resolves `url` (a path or a URL) into a store, a prefix inside it and a safe display string.
pub(crate) fn resolve(
    url: &str,
    options: &StoreOptions,
    env: &[(String, String)],
) -> Result<Resolved, SinkError> {
    let url = url.trim();
    if url.is_empty() {
        return Err(invalid(url, "the output URL is empty"));
    }
    let Some(scheme) = scheme_of(url) else {
        return local(FsPath::new(url), options);
    };
    match scheme.to_ascii_lowercase().as_str() {
        "file" => local(&file_url_to_path(url)?, options),
        "memory" => memory(url, options),
        "s3" | "s3a" => s3(url, options, env),
        "gs" => gcs(url, options, env),
        "az" | "azure" | "adl" | "abfs" | "abfss" => azure(url, options, env),
        _ => Err(SinkError::UnsupportedScheme {
            url: redact(url),
            scheme: scheme.to_string(),
        }),
    }
}

/// The scheme of `scheme://…`, or `None` for a plain path (including `C:\…` on Windows).
fn scheme_of(url: &str) -> Option<&str> {
    let (scheme, _) = url.split_once("://")?;
    let mut chars = scheme.chars();
    let valid = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    valid.then_some(scheme)
}

/// `file:///abs/dir` → `/abs/dir`; `file://./dir` and `file://dir/sub` → relative paths.
fn file_url_to_path(url: &str) -> Result<PathBuf, SinkError> {
    let rest = &url["file://".len()..];
    if !rest.starts_with('/') && !rest.starts_with("localhost/") {
        return Ok(PathBuf::from(rest));
    }
    let parsed = Url::parse(url).map_err(|e| invalid(url, &e.to_string()))?;
    parsed.to_file_path().map_err(|()| {
        invalid(
            url,
            "a file URL takes an absolute path (`file:///abs/dir`) or a relative one (`file://./dir`)",
        )
    })
}

/// A directory on this machine; created when missing, because `LocalFileSystem` needs an existing,
/// absolute root. Writes are fsynced so the commit order of design §4 survives a power cut.
///
/// Private by default and free of symlinks (see [`super::private`]).
fn local(dir: &FsPath, options: &StoreOptions) -> Result<Resolved, SinkError> {
    let display_dir = dir.display().to_string();
    reject_options(options, &display_dir)?;
    let create_err = |source| SinkError::CreateDir {
        path: dir.to_path_buf(),
        source,
    };
    if !options.keep_umask {
        private::restrict_umask();
    }
    let created = private::create_root(dir).map_err(create_err)?;
    let root = std::fs::canonicalize(dir).map_err(create_err)?;
    if !options.keep_umask && !created {
        private::warn_if_open(&root);
    }
    private::refuse_symlinks(&root)?;
    let store = LocalFileSystem::new_with_prefix(&root)
        .map_err(|source| SinkError::BuildStore {
            location: display_dir,
            source: Box::new(source),
        })?
        .with_fsync(true);
    Ok(Resolved {
        store: Arc::new(store),
        prefix: Path::ROOT,
        display: root.display().to_string(),
        local_root: Some(root),
    })
}

/// A fresh, empty in-memory store (tests, dry runs); `memory:///prefix` sets a prefix.
fn memory(url: &str, options: &StoreOptions) -> Result<Resolved, SinkError> {
    let display = redact(url);
    reject_options(options, &display)?;
    let rest = url["memory://".len()..].trim_matches('/');
    let prefix = Path::parse(rest).map_err(|e| invalid(url, &e.to_string()))?;
    Ok(Resolved {
        store: Arc::new(InMemory::new()),
        prefix,
        display,
        local_root: None,
    })
}

fn s3(url: &str, options: &StoreOptions, env: &[(String, String)]) -> Result<Resolved, SinkError> {
    let (clean, prefix) = bucket_url(url, "bucket")?;
    let mut builder = env_config(env, &["AWS_"], AmazonS3Builder::new(), |b, k, v| {
        b.with_config(k, v)
    })
    .with_url(clean.as_str());
    if let Some(endpoint) = &options.endpoint {
        builder = builder.with_config(AmazonS3ConfigKey::Endpoint, endpoint);
    }
    if let Some(region) = &options.region {
        builder = builder.with_region(region);
    }
    if let Some(allow_http) = options.allow_http {
        builder = builder.with_allow_http(allow_http);
    }
    if let Some(virtual_hosted) = options.virtual_hosted_style {
        builder = builder.with_virtual_hosted_style_request(virtual_hosted);
    }
    if let Some(timeout) = options.retry_timeout {
        builder = builder.with_retry(retry_config(timeout));
    }
    if !options.allow_insecure_http {
        refuse_remote_http(&builder)?;
    }
    built(builder.build(), prefix, &clean)
}

/// Plain http is for a test server on this machine only: an S3 endpoint that is `http://` and not
/// loopback is refused, whether it came from `[output]` or from `AWS_ENDPOINT_URL` with
/// `AWS_ALLOW_HTTP` (security review D15).
fn refuse_remote_http(builder: &AmazonS3Builder) -> Result<(), SinkError> {
    let allow_http = builder
        .get_config_value(&AmazonS3ConfigKey::Client(
            object_store::ClientConfigKey::AllowHttp,
        ))
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"));
    let Some(endpoint) = builder.get_config_value(&AmazonS3ConfigKey::Endpoint) else {
        return Ok(());
    };
    let remote_http =
        Url::parse(&endpoint).is_ok_and(|u| u.scheme() == "http" && !crate::api::is_loopback(&u));
    if allow_http && remote_http {
        return Err(SinkError::InsecureHttp {
            endpoint: redact(&endpoint),
        });
    }
    Ok(())
}

fn gcs(url: &str, options: &StoreOptions, env: &[(String, String)]) -> Result<Resolved, SinkError> {
    let (clean, prefix) = bucket_url(url, "bucket")?;
    reject_options(options, clean.as_str())?;
    let builder = env_config(
        env,
        &["GOOGLE_", "SERVICE_ACCOUNT"],
        GoogleCloudStorageBuilder::new(),
        |b, k: GoogleConfigKey, v| b.with_config(k, v),
    );
    built(builder.with_url(clean.as_str()).build(), prefix, &clean)
}

fn azure(
    url: &str,
    options: &StoreOptions,
    env: &[(String, String)],
) -> Result<Resolved, SinkError> {
    let (clean, prefix) = bucket_url(url, "container")?;
    reject_options(options, clean.as_str())?;
    let builder = env_config(
        env,
        &["AZURE_", "MSI_ENDPOINT"],
        MicrosoftAzureBuilder::new(),
        |b, k: AzureConfigKey, v| b.with_config(k, v),
    );
    built(builder.with_url(clean.as_str()).build(), prefix, &clean)
}

/// A remote store just built (or the reason it could not be), as a resolved location.
fn built<S: ObjectStore>(
    store: object_store::Result<S>,
    prefix: Path,
    clean: &Url,
) -> Result<Resolved, SinkError> {
    let store = store.map_err(|source| SinkError::BuildStore {
        location: clean.to_string(),
        source: Box::new(source),
    })?;
    Ok(remote(Arc::new(store), prefix, clean))
}

fn remote(store: Arc<dyn ObjectStore>, prefix: Path, clean: &Url) -> Resolved {
    let display = clean.as_str().trim_end_matches('/').to_string();
    Resolved {
        store,
        prefix,
        display,
        local_root: None,
    }
}

/// Parses `scheme://bucket/prefix`, refusing credentials in the URL, and returns the URL without
/// query or fragment plus the prefix as an object path.
fn bucket_url(url: &str, what: &str) -> Result<(Url, Path), SinkError> {
    let mut parsed = Url::parse(url).map_err(|e| invalid(url, &e.to_string()))?;
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(invalid(url, &format!("missing {what} name")));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(invalid(
            url,
            "credentials do not belong in the URL; use the environment variables of the store",
        ));
    }
    parsed.set_query(None);
    parsed.set_fragment(None);
    let prefix = Path::from_url_path(parsed.path()).map_err(|e| invalid(url, &e.to_string()))?;
    Ok((parsed, prefix))
}

/// Applies every `prefix*` variable of `env` that the builder recognises as a config key, as the
/// builders' own `from_env` would.
fn env_config<B, K: std::str::FromStr>(
    env: &[(String, String)],
    prefixes: &[&str],
    builder: B,
    apply: impl Fn(B, K, &str) -> B,
) -> B {
    env.iter()
        .filter(|(k, _)| prefixes.iter().any(|p| k.starts_with(p)))
        .filter_map(|(k, v)| Some((k.to_ascii_lowercase().parse::<K>().ok()?, v)))
        .fold(builder, |b, (k, v)| apply(b, k, v))
}

/// object_store's retry policy with our bound on the total time.
fn retry_config(timeout: std::time::Duration) -> object_store::RetryConfig {
    object_store::RetryConfig {
        retry_timeout: timeout,
        ..object_store::RetryConfig::default()
    }
}

fn reject_options(options: &StoreOptions, location: &str) -> Result<(), SinkError> {
    let set = [
        ("endpoint", options.endpoint.is_some()),
        ("region", options.region.is_some()),
        ("allow_http", options.allow_http.is_some()),
        (
            "virtual_hosted_style",
            options.virtual_hosted_style.is_some(),
        ),
    ];
    match set.iter().find(|(_, is_set)| *is_set) {
        Some((option, _)) => Err(SinkError::UnsupportedOption {
            option,
            location: location.to_string(),
        }),
        None => Ok(()),
    }
}

fn invalid(url: &str, reason: &str) -> SinkError {
    SinkError::InvalidUrl {
        url: redact(url),
        reason: reason.to_string(),
    }
}

/// `url` without user, password, query or fragment, for messages and logs; best effort when
/// the text is not a valid URL.
pub(crate) fn redact(url: &str) -> String {
    if let Ok(mut parsed) = Url::parse(url)
        && parsed.set_username("").is_ok()
        && parsed.set_password(None).is_ok()
    {
        parsed.set_query(None);
        parsed.set_fragment(None);
        return parsed.to_string();
    }
    let end = url.find(['?', '#']).unwrap_or(url.len());
    let url = &url[..end];
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let authority_end = rest.find('/').unwrap_or(rest.len());
            let host_start = rest[..authority_end].rfind('@').map_or(0, |at| at + 1);
            format!("{scheme}://{}", &rest[host_start..])
        }
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redact_removes_credentials_query_and_fragment() {
        assert_eq!(
            redact("s3://KEY:SECRET@bucket/p?X-Amz-Signature=abc#f"),
            "s3://bucket/p"
        );
        assert_eq!(redact("s3://KEY:SECRET@/p?sig=1"), "s3:///p");
        assert_eq!(redact("not a url?token=1"), "not a url");
    }

    #[test]
    fn scheme_is_only_read_before_colon_slash_slash() {
        assert_eq!(scheme_of("s3://b/p"), Some("s3"));
        assert_eq!(scheme_of("./out"), None);
        assert_eq!(scheme_of(r"C:\out"), None);
        assert_eq!(scheme_of("dir/with://inside"), None);
    }

    #[test]
    fn file_url_forms() {
        assert_eq!(
            file_url_to_path("file://./out").unwrap(),
            PathBuf::from("./out")
        );
        assert_eq!(
            file_url_to_path("file:///tmp/a%20b").unwrap(),
            PathBuf::from("/tmp/a b")
        );
        assert_eq!(
            file_url_to_path("file://out/sub").unwrap(),
            PathBuf::from("out/sub")
        );
    }
}
