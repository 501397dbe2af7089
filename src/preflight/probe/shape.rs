//! What one page says about the catalog's picture of a resource, in names and counts only:
//! fields the catalog lacks, catalog fields never seen (or always null), values that do not fit
//! their declared type, and whether `per_page` and `sort_by` took effect.
//!
//! Nothing here keeps a value of a record: the report is meant to be shared.

use std::collections::BTreeSet;

use serde::Serialize;

use super::{Check, Verdict};
use crate::catalog::{Field, FieldKind, FieldType, Resource};
use crate::flatten::{Flattener, PiiPolicy};
use crate::json::{Kind, Node};

/// What Dentally serves when it ignores `per_page`.
const DEFAULT_PER_PAGE: usize = 25;

/// A column whose values did not fit its declared type, and the JSON type that came instead.
#[derive(Debug, Clone, Serialize)]
pub struct TypeMisfit {
    /// Output table.
    pub table: String,
    /// Column (or nested object / child list field).
    pub column: String,
    /// JSON type received.
    pub json_type: &'static str,
    /// Values on the page.
    pub count: u64,
}

/// The field findings of one page.
#[derive(Debug, Default, Clone, Serialize)]
pub struct Fields {
    /// Field paths the catalog does not know (`portal_registered`, `explanations[].note`).
    pub unknown: Vec<String>,
    /// Catalog field paths absent from every row of the page.
    pub never_seen: Vec<String>,
    /// Catalog field paths present but null in every row of the page.
    pub always_null: Vec<String>,
    /// Values that do not fit their declared column.
    pub misfits: Vec<TypeMisfit>,
    /// Rows that could not be keyed (primary key missing, null or not fitting).
    pub unkeyed_rows: u64,
}

/// Field findings of `records` against `resource`'s catalog entry.
pub(crate) fn fields<'d>(resource: &'static Resource, records: &[Node<'d>]) -> Fields {
    let mut flattener = Flattener::new(resource, PiiPolicy::Keep);
    let report = flattener.push(records.iter().copied());
    let _ = flattener.take();
    let mut seen = BTreeSet::new();
    let mut non_null = BTreeSet::new();
    for record in records {
        walk(resource.fields, *record, "", &mut seen, &mut non_null);
    }
    let mut never_seen = Vec::new();
    let mut always_null = Vec::new();
    for path in catalog_paths(resource.fields, "") {
        if !seen.contains(&path) {
            never_seen.push(path);
        } else if !non_null.contains(&path) {
            always_null.push(path);
        }
    }
    Fields {
        unknown: report.unknown_fields.into_iter().collect(),
        never_seen,
        always_null,
        misfits: report
            .mismatches
            .into_iter()
            .map(|(k, count)| TypeMisfit {
                table: k.table,
                column: k.column,
                json_type: k.json_type,
                count,
            })
            .collect(),
        unkeyed_rows: report.rejects.len() as u64,
    }
}

/// Every catalog field path (`user`, `user.first_name`, `explanations[].amount`).
fn catalog_paths(fields: &[Field], prefix: &str) -> Vec<String> {
    let mut out = Vec::new();
    for f in fields {
        let path = format!("{prefix}{}", f.name);
        match f.kind {
            FieldKind::Scalar(_) => out.push(path),
            FieldKind::Object(sub) => {
                out.extend(catalog_paths(sub, &format!("{path}.")));
                out.push(path);
            }
            FieldKind::Children(sub) => {
                out.extend(catalog_paths(sub, &format!("{path}[].")));
                out.push(path);
            }
        }
    }
    out
}

/// Marks the catalog paths present (and non-null) in one object.
fn walk(
    fields: &[Field],
    object: Node<'_>,
    prefix: &str,
    seen: &mut BTreeSet<String>,
    non_null: &mut BTreeSet<String>,
) {
    for f in fields {
        let Some(value) = object.get(f.name) else {
            continue;
        };
        let path = format!("{prefix}{}", f.name);
        match (f.kind, value.kind()) {
            (FieldKind::Object(sub), Kind::Object) => {
                walk(sub, value, &format!("{path}."), seen, non_null);
            }
            (FieldKind::Children(sub), Kind::Array) => {
                for item in value.items().filter(|i| i.is_object()) {
                    walk(sub, item, &format!("{path}[]."), seen, non_null);
                }
            }
            _ => {}
        }
        if !value.is_null() {
            non_null.insert(path.clone());
        }
        seen.insert(path);
    }
}

