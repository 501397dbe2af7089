//! One JSON value → one typed cell, by the rules of the type contract (`docs/design.md` §5).
//!
//! Conversion never guesses: a value that does not fit its type is an [`Invalid`], and the
//! flattener rejects the whole record. Cells borrow strings from the page's JSON where they can,
//! so the common case (text, ids, dates, money) allocates nothing.

use std::borrow::Cow;

use chrono::{DateTime, NaiveDate, SecondsFormat};
use serde_json::{Number, Value};

use super::decimal;
use super::invalid::Invalid;
use crate::catalog::FieldType;

/// Money columns: Decimal128(18, 2).
pub(crate) const MONEY_SCALE: u32 = 2;
/// Other decimal columns: Decimal128(18, 4).
pub(crate) const DECIMAL_SCALE: u32 = 4;

/// A converted value waiting to be appended to its column builder.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Cell<'a> {
    /// JSON null or a missing field.
    Null,
    /// Int64.
    Int(i64),
    /// Boolean.
    Bool(bool),
    /// Utf8 borrowed from the JSON.
    Str(&'a str),
    /// Utf8 rendered by us (numbers as text, JSON text, digests).
    Owned(String),
    /// Decimal128, unscaled.
    Decimal(i128),
    /// Timestamp, microseconds since the epoch, UTC.
    Micros(i64),
    /// Date32, days since the epoch.
    Days(i32),
    /// List<Utf8>.
    List(Vec<Option<Cow<'a, str>>>),
}

/// Converts `value` to the cell of a `ty` column. Null stays null for every type.
pub(crate) fn convert(ty: FieldType, value: &Value) -> Result<Cell<'_>, Invalid> {
    if value.is_null() {
        return Ok(Cell::Null);
    }
    match ty {
        FieldType::Int => int(value).map(Cell::Int),
        FieldType::Guid | FieldType::Text => text(value),
        FieldType::IdText => id_text(value),
        FieldType::TimeOfDay => value.as_str().map(Cell::Str).ok_or(Invalid::Text),
        FieldType::Bool => bool(value).map(Cell::Bool),
        FieldType::Money => decimal(value, MONEY_SCALE).map(Cell::Decimal),
        FieldType::Decimal => decimal(value, DECIMAL_SCALE).map(Cell::Decimal),
        FieldType::Timestamp => timestamp(value).map(Cell::Micros),
        FieldType::Date => date(value).map(Cell::Days),
        FieldType::TextList => list(value).map(Cell::List),
        FieldType::Json => Ok(Cell::Owned(value.to_string())),
    }
}

fn int(value: &Value) -> Result<i64, Invalid> {
    match value {
        Value::Number(n) if n.is_i64() => n.as_i64().ok_or(Invalid::Integer),
        Value::Number(n) if n.is_u64() => Err(Invalid::IntegerRange),
        Value::String(s) => s.parse().map_err(|_| Invalid::Integer),
        _ => Err(Invalid::Integer),
    }
}

fn text(value: &Value) -> Result<Cell<'_>, Invalid> {
    match value {
        Value::String(s) => Ok(Cell::Str(s)),
        Value::Number(n) => Ok(Cell::Owned(n.to_string())),
        Value::Bool(b) => Ok(Cell::Str(if *b { "true" } else { "false" })),
        _ => Err(Invalid::Text),
    }
}

/// Ids sent as strings or numbers; numbers are rendered without a fraction (`12.0` → `12`).
fn id_text(value: &Value) -> Result<Cell<'_>, Invalid> {
    match value {
        Value::String(s) => Ok(Cell::Str(s)),
        Value::Number(n) if n.is_f64() => match n.as_f64() {
            Some(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Ok(Cell::Owned(format!("{f:.0}"))),
            _ => Err(Invalid::Id),
        },
        Value::Number(n) => Ok(Cell::Owned(n.to_string())),
        _ => Err(Invalid::Id),
    }
}

fn bool(value: &Value) -> Result<bool, Invalid> {
    match value {
        Value::Bool(b) => Ok(*b),
        Value::Number(n) if n.as_u64() == Some(0) => Ok(false),
        Value::Number(n) if n.as_u64() == Some(1) => Ok(true),
        _ => Err(Invalid::Bool),
    }
}

fn decimal(value: &Value, scale: u32) -> Result<i128, Invalid> {
    match value {
        Value::String(s) => decimal::parse(s, scale),
        Value::Number(n) => number_decimal(n, scale),
        _ => Err(Invalid::Decimal),
    }
}

