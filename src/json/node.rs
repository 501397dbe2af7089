//! [`Node`]: a borrowed view of one value of a [`Doc`].

use std::borrow::Cow;

use super::{Doc, Tok};

/// One value of a document. Cheap to copy; reads convert nothing they are not asked for.
#[derive(Clone, Copy)]
pub struct Node<'d> {
    doc: &'d Doc,
    at: u32,
}

/// What kind of JSON value a node is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Null,
    Bool,
    Number,
    String,
    Array,
    Object,
}

impl std::fmt::Debug for Node<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Node({})", self.json())
    }
}

impl PartialEq for Node<'_> {
    fn eq(&self, other: &Self) -> bool {
        std::ptr::eq(self.doc, other.doc) && self.at == other.at
    }
}

impl<'d> Node<'d> {
    /// The node at `at`, which must be a value's position in `doc`'s tape.
    pub(super) fn new(doc: &'d Doc, at: u32) -> Self {
        debug_assert!(
            (at as usize) < doc.tape.len(),
            "tape position {at} out of range"
        );
        Self { doc, at }
    }

    fn tok(self) -> Tok {
        self.doc.tape[self.at as usize]
    }

    /// The node's position in its document's tape (see [`Doc::node`]).
    pub fn position(self) -> u32 {
        self.at
    }

    /// The kind of value.
    pub fn kind(self) -> Kind {
        match self.tok() {
            Tok::Null => Kind::Null,
            Tok::True | Tok::False => Kind::Bool,
            Tok::Number { .. } => Kind::Number,
            Tok::String { .. } => Kind::String,
            Tok::Array { .. } => Kind::Array,
            Tok::Object { .. } => Kind::Object,
        }
    }

    /// True for JSON null.
    pub fn is_null(self) -> bool {
        self.tok() == Tok::Null
    }

    /// The boolean, for `true` and `false`.
    pub fn as_bool(self) -> Option<bool> {
        match self.tok() {
            Tok::True => Some(true),
            Tok::False => Some(false),
            _ => None,
        }
    }

