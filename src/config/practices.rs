//! `[[sources]]`: several practices in one pipeline, each with its own host, token and budget.

use std::ops::Range;

use super::model::Practice;
use super::parse::{secret_key_hint, valid_name};
use super::reader::{Ctx, Section};
use super::source::{source_from, source_keys};

/// Keys of one `[[sources]]` entry: a source's keys plus its `name`.
const ENTRY: &[&str] = source_keys!("name");

/// Reads `[[sources]]` (empty when absent).
pub(super) fn read(ctx: &mut Ctx<'_>, top: &Section<'_, '_>) -> Vec<Practice> {
    let mut out: Vec<Practice> = Vec::new();
    for (table, span) in top.tables(ctx, "sources") {
        let s = Section::new(table, "[[sources]]", ENTRY);
        if let Some(p) = read_entry(ctx, &s, span) {
            if out.iter().any(|o| o.name == p.name) {
                ctx.diags.error(
                    s.span_of("name").unwrap_or(0..0),
                    format!("practice `{}` is listed twice", p.name),
                );
            } else {
                out.push(p);
            }
        }
        s.finish(ctx, &|key| secret_key_hint(key));
    }
    if out.is_empty() && top.span_of("sources").is_some() {
        ctx.diags.error(
            top.span_of("sources").unwrap_or(0..0),
            "[[sources]] lists no practice",
        );
    }
    out
}

fn read_entry(ctx: &mut Ctx<'_>, s: &Section<'_, '_>, span: Range<usize>) -> Option<Practice> {
    let name = s.string(ctx, "name");
    if name.is_none() && s.span_of("name").is_none() {
        ctx.diags.error_with_hint(
            span.clone(),
            "[[sources]] entry without `name`",
            "each practice needs a `name`: it names its output partition and state",
        );
    }
    let source = source_from(ctx, s, span);
    let name = name.and_then(|(n, span)| valid_name(ctx, n, span))?;
    Some(Practice {
        name,
        source: source?,
    })
}
