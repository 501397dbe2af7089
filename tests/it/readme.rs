//! The README's reference tables agree with the catalog: the resource list and scopes (with
//! which scope names are evidenced) and the types table. A catalog change that the README does
//! not follow fails here, so users never tick the wrong box or expect the wrong column type.

use std::collections::BTreeSet;

use arrow::datatypes::{DataType, TimeUnit};
use dentally_etl::catalog::{self, PiiPolicy};
use dentally_etl::preflight::EVIDENCED_SCOPES;

fn readme() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap()
}

/// The cells of the markdown table whose header row is `header`.
fn table(text: &str, header: &str) -> Vec<Vec<String>> {
    let start = text
        .find(header)
        .unwrap_or_else(|| panic!("README has no table `{header}`"));
    text[start..]
        .lines()
        .skip(2)
        .take_while(|l| l.starts_with('|'))
        .map(|l| {
            l.trim_matches('|')
                .split('|')
                .map(|c| c.trim().trim_matches('`').to_string())
                .collect()
        })
        .collect()
}

/// The section of `text` under `heading` (to the next heading of any level).
fn section<'t>(text: &'t str, heading: &str) -> &'t str {
    let start = text
        .find(heading)
        .unwrap_or_else(|| panic!("README has no `{heading}`"));
    let body = &text[start + heading.len()..];
    let end = body.find("\n#").unwrap_or(body.len());
    &body[..end]
}

#[test]
fn the_scope_table_lists_every_resource_with_its_scope_and_evidence() {
    let text = readme();
    let rows = table(&text, "| Resource | Scope | Name |");
    let documented: BTreeSet<(String, String, String)> = rows
        .into_iter()
        .map(|r| (r[0].clone(), r[1].clone(), r[2].clone()))
        .collect();
    let catalog: BTreeSet<(String, String, String)> = catalog::all()
        .iter()
        .map(|r| {
            let evidence = if EVIDENCED_SCOPES.contains(&r.scope) {
                "evidenced"
            } else {
                "ours: proven by a probe"
            };
            (r.name.into(), r.scope.into(), evidence.into())
        })
        .collect();
    assert_eq!(documented, catalog);
}

/// How the README's types table names an output type.
fn label(ty: &DataType) -> String {
    match ty {
        DataType::Decimal128(p, s) => format!("Decimal128({p}, {s})"),
        DataType::Timestamp(TimeUnit::Microsecond, Some(tz)) => format!("Timestamp(µs, {tz})"),
        DataType::List(item) => format!("List<{}>", label(item.data_type())),
        other => format!("{other}"),
    }
}

#[test]
fn the_types_table_names_every_type_the_catalog_writes() {
    let text = readme();
    let types = section(&text, "## Types");
    let mut written = BTreeSet::new();
    for resource in catalog::all() {
        for t in catalog::tables(resource, &PiiPolicy::Keep) {
            for f in t.schema.fields() {
                written.insert(label(f.data_type()));
            }
        }
    }
    let missing: Vec<&String> = written.iter().filter(|l| !types.contains(*l)).collect();
    assert!(
        missing.is_empty(),
        "README `## Types` does not mention {missing:?} (types written: {written:?})"
    );
}
