//! Values that do not fit their declared column: the cell is nulled, the row is kept, and the
//! value itself is kept in the row's `_extra` under its key, as the JSON text received.
//!
//! Why not reject the row: many declared types are guesses (api-evidence.md §4 #7). One
//! unexpected value (a decimal `quantity`, an object where a boolean was guessed) would
//! otherwise drop a patient, or every patient. Only a row that cannot be keyed is rejected.
//!
//! Personal data stays an allowlist: under `pii = hash` a misfit personal value goes to
//! `_extra` as the digest of its text (as its column would have hashed it), under `pii = drop`
//! it is not written at all (it is never read: dropped columns are skipped).

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde::Serialize;

use super::hash::Hasher;
use crate::json::{Kind, Node};

/// One kind of misfit: which column of which table, and what JSON type arrived.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct MismatchKey {
    /// Output table (`payments__explanations`).
    pub table: String,
    /// Column name (`amount`, `user__first_name`), or the nested object or child-list field
    /// that arrived in another shape (`user`, `explanations`).
    pub column: String,
    /// The JSON type that arrived: `string`, `integer`, `number`, `boolean`, `array`, `object`.
    pub json_type: &'static str,
}

/// Misfit values counted by column and JSON type.
pub type Mismatches = BTreeMap<MismatchKey, u64>;

/// Misfit counts per table, then per column: the manifest's shape.
pub type ColumnCounts = BTreeMap<String, BTreeMap<String, u64>>;

/// Adds `mismatches` to per-table, per-column counts.
pub fn add_by_column(counts: &mut ColumnCounts, mismatches: &Mismatches) {
    for (key, n) in mismatches {
        *counts
            .entry(key.table.clone())
            .or_default()
            .entry(key.column.clone())
            .or_default() += n;
    }
}

/// The JSON type of a value, as [`MismatchKey::json_type`] names it.
pub fn json_type(value: Node<'_>) -> &'static str {
    match value.kind() {
        Kind::Null => "null",
        Kind::Bool => "boolean",
        Kind::Number => match value.number() {
            Some(n) if n.bytes().all(|b| b.is_ascii_digit() || b == b'-') => "integer",
            _ => "number",
        },
        Kind::String => "string",
        Kind::Array => "array",
        Kind::Object => "object",
    }
}

/// What a value kept out of the columns (a misfit, an unknown field, a misshapen child)
/// becomes in `_extra`: its JSON text under `pii = keep`; under `drop` and `hash` (`redact`)
/// nothing or its digest, whatever field it came from. The policy is an allowlist: only values
/// that fit a catalog column tagged non-personal are ever written in clear, because an unknown
/// or misshapen value may be anything (a new `secondary_email`, a note in the wrong place).
pub(crate) fn kept_json<'a>(
    value: Node<'a>,
    redact: bool,
    hasher: Option<&Hasher>,
) -> Option<Cow<'a, str>> {
    if !redact {
        return Some(value.json());
    }
    let h = hasher?;
    let text = match value.as_str() {
        Some(s) => s.into_owned(),
        None => value.json().into_owned(),
    };
    Some(Cow::Owned(format!("\"{}\"", h.digest(&text))))
}

/// Appends `"key":json` to a JSON object's members.
pub(crate) fn member(members: &mut String, key: &str, json: &str) {
    if !members.is_empty() {
        members.push(',');
    }
    members.push_str(&serde_json::to_string(key).unwrap_or_default());
    members.push(':');
    members.push_str(json);
}

/// Adds `"key":json` to an already staged `_extra` cell (a JSON object's text, or null).
pub(crate) fn add_to_extra(cell: &mut super::convert::Cell<'_>, key: &str, json: &str) {
    use super::convert::Cell;
    let mut members = match std::mem::replace(cell, Cell::Null) {
        Cell::Owned(text) => text
            .strip_prefix('{')
            .and_then(|t| t.strip_suffix('}'))
            .unwrap_or_default()
            .to_owned(),
        _ => String::new(),
    };
    member(&mut members, key, json);
    *cell = Cell::Owned(format!("{{{members}}}"));
}

#[cfg(test)]
mod tests {
    use super::super::convert::Cell;
    use super::*;
    use crate::json::Doc;

    #[test]
    fn extra_cells_grow_member_by_member() {
        let mut cell = Cell::Null;
        add_to_extra(&mut cell, "a", "1");
        add_to_extra(&mut cell, "b\"", "[2]");
        assert_eq!(cell, Cell::Owned(r#"{"a":1,"b\"":[2]}"#.into()));
    }

    #[test]
    fn kept_values_are_in_clear_only_under_keep() {
        let doc = Doc::from_value(&serde_json::json!(["Ann", 12.50]));
        let items: Vec<_> = doc.root().items().collect();
        let h = Hasher::new(b"k");
        assert_eq!(kept_json(items[0], false, None).unwrap(), "\"Ann\"");
        assert_eq!(kept_json(items[0], true, None), None, "drop");
        let hashed = kept_json(items[0], true, Some(&h)).unwrap();
        assert_eq!(hashed, format!("\"{}\"", h.digest("Ann")), "hash");
        let number = kept_json(items[1], true, Some(&h)).unwrap();
        assert_eq!(number, format!("\"{}\"", h.digest("12.5")), "numbers too");
        assert_eq!(json_type(items[0]), "string");
        assert_eq!(json_type(items[1]), "number");
    }
}
