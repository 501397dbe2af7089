//! Routes past the offset wall: which read of a list reaches every row, chosen from the catalog.
//!
//! The live API answers 413 past a drifting offset (api-evidence.md §3), so a list longer than
//! that cannot be one offset walk. Three routes, tried in this order:
//! - **keyset**: `sort_by=updated_at` ascending, and when a walk nears the wall, start again at
//!   page 1 with `updated_after` = the last `updated_at` read (less a second: repeats are
//!   dropped by key, a row at the boundary is never skipped). Needs `sortable` and an
//!   `updated_after` filter;
//! - **tiles**: windows of a range filter with both bounds (`updated_after`/`updated_before`,
//!   `created_after`/`created_before`, `after`/`before`, `dated_on_after`…), each small enough
//!   (from its `total_count`) to page by offset. A window's first page tells its size; one too
//!   big is cut in parts, one that meets a 413 too;
//! - **offset**: the plain walk, for lists with no honoured filter (and every small list).
//!
//! A route whose filter the API turns out to ignore ([`super::verify`]) is dropped for the rest
//! of the resource and the next one is taken.

use chrono::{DateTime, NaiveDate, Utc};

use super::slice::Slice;
use crate::catalog::{FieldKind, FieldType, RangeFilter, Resource};

/// The field keyset continuation sorts and restarts on.
pub const KEYSET_FIELD: &str = "updated_at";

/// A route of one resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// Sorted by `updated_at`, restarted with `updated_after`.
    Keyset(&'static RangeFilter),
    /// Windows of a two-bounded range filter.
    Tiles(&'static RangeFilter),
    /// One plain offset walk.
    Offset,
}

impl Route {
    /// The parameters the route relies on (each must be honoured).
    pub fn params(self) -> Vec<&'static str> {
        match self {
            Self::Keyset(f) => vec!["sort_by", f.after],
            Self::Tiles(f) => vec![f.after, f.before.unwrap_or(f.after)],
            Self::Offset => Vec::new(),
        }
    }

    /// For the manifest: `keyset`, `tiles(created_at)`, `offset`.
    pub fn label(self) -> String {
        match self {
            Self::Keyset(_) => "keyset".into(),
            Self::Tiles(f) => format!("tiles({})", f.field),
            Self::Offset => "offset".into(),
        }
    }
}

/// The routes for `slice` of `resource`, best first, leaving out those relying on a parameter
/// in `ignored`. A windowed slice (its query carries both bounds of a range filter) is tiled on
/// that filter first: its window is the root tile.
pub fn candidates(resource: &'static Resource, slice: &Slice, ignored: &[String]) -> Vec<Route> {
    let usable = |r: &Route| r.params().iter().all(|p| !ignored.iter().any(|i| i == p));
    let mut out = Vec::new();
    let in_slice = |p: &str| slice.query.iter().any(|(k, _)| *k == p);
    for f in resource.ranges {
        if f.before.is_some_and(|b| in_slice(f.after) && in_slice(b)) {
            out.push(Route::Tiles(f));
        }
    }
    if resource.sortable
        && let Some(f) = resource.range_on(KEYSET_FIELD)
        && !in_slice(f.after)
    {
        out.push(Route::Keyset(f));
    }
    for f in resource.ranges {
        let tile = Route::Tiles(f);
        if f.before.is_some() && !out.contains(&tile) && !f.before.is_some_and(in_slice) {
            out.push(tile);
        }
    }
    out.retain(usable);
    out.push(Route::Offset);
    out
}

/// `[from, to)` cut at `bounds` (ascending, strictly inside) into consecutive windows, oldest
/// first; the outer ones keep the ends as given (open ends stay open). Timestamp windows overlap
/// by a second: a bound the API reads as exclusive loses no row, and the repeats are dropped by
/// key. Tiles ([`Tile::split`]) and recovery windows (`Seen::windows`) both cut this way.
pub fn cut_at(
    from: Option<i64>,
    to: Option<i64>,
    bounds: &[i64],
    grain: Grain,
) -> Vec<(Option<i64>, Option<i64>)> {
    let overlap = match grain {
        Grain::Second => grain.micros(),
        Grain::Day => 0,
    };
    let mut windows = Vec::with_capacity(bounds.len() + 1);
    let mut start = from;
    for b in bounds {
        windows.push((start, Some(*b)));
        start = Some(b - overlap);
    }
    windows.push((start, to));
    windows
}

