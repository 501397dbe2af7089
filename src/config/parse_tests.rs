//! The incremental keys of `[[resources]]`: `lookback_days` and the reconcile default.

use std::path::Path;

use crate::config::{Diagnostic, Pipeline, Reconcile, parse};

const HEAD: &str = r#"name = "p"
[source]
region = "sandbox"
token_env = "T"
[output]
url = "./out"
"#;

fn parse_text(text: &str) -> Result<Pipeline, Vec<Diagnostic>> {
    parse(Path::new("p.toml"), &format!("{HEAD}{text}"), &|_| None)
}

fn errors(text: &str) -> Vec<(usize, usize, String)> {
    parse_text(text)
        .unwrap_err()
        .into_iter()
        .map(|d| (d.line, d.column, d.message))
        .collect()
}

#[test]
fn lookback_days_defaults_to_a_week_and_is_set_per_resource_or_in_defaults() {
    let p = parse_text("[[resources]]\nname = \"payments\"\n").unwrap();
    assert_eq!(p.resources[0].lookback_days, 7);
    let p = parse_text("[[resources]]\nname = \"payments\"\nlookback_days = 30\n").unwrap();
    assert_eq!(p.resources[0].lookback_days, 30);
    let p = parse_text(
        "[defaults]\nlookback_days = 3\n[[resources]]\nname = \"payments\"\n\
         [[resources]]\nname = \"patients\"\n",
    )
    .unwrap();
    assert_eq!(p.resources[0].lookback_days, 3);
}

#[test]
fn lookback_days_is_refused_where_it_cannot_apply_with_its_line_and_column() {
    // Line 9 of the whole file (HEAD has 6 lines), column 17: the value.
    let e = errors("[[resources]]\nname = \"payments\"\nlookback_days = 999\n");
    assert_eq!(e.len(), 1, "{e:?}");
    assert_eq!((e[0].0, e[0].1), (9, 17), "{e:?}");
    assert!(e[0].2.contains("between 0 and 366"), "{e:?}");
    let e = errors("[[resources]]\nname = \"payments\"\nlookback_days = \"week\"\n");
    assert_eq!((e[0].0, e[0].1), (9, 17), "{e:?}");
    // Patients' cursor is a timestamp: the key names the resource and points at lag_secs.
    let text = format!("{HEAD}[[resources]]\nname = \"patients\"\nlookback_days = 2\n");
    let d = parse(Path::new("p.toml"), &text, &|_| None).unwrap_err();
    assert_eq!((d[0].line, d[0].column), (9, 17), "{d:?}");
    assert!(
        d[0].message.contains("`patients` has no date cursor"),
        "{d:?}"
    );
    assert!(
        d[0].hint.as_deref().unwrap_or("").contains("lag_secs"),
        "{d:?}"
    );
}

#[test]
fn windowed_resources_reconcile_weekly_unless_the_pipeline_says_otherwise() {
    let window = "window = { from = \"-30d\", to = \"+90d\" }\n";
    let p = parse_text(&format!(
        "[[resources]]\nname = \"appointments\"\n{window}[[resources]]\nname = \"patients\"\n"
    ))
    .unwrap();
    assert_eq!(p.resources[0].reconcile, Reconcile::EveryDays(7));
    // Non-windowed lists with a two-sided range filter reconcile by counts (issue 17).
    assert_eq!(p.resources[1].reconcile, Reconcile::Counts);
    let p = parse_text(&format!(
        "[defaults]\nreconcile_deletes = \"never\"\n[[resources]]\nname = \"appointments\"\n{window}"
    ))
    .unwrap();
    assert_eq!(p.resources[0].reconcile, Reconcile::Never);
    let p = parse_text(&format!(
        "[[resources]]\nname = \"appointments\"\n{window}reconcile_deletes = \"always\"\n"
    ))
    .unwrap();
    assert_eq!(p.resources[0].reconcile, Reconcile::Always);
}
