//! The API token: read from an environment variable or a file, never printed.
//!
//! A Dentally key opens a practice's patient records. `ApiToken`'s `Debug` and `Display` print
//! `[REDACTED]`, so neither a log line, an error chain nor a panic message can carry it; the only
//! way to the text is [`ApiToken::expose`], used once, when the `Authorization` header is built.

use std::fmt;
use std::path::Path;

use crate::config::TokenSource;

/// A Dentally API token.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiToken(String);

impl ApiToken {
    /// Wraps a token string (trimmed).
    pub fn new(text: impl Into<String>) -> Self {
        Self(text.into().trim().to_string())
    }

    /// The token text, for the `Authorization` header only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ApiToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiToken([REDACTED])")
    }
}

impl fmt::Display for ApiToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[REDACTED]")
    }
}

/// Why no token could be read.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// The variable is unset or empty.
    #[error("environment variable `{0}` (named by `token_env`) is not set or empty")]
    EnvMissing(String),
    /// The file could not be read.
    #[error("cannot read token file `{path}` (named by `token_file`): {source}")]
    File {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is empty.
    #[error("token file `{0}` is empty")]
    FileEmpty(String),
}

/// Reads the token from its source. The second value lists warnings (a file readable by others).
pub fn load(source: &TokenSource) -> Result<(ApiToken, Vec<String>), TokenError> {
    match source {
        TokenSource::Env(name) => std::env::var(name)
            .ok()
            .filter(|v| !v.trim().is_empty())
            .map(|v| (ApiToken::new(v), Vec::new()))
            .ok_or_else(|| TokenError::EnvMissing(name.clone())),
        TokenSource::File(path) => load_file(path),
    }
}

fn load_file(path: &Path) -> Result<(ApiToken, Vec<String>), TokenError> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| TokenError::File {
        path: shown.clone(),
        source,
    })?;
    if text.trim().is_empty() {
        return Err(TokenError::FileEmpty(shown));
    }
    Ok((ApiToken::new(text), permission_warnings(path)))
}

#[cfg(unix)]
fn permission_warnings(path: &Path) -> Vec<String> {
    use std::os::unix::fs::PermissionsExt;
    let Ok(meta) = std::fs::metadata(path) else {
        return Vec::new();
    };
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 == 0 {
        return Vec::new();
    }
    vec![format!(
        "token file `{}` is readable by group or others (mode {mode:o}); run `chmod 600 {}`",
        path.display(),
        path.display()
    )]
}

#[cfg(not(unix))]
fn permission_warnings(_path: &Path) -> Vec<String> {
    Vec::new()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_prints_the_token() {
        let t = ApiToken::new(" secret-value\n");
        assert_eq!(t.expose(), "secret-value");
        assert!(!format!("{t} {t:?} {:?}", Some(&t)).contains("secret"));
    }

    #[cfg(unix)]
    #[test]
    fn warns_about_a_world_readable_token_file() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        std::fs::write(&path, "abc").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let (_, warnings) = load(&TokenSource::File(path.clone())).unwrap();
        assert_eq!(warnings.len(), 1);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert!(load(&TokenSource::File(path)).unwrap().1.is_empty());
    }
}
