//! Where the rows already read lie along a range filter's field, so that recovery re-reads only
//! windows of about one page each, cut where the rows are, instead of guessing.
//!
//! Unstable paging skips rows near page boundaries all along a list (api-evidence.md §2), so
//! recovering them means reading the list again in windows that each fit one page (a single
//! page cannot skip). Cutting those windows evenly in time wastes requests: rows bunch (recent
//! edits, imports), so even windows are mostly too big (cut again, one more request each) or
//! nearly empty. The values of the distinct rows already read say where the rows are: windows
//! cut at every [`ROWS_PER_WINDOW`]-th value hold about that many rows, plus the few that were
//! skipped, and fit one page at the first request.
//!
//! One `i64` per distinct row, and never more than [`MAX_VALUES`]: a larger slice (or one
//! resumed after a crash, whose earlier values are gone) recovers by even cuts.

use super::route::{Grain, Tile, cut_at, micros_of};
use crate::json::Node;

/// Rows a recovery window is cut to hold by the values already read: room for the rows that
/// were skipped (about 6 % on the live API) within a page of 100.
pub const ROWS_PER_WINDOW: usize = 85;

/// Values kept at most (8 bytes each: 32 MiB).
const MAX_VALUES: usize = 4_000_000;

/// The values of one field over the distinct rows of a slice.
#[derive(Debug, Default)]
pub struct Seen {
    field: Option<&'static str>,
    values: Vec<i64>,
    overflowed: bool,
}

impl Seen {
    /// Keeps the values of `field` (none: keeps nothing).
    pub fn of(field: Option<&'static str>) -> Self {
        Self {
            field,
            values: Vec::new(),
            overflowed: false,
        }
    }

    /// Notes a distinct row.
    pub fn note(&mut self, record: Node<'_>) {
        let Some(field) = self.field else { return };
        if self.overflowed {
            return;
        }
        if self.values.len() >= MAX_VALUES {
            self.overflowed = true;
            self.values = Vec::new();
            return;
        }
        if let Some(v) = record
            .get(field)
            .and_then(|v| v.as_str())
            .and_then(|s| micros_of(&s))
        {
            self.values.push(v);
        }
    }

    /// How many of the distinct rows read have `field` in `[from, to)` (`None`: not known).
    pub fn count_in(&self, field: &str, from: Option<i64>, to: Option<i64>) -> Option<u64> {
        if self.field != Some(field) || self.overflowed {
            return None;
        }
        let inside = |v: &&i64| from.is_none_or(|f| **v >= f) && to.is_none_or(|t| **v < t);
        Some(self.values.iter().filter(inside).count() as u64)
    }

    /// Windows of `root` along `field`, each holding about [`ROWS_PER_WINDOW`] of the values
    /// read, oldest first, the outer ones keeping `root`'s ends (open ends stay open: a row
    /// skipped beyond the values read is still covered). `None` when the values are of another
    /// field, were not all kept, or are too few to cut.
    pub fn windows(&mut self, field: &str, root: &Tile, grain: Grain) -> Option<Vec<Tile>> {
        if self.field != Some(field) || self.overflowed {
            return None;
        }
        self.values.sort_unstable();
        let inside: Vec<i64> = self
            .values
            .iter()
            .copied()
            .filter(|v| root.from.is_none_or(|f| *v >= f) && root.to.is_none_or(|t| *v < t))
            .collect();
        let mut bounds: Vec<i64> = inside
            .iter()
            .skip(ROWS_PER_WINDOW)
            .step_by(ROWS_PER_WINDOW)
            .map(|v| grain.floor(*v))
            .filter(|b| root.from.is_none_or(|f| *b > f) && root.to.is_none_or(|t| *b < t))
            .collect();
        bounds.dedup();
        if bounds.is_empty() {
            return None;
        }
        Some(
            cut_at(root.from, root.to, &bounds, grain)
                .into_iter()
                .map(|(from, to)| Tile::root(from, to))
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::Doc;
    use serde_json::json;

    #[test]
    fn windows_follow_where_the_rows_are() {
        // 1,000 rows: 900 in the last day, 100 spread over the year before.
        let day = 86_400_000_000i64;
        let end = micros_of("2026-11-01T00:00:00Z").unwrap();
        let mut stamps: Vec<i64> = (0..100).map(|i| end - 365 * day + i * 3 * day).collect();
        stamps.extend((0..900).map(|i| end - day + i * 90_000_000));
        let rows: Vec<_> = stamps
            .iter()
            .map(|m| {
                let t = chrono::DateTime::from_timestamp_micros(*m).unwrap();
                json!({ "updated_at": t.to_rfc3339() })
            })
            .collect();
        let doc = Doc::from_value(&json!({ "rows": rows }));
        let mut seen = Seen::of(Some("updated_at"));
        for r in doc.root().get("rows").unwrap().items() {
            seen.note(r);
        }
        let tiles = seen
            .windows("updated_at", &Tile::root(None, None), Grain::Second)
            .unwrap();
        assert_eq!(tiles.len(), 1000 / ROWS_PER_WINDOW + 1);
        assert_eq!(tiles[0].from, None);
        assert_eq!(tiles.last().unwrap().to, None);
        for t in &tiles {
            let held = stamps
                .iter()
                .filter(|v| t.from.is_none_or(|f| **v >= f) && t.to.is_none_or(|e| **v < e))
                .count();
            assert!(held <= ROWS_PER_WINDOW + 2, "{held} rows in {t:?}");
        }
        assert!(
            seen.windows("created_at", &Tile::root(None, None), Grain::Second)
                .is_none()
        );
    }
}
