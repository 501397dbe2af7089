//! Keyed hashing of personal data (`pii = hash`) and redaction of rejected records.
//!
//! HMAC-SHA256 under the pipeline's key, over a value's canonical text, so the same person
//! hashes to the same digest in every table and every run (joins still work) while nobody without
//! the key can test guesses. Rejected records are written to `_rejects/`, so the policy applies
//! to them too, as an allowlist: only fields the catalog knows as non-personal, with values of their
//! declared shape, stay in clear; `drop` removes everything else, `hash` replaces it by digests
//! of its raw text.

use std::fmt;

use hmac::{Hmac, Mac};
use serde_json::{Map, Value};
use sha2::Sha256;

use crate::catalog::{Field, FieldKind, FieldType, Pii, PiiPolicy};

/// A keyed hasher; `Debug` never shows the key.
#[derive(Clone)]
pub(crate) struct Hasher {
    mac: Hmac<Sha256>,
}

impl fmt::Debug for Hasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Hasher(<redacted>)")
    }
}

impl Hasher {
    /// A hasher keyed with `key` (HMAC accepts keys of any length).
    pub(crate) fn new(key: &[u8]) -> Self {
        let mac = <Hmac<Sha256> as Mac>::new_from_slice(key)
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        Self { mac }
    }

    /// Lowercase hex HMAC-SHA256 of `text`.
    pub(crate) fn digest(&self, text: &str) -> String {
        let mut mac = self.mac.clone();
        mac.update(text.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }
}

/// A copy of `record` with the fields tagged PII under `fields` dropped or hashed by the policy.
/// `hasher` is `Some` exactly when the policy is `Hash`.
pub(crate) fn redact(
    record: &Value,
    fields: &'static [Field],
    policy: &PiiPolicy,
    hasher: Option<&Hasher>,
) -> Value {
    if *policy == PiiPolicy::Keep {
        return record.clone();
    }
    let mut copy = record.clone();
    if let Value::Object(map) = &mut copy {
        redact_map(map, fields, hasher);
    }
    copy
}

/// Keeps, in clear, only what the catalog knows to be non-personal and what fits its declared
/// shape (an allowlist): unknown keys, personal fields and misshapen values are dropped
/// (`hasher` none) or replaced by the digest of their raw text.
fn redact_map(map: &mut Map<String, Value>, fields: &'static [Field], hasher: Option<&Hasher>) {
    let keys: Vec<String> = map.keys().cloned().collect();
    for key in keys {
        let field = fields.iter().find(|f| f.name == key);
        let Some(value) = map.get_mut(&key) else {
            continue;
        };
        let keep = match field {
            Some(f) if f.pii != Pii::Direct => kept_in_clear(f.kind, value, hasher),
            _ => false,
        };
        if keep || value.is_null() {
            continue;
        }
        match hasher {
            Some(h) => *value = Value::String(h.digest(&raw_text(value))),
            None => {
                map.remove(&key);
            }
        }
    }
}

/// Whether a non-personal field's `value` fits its kind (redacting inside objects and child
/// items as it goes), so it may stay in clear.
fn kept_in_clear(kind: FieldKind, value: &mut Value, hasher: Option<&Hasher>) -> bool {
    match (kind, value) {
        (FieldKind::Object(sub), Value::Object(inner)) => {
            redact_map(inner, sub, hasher);
            true
        }
        (FieldKind::Children(sub), Value::Array(items)) => {
            if !items.iter().all(Value::is_object) {
                return false;
            }
            for item in items.iter_mut().filter_map(Value::as_object_mut) {
                redact_map(item, sub, hasher);
            }
            true
        }
        (FieldKind::Scalar(ty), v) => fits(ty, v),
        _ => false,
    }
}

/// Whether a raw value has the shape of its declared type (free-form JSON never does: it may
/// hold anything).
fn fits(ty: FieldType, value: &Value) -> bool {
    let text_of =
        |allowed: fn(char) -> bool| value.as_str().is_some_and(|s| s.chars().all(allowed));
    match ty {
        FieldType::Int => value.is_i64() || value.is_u64(),
        FieldType::Bool => value.is_boolean(),
        FieldType::Money | FieldType::Decimal => {
            value.is_number() || text_of(|c| c.is_ascii_digit() || matches!(c, '-' | '.'))
        }
        FieldType::Timestamp | FieldType::Date | FieldType::TimeOfDay => {
            text_of(|c| c.is_ascii_digit() || matches!(c, '-' | ':' | 'T' | '.' | '+' | 'Z'))
        }
        FieldType::Guid => text_of(|c| c.is_ascii_hexdigit() || c == '-'),
        FieldType::IdText => {
            value.is_i64() || value.is_u64() || text_of(|c| c.is_ascii_alphanumeric() || c == '-')
        }
        FieldType::Text => value.is_string(),
        FieldType::TextList => value
            .as_array()
            .is_some_and(|a| a.iter().all(|v| v.is_string() || v.is_number())),
        FieldType::Json => false,
    }
}

/// The text of a raw JSON value: a string's contents, or compact JSON for anything else.
pub(crate) fn raw_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::find;
    use serde_json::json;

    #[test]
    fn digests_are_keyed_hex() {
        let a = Hasher::new(b"k1");
        assert_eq!(a.digest("Ann"), a.digest("Ann"));
        assert_ne!(a.digest("Ann"), Hasher::new(b"k2").digest("Ann"));
        assert_eq!(a.digest("Ann").len(), 64);
        assert!(
            a.digest("Ann")
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        );
        assert!(!format!("{a:?}").contains("k1"));
    }

    #[test]
    fn rejected_records_are_redacted() {
        let payments = find("payments").unwrap();
        let record = json!({
            "id": 1,
            "amount": "x",
            "secondary_email": "a@b.c",
            "explanations": [{"id": 2, "comments": "Mr X", "note": "Mrs Y"}]
        });
        let dropped = redact(&record, payments.fields, &PiiPolicy::Drop, None);
        assert_eq!(dropped["explanations"][0], json!({"id": 2}));
        assert_eq!(
            dropped.as_object().unwrap().keys().collect::<Vec<_>>(),
            ["id", "explanations"],
            "a misshapen amount and an unknown key are not kept"
        );
        let hasher = Hasher::new(b"k");
        let policy = PiiPolicy::Hash { key: b"k".to_vec() };
        let hashed = redact(&record, payments.fields, &policy, Some(&hasher));
        assert_eq!(
            hashed["explanations"][0]["comments"],
            json!(hasher.digest("Mr X"))
        );
        assert_eq!(hashed["amount"], json!(hasher.digest("x")));
        assert_eq!(hashed["secondary_email"], json!(hasher.digest("a@b.c")));
        assert_eq!(
            hashed["explanations"][0]["note"],
            json!(hasher.digest("Mrs Y"))
        );
        assert_eq!(hashed["id"], json!(1));
    }
}
