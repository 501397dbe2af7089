//! `[[models]]`: SQL run over the current tables after each run (see [`crate::models`]).
//!
//! ```toml
//! [[models]]
//! name = "monthly_takings"
//! sql = "SELECT practitioner_id, sum(amount) AS takings FROM payments GROUP BY 1"
//! ```
//!
//! Only the shape is checked here (names, duplicates, empty SQL, a Parquet output): the SQL itself
//! is polars' to judge when the model runs, against the tables the run produced.

use std::ops::Range;

use super::model::ModelSpec;
use super::model::{Output, OutputFormat};
use super::reader::{Ctx, Section};

const MODEL: &[&str] = &["name", "sql"];

/// Reads every `[[models]]` entry, reporting each problem with its position.
pub(super) fn read_models(
    ctx: &mut Ctx<'_>,
    top: &Section<'_, '_>,
    output: Option<&Output>,
) -> Vec<ModelSpec> {
    let entries = top.tables(ctx, "models");
    let mut out: Vec<ModelSpec> = Vec::new();
    for (table, span) in &entries {
        let s = Section::new(table, "[[models]]", MODEL);
        if let Some((model, name_span)) = read_model(ctx, &s, span.clone()) {
            if out.iter().any(|m| m.name == model.name) {
                ctx.diags.error_with_hint(
                    name_span,
                    format!("model `{}` is defined twice", model.name),
                    "each model writes `_models/<name>/`: give every model its own name",
                );
            } else {
                out.push(model);
            }
        }
        s.finish(ctx, &|_| None);
    }
    if let Some((_, first)) = entries.first()
        && output.is_some_and(|o| o.format == OutputFormat::Csv)
    {
        ctx.diags.error_with_hint(
            first.clone(),
            "models need `format = \"parquet\"` in [output]",
            "models read the current tables as Parquet; CSV outputs cannot run them",
        );
    }
    out
}

fn read_model(
    ctx: &mut Ctx<'_>,
    s: &Section<'_, '_>,
    span: Range<usize>,
) -> Option<(ModelSpec, Range<usize>)> {
    let name = s.string(ctx, "name");
    if name.is_none() && s.span_of("name").is_none() {
        ctx.diags.error_with_hint(
            span.clone(),
            "[[models]] entry without `name`",
            "add `name = \"monthly_takings\"` (letters, digits and `_`)",
        );
    }
    let sql = s.string(ctx, "sql");
    if sql.is_none() && s.span_of("sql").is_none() {
        ctx.diags.error_with_hint(
            span,
            "[[models]] entry without `sql`",
            "add `sql = \"SELECT … FROM <table>\"`; every current table is a relation",
        );
    }
    let name = name.and_then(|(n, span)| valid_name(ctx, n, span));
    let sql = sql.and_then(|(q, span)| {
        if q.trim().is_empty() {
            ctx.diags.error(span, "`sql` of a model is empty");
            return None;
        }
        Some(q)
    });
    let (name, name_span) = name?;
    Some((ModelSpec { name, sql: sql? }, name_span))
}

fn valid_name(
    ctx: &mut Ctx<'_>,
    name: String,
    span: Range<usize>,
) -> Option<(String, Range<usize>)> {
    let ok = !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !ok {
        ctx.diags.error_with_hint(
            span,
            format!("model name `{name}` may hold only letters, digits and `_`"),
            "the name is a folder of the output (`_models/<name>/`)",
        );
        return None;
    }
    Some((name, span))
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::config::{Diagnostic, parse};

    const HEAD: &str = r#"name = "p"
[source]
region = "sandbox"
token_env = "T"
[output]
url = "./out"
[[resources]]
name = "patients"
"#;

    fn parse_text(text: &str) -> Result<crate::config::Pipeline, Vec<Diagnostic>> {
        parse(Path::new("p.toml"), text, &|_| None)
    }

    fn errors(text: &str) -> Vec<(usize, usize, String)> {
        parse_text(text)
            .unwrap_err()
            .into_iter()
            .map(|d| (d.line, d.column, d.message))
            .collect()
    }

    #[test]
    fn models_are_read_in_order() {
        let text = format!(
            "{HEAD}[[models]]\nname = \"a\"\nsql = \"SELECT 1\"\n[[models]]\nname = \"b_2\"\nsql = \"\"\"\nSELECT *\nFROM patients\n\"\"\"\n"
        );
        let p = parse_text(&text).unwrap();
        let names: Vec<&str> = p.models.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(names, ["a", "b_2"]);
        assert_eq!(p.models[1].sql, "SELECT *\nFROM patients\n");
    }

    #[test]
    fn no_models_is_fine() {
        assert!(parse_text(HEAD).unwrap().models.is_empty());
    }

    #[test]
    fn duplicate_names_and_empty_sql_are_errors_with_positions() {
        let text = format!(
            "{HEAD}[[models]]\nname = \"a\"\nsql = \"SELECT 1\"\n[[models]]\nname = \"a\"\nsql = \"SELECT 2\"\n[[models]]\nname = \"c\"\nsql = \"  \"\n"
        );
        let errs = errors(&text);
        assert_eq!(
            errs,
            [
                (13, 8, "model `a` is defined twice".to_string()),
                (17, 7, "`sql` of a model is empty".to_string()),
            ]
        );
    }

    #[test]
    fn bad_names_missing_keys_and_unknown_keys() {
        let text = format!(
            "{HEAD}[[models]]\nname = \"monthly-takings\"\nsql = \"SELECT 1\"\n[[models]]\nsql = \"SELECT 1\"\nquery = \"x\"\n"
        );
        let messages: Vec<String> = errors(&text).into_iter().map(|e| e.2).collect();
        assert_eq!(
            messages,
            [
                "model name `monthly-takings` may hold only letters, digits and `_`",
                "[[models]] entry without `name`",
                "unknown key `query` in [[models]]",
            ],
            "{messages:?}"
        );
    }

    #[test]
    fn csv_outputs_cannot_run_models() {
        let csv = HEAD.replace("url = \"./out\"\n", "url = \"./out\"\nformat = \"csv\"\n");
        let text = format!("{csv}[[models]]\nname = \"a\"\nsql = \"SELECT 1\"\n");
        let messages: Vec<String> = errors(&text).into_iter().map(|e| e.2).collect();
        assert_eq!(messages, ["models need `format = \"parquet\"` in [output]"]);
    }
}
