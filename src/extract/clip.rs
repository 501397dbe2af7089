//! Keeping a window slice to its window when the API ignores one of the window's bounds.
//!
//! A windowed list (appointments, rota) is read as date slices `after=X&before=Y`. Should the
//! API ignore `before` (it silently ignores what it does not know, api-evidence.md §3), every
//! slice would answer everything from `X` on: rows of later slices would be taken here, then
//! found as repeats there, and the slice's `total_count` would not be its window's. So once the
//! bound is known ignored, each slice keeps only its rows, here: rows past the slice's end are
//! *clipped* (not kept, not keyed, but counted, as are the rows of the overlap that the slice
//! before kept, so the total still adds up). The end is moved one day on: the API may read a
//! date bound as local midnight, and a row the next slice's `after` leaves out must not be
//! clipped here too. Repeats across the overlap are dropped by key.
//!
//! The cost: each slice then reads from its start to the end of the list (a window of six
//! slices reads about three and a half times its rows). It is a fallback, warned about once.

use super::route::micros_of;
use super::slice::Slice;
use crate::catalog::Resource;
use crate::json::Node;

/// One day, in µs: the slack on a clipped bound.
const DAY: i64 = 86_400_000_000;

/// The rows a slice keeps when a bound of its window is ignored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Clip {
    /// The window field (`start_time`).
    field: &'static str,
    /// Rows before this (µs) are not the slice's (an ignored `after`).
    from: Option<i64>,
    /// Rows at or after this (µs) are not the slice's (an ignored `before`, plus a day).
    to: Option<i64>,
    /// Rows whose `field` is not this are not the slice's (an ignored equality filter, such as
    /// `treatment_id` of a per-treatment slice).
    equals: Option<String>,
}

impl Clip {
    /// The clip of `slice` of `resource` when a window bound it carries is in `ignored`.
    pub fn of(resource: &Resource, slice: &Slice, ignored: &[String]) -> Option<Self> {
        let value = |param: &str| {
            slice
                .query
                .iter()
                .find(|(k, _)| *k == param)
                .and_then(|(_, v)| micros_of(v))
        };
        let is_ignored = |param: &str| ignored.iter().any(|i| i == param);
        let bounds: Vec<&str> = resource
            .ranges
            .iter()
            .flat_map(|f| std::iter::once(f.after).chain(f.before))
            .collect();
        let equality = slice
            .query
            .iter()
            .find(|(k, _)| is_ignored(k) && !bounds.contains(k) && resource.field(k).is_some());
        if let Some((k, v)) = equality {
            return Some(Self {
                field: k,
                from: None,
                to: None,
                equals: Some(v.clone()),
            });
        }
        resource.ranges.iter().find_map(|f| {
            let before = f.before?;
            let from = value(f.after).filter(|_| is_ignored(f.after));
            let to = value(before)
                .filter(|_| is_ignored(before))
                .map(|t| t + DAY);
            (from.is_some() || to.is_some()).then_some(Self {
                field: f.field,
                from: from.map(|f| f - DAY),
                to,
                equals: None,
            })
        })
    }

    /// Whether `record` lies outside the slice (a row without the field is kept).
    pub fn outside(&self, record: Node<'_>) -> bool {
        if let Some(want) = &self.equals {
            let got = record.get(self.field).and_then(|v| {
                v.number()
                    .map(str::to_string)
                    .or_else(|| v.as_str().map(|s| s.into_owned()))
            });
            return got.is_some_and(|g| &g != want);
        }
        let Some(at) = record
            .get(self.field)
            .and_then(|v| v.as_str())
            .and_then(|s| micros_of(&s))
        else {
            return false;
        };
        self.from.is_some_and(|f| at < f) || self.to.is_some_and(|t| at >= t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog;
    use crate::json::Doc;
    use serde_json::json;

    #[test]
    fn an_ignored_before_clips_a_day_past_the_slice_end() {
        let appointments = catalog::find("appointments").unwrap();
        let slice = Slice {
            label: "2026-01-01".into(),
            query: vec![
                ("after", "2026-01-01".into()),
                ("before", "2026-02-01".into()),
            ],
        };
        assert_eq!(Clip::of(appointments, &slice, &[]), None);
        let clip = Clip::of(appointments, &slice, &["before".into()]).unwrap();
        let doc = Doc::from_value(&json!([
            {"start_time": "2026-01-31T23:30:00.000+00:00"},
            {"start_time": "2026-02-01T20:00:00.000+00:00"},
            {"start_time": "2026-02-02T00:00:00.000+00:00"},
            {"id": 1}
        ]));
        let outside: Vec<bool> = doc.root().items().map(|r| clip.outside(r)).collect();
        assert_eq!(outside, [false, false, true, false]);
    }
}
