//! Holding generated records to the catalog.
//!
//! The catalog (`crate::catalog`) is the single statement of which fields each resource has.
//! Generators write records by hand for realism; [`conform`] then lays each record out in the
//! catalog's field order, so the wire format never drifts from the catalog even while the two
//! evolve separately. [`problems`] is the strict check behind the unit test that every
//! generator produces exactly the catalog's fields with JSON types that fit their field types
//! (plus the deliberate extra, patient `portal_registered`).

use serde_json::{Map, Value};

use crate::catalog::{self, Field, FieldKind, FieldType};

/// Fields the API sends that the catalog deliberately does not know (they exercise `_extra`).
pub(crate) const EXTRAS: &[(&str, &str)] = &[("patients", "portal_registered")];

/// `raw` laid out in the catalog's field order; fields the generator did not produce are null
/// and unknown ones are dropped, except the [`EXTRAS`] of this resource, which go last.
pub(crate) fn conform(resource: &catalog::Resource, raw: Value) -> Value {
    let Value::Object(mut map) = raw else {
        return raw;
    };
    let mut out = layout(resource.fields, &mut map, true);
    for (_, extra) in EXTRAS.iter().filter(|(r, _)| *r == resource.name) {
        if let Some(v) = map.remove(*extra) {
            out.insert((*extra).to_string(), v);
        }
    }
    Value::Object(out)
}

/// The fields of `map` in catalog order. Records and child rows get every field (null when
/// absent); nested objects keep only the keys they have, as the API omits some (closed days
/// of `opening_hours`).
fn layout(fields: &[Field], map: &mut Map<String, Value>, fill: bool) -> Map<String, Value> {
    let mut out = Map::with_capacity(fields.len());
    for field in fields {
        let value = match map.remove(field.name) {
            Some(v) => v,
            None if fill => Value::Null,
            None => continue,
        };
        let value = match (field.kind, value) {
            (FieldKind::Object(sub), Value::Object(mut inner)) => {
                Value::Object(layout(sub, &mut inner, false))
            }
            (FieldKind::Children(sub), Value::Array(items)) => Value::Array(
                items
                    .into_iter()
                    .map(|item| match item {
                        Value::Object(mut inner) => Value::Object(layout(sub, &mut inner, true)),
                        other => other,
                    })
                    .collect(),
            ),
            (_, v) => v,
        };
        out.insert(field.name.to_string(), value);
    }
    out
}

/// `raw` projected onto the nested object `field` of `resource` (a practitioner's `user`).
pub(crate) fn nested(resource: &str, field: &str, raw: &Value) -> Value {
    let fields = catalog::find(resource)
        .and_then(|r| r.field(field))
        .map(|f| match f.kind {
            FieldKind::Object(sub) | FieldKind::Children(sub) => sub,
            FieldKind::Scalar(_) => &[],
        })
        .unwrap_or(&[]);
    match raw {
        Value::Object(map) => Value::Object(layout(fields, &mut map.clone(), false)),
        other => other.clone(),
    }
}

/// Every way `record` departs from the catalog entry of `resource`: missing or unexpected
/// fields, and values whose JSON type does not fit the field type. Empty when it conforms.
pub(crate) fn problems(resource: &catalog::Resource, record: &Value) -> Vec<String> {
    let mut out = Vec::new();
    let extras: Vec<&str> = EXTRAS
        .iter()
        .filter(|(r, _)| *r == resource.name)
        .map(|(_, f)| *f)
        .collect();
    check_fields(
        resource.fields,
        record,
        resource.name,
        &extras,
        true,
        &mut out,
    );
    out
}

fn check_fields(
    fields: &[Field],
    value: &Value,
    at: &str,
    extras: &[&str],
    complete: bool,
    out: &mut Vec<String>,
) {
    let Value::Object(map) = value else {
        out.push(format!("{at}: not an object"));
        return;
    };
    for key in map.keys() {
        if !fields.iter().any(|f| f.name == key) && !extras.contains(&key.as_str()) {
            out.push(format!("{at}.{key}: not in the catalog"));
        }
    }
    for field in fields {
        let path = format!("{at}.{}", field.name);
        let Some(v) = map.get(field.name) else {
            if complete {
                out.push(format!("{path}: missing"));
            }
            continue;
        };
        match field.kind {
            FieldKind::Scalar(ty) if !fits(ty, v) => {
                out.push(format!("{path}: {v} does not fit {ty:?}"))
            }
            FieldKind::Scalar(_) => {}
            FieldKind::Object(sub) if !v.is_null() => check_fields(sub, v, &path, &[], false, out),
            FieldKind::Object(_) => {}
            FieldKind::Children(sub) => match v {
                Value::Array(items) => items
                    .iter()
                    .for_each(|item| check_fields(sub, item, &path, &[], true, out)),
                _ => out.push(format!("{path}: not an array")),
            },
        }
    }
}

