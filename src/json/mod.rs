//! API pages as a tape: the JSON text, validated once, plus a flat list of tokens pointing into it.
//!
//! Why not `serde_json::Value`: decoding a page into a `Value` tree allocates a `String` for every
//! key and string and hashes every key into a map, then the flattener hashes each key again to
//! look it up; the profile in BENCHMARKS.md put that at four fifths of the CPU spent on a page.
//! A [`Doc`] keeps the text as received and records, for each value, a [`Tok`] with its byte
//! span (a container also knows where its tokens end, so it can be skipped in one step). Nothing is
//! converted until a column asks for it: strings are borrowed from the text (unescaped only when
//! they hold an escape), numbers keep the digits the API sent (money is parsed from those, never
//! through a float), and objects are walked once, key by key, in the order they arrived.
//!
//! A `Doc` owns its text and tape and holds no references, so a page can be parsed by the fetch
//! that received it and handed to the flattener through a channel. [`Node`] is the borrowed view
//! the rest of the code reads.

mod node;
mod parse;

pub use node::{Kind, Node};

/// One token of the tape. Offsets are byte offsets into the document's text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tok {
    Null,
    True,
    False,
    /// The number's exact text.
    Number {
        start: u32,
        end: u32,
    },
    /// The text between the quotes; `escaped` when it holds a backslash escape.
    String {
        start: u32,
        end: u32,
        escaped: bool,
    },
    /// `end`: tape index after the last token inside; `start..stop`: the bytes `[` … `]`.
    Array {
        end: u32,
        start: u32,
        stop: u32,
    },
    /// As `Array`; inside, tokens alternate key (a `String`) and value.
    Object {
        end: u32,
        start: u32,
        stop: u32,
    },
}

/// A parsed JSON document.
#[derive(Debug, Clone)]
pub struct Doc {
    text: String,
    tape: Vec<Tok>,
    /// No insignificant whitespace anywhere: every raw span is already compact JSON.
    compact: bool,
}

/// Why a text is not JSON: the byte offset and what was expected there.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid JSON at byte {offset}: {why}")]
pub struct JsonError {
    /// Byte offset of the problem.
    pub offset: usize,
    /// What is wrong.
    pub why: &'static str,
}

impl JsonError {
    fn new(offset: usize, why: &'static str) -> Self {
        Self { offset, why }
    }
}

impl Doc {
    /// Parses `text` (one JSON value, surrounding whitespace allowed).
    pub fn parse(text: String) -> Result<Self, JsonError> {
        let (tape, compact) = parse::tokenize(&text)?;
        Ok(Self {
            text,
            tape,
            compact,
        })
    }

    /// Parses a body as received: UTF-8 is checked first.
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Self, JsonError> {
        let text = String::from_utf8(bytes)
            .map_err(|e| JsonError::new(e.utf8_error().valid_up_to(), "invalid UTF-8"))?;
        Self::parse(text)
    }

    /// A document holding `value` (tests and callers that build records in code).
    pub fn from_value(value: &serde_json::Value) -> Self {
        Self::parse(value.to_string())
            .unwrap_or_else(|e| unreachable!("serde_json writes valid JSON: {e}"))
    }

    /// The top-level value.
    pub fn root(&self) -> Node<'_> {
        Node::new(self, 0)
    }

    /// The value at tape position `at` (a [`Node::position`] of this document).
    ///
    /// # Panics
    /// When `at` is past the end of the tape.
    pub fn node(&self, at: u32) -> Node<'_> {
        assert!(
            (at as usize) < self.tape.len(),
            "tape position {at} out of range"
        );
        Node::new(self, at)
    }
}

#[cfg(test)]
mod differential;
#[cfg(test)]
mod tests;
