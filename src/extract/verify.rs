//! Filters verified, not trusted: the live API silently ignores parameters it does not know and
//! answers the whole unfiltered list (api-evidence.md §3: payments ignore `updated_after`,
//! appointments `updated_before`, patients maybe `sort_by`). A read that relies on a filter for
//! completeness (keyset restarts, tiles) checks every page against it:
//! - a row outside the requested bounds (by more than one grain: the API's reading of a bound,
//!   local or UTC, inclusive or not, is not known) means the bound was ignored;
//! - a sorted walk whose rows often go backwards (over a third of neighbouring pairs) means
//!   `sort_by` was ignored. A few rows out of order are the API's unstable paging (rows near a
//!   page boundary served twice: up to a quarter of the pairs), not an ignored sort. An order
//!   that only looks sorted is caught by the `total_count` check and recovered.
//!
//! The values seen are kept too: the keyset restarts after the largest, tiles are cut between
//! the smallest and largest.

use super::route::micros_of;
use crate::json::Node;

/// Share of adjacent pairs (in percent) that may go backwards on a page sorted by the API.
const MAX_INVERSIONS_PERCENT: usize = 35;

/// What one walk expects of its rows.
#[derive(Debug, Clone, Default)]
pub struct Check {
    /// The field the bounds and order apply to (`None`: nothing to check).
    pub field: Option<&'static str>,
    /// Lower bound and the parameter that sets it.
    pub from: Option<(i64, &'static str)>,
    /// Upper bound and the parameter that sets it.
    pub to: Option<(i64, &'static str)>,
    /// Slack on each bound, µs.
    pub slack: i64,
    /// Rows must come ascending by `field` (`sort_by`).
    pub ascending: bool,
    /// Smallest value read.
    pub min_seen: Option<i64>,
    /// Largest value read.
    pub max_seen: Option<i64>,
    /// Values read.
    pub values: u64,
    /// An equality filter the slice sets (`treatment_id` = `40002`, the parameter named as the
    /// field): a row with another value means the API ignored it.
    pub equals: Option<(&'static str, String)>,
    /// The run's cursor bound on a plain walk (`updated_after` of a delta read): a row before it
    /// means the API ignored it. Watched, not acted on: the walk then reads the whole list,
    /// which is the read that does not need the filter, so it goes on and only reports it.
    pub cursor: Option<Watched>,
    /// The cursor parameter a row showed ignored.
    pub cursor_ignored: Option<&'static str>,
}

/// A lower bound watched on a plain walk (see [`Check::cursor`]).
#[derive(Debug, Clone, Copy)]
pub struct Watched {
    /// The field bounded (`updated_at`).
    pub field: &'static str,
    /// The parameter that sets the bound (`updated_after`).
    pub param: &'static str,
    /// Rows before this (µs), less the slack, are outside it.
    pub from: i64,
    /// Slack, µs.
    pub slack: i64,
}

impl Check {
    /// Checks one page; returns the parameter the API ignored, if it did.
    pub fn page<'a>(
        &mut self,
        records: impl Iterator<Item = Node<'a>> + Clone,
    ) -> Option<&'static str> {
        if let Some((param, want)) = &self.equals {
            let differs = records.clone().any(|r| {
                r.get(param)
                    .and_then(|v| {
                        v.number()
                            .map(str::to_string)
                            .or_else(|| v.as_str().map(|s| s.into_owned()))
                    })
                    .is_some_and(|got| &got != want)
            });
            if differs {
                return Some(param);
            }
        }
        if let Some(w) = self.cursor
            && self.cursor_ignored.is_none()
            && records.clone().any(|r| {
                r.get(w.field)
                    .and_then(|v| v.as_str())
                    .and_then(|s| micros_of(&s))
                    .is_some_and(|v| v < w.from - w.slack)
            })
        {
            self.cursor_ignored = Some(w.param);
        }
        let field = self.field?;
        let mut previous: Option<i64> = None;
        let (mut pairs, mut backwards) = (0usize, 0usize);
        let mut ignored = None;
        for record in records {
            let Some(value) = record
                .get(field)
                .and_then(|v| v.as_str())
                .and_then(|s| micros_of(&s))
            else {
                continue;
            };
            self.values += 1;
            self.min_seen = Some(self.min_seen.map_or(value, |m| m.min(value)));
            self.max_seen = Some(self.max_seen.map_or(value, |m| m.max(value)));
            if let Some((from, param)) = self.from
                && value < from - self.slack
            {
                ignored = ignored.or(Some(param));
            }
            if let Some((to, param)) = self.to
                && value >= to + self.slack
            {
                ignored = ignored.or(Some(param));
            }
            if let Some(p) = previous {
                pairs += 1;
                backwards += usize::from(value < p);
            }
            previous = Some(value);
        }
        if self.ascending && pairs >= 4 && backwards * 100 > pairs * MAX_INVERSIONS_PERCENT {
            ignored = ignored.or(Some("sort_by"));
        }
        ignored
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::Doc;
    use serde_json::json;

    fn page(stamps: &[&str]) -> Doc {
        let rows: Vec<_> = stamps.iter().map(|s| json!({ "updated_at": s })).collect();
        Doc::from_value(&json!({ "rows": rows }))
    }

    fn check(doc: &Doc, c: &mut Check) -> Option<&'static str> {
        let rows = doc.root().get("rows").unwrap();
        c.page(rows.items())
    }

    #[test]
    fn rows_outside_the_bounds_name_the_ignored_parameter() {
        let from = micros_of("2026-03-01T00:00:00Z").unwrap();
        let to = micros_of("2026-04-01T00:00:00Z").unwrap();
        let mut c = Check {
            field: Some("updated_at"),
            from: Some((from, "updated_after")),
            to: Some((to, "updated_before")),
            slack: 1_000_000,
            ..Check::default()
        };
        let inside = page(&["2026-03-02T10:00:00.000+00:00", "2026-03-31T23:59:59.900Z"]);
        assert_eq!(check(&inside, &mut c), None);
        let early = page(&["2026-01-02T10:00:00.000+00:00"]);
        assert_eq!(check(&early, &mut c), Some("updated_after"));
        let late = page(&["2026-05-02T10:00:00.000+01:00"]);
        assert_eq!(check(&late, &mut c), Some("updated_before"));
        assert_eq!(c.min_seen, micros_of("2026-01-02T10:00:00Z"));
    }

    #[test]
    fn a_watched_cursor_is_reported_not_returned() {
        let from = micros_of("2026-03-01T00:00:00Z").unwrap();
        let mut c = Check {
            cursor: Some(Watched {
                field: "updated_at",
                param: "updated_after",
                from,
                slack: 1_000_000,
            }),
            ..Check::default()
        };
        assert_eq!(check(&page(&["2026-03-02T10:00:00Z"]), &mut c), None);
        assert_eq!(c.cursor_ignored, None);
        assert_eq!(check(&page(&["2026-01-02T10:00:00Z"]), &mut c), None);
        assert_eq!(c.cursor_ignored, Some("updated_after"));
    }

    #[test]
    fn an_ignored_sort_is_told_from_a_few_repeated_rows() {
        let mut c = Check {
            field: Some("updated_at"),
            ascending: true,
            ..Check::default()
        };
        let t = |d: u32| format!("2026-03-{d:02}T00:00:00Z");
        let mostly: Vec<String> = [1, 2, 3, 2, 4, 5, 6, 7, 8, 9, 10].map(t).to_vec();
        let refs: Vec<&str> = mostly.iter().map(String::as_str).collect();
        assert_eq!(
            check(&page(&refs), &mut c),
            None,
            "one repeat is instability"
        );
        let shuffled: Vec<String> = [5, 1, 9, 2, 8, 3, 7, 4, 6, 10].map(t).to_vec();
        let refs: Vec<&str> = shuffled.iter().map(String::as_str).collect();
        assert_eq!(check(&page(&refs), &mut c), Some("sort_by"));
    }
}