/// Whether a JSON value has the wire shape of `ty` (null fits every type).
pub(crate) fn fits(ty: FieldType, v: &Value) -> bool {
    if v.is_null() {
        return true;
    }
    let s = v.as_str();
    match ty {
        FieldType::Int => v.is_i64(),
        FieldType::Guid => s.is_some_and(is_guid),
        FieldType::Text => v.is_string(),
        FieldType::IdText => v.is_i64() || v.is_string(),
        FieldType::Bool => v.is_boolean(),
        FieldType::Money => s.is_some_and(|s| is_decimal(s, 2)),
        FieldType::Decimal => s.is_some_and(|s| is_decimal(s, 4)) || v.is_number(),
        FieldType::Timestamp => s.is_some_and(is_timestamp),
        FieldType::Date => s.is_some_and(|s| {
            chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").is_ok() && s.len() == 10
        }),
        FieldType::TimeOfDay => {
            s.is_some_and(|s| chrono::NaiveTime::parse_from_str(s, "%H:%M").is_ok() && s.len() == 5)
        }
        FieldType::TextList => v.as_array().is_some_and(|a| a.iter().all(Value::is_string)),
        FieldType::Json => true,
    }
}

fn is_guid(s: &str) -> bool {
    s.len() == 36
        && s.char_indices().all(|(i, c)| {
            if [8, 13, 18, 23].contains(&i) {
                c == '-'
            } else {
                c.is_ascii_hexdigit() && !c.is_ascii_uppercase()
            }
        })
}

/// BigDecimal style: optional minus, digits, a point, one to `max_decimals` digits.
fn is_decimal(s: &str, max_decimals: usize) -> bool {
    let body = s.strip_prefix('-').unwrap_or(s);
    let Some((whole, frac)) = body.split_once('.') else {
        return false;
    };
    !whole.is_empty()
        && whole.bytes().all(|b| b.is_ascii_digit())
        && (1..=max_decimals).contains(&frac.len())
        && frac.bytes().all(|b| b.is_ascii_digit())
        && (frac.len() == 1 || !frac.ends_with('0'))
}

/// `YYYY-MM-DDTHH:MM:SS.sss±HH:MM` whose offset is Europe/London's at that instant.
fn is_timestamp(s: &str) -> bool {
    if s.len() != 29 || &s[19..20] != "." {
        return false;
    }
    let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) else {
        return false;
    };
    super::fmt::timestamp(t.timestamp_millis()) == s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sandbox::data::{World, table};
    use chrono::NaiveDate;

    #[test]
    fn wire_shapes() {
        assert!(fits(FieldType::Money, &"-76.0".into()));
        assert!(fits(FieldType::Money, &"12.34".into()));
        assert!(!fits(FieldType::Money, &"12.30".into()));
        assert!(!fits(FieldType::Money, &serde_json::json!(12.5)));
        assert!(fits(
            FieldType::Timestamp,
            &"2026-07-04T20:35:55.599+01:00".into()
        ));
        assert!(
            !fits(
                FieldType::Timestamp,
                &"2026-07-04T20:35:55.599+00:00".into()
            ),
            "wrong offset for July"
        );
        assert!(
            !fits(FieldType::Timestamp, &"2026-07-04T20:35:55+01:00".into()),
            "no millis"
        );
        assert!(fits(
            FieldType::Guid,
            &"0190b3a2-1c2d-7e3f-8a4b-5c6d7e8f9a0b".into()
        ));
        assert!(!fits(
            FieldType::Guid,
            &"0190B3A2-1C2D-7E3F-8A4B-5C6D7E8F9A0B".into()
        ));
    }

    /// Every generator produces exactly the catalog's fields, with fitting JSON types, before
    /// [`conform`] touches the record (so `conform` never has to invent a value).
    #[test]
    fn generators_produce_exactly_the_catalog_fields() {
        let w = World::new(7, 1, 0.3, NaiveDate::from_ymd_opt(2026, 3, 29).unwrap());
        let mut all = Vec::new();
        for resource in catalog::all() {
            let t = table(resource.name).expect("generator");
            let n = (t.len)(&w);
            let sample: Vec<u64> = (0..n.min(400)).chain(n.saturating_sub(50)..n).collect();
            for i in sample {
                let raw = (t.record)(&w, i);
                let found = problems(resource, &raw);
                all.extend(found.into_iter().map(|p| format!("[{i}] {p}")));
                let conformed = conform(resource, raw.clone());
                assert_eq!(
                    conformed, raw,
                    "{} {i}: conform changed a conforming record",
                    resource.name
                );
            }
        }
        all.truncate(40);
        assert!(all.is_empty(), "{}", all.join("\n"));
    }
}
