//! The PII policy of a pipeline (`pii = keep | hash | drop`, `docs/design.md` §7).
//!
//! It lives in the catalog because it changes the schema: `Drop` removes the columns tagged
//! [`Pii::Direct`](super::Pii::Direct) and `Hash` turns them into Utf8 digests. The flattener
//! applies the same policy to values.

use std::fmt;

/// What to do with columns tagged as personal data.
#[derive(Clone, PartialEq, Eq, Default)]
pub enum PiiPolicy {
    /// Keep the values as they are (the default).
    #[default]
    Keep,
    /// Leave the columns out of every table.
    Drop,
    /// Replace each value by the lowercase hex HMAC-SHA256 of its canonical text under `key`, so
    /// equal values still join across tables and runs. The column becomes Utf8.
    Hash {
        /// The HMAC key (from an environment variable). Never printed: `Debug` redacts it.
        key: Vec<u8>,
    },
}

impl PiiPolicy {
    /// The policy's name as written in a pipeline file (`keep`, `drop`, `hash`).
    pub fn name(&self) -> &'static str {
        match self {
            Self::Keep => "keep",
            Self::Drop => "drop",
            Self::Hash { .. } => "hash",
        }
    }
}

impl fmt::Debug for PiiPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Keep => f.write_str("Keep"),
            Self::Drop => f.write_str("Drop"),
            Self::Hash { .. } => f.debug_struct("Hash").field("key", &"<redacted>").finish(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_key() {
        let policy = PiiPolicy::Hash {
            key: b"s3cret-key".to_vec(),
        };
        let shown = format!("{policy:?} {policy:#?}");
        assert!(!shown.contains("s3cret"));
        assert!(
            !shown.contains("115"),
            "key bytes must not be printed either"
        );
        assert!(shown.contains("redacted"));
        assert_eq!(policy.name(), "hash");
    }
}
