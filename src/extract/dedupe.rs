//! De-duplication by primary key within a run.
//!
//! Pages can overlap: the real API orders unstably without `sort_by`, rows move between pages
//! when the practice edits data mid-run, and window slices may share a boundary instant. We keep
//! the keys seen so far: integer keys exactly, in a compressed bitmap (a roaring treemap), text
//! keys (GUIDs) as a 128-bit digest (16 bytes; a collision is about as likely as a disk flipping
//! the bit instead).
//!
//! Why a bitmap: Dentally ids are dense integers, so a bitmap costs about a bit per id in the
//! range, where a `HashSet<i64>` costs about 16 bytes a key and doubles as it grows. At scale 420
//! of the sandbox `fees` has 40 million rows: its hash set alone took 600 MB (900 MB while
//! resizing) and the run peaked at 942 MiB; the bitmap holds the same keys in a few megabytes.

use std::collections::HashSet;
use std::hash::{BuildHasher, Hasher};

use roaring::RoaringTreemap;

use crate::json::Node;

/// Keys seen so far for one resource.
#[derive(Debug, Default)]
pub struct KeySet {
    /// Integer keys, as `u64` with the sign bit flipped (order-preserving).
    ints: RoaringTreemap,
    texts: HashSet<u128>,
}

/// `i64` → `u64` keeping the order (negative keys first).
fn to_bits(key: i64) -> u64 {
    (key as u64) ^ (1 << 63)
}

fn from_bits(bits: u64) -> i64 {
    (bits ^ (1 << 63)) as i64
}

/// Why a record's key could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissingKey;

impl KeySet {
    /// Records the key of `record[field]`; false when it was seen before.
    pub fn insert(&mut self, record: Node<'_>, field: &str) -> Result<bool, MissingKey> {
        let key = record.get(field).ok_or(MissingKey)?;
        if key.number().is_some() {
            return key.as_i64().map(|i| self.insert_int(i)).ok_or(MissingKey);
        }
        match key.as_str() {
            Some(s) if !s.is_empty() => Ok(self.insert_text(&s)),
            _ => Err(MissingKey),
        }
    }

    /// Records an integer key (when rebuilding the set from committed files).
    pub fn insert_int(&mut self, key: i64) -> bool {
        self.ints.insert(to_bits(key))
    }

    /// Whether an integer key was seen.
    pub fn contains_int(&self, key: i64) -> bool {
        self.ints.contains(to_bits(key))
    }

    /// Records a text key (when rebuilding the set from committed files). A key that is an
    /// integer written out (`"100001"`) counts as that integer: an IdText key column (recall
    /// ids) holds as text what the API sent as a number, and a resumed run must still see the
    /// two as one key.
    pub fn insert_text(&mut self, key: &str) -> bool {
        match key.parse::<i64>() {
            Ok(i) if i.to_string() == key => self.insert_int(i),
            _ => self.texts.insert(digest(key)),
        }
    }

    /// Every key, ascending, when all are integers (`None` when any is text: only its digest is
    /// kept).
    pub fn ascending_ints(&self) -> Option<Vec<i64>> {
        if !self.texts.is_empty() {
            return None;
        }
        Some(self.ints.iter().map(from_bits).collect())
    }

    /// Keys seen.
    pub fn len(&self) -> usize {
        usize::try_from(self.ints.len()).unwrap_or(usize::MAX) + self.texts.len()
    }

    /// True when no key was seen.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The 128-bit digest used for text keys (also by the incremental merge).
pub fn digest(s: &str) -> u128 {
    // Two independently seeded SipHash-1-3 runs over the key text.
    let hash_with = |seed: u64| {
        let mut h =
            std::hash::BuildHasherDefault::<std::collections::hash_map::DefaultHasher>::default()
                .build_hasher();
        h.write_u64(seed);
        h.write(s.as_bytes());
        h.finish()
    };
    (u128::from(hash_with(0x9e37_79b9_7f4a_7c15)) << 64)
        | u128::from(hash_with(0xc2b2_ae3d_27d4_eb4f))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::Doc;
    use serde_json::json;

    #[test]
    fn detects_repeats_of_int_and_text_keys() {
        let mut k = KeySet::default();
        assert_eq!(
            k.insert(Doc::from_value(&json!({"id": 1})).root(), "id"),
            Ok(true)
        );
        assert_eq!(
            k.insert(Doc::from_value(&json!({"id": 1})).root(), "id"),
            Ok(false)
        );
        assert_eq!(
            k.insert(Doc::from_value(&json!({"id": "6f1c-a"})).root(), "id"),
            Ok(true)
        );
        assert_eq!(
            k.insert(Doc::from_value(&json!({"id": "6f1c-a"})).root(), "id"),
            Ok(false)
        );
        assert_eq!(
            k.insert(Doc::from_value(&json!({"id": "6f1c-b"})).root(), "id"),
            Ok(true)
        );
        assert_eq!(
            k.insert(Doc::from_value(&json!({"id": null})).root(), "id"),
            Err(MissingKey)
        );
        assert_eq!(k.len(), 3);
    }

    #[test]
    fn integer_keys_keep_their_order_and_sign() {
        let mut k = KeySet::default();
        for key in [5, -3, i64::MAX, 0, i64::MIN, 5] {
            k.insert_int(key);
        }
        assert_eq!(k.ascending_ints(), Some(vec![i64::MIN, -3, 0, 5, i64::MAX]));
        k.insert_text("6f1c-a");
        assert_eq!(k.ascending_ints(), None, "text keys are digests");
    }

    #[test]
    fn integers_written_as_text_are_the_same_key() {
        let mut k = KeySet::default();
        assert!(k.insert_text("100001"), "from a committed IdText column");
        assert_eq!(
            k.insert(Doc::from_value(&json!({"id": 100001})).root(), "id"),
            Ok(false),
            "the API sent it as a number"
        );
        assert_eq!(
            k.insert(Doc::from_value(&json!({"id": "100001"})).root(), "id"),
            Ok(false)
        );
        assert!(k.insert_text("0100001"), "leading zeros make another key");
        assert!(k.insert_text("+5"));
        assert_eq!(k.len(), 3);
    }
}