/// How finely a filter's bounds can be set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grain {
    /// `YYYY-MM-DD`: date fields, and `after`/`before` (the windows of appointments and rota).
    Day,
    /// `YYYY-MM-DDTHH:MM:SSZ`.
    Second,
}

const SECOND: i64 = 1_000_000;
const DAY: i64 = 86_400 * SECOND;

impl Grain {
    /// The grain of `filter` on `resource`.
    pub fn of(resource: &Resource, filter: &RangeFilter) -> Self {
        let date_field = matches!(
            resource.field(filter.field).map(|f| f.kind),
            Some(FieldKind::Scalar(FieldType::Date))
        );
        if date_field || filter.after == "after" {
            Self::Day
        } else {
            Self::Second
        }
    }

    /// One step, in µs.
    pub fn micros(self) -> i64 {
        match self {
            Self::Day => DAY,
            Self::Second => SECOND,
        }
    }

    /// A bound as a query value.
    pub fn format(self, micros: i64) -> String {
        let t = DateTime::<Utc>::from_timestamp_micros(micros).unwrap_or_default();
        match self {
            Self::Day => t.format("%Y-%m-%d").to_string(),
            Self::Second => t.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        }
    }

    /// `micros` rounded down to the grain.
    pub fn floor(self, micros: i64) -> i64 {
        micros.div_euclid(self.micros()) * self.micros()
    }
}

/// A field value or a bound (`2026-01-31`, `2026-07-04T20:35:55.599+01:00`) in µs since the
/// epoch; dates at UTC midnight.
pub fn micros_of(text: &str) -> Option<i64> {
    if text.len() == 10 {
        let d = NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()?;
        return Some(d.and_hms_opt(0, 0, 0)?.and_utc().timestamp_micros());
    }
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.timestamp_micros())
}

/// One window of a tiled read: `[from, to)` in µs, open where `None`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Tile {
    /// Lower bound (inclusive), none: from the first row.
    pub from: Option<i64>,
    /// Upper bound (exclusive), none: to the last row.
    pub to: Option<i64>,
    /// `total_count` of the window that was cut into this one.
    pub parent_total: Option<u64>,
    /// How many cuts in a row left every row in one part (a filter that does nothing).
    #[serde(default)]
    pub same_as_parent: u32,
}

impl Tile {
    /// The whole list (or the slice's window).
    pub fn root(from: Option<i64>, to: Option<i64>) -> Self {
        Self {
            from,
            to,
            parent_total: None,
            same_as_parent: 0,
        }
    }

    /// Cuts this window, which holds `total` rows, into parts of about `target` rows, oldest
    /// first. `seen` is what its first page showed (smallest and largest value, rows): an open
    /// end is estimated from it, the density of that page carried over the whole total (a page
    /// of the newest rows, as the API serves unsorted lists, reaches back far enough; one of the
    /// oldest forward), and stays open in the parts, so nothing is lost if the guess is short.
    /// Timestamp parts overlap by one second, so a bound the API reads as exclusive where we
    /// assume inclusive loses no row (repeats are dropped by key); date parts meet exactly
    /// (a day of overlap would cost a page per part). `None` when the window is one grain wide.
    pub fn split(
        &self,
        total: u64,
        target: u64,
        seen: Option<(i64, i64, u64)>,
        grain: Grain,
        now: i64,
    ) -> Option<Vec<Tile>> {
        let (lo_hint, hi_hint) = match seen {
            Some((min, max, rows)) if rows > 0 => {
                let span = ((max - min) as f64 * total as f64 / rows as f64) as i64;
                let span = span.max(grain.micros());
                // The page was the newest rows or the oldest: cover both readings.
                (min.min(max - span), max.max((min + span).min(now + DAY)))
            }
            _ => (micros_of("2000-01-01").unwrap_or(0), now + DAY),
        };
        let lo = self.from.unwrap_or(lo_hint);
        let hi = self.to.unwrap_or(hi_hint).max(lo + grain.micros());
        let parts = total.div_ceil(target.max(1)).clamp(2, 64) as i64;
        let step = grain.floor((hi - lo) / parts).max(grain.micros());
        let mut bounds: Vec<i64> = (1..parts)
            .map(|i| grain.floor(lo + step * i))
            .filter(|b| *b > lo && *b < hi)
            .collect();
        bounds.dedup();
        if bounds.is_empty() {
            return None;
        }
        let tiles: Vec<Tile> = cut_at(self.from, self.to, &bounds, grain)
            .into_iter()
            .map(|(from, to)| self.child(from, to, total))
            .collect();
        // With the overlap, a window one grain past its lower bound can "cut" into a part that
        // is itself: no narrower window exists.
        if tiles.iter().any(|t| t.from == self.from && t.to == self.to) {
            return None;
        }
        Some(tiles)
    }

