//! The API token: read from an environment variable or a file, never printed.
//!
//! A Dentally key opens a practice's patient records. `ApiToken`'s `Debug` and `Display` print
//! `[REDACTED]`, so neither a log line, an error chain nor a panic message can carry it; the only
//! way to the text is [`ApiToken::expose`], used once, when the `Authorization` header is built.
//!
//! A token file is read only when it is a regular file and only up to 4 KiB (a token is 64
//! characters; `/dev/zero` must not fill the memory), and every token is checked at load time to
//! be one run of visible ASCII: a byte-order mark, a second line or inner spaces would otherwise
//! surface later as a misleading "expired token" 401 or as eight retries of an unbuildable
//! request (security review D19, D20).

use std::fmt;
use std::io::Read;
use std::path::Path;

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
    /// The file is not a regular file, or is too large to hold a token.
    #[error("token file `{path}` (named by `token_file`) {why}; it should hold the token alone")]
    FileShape {
        /// The file.
        path: String,
        /// What is wrong.
        why: &'static str,
    },
    /// The text is not a token (never printed).
    #[error(
        "the token from {origin} {why}; it should be the token alone, one line of visible ASCII (copy it again from Dentally)"
    )]
    Malformed {
        /// `environment variable `X`` or `token file `path``.
        origin: String,
        /// What is wrong (never the text).
        why: &'static str,
    },
}

/// Most bytes read from a token file.
const MAX_TOKEN_FILE_BYTES: u64 = 4096;

/// Checks that `text` (already trimmed) looks like one token: no BOM, one run of visible
/// ASCII. The reason never quotes the text.
fn check_token_text(text: &str) -> Result<(), &'static str> {
    if text.starts_with('\u{feff}') {
        return Err("starts with a byte-order mark (the file was saved as \"UTF-8 with BOM\")");
    }
    if text.contains(['\n', '\r']) {
        return Err("spans several lines");
    }
    if text.chars().any(char::is_whitespace) {
        return Err("contains spaces or tabs");
    }
    if !text.bytes().all(|b| b.is_ascii_graphic()) {
        return Err("contains characters other than visible ASCII");
    }
    Ok(())
}

/// Where the API token is read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenSource {
    /// An environment variable's name.
    Env(String),
    /// A file path (its mode is checked).
    File(std::path::PathBuf),
}

/// Reads the token from its source. The second value lists warnings (a file readable by others).
pub fn load(source: &TokenSource) -> Result<(ApiToken, Vec<String>), TokenError> {
    match source {
        TokenSource::Env(name) => {
            let token = std::env::var(name)
                .ok()
                .filter(|v| !v.trim().is_empty())
                .map(ApiToken::new)
                .ok_or_else(|| TokenError::EnvMissing(name.clone()))?;
            check_token_text(token.expose()).map_err(|why| TokenError::Malformed {
                origin: format!("environment variable `{name}`"),
                why,
            })?;
            Ok((token, Vec::new()))
        }
        TokenSource::File(path) => load_file(path),
    }
}

fn load_file(path: &Path) -> Result<(ApiToken, Vec<String>), TokenError> {
    let shown = path.display().to_string();
    let io = |source| TokenError::File {
        path: shown.clone(),
        source,
    };
    let file = std::fs::File::open(path).map_err(io)?;
    if !file.metadata().map_err(io)?.is_file() {
        return Err(TokenError::FileShape {
            path: shown,
            why: "is not a regular file",
        });
    }
    let mut bytes = Vec::new();
    file.take(MAX_TOKEN_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(io)?;
    if bytes.len() as u64 > MAX_TOKEN_FILE_BYTES {
        return Err(TokenError::FileShape {
            path: shown,
            why: "is larger than 4 KiB",
        });
    }
    let text = String::from_utf8(bytes).map_err(|_| TokenError::Malformed {
        origin: format!("token file `{shown}`"),
        why: "is not UTF-8 text",
    })?;
    if text.trim().is_empty() {
        return Err(TokenError::FileEmpty(shown));
    }
    let token = ApiToken::new(text);
    check_token_text(token.expose()).map_err(|why| TokenError::Malformed {
        origin: format!("token file `{shown}`"),
        why,
    })?;
    Ok((token, permission_warnings(path)))
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

    #[test]
    fn refuses_what_is_not_one_token() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        for (text, why) in [
            ("\u{feff}abc123", "byte-order mark"),
            ("abc123\n# a comment", "several lines"),
            ("abc 123", "spaces"),
            ("abc\u{e9}123", "visible ASCII"),
        ] {
            std::fs::write(&path, text).unwrap();
            let err = load(&TokenSource::File(path.clone()))
                .unwrap_err()
                .to_string();
            assert!(err.contains(why), "{err}");
            assert!(!err.contains("abc"), "the text is never printed: {err}");
        }
        std::fs::write(&path, "x".repeat(5000)).unwrap();
        let err = load(&TokenSource::File(path.clone()))
            .unwrap_err()
            .to_string();
        assert!(err.contains("larger than 4 KiB"), "{err}");
        let err = load(&TokenSource::File(dir.path().to_path_buf()))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("not a regular file") || err.contains("cannot read"),
            "{err}"
        );
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