    /// A number's text exactly as written (`-76.0`, `1e3`).
    pub fn number(self) -> Option<&'d str> {
        match self.tok() {
            Tok::Number { start, end } => Some(&self.doc.text[start as usize..end as usize]),
            _ => None,
        }
    }

    /// An integer number that fits `i64`.
    pub fn as_i64(self) -> Option<i64> {
        self.number()?.parse().ok()
    }

    /// A string's value: borrowed from the text unless it holds escapes.
    pub fn as_str(self) -> Option<Cow<'d, str>> {
        match self.tok() {
            Tok::String {
                start,
                end,
                escaped,
            } => Some(self.doc.string(start, end, escaped)),
            _ => None,
        }
    }

    /// True for an object.
    pub fn is_object(self) -> bool {
        matches!(self.tok(), Tok::Object { .. })
    }

    /// The tape position after this value and everything inside it.
    fn skip(self) -> u32 {
        match self.tok() {
            Tok::Array { end, .. } | Tok::Object { end, .. } => end,
            _ => self.at + 1,
        }
    }

    /// An object's members in document order; empty for anything else.
    pub fn entries(self) -> Entries<'d> {
        let (next, end) = match self.tok() {
            Tok::Object { end, .. } => (self.at + 1, end),
            _ => (0, 0),
        };
        Entries {
            doc: self.doc,
            next,
            end,
        }
    }

    /// An array's items in order; empty for anything else.
    pub fn items(self) -> Items<'d> {
        let (next, end) = match self.tok() {
            Tok::Array { end, .. } => (self.at + 1, end),
            _ => (0, 0),
        };
        Items {
            doc: self.doc,
            next,
            end,
        }
    }

    /// The member `key` of an object (the last one, if repeated).
    pub fn get(self, key: &str) -> Option<Node<'d>> {
        self.entries()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v)
            .last()
    }

    /// The value as compact JSON text (borrowed from the document when it already is).
    pub fn json(self) -> Cow<'d, str> {
        let text = &self.doc.text;
        let raw = match self.tok() {
            Tok::Null => return Cow::Borrowed("null"),
            Tok::True => return Cow::Borrowed("true"),
            Tok::False => return Cow::Borrowed("false"),
            Tok::Number { start, end } => {
                return Cow::Borrowed(&text[start as usize..end as usize]);
            }
            Tok::String { start, end, .. } => &text[start as usize - 1..end as usize + 1],
            Tok::Array { start, stop, .. } | Tok::Object { start, stop, .. } => {
                &text[start as usize..stop as usize]
            }
        };
        // Escapes are normalised the way serde_json writes them, whitespace dropped.
        if self.doc.compact && !raw.contains('\\') {
            Cow::Borrowed(raw)
        } else {
            Cow::Owned(self.to_value().to_string())
        }
    }

    /// The value as JSON text exactly as received, whatever the document's layout: numbers keep
    /// their digits (`123456789012345678901234`, `1e400`, which a float would round or lose),
    /// keys and order are kept (a key given twice too); only whitespace is dropped and string
    /// escapes are written the way `serde_json` writes them. For rejects: the evidence a reject
    /// exists to keep (review D18).
    pub fn exact_json(self) -> String {
        let mut out = String::new();
        self.write_exact(&mut out);
        out
    }

    fn write_exact(self, out: &mut String) {
        match self.tok() {
            Tok::Array { .. } => {
                out.push('[');
                for (i, item) in self.items().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    item.write_exact(out);
                }
                out.push(']');
            }
            Tok::Object { .. } => {
                out.push('{');
                for (i, (key, value)) in self.entries().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(&serde_json::Value::from(key.as_ref()).to_string());
                    out.push(':');
                    value.write_exact(out);
                }
                out.push('}');
            }
            Tok::String { .. } => {
                out.push_str(
                    &serde_json::Value::from(self.as_str().unwrap_or_default()).to_string(),
                );
            }
            _ => out.push_str(&self.json()),
        }
    }

    /// The value as a `serde_json::Value` (for rejects and diagnostics, not the hot path).
    pub fn to_value(self) -> serde_json::Value {
        use serde_json::Value;
        match self.tok() {
            Tok::Null => Value::Null,
            Tok::True => Value::Bool(true),
            Tok::False => Value::Bool(false),
            Tok::Number { .. } => {
                let text = self.number().unwrap_or("0");
                serde_json::from_str(text).unwrap_or(Value::Null)
            }
            Tok::String { .. } => Value::String(self.as_str().unwrap_or_default().into_owned()),
            Tok::Array { .. } => Value::Array(self.items().map(Node::to_value).collect()),
            Tok::Object { .. } => Value::Object(
                self.entries()
                    .map(|(k, v)| (k.into_owned(), v.to_value()))
                    .collect(),
            ),
        }
    }
}

impl Doc {
    fn string(&self, start: u32, end: u32, escaped: bool) -> Cow<'_, str> {
        if escaped {
            let quoted = &self.text[start as usize - 1..end as usize + 1];
            // The tokenizer validated every escape, so this cannot fail.
            Cow::Owned(serde_json::from_str(quoted).unwrap_or_default())
        } else {
            Cow::Borrowed(&self.text[start as usize..end as usize])
        }
    }
}

/// The members of an object: `(key, value)`.
pub struct Entries<'d> {
    doc: &'d Doc,
    next: u32,
    end: u32,
}

impl<'d> Iterator for Entries<'d> {
    type Item = (Cow<'d, str>, Node<'d>);

    fn next(&mut self) -> Option<Self::Item> {
        if self.next >= self.end {
            return None;
        }
        let key = match self.doc.tape[self.next as usize] {
            Tok::String {
                start,
                end,
                escaped,
            } => self.doc.string(start, end, escaped),
            other => unreachable!("the tokenizer puts a string before each member, not {other:?}"),
        };
        let value = Node::new(self.doc, self.next + 1);
        self.next = value.skip();
        Some((key, value))
    }
}

/// The items of an array.
#[derive(Clone)]
pub struct Items<'d> {
    doc: &'d Doc,
    next: u32,
    end: u32,
}

impl<'d> Iterator for Items<'d> {
    type Item = Node<'d>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.next >= self.end {
            return None;
        }
        let item = Node::new(self.doc, self.next);
        self.next = item.skip();
        Some(item)
    }
}
