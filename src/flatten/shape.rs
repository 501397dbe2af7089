//! The known keys of a row, level by level, and what each one feeds.
//!
//! A row is walked once, key by key in the order the API sent them; each key is looked up in its
//! level's small open-addressing table (a hash of the key's length and first and last bytes,
//! then one comparison: a binary search cost a quarter of the flatten time in string
//! comparisons), which says whether it fills a column, opens a nested object, feeds a child
//! table, or is known but not written (personal data under `pii = drop`). A key found nowhere is
//! unknown: it goes to `_extra`.

use super::invalid::Invalid;
use crate::catalog::{Field, FieldKind, Pii};
use crate::json::Node;

/// What a known key feeds.
#[derive(Debug)]
pub(crate) enum Slot {
    /// The column at this index of the table's plans.
    Column(usize),
    /// A nested object with known keys of its own.
    Object(Level),
    /// An array of objects: the child table at this index of the resource's tables.
    Child(usize),
    /// Known, not written (a dropped column).
    Skip,
}

/// The known keys of one object level.
#[derive(Debug)]
pub(crate) struct Level {
    /// Known keys with their slots.
    keys: Vec<(&'static str, Slot)>,
    /// The [`Words`] of each key, in `keys` order.
    words: Vec<Words>,
    /// Open-addressing table of indices into `keys` (`EMPTY` when free); a power of two at
    /// least twice the number of keys, so probes are short.
    table: Vec<u16>,
    /// Whether any field of this level (or below) is personal data: a value that arrives in
    /// another shape than this level's object is then redacted like one.
    pub(crate) personal: bool,
}

const EMPTY: u16 = u16::MAX;

/// A key's length and its first and last (up to) eight bytes: they hash it, and for a key of
/// up to 16 bytes they are the whole key, so equal words mean equal keys without a `memcmp`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Words {
    len: usize,
    head: u64,
    tail: u64,
}

impl Words {
    fn of(key: &[u8]) -> Self {
        let len = key.len();
        if let (Some(head), Some(tail)) = (key.first_chunk::<8>(), key.last_chunk::<8>()) {
            return Self {
                len,
                head: u64::from_le_bytes(*head),
                tail: u64::from_le_bytes(*tail),
            };
        }
        // Shorter than a word: head and tail are the same bytes.
        let word = key
            .iter()
            .rev()
            .fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
        Self {
            len,
            head: word,
            tail: word,
        }
    }

    fn hash(self) -> u64 {
        let mixed = (self.head ^ self.tail.rotate_left(23) ^ self.len as u64)
            .wrapping_mul(0x9E37_79B9_7F4A_7C15);
        mixed ^ (mixed >> 29)
    }
}

impl Level {
    /// The level holding `fields`, found under `path` from the row. `column` gives the plan
    /// index of a leaf column by its path (none when the column is not written); `child` the
    /// table index of a children field.
    pub(crate) fn new(
        fields: &'static [Field],
        path: &mut Vec<&'static str>,
        column: &dyn Fn(&[&'static str]) -> Option<usize>,
        child: &dyn Fn(&'static str) -> Option<usize>,
    ) -> Self {
        let keys: Vec<_> = fields
            .iter()
            .map(|f| {
                path.push(f.name);
                let slot = match f.kind {
                    FieldKind::Object(sub) => {
                        let mut inner = Level::new(sub, path, column, child);
                        inner.personal |= f.pii == Pii::Direct;
                        Slot::Object(inner)
                    }
                    FieldKind::Children(_) => child(f.name).map_or(Slot::Skip, Slot::Child),
                    FieldKind::Scalar(_) => column(path).map_or(Slot::Skip, Slot::Column),
                };
                path.pop();
                (f.name, slot)
            })
            .collect();
        let size = (keys.len() * 2).next_power_of_two().max(8);
        let mut table = vec![EMPTY; size];
        let words: Vec<Words> = keys
            .iter()
            .map(|(name, _)| Words::of(name.as_bytes()))
            .collect();
        for (i, w) in words.iter().enumerate() {
            let mut at = w.hash() as usize & (size - 1);
            while table[at] != EMPTY {
                at = (at + 1) & (size - 1);
            }
            table[at] = u16::try_from(i).expect("fewer than 65,535 fields at one level");
        }
        Self {
            keys,
            words,
            table,
            personal: holds_personal(fields),
        }
    }

    /// The slot of `key`, or `None` for a key the catalog does not know.
    pub(crate) fn find(&self, key: &str) -> Option<&Slot> {
        let words = Words::of(key.as_bytes());
        let mask = self.table.len() - 1;
        let mut at = words.hash() as usize & mask;
        loop {
            let i = self.table[at] as usize;
            if i == EMPTY as usize {
                return None;
            }
            if self.words[i] == words && (words.len <= 16 || self.keys[i].0 == key) {
                return Some(&self.keys[i].1);
            }
            at = (at + 1) & mask;
        }
    }
}

/// Whether `fields` hold personal data at any depth.
pub(crate) fn holds_personal(fields: &[Field]) -> bool {
    fields.iter().any(|f| {
        f.pii == Pii::Direct
            || match f.kind {
                FieldKind::Object(sub) | FieldKind::Children(sub) => holds_personal(sub),
                FieldKind::Scalar(_) => false,
            }
    })
}

/// A problem that makes a record unusable: not an object, or a primary key that is missing,
/// null or does not fit its column (such a row cannot be merged by key).
#[derive(Debug)]
pub(crate) struct Misfit<'a> {
    /// JSON path from the record's root (`amount`, `explanations[1].amount`).
    pub(crate) path: String,
    /// The offending value (`None`: the value is missing).
    pub(crate) value: Option<Node<'a>>,
    /// Why.
    pub(crate) reason: Invalid,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::find;

    #[test]
    fn levels_know_every_catalog_key_at_every_depth() {
        let fields = find("practitioners").unwrap().fields;
        let level = Level::new(fields, &mut Vec::new(), &|p| Some(p.len()), &|_| None);
        assert!(matches!(level.find("id"), Some(Slot::Column(1))));
        let Some(Slot::Object(user)) = level.find("user") else {
            panic!("user is a nested object")
        };
        assert!(matches!(user.find("last_name"), Some(Slot::Column(2))));
        assert!(level.find("portal").is_none());
        let none = Level::new(fields, &mut Vec::new(), &|_| None, &|_| None);
        assert!(matches!(none.find("id"), Some(Slot::Skip)));
        for resource in crate::catalog::all() {
            let level = Level::new(resource.fields, &mut Vec::new(), &|_| Some(0), &|_| Some(0));
            for f in resource.fields {
                assert!(level.find(f.name).is_some(), "{}.{}", resource.name, f.name);
                assert!(level.find(&format!("{}_", f.name)).is_none());
                assert!(level.find(&f.name[1..]).is_none());
            }
            assert!(level.find("").is_none());
        }
    }
}
