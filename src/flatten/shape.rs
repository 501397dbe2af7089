//! The known keys of a record, level by level: finds the fields the catalog does not know (for
//! `_extra` and the run's warning) and nested objects that are not objects.
//!
//! Keys are looked up in a sorted list per level, so a record costs a few comparisons per key.
//! Unknown keys are copied, nested as in the record (`{"user": {"nickname": "Jo"}}`), into the
//! row's `_extra`; their dotted paths go to [`FlatPage::unknown_fields`](super::FlatPage).

use std::collections::BTreeSet;

use serde_json::{Map, Value};

use super::invalid::Invalid;
use crate::catalog::{Field, FieldKind};

/// The known keys of one object level, and the shapes of its nested objects.
#[derive(Debug)]
pub(crate) struct Shape {
    /// Known keys, sorted.
    known: Vec<&'static str>,
    /// Nested objects with known keys.
    objects: Vec<(&'static str, Shape)>,
}

/// A structural problem found while scanning: a nested object that is not an object.
#[derive(Debug)]
pub(crate) struct Misfit<'a> {
    /// Dotted path from the row's root.
    pub(crate) path: String,
    /// The offending value.
    pub(crate) value: &'a Value,
    /// Why.
    pub(crate) reason: Invalid,
    /// Whether the value is tagged personal data (redacted in rejects by the policy).
    pub(crate) direct: bool,
}

impl Shape {
    /// The shape of a level holding `fields`.
    pub(crate) fn new(fields: &'static [Field]) -> Self {
        let mut known: Vec<_> = fields.iter().map(|f| f.name).collect();
        known.sort_unstable();
        let objects = fields
            .iter()
            .filter_map(|f| match f.kind {
                FieldKind::Object(sub) => Some((f.name, Shape::new(sub))),
                _ => None,
            })
            .collect();
        Self { known, objects }
    }

    /// Scans `object`: returns its unknown keys (nested like the record) or `None`, records
    /// their paths as `<prefix><path>` in `unknown`, and reports nested objects that are not
    /// objects in `misfits`.
    pub(crate) fn scan<'a>(
        &self,
        object: &'a Map<String, Value>,
        prefix: &str,
        unknown: &mut BTreeSet<String>,
        misfits: &mut Vec<Misfit<'a>>,
    ) -> Option<Map<String, Value>> {
        let mut extra: Option<Map<String, Value>> = None;
        for (key, value) in object {
            if self.known.binary_search(&key.as_str()).is_err() {
                unknown.insert(format!("{prefix}{key}"));
                extra
                    .get_or_insert_with(Map::new)
                    .insert(key.clone(), value.clone());
                continue;
            }
            let Some((_, shape)) = self.objects.iter().find(|(name, _)| *name == key) else {
                continue;
            };
            match value {
                Value::Object(inner) => {
                    let nested = format!("{prefix}{key}.");
                    if let Some(found) = shape.scan(inner, &nested, unknown, misfits) {
                        extra
                            .get_or_insert_with(Map::new)
                            .insert(key.clone(), found.into());
                    }
                }
                Value::Null => {}
                _ => misfits.push(Misfit {
                    path: format!("{prefix}{key}"),
                    value,
                    reason: Invalid::Object,
                    direct: false,
                }),
            }
        }
        extra
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::find;
    use serde_json::json;

    #[test]
    fn finds_unknown_keys_at_every_level() {
        let shape = Shape::new(find("practitioners").unwrap().fields);
        let record = json!({
            "id": 1, "portal": true,
            "user": {"id": 2, "nickname": "Jo"},
            "site": {"opening_hours": {"Monday": {"open": "09:00", "lunch": "12:00"}}}
        });
        let (mut unknown, mut misfits) = (BTreeSet::new(), Vec::new());
        let extra = shape.scan(record.as_object().unwrap(), "", &mut unknown, &mut misfits);
        assert!(misfits.is_empty());
        assert_eq!(
            Value::Object(extra.unwrap()),
            json!({"portal": true, "user": {"nickname": "Jo"},
                   "site": {"opening_hours": {"Monday": {"lunch": "12:00"}}}})
        );
        let paths: Vec<_> = unknown.iter().map(String::as_str).collect();
        assert_eq!(
            paths,
            ["portal", "site.opening_hours.Monday.lunch", "user.nickname"]
        );
    }

    #[test]
    fn known_records_have_no_extra_and_bad_objects_are_misfits() {
        let shape = Shape::new(find("practitioners").unwrap().fields);
        let record = json!({"id": 1, "user": null, "site": "HQ"});
        let (mut unknown, mut misfits) = (BTreeSet::new(), Vec::new());
        let extra = shape.scan(record.as_object().unwrap(), "", &mut unknown, &mut misfits);
        assert!(extra.is_none() && unknown.is_empty());
        assert_eq!(misfits.len(), 1);
        assert_eq!(misfits[0].path, "site");
        assert_eq!(misfits[0].reason, Invalid::Object);
    }
}
