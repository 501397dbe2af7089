//! Representative Dentally records, generated from the catalog's own field lists.
//!
//! Every field of the resource gets a value of the shape the real API sends (money as `"-76.0"`
//! strings, London offsets on timestamps, `teeth` lists, one to three `explanations` per
//! payment, ids as numbers or strings for `IdText`), with about one optional field in eight
//! null. Patients also carry `portal_registered`, which the catalog leaves to `_extra`. The
//! output is deterministic for a seed, so runs compare like with like.

#![allow(dead_code)] // each includer uses part of it

use dentally_etl::catalog::{Field, FieldKind, FieldType, Resource};
use serde_json::{Map, Value, json};

const WORDS: &[&str] = &[
    "Routine",
    "examination",
    "scale",
    "polish",
    "composite",
    "filling",
    "crown",
    "bridge",
    "extraction",
    "hygiene",
    "review",
    "emergency",
    "whitening",
    "denture",
    "root",
    "canal",
];
const NAMES: &[&str] = &[
    "Amelia", "Oliver", "Isla", "George", "Ava", "Noah", "Mia", "Arthur", "Ivy", "Leo", "Smith",
    "Jones", "Taylor", "Brown", "Williams", "Wilson", "Evans", "Thomas", "Roberts", "Walker",
];
const TEETH: &[&str] = &[
    "UR1", "UR2", "UR6", "UL4", "UL7", "LR3", "LR6", "LL5", "LL8",
];

/// `n` records of `resource`, ids `1..=n`.
pub fn records(resource: &Resource, n: usize, seed: u64) -> Vec<Value> {
    let mut g = Gen(fastrand::Rng::with_seed(seed));
    (1..=n as i64)
        .map(|id| {
            let mut record = g.object(resource.fields, Some((resource.primary_key, id)));
            if resource.name == "patients" {
                record.insert("portal_registered".into(), Value::Bool(g.0.bool()));
            }
            Value::Object(record)
        })
        .collect()
}

/// A page of `n` records as the API would send it (envelope and `meta`), as JSON text.
pub fn page_text(resource: &Resource, n: usize, seed: u64) -> String {
    let recs = records(resource, n, seed);
    json!({ resource.envelope: recs, "meta": {"page": 1, "per_page": n, "total_count": n} })
        .to_string()
}

struct Gen(fastrand::Rng);

impl Gen {
    fn object(&mut self, fields: &[Field], key: Option<(&str, i64)>) -> Map<String, Value> {
        let mut map = Map::new();
        for field in fields {
            let value = match (field.kind, key) {
                (FieldKind::Scalar(_), Some((k, id))) if field.name == k => json!(id),
                (FieldKind::Scalar(ty), _) => self.scalar(ty, field.name),
                (FieldKind::Object(inner), _) => Value::Object(self.object(inner, None)),
                (FieldKind::Children(inner), _) => {
                    let n = self.0.usize(1..=3);
                    let base = self.0.i64(1..1_000_000_000);
                    let items = (0..n)
                        .map(|i| Value::Object(self.object(inner, Some(("id", base + i as i64)))))
                        .collect();
                    Value::Array(items)
                }
            };
            map.insert(field.name.to_string(), value);
        }
        map
    }

    fn scalar(&mut self, ty: FieldType, name: &str) -> Value {
        if self.0.u8(0..8) == 0 {
            return Value::Null;
        }
        let r = &mut self.0;
        match ty {
            FieldType::Int => json!(r.i64(1..200_000)),
            FieldType::Guid => json!(format!(
                "{:08x}-{:04x}-4{:03x}-a{:03x}-{:012x}",
                r.u32(..),
                r.u16(..),
                r.u16(..0xfff),
                r.u16(..0xfff),
                r.u64(..1 << 48)
            )),
            FieldType::IdText if r.bool() => json!(r.i64(1..5_000)),
            FieldType::IdText => json!(format!("{:08x}-src", r.u32(..))),
            FieldType::Text => json!(self.text(name)),
            FieldType::Bool => json!(r.bool()),
            FieldType::Money => json!(format!("{}.{}", r.i64(-200..2_000), r.u8(0..10))),
            FieldType::Decimal => json!(format!("{}.{:02}", r.u32(0..40), r.u8(0..100))),
            FieldType::Timestamp => {
                let (month, day) = (r.u8(1..=12), r.u8(1..=28));
                let offset = if (4..=10).contains(&month) {
                    "+01:00"
                } else {
                    "+00:00"
                };
                json!(format!(
                    "20{:02}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}{offset}",
                    r.u8(15..26),
                    r.u8(7..19),
                    r.u8(0..60),
                    r.u8(0..60),
                    r.u16(0..1000)
                ))
            }
            FieldType::Date => json!(format!(
                "{}-{:02}-{:02}",
                r.u16(1940..2026),
                r.u8(1..=12),
                r.u8(1..=28)
            )),
            FieldType::TimeOfDay => json!(format!("{:02}:{:02}", r.u8(7..19), r.u8(0..4) * 15)),
            FieldType::TextList => {
                let n = r.usize(1..=4);
                Value::Array(
                    (0..n)
                        .map(|_| json!(TEETH[r.usize(..TEETH.len())]))
                        .collect(),
                )
            }
            FieldType::Json => {
                json!({"colour": WORDS[r.usize(..WORDS.len())], "priority": r.u8(0..5)})
            }
        }
    }

    fn text(&mut self, name: &str) -> String {
        let r = &mut self.0;
        let pick = |r: &mut fastrand::Rng, from: &[&str]| from[r.usize(..from.len())].to_string();
        if name.contains("email") {
            format!(
                "{}.{}{}@example.com",
                pick(r, NAMES),
                pick(r, NAMES),
                r.u16(..999)
            )
            .to_lowercase()
        } else if name.contains("phone") {
            format!("07700 9{:05}", r.u32(..100_000))
        } else if name.contains("postcode") {
            format!("SW{} {}AB", r.u8(1..20), r.u8(1..9))
        } else if name.contains("name") || name == "title" || name == "town" {
            pick(r, NAMES)
        } else if name.contains("note") || name.contains("comment") || name.contains("text") {
            (0..r.usize(4..16))
                .map(|_| pick(r, WORDS))
                .collect::<Vec<_>>()
                .join(" ")
        } else {
            format!("{} {}", pick(r, WORDS), r.u16(..100))
        }
    }
}
