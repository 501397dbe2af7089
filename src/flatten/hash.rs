//! Keyed hashing of personal data (`pii = hash`) and redaction of rejected records.
//!
//! HMAC-SHA256 under the pipeline's key, over a value's canonical text, so the same person
//! hashes to the same digest in every table and every run (joins still work) while nobody without
//! the key can test guesses. Rejected records are written to `_rejects/`, so the policy applies
//! to them too: `drop` removes tagged fields, `hash` replaces them by digests of their raw text.

use std::fmt;

use hmac::{Hmac, Mac};
use serde_json::{Map, Value};
use sha2::Sha256;

use crate::catalog::{Field, FieldKind, Pii, PiiPolicy};

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

fn redact_map(map: &mut Map<String, Value>, fields: &'static [Field], hasher: Option<&Hasher>) {
    for field in fields {
        let Some(value) = map.get_mut(field.name) else {
            continue;
        };
        if field.pii == Pii::Direct {
            match hasher {
                Some(h) if !value.is_null() => *value = Value::String(h.digest(&raw_text(value))),
                Some(_) => {}
                None => {
                    map.remove(field.name);
                }
            }
            continue;
        }
        match (field.kind, value) {
            (FieldKind::Object(sub), Value::Object(inner)) => redact_map(inner, sub, hasher),
            (FieldKind::Children(sub), Value::Array(items)) => {
                for item in items.iter_mut().filter_map(Value::as_object_mut) {
                    redact_map(item, sub, hasher);
                }
            }
            _ => {}
        }
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
        let record =
            json!({"id": 1, "amount": "x", "explanations": [{"id": 2, "comments": "Mr X"}]});
        let dropped = redact(&record, payments.fields, &PiiPolicy::Drop, None);
        assert_eq!(dropped["explanations"][0], json!({"id": 2}));
        let hasher = Hasher::new(b"k");
        let policy = PiiPolicy::Hash { key: b"k".to_vec() };
        let hashed = redact(&record, payments.fields, &policy, Some(&hasher));
        assert_eq!(
            hashed["explanations"][0]["comments"],
            json!(hasher.digest("Mr X"))
        );
        assert_eq!(hashed["amount"], json!("x"));
    }
}