/// Numbers go through their shortest round-trip text, which is the text the API sent for any
/// value an API would send (`12.5`, `3`); never through `f64` arithmetic.
fn number_decimal(n: &Number, scale: u32) -> Result<i128, Invalid> {
    decimal::parse(&n.to_string(), scale)
}

/// RFC 3339 with an offset, converted to UTC microseconds.
fn timestamp(value: &Value) -> Result<i64, Invalid> {
    let text = value.as_str().ok_or(Invalid::Timestamp)?;
    let parsed = DateTime::parse_from_rfc3339(text).map_err(|_| Invalid::Timestamp)?;
    if parsed.timestamp_subsec_nanos() % 1_000 != 0 {
        return Err(Invalid::SubMicrosecond);
    }
    Ok(parsed.timestamp_micros())
}

/// `YYYY-MM-DD` exactly (no time, no short forms), as days since 1970-01-01.
fn date(value: &Value) -> Result<i32, Invalid> {
    let text = value.as_str().ok_or(Invalid::Date)?;
    let b = text.as_bytes();
    let shaped = b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit());
    if !shaped {
        return Err(Invalid::Date);
    }
    let day = NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| Invalid::Date)?;
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).ok_or(Invalid::Date)?;
    i32::try_from(day.signed_duration_since(epoch).num_days()).map_err(|_| Invalid::Date)
}

fn list(value: &Value) -> Result<Vec<Option<Cow<'_, str>>>, Invalid> {
    let items = value.as_array().ok_or(Invalid::List)?;
    items
        .iter()
        .map(|item| match item {
            Value::Null => Ok(None),
            Value::String(s) => Ok(Some(Cow::Borrowed(s.as_str()))),
            Value::Number(n) => Ok(Some(Cow::Owned(n.to_string()))),
            Value::Bool(b) => Ok(Some(Cow::Borrowed(if *b { "true" } else { "false" }))),
            Value::Array(_) | Value::Object(_) => Err(Invalid::List),
        })
        .collect()
}

