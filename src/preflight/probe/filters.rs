//! Whether a range filter the catalog relies on (`Resource.ranges`) took effect, for about one
//! request per filter.
//!
//! The live API ignores parameters it does not know, silently (payments and `updated_after`,
//! api-evidence.md §4 #3). So the bounds are taken from page 1's own rows: the lower bound at
//! the middle (or first quarter) of the values seen, the upper one at the third quarter. If the
//! filter works, the filtered answer holds no row outside the bounds and its `total_count` goes
//! down; if a bound is ignored, page 1's rows come back and some lie outside it. A bound no row
//! of page 1 lies beyond cannot be judged and is reported so. Bounds are never printed: they
//! are values of the practice's records.

use chrono::{DateTime, NaiveDate, SecondsFormat};
use serde::Serialize;

use super::{Check, Verdict};
use crate::catalog::{FieldKind, FieldType, RangeFilter, Resource, Window};
use crate::json::Node;

const SECOND: i64 = 1_000_000;
const DAY: i64 = 86_400 * SECOND;

/// The verdict on one range filter.
#[derive(Debug, Clone, Serialize)]
pub struct FilterCheck {
    /// Record field the filter applies to.
    pub field: String,
    /// Lower-bound parameter.
    pub after: String,
    /// Upper-bound parameter, when the catalog relies on one.
    pub before: Option<String>,
    /// Whether the lower bound took effect.
    pub after_check: Check,
    /// Whether the upper bound took effect.
    pub before_check: Option<Check>,
    /// Whether `meta.total_count` went down with the filter (`None`: no total to compare).
    pub total_count_went_down: Option<bool>,
}

