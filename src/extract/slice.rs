//! Slices: the independent lists a resource is read as.
//!
//! Most resources are one slice. Appointments and rota are only usable inside a date window.
//! Dentally advises windows of about three months (api-evidence.md §1 #15), and every slice
//! costs one partial last page, so a window is cut into as few slices as that advice and the
//! deep-offset wall allow: slices of at most [`ADVISED_SLICE_DAYS`] days, more of them when the
//! window is dense enough that one would hold over [`MAX_SLICE_ROWS`] rows, and a single slice
//! when the whole window is known to be small. The density comes from the last read of the
//! window (the state), so a resumed run cuts the same slices as the run it resumes. Fees must be
//! asked for per treatment (`?treatment_id=`), one slice per treatment.

use chrono::{Days, NaiveDate};

/// Longest slice when more than a small window's rows are expected: about three months, the
/// evidence's advice.
pub const ADVISED_SLICE_DAYS: u64 = 92;
/// Most rows a slice is planned to hold: 100 pages, a fifth of the lowest offset at which the
/// live API was seen answering 413, so growth and a wrong estimate still stay clear of it.
pub const MAX_SLICE_ROWS: f64 = 10_000.0;
/// A window expected to hold at most this many rows (ten pages) is read as one slice, however
/// long: the partial pages of more slices would cost more than the advice saves.
pub const SMALL_WINDOW_ROWS: f64 = 1_000.0;

/// One list request family: a label for messages and the query parameters that define it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slice {
    /// For messages and checkpoints: `all`, `2026-03-01`, `treatment 17`.
    pub label: String,
    /// Parameters added to every page request of this slice.
    pub query: Vec<(&'static str, String)>,
}

impl Slice {
    /// The single slice of an unwindowed resource.
    pub fn whole() -> Self {
        Self {
            label: "all".into(),
            query: Vec::new(),
        }
    }
}

/// What a run reads of a windowed resource.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum WindowCut {
    /// Only the rows changed since the cursor: one list, not windowed.
    Changes,
    /// The whole window, cut by its density (rows per day) when a past read measured it.
    Window {
        /// Rows per day of the last read of the window.
        rows_per_day: Option<f64>,
    },
}

/// `[from, to)` cut into slices sized by `rows_per_day` (see the module docs), as
/// `after`/`before` parameters. Slices have equal lengths in days (the last may be shorter).
pub fn windows(
    from: NaiveDate,
    to: NaiveDate,
    after: &'static str,
    before: &'static str,
    rows_per_day: Option<f64>,
) -> Vec<Slice> {
    let days = u64::try_from((to - from).num_days()).unwrap_or(0);
    if days == 0 {
        return Vec::new();
    }
    let count = slice_count(days, rows_per_day);
    let length = days.div_ceil(count);
    let mut out = Vec::new();
    let mut start = from;
    while start < to {
        let end = (start + Days::new(length)).min(to);
        out.push(Slice {
            label: start.format("%Y-%m-%d").to_string(),
            query: vec![
                (after, start.format("%Y-%m-%d").to_string()),
                (before, end.format("%Y-%m-%d").to_string()),
            ],
        });
        start = end;
    }
    out
}

/// How many slices a window of `days` days is cut into.
fn slice_count(days: u64, rows_per_day: Option<f64>) -> u64 {
    let advised = days.div_ceil(ADVISED_SLICE_DAYS);
    let count = match rows_per_day.filter(|d| d.is_finite() && *d >= 0.0) {
        Some(density) => {
            let rows = density * days as f64;
            if rows <= SMALL_WINDOW_ROWS {
                1
            } else {
                advised.max((rows / MAX_SLICE_ROWS).ceil() as u64)
            }
        }
        None => advised,
    };
    count.clamp(1, days)
}

/// One slice per key of the parent, as `param=<key>` (`fees`: `treatment_id`, labelled
/// `treatment 17`).
pub fn per_parent(param: &'static str, ids: &[String]) -> Vec<Slice> {
    let noun = param.trim_end_matches("_id");
    ids.iter()
        .map(|id| Slice {
            label: format!("{noun} {id}"),
            query: vec![(param, id.clone())],
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    fn bounds(s: &[Slice]) -> Vec<(String, String)> {
        s.iter()
            .map(|s| (s.query[0].1.clone(), s.query[1].1.clone()))
            .collect()
    }

    #[test]
    fn an_unmeasured_window_is_cut_into_about_three_months() {
        // 14 months (425 days): five slices of 85 days, contiguous, covering the window.
        let s = windows(d(2025, 9, 1), d(2026, 10, 31), "after", "before", None);
        let b = bounds(&s);
        assert_eq!(b.len(), 5);
        assert_eq!(b[0].0, "2025-09-01");
        assert_eq!(b[4].1, "2026-10-31");
        for pair in b.windows(2) {
            assert_eq!(pair[0].1, pair[1].0, "contiguous");
        }
        for (from, to) in &b {
            let (f, t) = (
                NaiveDate::parse_from_str(from, "%Y-%m-%d").unwrap(),
                NaiveDate::parse_from_str(to, "%Y-%m-%d").unwrap(),
            );
            assert!((t - f).num_days() <= ADVISED_SLICE_DAYS as i64);
        }
        assert!(windows(d(2026, 1, 1), d(2026, 1, 1), "after", "before", None).is_empty());
    }

    #[test]
    fn a_small_window_is_one_slice_and_a_dense_one_stays_under_the_row_cap() {
        let (from, to) = (d(2025, 9, 1), d(2026, 10, 31)); // 425 days
        // 2 rows a day: 850 rows, one slice however long.
        assert_eq!(windows(from, to, "after", "before", Some(2.0)).len(), 1);
        // 20 rows a day: 8,500 rows, the advice's five slices.
        assert_eq!(windows(from, to, "after", "before", Some(20.0)).len(), 5);
        // 400 rows a day: 170,000 rows, 17 slices of 25 days (10,000 rows) each.
        let dense = windows(from, to, "after", "before", Some(400.0));
        assert_eq!(dense.len(), 17);
        for (from, to) in bounds(&dense) {
            let (f, t) = (
                NaiveDate::parse_from_str(&from, "%Y-%m-%d").unwrap(),
                NaiveDate::parse_from_str(&to, "%Y-%m-%d").unwrap(),
            );
            assert!((t - f).num_days() as f64 * 400.0 <= MAX_SLICE_ROWS);
        }
        // Degenerate densities fall back to the advice; a day is the smallest slice.
        assert_eq!(
            windows(from, to, "after", "before", Some(f64::NAN)).len(),
            5
        );
        assert_eq!(
            windows(d(2026, 1, 1), d(2026, 1, 3), "a", "b", Some(1e9)).len(),
            2
        );
    }
}
