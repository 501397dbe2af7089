//! De-duplication by primary key within a run.
//!
//! Pages can overlap: the real API orders unstably without `sort_by`, rows move between pages
//! when the practice edits data mid-run, and window slices may share a boundary instant. We keep
//! the keys seen so far: integer keys exactly (8 bytes each), text keys (GUIDs) as a 128-bit
//! digest (16 bytes; a collision is about as likely as a disk flipping the bit instead). Memory is
//! per key, not per row: ~30 bytes a key in the hash set, so 1.3 M plan items cost ~40 MB.

use std::collections::HashSet;
use std::hash::{BuildHasher, Hasher};

use crate::json::Node;

/// Keys seen so far for one resource.
#[derive(Debug, Default)]
pub struct KeySet {
    ints: HashSet<i64>,
    texts: HashSet<u128>,
}

/// Why a record's key could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissingKey;

impl KeySet {
    /// Records the key of `record[field]`; false when it was seen before.
    pub fn insert(&mut self, record: Node<'_>, field: &str) -> Result<bool, MissingKey> {
        let key = record.get(field).ok_or(MissingKey)?;
        if let Some(n) = key.number() {
            return n.parse().map(|i| self.ints.insert(i)).map_err(|_| MissingKey);
        }
        match key.as_str() {
            Some(s) if !s.is_empty() => Ok(self.texts.insert(digest(&s))),
            _ => Err(MissingKey),
        }
    }

    /// Records an integer key (when rebuilding the set from committed files).
    pub fn insert_int(&mut self, key: i64) -> bool {
        self.ints.insert(key)
    }

    /// Records a text key (when rebuilding the set from committed files).
    pub fn insert_text(&mut self, key: &str) -> bool {
        self.texts.insert(digest(key))
    }

    /// Every key, ascending, when all are integers (`None` when any is text: only its digest is
    /// kept).
    pub fn ascending_ints(&self) -> Option<Vec<i64>> {
        if !self.texts.is_empty() {
            return None;
        }
        let mut ints: Vec<i64> = self.ints.iter().copied().collect();
        ints.sort_unstable();
        Some(ints)
    }

    /// Keys seen.
    pub fn len(&self) -> usize {
        self.ints.len() + self.texts.len()
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
        assert_eq!(k.insert(Doc::from_value(&json!({"id": 1})).root(), "id"), Ok(true));
        assert_eq!(k.insert(Doc::from_value(&json!({"id": 1})).root(), "id"), Ok(false));
        assert_eq!(k.insert(Doc::from_value(&json!({"id": "6f1c-a"})).root(), "id"), Ok(true));
        assert_eq!(k.insert(Doc::from_value(&json!({"id": "6f1c-a"})).root(), "id"), Ok(false));
        assert_eq!(k.insert(Doc::from_value(&json!({"id": "6f1c-b"})).root(), "id"), Ok(true));
        assert_eq!(k.insert(Doc::from_value(&json!({"id": null})).root(), "id"), Err(MissingKey));
        assert_eq!(k.len(), 3);
    }
}
