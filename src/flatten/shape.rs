//! The known keys of a row, level by level, and what each one feeds.
//!
//! A row is walked once, key by key in the order the API sent them; each key is looked up by
//! binary search in its level's sorted key list (a few comparisons of short strings), which says
//! whether it fills a column, opens a nested object, feeds a child table, or is known but not
//! written (personal data under `pii = drop`). A key found nowhere is unknown: it goes to `_extra`.

use super::invalid::Invalid;
use crate::catalog::{Field, FieldKind};
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
    /// Known keys, sorted, with their slots.
    keys: Vec<(&'static str, Slot)>,
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
        let mut keys: Vec<_> = fields
            .iter()
            .map(|f| {
                path.push(f.name);
                let slot = match f.kind {
                    FieldKind::Object(sub) => Slot::Object(Level::new(sub, path, column, child)),
                    FieldKind::Children(_) => child(f.name).map_or(Slot::Skip, Slot::Child),
                    FieldKind::Scalar(_) => column(path).map_or(Slot::Skip, Slot::Column),
                };
                path.pop();
                (f.name, slot)
            })
            .collect();
        keys.sort_unstable_by_key(|(name, _)| *name);
        Self { keys }
    }

    /// The slot of `key`, or `None` for a key the catalog does not know.
    pub(crate) fn find(&self, key: &str) -> Option<&Slot> {
        self.keys
            .binary_search_by(|(name, _)| (*name).cmp(key))
            .ok()
            .map(|i| &self.keys[i].1)
    }
}

/// A value that does not fit: a column value of the wrong type, a nested object or child list
/// that is not one, a missing key.
#[derive(Debug)]
pub(crate) struct Misfit<'a> {
    /// JSON path from the record's root (`amount`, `explanations[1].amount`).
    pub(crate) path: String,
    /// The offending value (`None`: the value is missing).
    pub(crate) value: Option<Node<'a>>,
    /// Why.
    pub(crate) reason: Invalid,
    /// Whether the value is tagged personal data (redacted in rejects by the policy).
    pub(crate) direct: bool,
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
    }
}
