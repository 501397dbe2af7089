//! One JSON value → one typed cell, by the rules of the type contract (`docs/design.md` §5).
//!
//! Conversion never guesses: a value that does not fit its type is an [`Invalid`]; the
//! flattener then nulls the cell and keeps the value in `_extra` (or rejects the record when the
//! value is its primary key). Cells borrow strings from the page's JSON where they can,
//! so the common case (text, ids, dates, money) allocates nothing.

use std::borrow::Cow;

use chrono::{DateTime, Datelike, NaiveDate, SecondsFormat};
use serde_json::Number;

use super::decimal;
use super::invalid::Invalid;
use crate::catalog::FieldType;
use crate::json::{Kind, Node};

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
pub(crate) fn convert(ty: FieldType, value: Node<'_>) -> Result<Cell<'_>, Invalid> {
    if value.is_null() {
        return Ok(Cell::Null);
    }
    match ty {
        FieldType::Int => int(value).map(Cell::Int),
        FieldType::Guid | FieldType::Text => text(value),
        FieldType::IdText => id_text(value),
        FieldType::TimeOfDay => value.as_str().map(cow_cell).ok_or(Invalid::Text),
        FieldType::Bool => bool(value).map(Cell::Bool),
        FieldType::Money => decimal(value, MONEY_SCALE).map(Cell::Decimal),
        FieldType::Decimal => decimal(value, DECIMAL_SCALE).map(Cell::Decimal),
        FieldType::Timestamp => timestamp(value).map(Cell::Micros),
        FieldType::Date => date(value).map(Cell::Days),
        FieldType::TextList => list(value).map(Cell::List),
        FieldType::Json => Ok(cow_cell(value.json())),
    }
}

fn cow_cell(text: Cow<'_, str>) -> Cell<'_> {
    match text {
        Cow::Borrowed(s) => Cell::Str(s),
        Cow::Owned(s) => Cell::Owned(s),
    }
}

/// Whether a JSON number's text is a plain integer (no fraction, no exponent).
fn is_integer(number: &str) -> bool {
    let digits = number.strip_prefix('-').unwrap_or(number);
    !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
}

/// A number's text as serde_json would print it: integers as sent, others by their shortest
/// round-trip `f64` text (`1E+2` → `100.0`), so text columns do not depend on the sender's style.
fn number_text(number: &str) -> Cow<'_, str> {
    if is_integer(number) && number != "-0" {
        return Cow::Borrowed(number);
    }
    match number.parse::<Number>() {
        Ok(n) => Cow::Owned(n.to_string()),
        Err(_) => Cow::Borrowed(number),
    }
}

fn int(value: Node<'_>) -> Result<i64, Invalid> {
    if let Some(n) = value.number() {
        return match n.parse::<i64>() {
            Ok(i) => Ok(i),
            Err(_) if is_integer(n) && !n.starts_with('-') => Err(Invalid::IntegerRange),
            Err(_) => Err(Invalid::Integer),
        };
    }
    match value.as_str() {
        Some(s) => s.parse().map_err(|_| Invalid::Integer),
        None => Err(Invalid::Integer),
    }
}

fn text(value: Node<'_>) -> Result<Cell<'_>, Invalid> {
    match value.kind() {
        Kind::String => Ok(cow_cell(value.as_str().unwrap_or_default())),
        Kind::Number => Ok(cow_cell(number_text(value.number().unwrap_or_default()))),
        Kind::Bool => Ok(Cell::Str(if value.as_bool() == Some(true) {
            "true"
        } else {
            "false"
        })),
        _ => Err(Invalid::Text),
    }
}

/// Ids sent as strings or numbers; numbers are rendered without a fraction (`12.0` → `12`).
fn id_text(value: Node<'_>) -> Result<Cell<'_>, Invalid> {
    if let Some(s) = value.as_str() {
        return Ok(cow_cell(s));
    }
    let n = value.number().ok_or(Invalid::Id)?;
    if is_integer(n) {
        return Ok(cow_cell(number_text(n)));
    }
    match n.parse::<f64>() {
        Ok(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Ok(Cell::Owned(format!("{f:.0}"))),
        _ => Err(Invalid::Id),
    }
}

fn bool(value: Node<'_>) -> Result<bool, Invalid> {
    if let Some(b) = value.as_bool() {
        return Ok(b);
    }
    match value.number() {
        Some("0" | "-0") => Ok(false),
        Some("1") => Ok(true),
        _ => Err(Invalid::Bool),
    }
}

/// Money and decimals from the exact digits sent (a string, or a JSON number's own text), never
/// through `f64` arithmetic; a number in exponent form goes through its shortest round-trip text.
fn decimal(value: Node<'_>, scale: u32) -> Result<i128, Invalid> {
    if let Some(s) = value.as_str() {
        return decimal::parse(&s, scale);
    }
    let n = value.number().ok_or(Invalid::Decimal)?;
    if n.contains(['e', 'E']) {
        decimal::parse(&number_text(n), scale)
    } else {
        decimal::parse(n, scale)
    }
}

/// RFC 3339 with an offset, converted to UTC microseconds.
fn timestamp(value: Node<'_>) -> Result<i64, Invalid> {
    let text = value.as_str().ok_or(Invalid::Timestamp)?;
    if let Some(micros) = common_timestamp(text.as_bytes()) {
        return micros;
    }
    let parsed = DateTime::parse_from_rfc3339(&text).map_err(|_| Invalid::Timestamp)?;
    if parsed.timestamp_subsec_nanos() % 1_000 != 0 {
        return Err(Invalid::SubMicrosecond);
    }
    Ok(parsed.timestamp_micros())
}

/// The shape the API sends (`2026-07-04T20:35:55.599+01:00`, `…Z`, up to 9 fraction digits),
/// read by hand: chrono's general parser was a tenth of the conversion time. `None` for anything
/// else (leap seconds, lower-case separators, odd offsets), which then goes through chrono.
fn common_timestamp(b: &[u8]) -> Option<Result<i64, Invalid>> {
    let num = |from: usize, to: usize| -> Option<i64> {
        b.get(from..to)?.iter().try_fold(0i64, |acc, c| {
            c.is_ascii_digit().then(|| acc * 10 + i64::from(c - b'0'))
        })
    };
    let shaped = b.len() >= 20
        && b[4] == b'-'
        && b[7] == b'-'
        && b[10] == b'T'
        && b[13] == b':'
        && b[16] == b':';
    if !shaped {
        return None;
    }
    let (hour, minute, second) = (num(11, 13)?, num(14, 16)?, num(17, 19)?);
    if hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    let mut at = 19;
    let mut nanos = 0i64;
    if b[at] == b'.' {
        let digits = b[at + 1..]
            .iter()
            .take_while(|c| c.is_ascii_digit())
            .count();
        if digits == 0 || digits > 9 {
            return None;
        }
        nanos = num(at + 1, at + 1 + digits)? * 10i64.pow(9 - digits as u32);
        at += 1 + digits;
    }
    let offset = match &b[at..] {
        [b'Z'] => 0,
        [sign @ (b'+' | b'-'), _, _, b':', _, _] => {
            let (h, m) = (num(at + 1, at + 3)?, num(at + 4, at + 6)?);
            if h > 23 || m > 59 {
                return None;
            }
            let minutes = h * 60 + m;
            if *sign == b'-' { -minutes } else { minutes }
        }
        _ => return None,
    };
    let month = u32::try_from(num(5, 7)?).ok()?;
    let day = u32::try_from(num(8, 10)?).ok()?;
    let date = NaiveDate::from_ymd_opt(i32::try_from(num(0, 4)?).ok()?, month, day)?;
    if nanos % 1_000 != 0 {
        return Some(Err(Invalid::SubMicrosecond));
    }
    // 1970-01-01 is day 719,163 of the common era.
    let days = i64::from(date.num_days_from_ce() - 719_163);
    let seconds = days * 86_400 + hour * 3_600 + minute * 60 + second - offset * 60;
    Some(Ok(seconds * 1_000_000 + nanos / 1_000))
}

/// `YYYY-MM-DD` exactly (no time, no short forms), as days since 1970-01-01.
fn date(value: Node<'_>) -> Result<i32, Invalid> {
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
    let number = |range: std::ops::Range<usize>| {
        b[range]
            .iter()
            .fold(0u32, |acc, d| acc * 10 + u32::from(d - b'0'))
    };
    let year = i32::try_from(number(0..4)).map_err(|_| Invalid::Date)?;
    let day = NaiveDate::from_ymd_opt(year, number(5..7), number(8..10)).ok_or(Invalid::Date)?;
    // 1970-01-01 is day 719,163 of the common era.
    Ok(day.num_days_from_ce() - 719_163)
}

fn list(value: Node<'_>) -> Result<Vec<Option<Cow<'_, str>>>, Invalid> {
    if value.kind() != Kind::Array {
        return Err(Invalid::List);
    }
    value
        .items()
        .map(|item| match item.kind() {
            Kind::Null => Ok(None),
            Kind::String => Ok(item.as_str()),
            Kind::Number => Ok(item.number().map(number_text)),
            Kind::Bool => Ok(Some(Cow::Borrowed(if item.as_bool() == Some(true) {
                "true"
            } else {
                "false"
            }))),
            Kind::Array | Kind::Object => Err(Invalid::List),
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
#[path = "convert_properties.rs"]
mod properties;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::Doc;
    use serde_json::{Value, json};

    fn ok(ty: FieldType, v: Value) -> Cell<'static> {
        let doc: &'static Doc = Box::leak(Box::new(Doc::from_value(&v)));
        convert(ty, doc.root()).unwrap()
    }

    fn err(ty: FieldType, v: Value) -> Invalid {
        convert(ty, Doc::from_value(&v).root()).unwrap_err()
    }

    fn raw(ty: FieldType, json: &str) -> Result<Cell<'static>, Invalid> {
        let doc: &'static Doc = Box::leak(Box::new(Doc::parse(json.to_string()).unwrap()));
        convert(ty, doc.root())
    }

    #[test]
    fn numbers_convert_from_the_digits_sent() {
        assert_eq!(raw(FieldType::Money, "12.50"), Ok(Cell::Decimal(1250)));
        assert_eq!(raw(FieldType::Money, "1e2"), Ok(Cell::Decimal(10000)));
        assert_eq!(
            raw(FieldType::Decimal, "0.30000000000000004"),
            Err(Invalid::TooManyDecimals { scale: 4 }),
            "no float rounding either way"
        );
        assert_eq!(raw(FieldType::Text, "1.50"), Ok(Cell::Owned("1.5".into())));
        assert_eq!(raw(FieldType::Text, "12"), Ok(Cell::Str("12")));
        assert_eq!(raw(FieldType::IdText, "12"), Ok(Cell::Str("12")));
        assert_eq!(
            raw(FieldType::Int, "-9223372036854775809"),
            Err(Invalid::Integer)
        );
        assert_eq!(
            raw(FieldType::Int, "9223372036854775808"),
            Err(Invalid::IntegerRange)
        );
        assert_eq!(raw(FieldType::Int, "1e3"), Err(Invalid::Integer));
        assert_eq!(
            raw(FieldType::Json, r#"{"a":1.50}"#),
            Ok(Cell::Str(r#"{"a":1.50}"#))
        );
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
    fn the_common_timestamp_shape_agrees_with_chrono() {
        for text in [
            "2026-07-04T20:35:55.599+01:00",
            "2026-07-04T20:35:55+01:00",
            "2026-01-04T00:00:00Z",
            "1969-12-31T23:59:59.999999-05:30",
            "2000-02-29T12:00:00.1+00:00",
            "2026-07-04T20:35:55.123456789Z",
            "2026-07-04T20:35:55.5990001Z",
        ] {
            let chrono = DateTime::parse_from_rfc3339(text).unwrap();
            let expected = if chrono.timestamp_subsec_nanos() % 1_000 == 0 {
                Ok(chrono.timestamp_micros())
            } else {
                Err(Invalid::SubMicrosecond)
            };
            assert_eq!(common_timestamp(text.as_bytes()), Some(expected), "{text}");
        }
        for other in [
            "2026-07-04t20:35:55Z",
            "2026-07-04T20:35:60Z",
            "2026-07-04T20:35:55",
            "2026-07-04T20:35:55+0100",
            "2026-02-30T20:35:55Z",
            "2026-07-04T20:35:55.Z",
        ] {
            assert_eq!(common_timestamp(other.as_bytes()), None, "{other}");
        }
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
        assert_eq!(
            ok(FieldType::Text, json!(5)),
            Cell::Str("5"),
            "integers borrow their digits"
        );
        assert_eq!(err(FieldType::Text, json!({"a": 1})), Invalid::Text);
        assert_eq!(ok(FieldType::IdText, json!(12)), Cell::Str("12"));
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
            Cell::Str(r#"{"a":[1]}"#),
            "compact JSON is borrowed as sent"
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