/// The request that tests one filter: its extra query parameters, and how to judge the answer.
pub(crate) struct FilterProbe {
    filter: &'static RangeFilter,
    /// Lower and upper bounds, in µs, at the parameters' granularity.
    lower: i64,
    upper: Option<i64>,
    /// Slack for date parameters (a day: dates are local midnights) or datetimes (a second).
    slack: i64,
    /// Whether page 1 had rows below the lower bound / at or above the upper one.
    below_seen: bool,
    above_seen: bool,
    /// The query parameters of the bounds.
    pub(crate) params: Vec<(&'static str, String)>,
}

/// Whether the filter's parameters are the list's window parameters (sent as dates then).
pub(crate) fn is_window_filter(resource: &Resource, filter: &RangeFilter) -> bool {
    matches!(resource.window, Window::Required { after_param, .. } if after_param == filter.after)
}

/// Plans the request testing `filter` from page 1's `records`; `None` when page 1 gives no two
/// distinct values of the field (the filter is then reported as not judged).
pub(crate) fn plan(
    resource: &Resource,
    filter: &'static RangeFilter,
    records: &[Node<'_>],
) -> Option<FilterProbe> {
    let date_param =
        is_window_filter(resource, filter) || field_type(resource, filter) == Some(FieldType::Date);
    let mut values: Vec<i64> = records
        .iter()
        .filter_map(|r| r.get(filter.field))
        .filter_map(micros)
        .collect();
    values.sort_unstable();
    values.dedup();
    if values.len() < 2 {
        return None;
    }
    let (grain, slack) = if date_param {
        (DAY, DAY)
    } else {
        (SECOND, SECOND)
    };
    let floor = |v: i64| v.div_euclid(grain) * grain;
    let n = values.len();
    let lower_at = if filter.before.is_some() {
        n / 4
    } else {
        n / 2
    };
    let lower = floor(values[lower_at.max(1)]);
    let upper = filter
        .before
        .map(|_| floor(values[(3 * n / 4).min(n - 1)]).max(lower + grain));
    let format = |v: i64| render(v, date_param);
    let mut params = vec![(filter.after, format(lower))];
    if let (Some(param), Some(u)) = (filter.before, upper) {
        params.push((param, format(u)));
    }
    Some(FilterProbe {
        filter,
        lower,
        upper,
        slack,
        below_seen: values.iter().any(|&v| v < lower - slack),
        above_seen: upper.is_some_and(|u| values.iter().any(|&v| v >= u + slack)),
        params,
    })
}

impl FilterProbe {
    /// Judges the filtered answer against page 1.
    pub(crate) fn judge(
        &self,
        records: &[Node<'_>],
        page1_total: Option<u64>,
        total: Option<u64>,
    ) -> FilterCheck {
        let values: Vec<i64> = records
            .iter()
            .filter_map(|r| r.get(self.filter.field))
            .filter_map(micros)
            .collect();
        let below = values
            .iter()
            .filter(|&&v| v < self.lower - self.slack)
            .count();
        let after_check = side(self.below_seen, below, values.len(), self.filter.after);
        let before_check = self.upper.map(|u| {
            let above = values.iter().filter(|&&v| v >= u + self.slack).count();
            let param = self.filter.before.unwrap_or_default();
            side(self.above_seen, above, values.len(), param)
        });
        FilterCheck {
            field: self.filter.field.to_string(),
            after: self.filter.after.to_string(),
            before: self.filter.before.map(str::to_string),
            after_check,
            before_check,
            total_count_went_down: page1_total.zip(total).map(|(a, b)| b < a),
        }
    }
}

/// The verdict on one bound: rows beyond it in the answer mean it was ignored.
fn side(page1_beyond: bool, beyond: usize, rows: usize, param: &str) -> Check {
    if beyond > 0 {
        return Check::new(
            Verdict::Ignored,
            format!("{beyond} of {rows} rows lie beyond `{param}`"),
        );
    }
    if !page1_beyond {
        return Check::new(
            Verdict::CannotTell,
            format!("no row of page 1 lies beyond the `{param}` bound chosen"),
        );
    }
    if rows == 0 {
        return Check::new(
            Verdict::CannotTell,
            format!("the answer with `{param}` is empty"),
        );
    }
    Check::new(
        Verdict::TookEffect,
        format!("none of {rows} rows lies beyond `{param}`"),
    )
}

fn field_type(resource: &Resource, filter: &RangeFilter) -> Option<FieldType> {
    match resource.field(filter.field)?.kind {
        FieldKind::Scalar(ty) => Some(ty),
        _ => None,
    }
}

/// A timestamp or date value as µs since the epoch (dates at UTC midnight).
fn micros(value: Node<'_>) -> Option<i64> {
    let text = value.as_str()?;
    if let Ok(t) = DateTime::parse_from_rfc3339(&text) {
        return Some(t.timestamp_micros());
    }
    let date = NaiveDate::parse_from_str(&text, "%Y-%m-%d").ok()?;
    Some(date.and_hms_opt(0, 0, 0)?.and_utc().timestamp_micros())
}

/// A bound as the API expects it: `YYYY-MM-DD` or an RFC 3339 UTC instant.
fn render(micros: i64, date: bool) -> String {
    let Some(t) = DateTime::from_timestamp_micros(micros) else {
        return String::new();
    };
    if date {
        t.date_naive().to_string()
    } else {
        t.to_rfc3339_opts(SecondsFormat::Secs, true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::find;
    use crate::json::Doc;
    use serde_json::json;

    fn rows(dates: &[&str]) -> serde_json::Value {
        json!(
            dates
                .iter()
                .enumerate()
                .map(|(i, d)| json!({"id": i, "dated_on": d}))
                .collect::<Vec<_>>()
        )
    }

    #[test]
    fn a_filter_that_cuts_rows_took_effect_and_one_that_does_not_was_ignored() {
        let payments = find("payments").unwrap();
        let filter = payments.range_on("dated_on").unwrap();
        let page1 = Doc::from_value(&rows(&[
            "2026-01-01",
            "2026-01-05",
            "2026-01-10",
            "2026-01-15",
            "2026-01-20",
            "2026-01-25",
            "2026-01-30",
            "2026-02-04",
        ]));
        let records: Vec<_> = page1.root().items().collect();
        let probe = plan(payments, filter, &records).unwrap();
        assert_eq!(probe.params.len(), 2);
        let ignored = probe.judge(&records, Some(80), Some(80));
        assert_eq!(ignored.after_check.verdict, Verdict::Ignored);
        assert_eq!(ignored.before_check.unwrap().verdict, Verdict::Ignored);
        assert_eq!(ignored.total_count_went_down, Some(false));
        let cut = Doc::from_value(&rows(&["2026-01-10", "2026-01-20"]));
        let cut: Vec<_> = cut.root().items().collect();
        let honoured = probe.judge(&cut, Some(80), Some(20));
        assert_eq!(honoured.after_check.verdict, Verdict::TookEffect);
        assert_eq!(honoured.before_check.unwrap().verdict, Verdict::TookEffect);
        let one = Doc::from_value(&rows(&["2026-01-01"]));
        let one: Vec<_> = one.root().items().collect();
        assert!(plan(payments, filter, &one).is_none());
    }
}