/// Whether `per_page=100` took effect, from the rows served and `meta.total_count`.
pub(crate) fn per_page(rows: usize, total: Option<u64>) -> Check {
    let more_exist = total.is_some_and(|t| t > rows as u64);
    if rows > DEFAULT_PER_PAGE {
        Check::new(Verdict::TookEffect, format!("{rows} rows on page 1"))
    } else if more_exist {
        Check::new(
            Verdict::Ignored,
            format!("only {rows} rows on page 1 although meta.total_count says more exist"),
        )
    } else if total.is_none() && rows == DEFAULT_PER_PAGE {
        Check::new(
            Verdict::CannotTell,
            format!("{rows} rows (the default page size) and no meta.total_count"),
        )
    } else {
        Check::new(
            Verdict::CannotTell,
            format!("only {rows} rows exist, fewer than the default page"),
        )
    }
}

/// Whether the page is in `sort_by` order (ascending): the only evidence one page gives.
pub(crate) fn sort_order(resource: &Resource, records: &[Node<'_>]) -> Check {
    let key = resource.sort_by;
    let numeric = matches!(
        resource.field(key).map(|f| f.kind),
        Some(FieldKind::Scalar(FieldType::Int))
    );
    let values: Vec<SortValue> = records
        .iter()
        .filter_map(|r| r.get(key))
        .filter_map(|v| SortValue::of(v, numeric))
        .collect();
    if values.len() < 2 {
        return Check::new(
            Verdict::CannotTell,
            format!("fewer than 2 rows carry `{key}`"),
        );
    }
    let ascending = values.windows(2).all(|w| w[0] <= w[1]);
    let descending = values.windows(2).all(|w| w[0] >= w[1]);
    match (ascending, descending) {
        (true, _) => Check::new(
            Verdict::TookEffect,
            format!("{} rows in ascending `{key}` order", values.len()),
        ),
        (false, true) => Check::new(
            Verdict::Ignored,
            format!("{} rows in descending `{key}` order", values.len()),
        ),
        _ => Check::new(
            Verdict::Ignored,
            format!("{} rows not in `{key}` order", values.len()),
        ),
    }
}

/// A sort key value: integers numerically, anything else as text.
#[derive(Debug, PartialEq, PartialOrd)]
enum SortValue {
    Int(i128),
    Text(String),
}

impl SortValue {
    fn of(value: Node<'_>, numeric: bool) -> Option<Self> {
        if numeric {
            let text = value
                .number()
                .map(str::to_owned)
                .or_else(|| value.as_str().map(|s| s.into_owned()))?;
            return text.parse().ok().map(SortValue::Int);
        }
        match value.kind() {
            Kind::String => value.as_str().map(|s| SortValue::Text(s.into_owned())),
            Kind::Number => value.number().map(|n| SortValue::Text(n.to_owned())),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::find;
    use crate::json::Doc;
    use serde_json::json;

    #[test]
    fn finds_unknown_missing_null_and_misfit_fields_without_values() {
        let doc = Doc::from_value(&json!([
            {"id": 1, "amount": "x", "explanations": [{"id": 1, "zz": 1}], "new_field": "Ann"},
            {"id": 2, "amount": "1.0", "deleted": null}
        ]));
        let records: Vec<_> = doc.root().items().collect();
        let found = fields(find("payments").unwrap(), &records);
        assert_eq!(found.unknown, ["explanations[].zz", "new_field"]);
        assert!(found.never_seen.contains(&"status".to_string()));
        assert!(
            found
                .never_seen
                .contains(&"explanations[].amount".to_string())
        );
        assert!(!found.never_seen.contains(&"explanations".to_string()));
        assert_eq!(found.always_null, ["deleted"]);
        assert_eq!(found.misfits.len(), 1);
        assert_eq!(
            (found.misfits[0].column.as_str(), found.misfits[0].json_type),
            ("amount", "string")
        );
        let text = serde_json::to_string(&found).unwrap();
        assert!(!text.contains("Ann") && !text.contains("\"x\""), "{text}");
    }

    #[test]
    fn per_page_and_sort_verdicts() {
        assert_eq!(per_page(100, Some(1000)).verdict, Verdict::TookEffect);
        assert_eq!(per_page(25, Some(1000)).verdict, Verdict::Ignored);
        assert_eq!(per_page(25, None).verdict, Verdict::CannotTell);
        assert_eq!(per_page(7, Some(7)).verdict, Verdict::CannotTell);
        let payments = find("payments").unwrap();
        let order = |ids: serde_json::Value| {
            let doc = Doc::from_value(&ids);
            let records: Vec<_> = doc.root().items().collect();
            sort_order(payments, &records).verdict
        };
        assert_eq!(
            order(json!([{"id": 2}, {"id": 10}, {"id": 10}])),
            Verdict::TookEffect
        );
        assert_eq!(order(json!([{"id": 10}, {"id": 2}])), Verdict::Ignored);
        assert_eq!(
            order(json!([{"id": 1}, {"id": 3}, {"id": 2}])),
            Verdict::Ignored
        );
        assert_eq!(order(json!([{"id": 1}])), Verdict::CannotTell);
    }
}
