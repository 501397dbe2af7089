//! Reads known to have missed rows, told apart from reads that are merely small.
//!
//! Two filters have no read that can replace them: appointments without `cancelled=true` leave
//! out the Cancelled and Did-not-attend rows (nothing else lists them), and a windowed list read
//! without its start answers nothing. An API that ignores either serves a plausible answer with
//! rows missing. What can be done is to notice, never mark the rows it did not serve deleted
//! (a `purge` would erase rows that still exist), keep the last good read's rows, and tell the
//! scheduler: such a resource is `partial` (exit 4), named with the filter in the manifest.
//!
//! An empty window is only *known* to be missing rows when the last read of it had them: a
//! practice may truly have an empty rota, and a first read cannot tell.

use chrono::NaiveDate;

use super::resource::Progress;
use super::strategy::Strategy;
use crate::catalog::Window;
use crate::config::ResourceSpec;
use crate::manifest::WindowRead;

/// Rows read (in this session) before a witness's absence means anything: a practice's diary of
/// this many appointments without one cancellation or no-show is not believable.
const WITNESS_ROWS: u64 = 500;

/// Rows the last read had in the part of the window read again before an empty answer means
/// rows are missing (fewer could all have been deleted since).
const EXPECTED_ROWS: u64 = 10;

/// Why a read is known, or suspected, to have missed rows.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Missing {
    /// A required parameter's witness rows are absent: the API ignored it.
    Witness { param: &'static str, rows: u64 },
    /// A whole window answered nothing (and no other read found its rows); `expected` is what
    /// the last read of the window found in the same days, when it found any.
    EmptyWindow {
        param: &'static str,
        expected: Option<u64>,
    },
}

impl Missing {
    /// Whether rows are known to be missing (not only suspected): the resource is partial.
    pub(super) fn known(self) -> bool {
        match self {
            Self::Witness { .. } => true,
            Self::EmptyWindow { expected, .. } => expected.is_some(),
        }
    }

    /// The filter the API seems to have ignored.
    pub(super) fn param(self) -> &'static str {
        match self {
            Self::Witness { param, .. } | Self::EmptyWindow { param, .. } => param,
        }
    }

    /// The resource's error in the manifest when rows are known missing; `kept`: whether the
    /// rows read before were kept (merged), not replaced by this read (a CSV full read).
    pub(super) fn error(self, spec: &ResourceSpec, kept: bool) -> Option<String> {
        let resource = spec.resource;
        let previous = if kept {
            "rows read before are kept and none is marked deleted"
        } else {
            "the table holds this read only (CSV tables are rebuilt by every run; earlier reads stay in `_raw/` within its retention)"
        };
        match self {
            Self::Witness { param, rows } => {
                let w = resource.witness?;
                Some(format!(
                    "rows missing: the API ignored `{param}` on `{}` (none of {rows} rows has {} {}, the rows it leaves out without it); \
                     they are not in the table; {previous}",
                    resource.name,
                    w.field,
                    w.values.join(" or ")
                ))
            }
            Self::EmptyWindow {
                param,
                expected: Some(n),
            } => Some(format!(
                "rows missing: no row in the whole window of `{}`, where the last read found about {n}; \
                 the API may have ignored `{param}` (without it the list answers nothing); {previous}",
                resource.name
            )),
            Self::EmptyWindow { .. } => None,
        }
    }
}

/// Checked, not trusted: whether this read missed rows, and why (warned about here).
pub(super) fn rows_known_missing(
    spec: &ResourceSpec,
    strategy: &Strategy,
    progress: &Progress,
    last: Option<&WindowRead>,
    today: NaiveDate,
) -> Option<Missing> {
    let resource = spec.resource;
    let tally = progress.witness;
    if let Some(w) = resource.witness
        && tally.rows >= WITNESS_ROWS
        && tally.shown == 0
    {
        tracing::warn!(
            resource = resource.name,
            filter = w.param,
            rows = tally.rows,
            "The API seems to have ignored the `{}` filter of `{}`: none of {} rows has {} {}, rows it leaves out without it; they are missing.",
            w.param,
            resource.name,
            tally.rows,
            w.field,
            w.values.join(" or ")
        );
        return Some(Missing::Witness {
            param: w.param,
            rows: tally.rows,
        });
    }
    if let Window::Required { after_param, .. } = resource.window
        && !matches!(strategy, Strategy::Delta { .. })
        && progress.done.rows == 0
        && progress.done.slices > 0
    {
        let expected = spec
            .window
            .zip(last)
            .and_then(|(w, last)| expected_rows(last, w.resolve(today)))
            .filter(|n| *n >= EXPECTED_ROWS);
        match expected {
            Some(n) => tracing::warn!(
                resource = resource.name,
                filter = after_param,
                expected = n,
                "No row in the whole window of `{}`, where the last read found about {n}: the API may have ignored the `{after_param}` filter (without it the list answers nothing). The rows read before are kept.",
                resource.name
            ),
            None => tracing::warn!(
                resource = resource.name,
                filter = after_param,
                "No row in the whole window of `{}`: if the practice uses it, the API may have ignored the `{after_param}` filter (without it the list answers nothing).",
                resource.name
            ),
        }
        return Some(Missing::EmptyWindow {
            param: after_param,
            expected,
        });
    }
    None
}

/// Rows the last window read found in the days it shares with `window`, at its density.
fn expected_rows(last: &WindowRead, (from, to): (NaiveDate, NaiveDate)) -> Option<u64> {
    let per_day = last.rows_per_day()?;
    let days = (to.min(last.to) - from.max(last.from)).num_days();
    (days > 0).then(|| (per_day * days as f64).round() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(from: &str, to: &str, rows: u64) -> WindowRead {
        WindowRead {
            from: from.parse().unwrap(),
            to: to.parse().unwrap(),
            rows,
        }
    }

    fn days(from: &str, to: &str) -> (NaiveDate, NaiveDate) {
        (from.parse().unwrap(), to.parse().unwrap())
    }

    #[test]
    fn the_expected_rows_are_the_last_density_over_the_shared_days() {
        let last = read("2026-01-01", "2026-01-11", 100);
        // The same window: all of it.
        assert_eq!(
            expected_rows(&last, days("2026-01-01", "2026-01-11")),
            Some(100)
        );
        // Moved on by a day: nine shared days.
        assert_eq!(
            expected_rows(&last, days("2026-01-02", "2026-01-12")),
            Some(90)
        );
        // Nothing shared: nothing expected.
        assert_eq!(expected_rows(&last, days("2026-02-01", "2026-03-01")), None);
        // An empty last read: none expected.
        let empty = read("2026-01-01", "2026-01-11", 0);
        assert_eq!(
            expected_rows(&empty, days("2026-01-01", "2026-01-11")),
            Some(0)
        );
    }

    #[test]
    fn only_known_missing_rows_make_a_resource_partial() {
        let w = Missing::Witness {
            param: "cancelled",
            rows: 600,
        };
        assert!(w.known());
        let suspected = Missing::EmptyWindow {
            param: "after",
            expected: None,
        };
        assert!(!suspected.known());
        let known = Missing::EmptyWindow {
            param: "after",
            expected: Some(40),
        };
        assert!(known.known());
        assert_eq!(known.param(), "after");
    }
}
