//! Slices: the independent lists a resource is read as.
//!
//! Most resources are one slice. Appointments and rota are only usable inside a date window, and
//! Dentally advises against wide windows (deep pages time out), so a window is cut into calendar
//! months. Fees must be asked for per treatment (`?treatment_id=`), one slice per treatment.

use chrono::{Datelike, NaiveDate};

/// One list request family: a label for messages and the query parameters that define it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slice {
    /// For messages and checkpoints: `all`, `2026-03`, `treatment 17`.
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

/// `[from, to)` cut at month starts, as `after`/`before` parameters.
pub fn months(
    from: NaiveDate,
    to: NaiveDate,
    after: &'static str,
    before: &'static str,
) -> Vec<Slice> {
    let mut out = Vec::new();
    let mut start = from;
    while start < to {
        let next_month = first_of_next_month(start);
        let end = next_month.min(to);
        out.push(Slice {
            label: format!("{}", start.format("%Y-%m-%d")),
            query: vec![
                (after, start.format("%Y-%m-%d").to_string()),
                (before, end.format("%Y-%m-%d").to_string()),
            ],
        });
        start = end;
    }
    out
}

fn first_of_next_month(d: NaiveDate) -> NaiveDate {
    let (y, m) = if d.month() == 12 {
        (d.year() + 1, 1)
    } else {
        (d.year(), d.month() + 1)
    };
    NaiveDate::from_ymd_opt(y, m, 1).unwrap_or(d)
}

/// One slice per treatment id (`fees`).
pub fn per_treatment(ids: &[String]) -> Vec<Slice> {
    ids.iter()
        .map(|id| Slice {
            label: format!("treatment {id}"),
            query: vec![("treatment_id", id.clone())],
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn cuts_a_window_into_months() {
        let s = months(d(2025, 11, 20), d(2026, 2, 3), "after", "before");
        let bounds: Vec<_> = s
            .iter()
            .map(|s| (s.query[0].1.clone(), s.query[1].1.clone()))
            .collect();
        assert_eq!(
            bounds,
            vec![
                ("2025-11-20".into(), "2025-12-01".into()),
                ("2025-12-01".into(), "2026-01-01".into()),
                ("2026-01-01".into(), "2026-02-01".into()),
                ("2026-02-01".into(), "2026-02-03".into()),
            ]
        );
        assert!(months(d(2026, 1, 1), d(2026, 1, 1), "after", "before").is_empty());
    }
}