/// The canonical text of a cell, as hashed under `pii = hash`: the same value gives the same
/// text in every table (`2026-07-04T19:35:55.599000Z`, `-76.00`, `1980-02-29`, `["UL1"]`).
pub(crate) fn canonical_text(ty: FieldType, cell: &Cell<'_>) -> Option<String> {
    Some(match cell {
        Cell::Null => return None,
        Cell::Int(i) => i.to_string(),
        Cell::Bool(b) => b.to_string(),
        Cell::Str(s) => (*s).to_owned(),
        Cell::Owned(s) => s.clone(),
        Cell::Decimal(v) => {
            let scale = if ty == FieldType::Money {
                MONEY_SCALE
            } else {
                DECIMAL_SCALE
            };
            decimal::render(*v, scale)
        }
        Cell::Micros(us) => {
            DateTime::from_timestamp_micros(*us)?.to_rfc3339_opts(SecondsFormat::Micros, true)
        }
        Cell::Days(d) => NaiveDate::from_ymd_opt(1970, 1, 1)?
            .checked_add_signed(chrono::TimeDelta::days(i64::from(*d)))?
            .format("%Y-%m-%d")
            .to_string(),
        Cell::List(items) => serde_json::to_string(items).ok()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ok(ty: FieldType, v: Value) -> Cell<'static> {
        let leaked: &'static Value = Box::leak(Box::new(v));
        convert(ty, leaked).unwrap()
    }

    fn err(ty: FieldType, v: Value) -> Invalid {
        convert(ty, &v).unwrap_err()
    }

    #[test]
    fn integers() {
        assert_eq!(ok(FieldType::Int, json!(42)), Cell::Int(42));
        assert_eq!(ok(FieldType::Int, json!("-7")), Cell::Int(-7));
        assert_eq!(err(FieldType::Int, json!(1.5)), Invalid::Integer);
        assert_eq!(err(FieldType::Int, json!(2.0)), Invalid::Integer);
        assert_eq!(err(FieldType::Int, json!("1.0")), Invalid::Integer);
        assert_eq!(err(FieldType::Int, json!(u64::MAX)), Invalid::IntegerRange);
        assert_eq!(err(FieldType::Int, json!(true)), Invalid::Integer);
    }

    #[test]
    fn money_and_decimals() {
        assert_eq!(ok(FieldType::Money, json!("-76.0")), Cell::Decimal(-7600));
        assert_eq!(ok(FieldType::Money, json!(12.5)), Cell::Decimal(1250));
        assert_eq!(ok(FieldType::Money, json!(3)), Cell::Decimal(300));
        assert_eq!(
            ok(FieldType::Decimal, json!("1.2345")),
            Cell::Decimal(12345)
        );
        assert_eq!(
            err(FieldType::Money, json!("76.005")),
            Invalid::TooManyDecimals { scale: 2 }
        );
        assert_eq!(
            err(FieldType::Money, json!(0.001)),
            Invalid::TooManyDecimals { scale: 2 }
        );
        assert_eq!(err(FieldType::Money, json!("")), Invalid::Decimal);
        assert_eq!(err(FieldType::Money, json!(true)), Invalid::Decimal);
    }

    #[test]
    fn timestamps_convert_to_utc() {
        let bst = ok(FieldType::Timestamp, json!("2026-07-04T20:35:55.599+01:00"));
        let utc = DateTime::parse_from_rfc3339("2026-07-04T19:35:55.599Z").unwrap();
        assert_eq!(bst, Cell::Micros(utc.timestamp_micros()));
        assert_eq!(
            err(FieldType::Timestamp, json!("2026-07-04T20:35:55.599")),
            Invalid::Timestamp
        );
        assert_eq!(
            err(FieldType::Timestamp, json!("2026-07-04")),
            Invalid::Timestamp
        );
        assert_eq!(
            err(FieldType::Timestamp, json!("2026-07-04T20:35:55.5990001Z")),
            Invalid::SubMicrosecond
        );
    }

    #[test]
    fn dates_bools_text_ids_lists() {
        assert_eq!(ok(FieldType::Date, json!("1970-01-02")), Cell::Days(1));
        assert_eq!(ok(FieldType::Date, json!("1969-12-31")), Cell::Days(-1));
        for bad in [
            "2026-7-4",
            "2026-02-30",
            "2026-07-04T00:00:00Z",
            "04/07/2026",
        ] {
            assert_eq!(err(FieldType::Date, json!(bad)), Invalid::Date, "{bad}");
        }
        assert_eq!(ok(FieldType::Bool, json!(1)), Cell::Bool(true));
        assert_eq!(ok(FieldType::Bool, json!(0)), Cell::Bool(false));
        assert_eq!(err(FieldType::Bool, json!("true")), Invalid::Bool);
        assert_eq!(err(FieldType::Bool, json!(2)), Invalid::Bool);
        assert_eq!(ok(FieldType::Text, json!(5)), Cell::Owned("5".into()));
        assert_eq!(err(FieldType::Text, json!({"a": 1})), Invalid::Text);
        assert_eq!(ok(FieldType::IdText, json!(12)), Cell::Owned("12".into()));
        assert_eq!(ok(FieldType::IdText, json!(12.0)), Cell::Owned("12".into()));
        assert_eq!(err(FieldType::IdText, json!(12.5)), Invalid::Id);
        assert_eq!(err(FieldType::IdText, json!(false)), Invalid::Id);
        assert_eq!(
            ok(FieldType::TextList, json!(["UL1", 2, null])),
            Cell::List(vec![Some("UL1".into()), Some("2".into()), None])
        );
        assert_eq!(err(FieldType::TextList, json!([{"t": 1}])), Invalid::List);
        assert_eq!(err(FieldType::TextList, json!("UL1")), Invalid::List);
        assert_eq!(
            ok(FieldType::Json, json!({"a": [1]})),
            Cell::Owned(r#"{"a":[1]}"#.into())
        );
        assert_eq!(ok(FieldType::Json, Value::Null), Cell::Null);
    }

    #[test]
    fn canonical_texts() {
        let c = |ty, v| canonical_text(ty, &ok(ty, v)).unwrap();
        assert_eq!(c(FieldType::Money, json!("-76.0")), "-76.00");
        assert_eq!(c(FieldType::Date, json!("1980-02-29")), "1980-02-29");
        assert_eq!(
            c(FieldType::Timestamp, json!("2026-07-04T20:35:55.599+01:00")),
            "2026-07-04T19:35:55.599000Z"
        );
        assert_eq!(c(FieldType::Text, json!("Ann")), "Ann");
        assert_eq!(c(FieldType::TextList, json!(["a", "b"])), r#"["a","b"]"#);
    }
}