    fn child(&self, from: Option<i64>, to: Option<i64>, total: u64) -> Self {
        Tile {
            from,
            to,
            parent_total: Some(total),
            same_as_parent: 0,
        }
    }

    /// The window's query parameters.
    pub fn query(&self, filter: &RangeFilter, grain: Grain) -> Vec<(&'static str, String)> {
        let mut q = Vec::new();
        if let Some(from) = self.from {
            q.push((filter.after, grain.format(from)));
        }
        if let (Some(to), Some(before)) = (self.to, filter.before) {
            q.push((before, grain.format(to)));
        }
        q
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog;

    #[test]
    fn routes_follow_the_catalog_and_drop_ignored_filters() {
        let items = catalog::find("treatment_plan_items").unwrap();
        let whole = Slice::whole();
        let labels = |r: Vec<Route>| r.into_iter().map(Route::label).collect::<Vec<_>>();
        assert_eq!(
            labels(candidates(items, &whole, &[])),
            ["keyset", "tiles(updated_at)", "offset"]
        );
        assert_eq!(
            labels(candidates(items, &whole, &["sort_by".into()])),
            ["tiles(updated_at)", "offset"]
        );
        let patients = catalog::find("patients").unwrap();
        assert_eq!(
            labels(candidates(patients, &whole, &[])),
            ["tiles(created_at)", "offset"],
            "patients ignore sort_by: no keyset"
        );
    }

    #[test]
    fn a_window_is_cut_into_parts_covering_it() {
        let day = Grain::Day;
        let lo = micros_of("2026-01-01").unwrap();
        let hi = micros_of("2026-01-11").unwrap();
        let tile = Tile::root(Some(lo), Some(hi));
        let parts = tile.split(1000, 200, None, day, hi).unwrap();
        assert_eq!(parts.len(), 5);
        assert_eq!(parts[0].from, Some(lo));
        assert_eq!(parts[4].to, Some(hi));
        for pair in parts.windows(2) {
            assert_eq!(pair[1].from, pair[0].to, "days meet exactly");
        }
        let seconds = tile.split(1000, 200, None, Grain::Second, hi).unwrap();
        assert_eq!(seconds[1].from, seconds[0].to.map(|t| t - SECOND));
        let second = Tile::root(Some(lo), None);
        let at_once = (lo + SECOND, lo + SECOND, 300);
        assert!(
            second
                .split(300, 50, Some(at_once), Grain::Second, hi)
                .is_none(),
            "every row at one instant: no part narrower than the window"
        );
        let one_day = Tile::root(Some(lo), Some(lo + DAY));
        assert!(one_day.split(1000, 200, None, day, hi).is_none());
        // A first page of the newest 100 rows, spanning a day, of 1,000: about ten days back.
        let newest = (hi - DAY, hi, 100);
        let open = Tile::root(None, None).split(1000, 500, Some(newest), day, hi);
        let open = open.unwrap();
        assert_eq!(open.first().unwrap().from, None, "open ends stay open");
        assert_eq!(open.last().unwrap().to, None);
        assert!(
            open[0].to.unwrap() < hi - 3 * DAY,
            "the estimate reaches back: {open:?}"
        );
        assert_eq!(day.format(lo), "2026-01-01");
        assert_eq!(Grain::Second.format(lo), "2026-01-01T00:00:00Z");
    }
}
