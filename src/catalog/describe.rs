//! Plain-text views of the catalog for the `resources` and `schema NAME` commands.
//!
//! Both go to stdout as data, so they are deterministic and free of colour; column widths are
//! computed from the content so the text lines up in a terminal and diffs cleanly in snapshots.

use std::fmt::Write as _;

use super::pii::PiiPolicy;
use super::schema::{META_JSON_PATH, META_PII, layouts};
use super::types::{Kind, Resource, Window};

/// One line per resource: name, path, scope, key, cursor, window, the least sure evidence
/// grade of its fields (`schema NAME` shows each one), description.
pub fn list_text() -> String {
    let header = [
        "NAME",
        "PATH",
        "SCOPE",
        "KEY",
        "CURSOR",
        "WINDOW",
        "GRADE",
        "DESCRIPTION",
    ];
    let mut rows = vec![header.map(str::to_owned)];
    rows.extend(super::all().iter().map(|r| {
        [
            r.name.to_owned(),
            r.path.to_owned(),
            r.scope.to_owned(),
            r.primary_key.to_owned(),
            r.cursor.unwrap_or("-").to_owned(),
            window_text(r),
            r.least_sure_grade().label().to_owned(),
            r.description.to_owned(),
        ]
    }));
    align(&rows)
}

/// How a resource is requested, in words (`after/before on start_time`, `per treatment`, `-`).
fn window_text(resource: &Resource) -> String {
    match (resource.kind, resource.window) {
        (Kind::Single, _) => "single object".to_owned(),
        (Kind::List, Window::None) => "-".to_owned(),
        (Kind::List, window @ Window::PerParent { .. }) => {
            format!("per {}", window.per_parent_noun().unwrap_or("key"))
        }
        (
            Kind::List,
            Window::Required {
                after_param,
                before_param,
                field,
            },
        ) => {
            format!("{after_param}/{before_param} on {field}")
        }
    }
}

/// Every table of a resource under `pii`, each with its columns: name, Arrow type, PII tag,
/// evidence grade (`-` for the columns the tool adds: parent key, `_idx`, `_extra`) and the
/// JSON path the value comes from.
pub fn describe(resource: &'static Resource, pii: &PiiPolicy) -> String {
    let mut out = format!(
        "{} — {}\n{} (envelope `{}`, scope `{}`, key `{}`, pii = {})\n",
        resource.name,
        resource.description,
        resource.path,
        resource.envelope,
        resource.scope,
        resource.primary_key,
        pii.name(),
    );
    for layout in layouts(resource) {
        let table = layout.table(pii);
        let _ = write!(out, "\ntable {}", table.name);
        if let Some(key) = &table.parent_key {
            let _ = write!(out, " (child of {}, joined on {key})", resource.name);
        }
        out.push('\n');
        let mut rows = vec![["COLUMN", "TYPE", "PII", "GRADE", "JSON PATH"].map(str::to_owned)];
        rows.extend(table.schema.fields().iter().map(|f| {
            let meta = |key: &str| f.metadata().get(key).cloned().unwrap_or_else(|| "-".into());
            let grade = layout
                .columns
                .iter()
                .find(|c| &c.name == f.name())
                .map_or("-", |c| c.grade.label());
            [
                f.name().clone(),
                f.data_type().to_string(),
                meta(META_PII),
                grade.to_owned(),
                meta(META_JSON_PATH),
            ]
        }));
        for line in align(&rows).lines() {
            let _ = writeln!(out, "  {line}");
        }
    }
    out
}

/// Left-aligned columns separated by two spaces; the last column is not padded.
fn align<const N: usize>(rows: &[[String; N]]) -> String {
    let mut widths = [0usize; N];
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in rows {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            if i + 1 == N {
                line.push_str(cell);
            } else {
                let _ = write!(line, "{cell:<width$}  ", width = widths[i]);
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::find;

    #[test]
    fn list_has_a_line_per_resource() {
        let text = list_text();
        assert_eq!(text.lines().count(), 31);
        let appointments = text
            .lines()
            .find(|l| l.starts_with("appointments "))
            .unwrap();
        assert!(appointments.contains("/v1/appointments"));
        assert!(appointments.contains("after/before on start_time"));
        assert!(
            text.lines()
                .any(|l| l.starts_with("fees ") && l.contains("per treatment"))
        );
    }

    #[test]
    fn describe_shows_child_tables_types_and_pii() {
        let text = describe(find("payments").unwrap(), &PiiPolicy::Keep);
        assert!(
            text.contains("table payments__explanations (child of payments, joined on payment_id)")
        );
        assert!(
            text.lines()
                .any(|l| l.contains("comments") && l.contains("direct"))
        );
        assert!(text.lines().any(|l| l.trim_start().starts_with("_extra")));
        let hashed = describe(find("patients").unwrap(), &PiiPolicy::Hash { key: vec![1] });
        assert!(hashed.contains("direct:hashed"));
        assert!(hashed.contains("pii = hash"));
    }
}
