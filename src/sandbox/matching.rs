//! Matching and ordering raw records: whether a filter holds for a record, and the typed
//! sort key of `sort_by`.
//!
//! Records are compared as the API's database would: timestamps as instants (their offsets
//! differ across summer time), money and decimals as numbers, nulls last when ascending.

use std::cmp::Ordering;

use serde_json::Value;

use crate::catalog::FieldType;

use super::data::{ids, organisation};
use super::query::{Filter, Sort};
use super::store::View;

/// Whether a bound on `updated_at` holds for a record updated at `at` (UTC ms).
pub(crate) fn holds_at(filter: &Filter, at: i64) -> bool {
    match filter {
        Filter::From { ms, .. } => at >= *ms,
        Filter::Until { ms, .. } => at < *ms,
        _ => true,
    }
}

/// Whether `filter` holds for a raw record.
pub(crate) fn holds(view: &View<'_>, filter: &Filter, raw: &Value) -> bool {
    let text = |field: &str| raw.get(field).and_then(Value::as_str);
    let instant = |field: &str| {
        text(field)
            .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
            .map(|t| t.timestamp_millis())
    };
    let date = |field: &str| {
        text(field).and_then(|s| chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").ok())
    };
    match filter {
        Filter::From { field, ms } => instant(field).is_some_and(|t| t >= *ms),
        Filter::Until { field, ms } => instant(field).is_some_and(|t| t < *ms),
        Filter::DateFrom { field, date: d } => date(field).is_some_and(|v| v >= *d),
        Filter::DateUntil { field, date: d } => date(field).is_some_and(|v| v < *d),
        Filter::Equals { field, value } => match raw.get(*field) {
            Some(Value::String(s)) => s.eq_ignore_ascii_case(value),
            Some(Value::Number(n)) => n.to_string() == *value,
            Some(Value::Bool(b)) => b.to_string() == *value,
            _ => false,
        },
        Filter::Is { field, value } => raw.get(*field).and_then(Value::as_bool) == Some(*value),
        Filter::Text(q) => {
            let name = format!(
                "{} {}",
                text("first_name").unwrap_or(""),
                text("last_name").unwrap_or("")
            );
            let digits: String = q.chars().filter(|c| !c.is_whitespace()).collect();
            ["preferred_name", "email_address"]
                .iter()
                .filter_map(|f| text(f))
                .chain([name.as_str()])
                .any(|s| s.to_lowercase().contains(q.as_str()))
                || ["mobile_phone", "home_phone", "work_phone"]
                    .iter()
                    .filter_map(|f| text(f))
                    .any(|p| !digits.is_empty() && p.replace(' ', "").contains(&digits))
        }
        Filter::NoneOf { field, values } => {
            text(field).is_none_or(|v| !values.iter().any(|x| x.eq_ignore_ascii_case(v)))
        }
        Filter::PractitionerAtSite(site) => raw
            .get("practitioner_id")
            .and_then(Value::as_i64)
            .is_some_and(|id| {
                let p = (id - ids::PRACTITIONERS) as u64;
                p < view.world.counts.practitioners
                    && organisation::site_id(
                        view.world,
                        organisation::practitioner_site(view.world, p),
                    ) == *site
            }),
    }
}

/// A sort key: typed so that timestamps compare as instants (offsets differ across summer
/// time) and money as numbers. Nulls sort last ascending and first descending, as in
/// PostgreSQL.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Key {
    Bool(bool),
    Number(f64),
    Text(String),
    Null,
}

impl Key {
    /// The key of `raw` for `sort`.
    pub(crate) fn of(raw: &Value, sort: &Sort) -> Key {
        let v = raw.get(sort.field).unwrap_or(&Value::Null);
        match (sort.ty, v) {
            (_, Value::Null) => Key::Null,
            (_, Value::Bool(b)) => Key::Bool(*b),
            (_, Value::Number(n)) => Key::Number(n.as_f64().unwrap_or(0.0)),
            (FieldType::Timestamp, Value::String(s)) => chrono::DateTime::parse_from_rfc3339(s)
                .map_or(Key::Text(s.clone()), |t| {
                    Key::Number(t.timestamp_millis() as f64)
                }),
            (FieldType::Money | FieldType::Decimal, Value::String(s)) => {
                s.parse().map_or(Key::Text(s.clone()), Key::Number)
            }
            (_, Value::String(s)) => Key::Text(s.clone()),
            (_, other) => Key::Text(other.to_string()),
        }
    }

    fn rank(&self) -> u8 {
        match self {
            Key::Bool(_) => 0,
            Key::Number(_) => 1,
            Key::Text(_) => 2,
            Key::Null => 3,
        }
    }
}

impl Eq for Key {}

impl PartialOrd for Key {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Key {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (Key::Bool(a), Key::Bool(b)) => a.cmp(b),
            (Key::Number(a), Key::Number(b)) => a.total_cmp(b),
            (Key::Text(a), Key::Text(b)) => a.cmp(b),
            _ => self.rank().cmp(&other.rank()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_order_nulls_last() {
        let mut keys = vec![Key::Null, Key::Number(2.0), Key::Number(-1.0), Key::Null];
        keys.sort();
        assert_eq!(
            keys,
            [Key::Number(-1.0), Key::Number(2.0), Key::Null, Key::Null]
        );
    }
}
