//! The end-of-run summary (stderr): a table for people, JSON objects for log shippers.

use std::fmt::Write;

use serde_json::{Map, Value};

use crate::manifest::{Manifest, Status};

/// One line per resource, then totals and the API cost.
pub fn render(m: &Manifest) -> String {
    let mut out = String::new();
    if let Some(p) = &m.practice {
        let _ = writeln!(
            out,
            "practice {p} ({})",
            m.practice_id.as_deref().unwrap_or("?")
        );
    }
    let _ = writeln!(
        out,
        "{:<34} {:>9} {:>10} {:>6} {:>8} {:>8}",
        "resource", "status", "rows", "pages", "rejects", "seconds"
    );
    for r in &m.resources {
        let _ = writeln!(
            out,
            "{:<34} {:>9} {:>10} {:>6} {:>8} {:>8.1}",
            r.name, r.status, r.rows, r.pages, r.rejects, r.seconds
        );
    }
    let rows: u64 = m.resources.iter().map(|r| r.rows).sum();
    let _ = writeln!(
        out,
        "run {} {}: {} rows, {} requests ({} retried, {} rate-limited, {:.1}s waiting for the budget)",
        m.run_id,
        m.status,
        rows,
        m.api.requests,
        m.api.retries,
        m.api.rate_limited,
        m.api.waited_seconds
    );
    for r in m.resources.iter().filter(|r| r.error.is_some()) {
        let _ = writeln!(out, "  {}: {}", r.name, r.error.as_deref().unwrap_or(""));
        for cause in &r.error_chain {
            let _ = writeln!(out, "    caused by: {cause}");
        }
    }
    for r in m.resources.iter().filter(|r| !r.mismatches.is_empty()) {
        let _ = writeln!(out, "  {}: {}", r.name, mismatch_line(&r.mismatches));
    }
    out
}

/// Shows the summary on stderr: the table in text, one JSON object per resource and one for the
/// run with `--log-format json` (so every stderr line parses).
pub fn emit(m: &Manifest) {
    if !super::logging::is_json() {
        eprint!("{}", render(m));
        return;
    }
    for (level, message, fields) in json_events(m) {
        super::logging::json_line(level, message, fields);
    }
}

/// The JSON summary: `(level, message, fields)` per resource, then the run's.
///
/// A resource's fields are its manifest entry minus the bulky lists (tables, unknown fields), so a
/// figure added to the manifest shows up here without a change.
pub fn json_events(m: &Manifest) -> Vec<(&'static str, &'static str, Map<String, Value>)> {
    let mut out = Vec::new();
    for r in &m.resources {
        let mut fields = match serde_json::to_value(r) {
            Ok(Value::Object(map)) => map,
            _ => Map::new(),
        };
        fields.remove("tables");
        fields.remove("unknown_fields");
        let name = fields.remove("name").unwrap_or(Value::Null);
        fields.insert("resource".into(), name);
        fields.insert("run_id".into(), Value::from(m.run_id.as_str()));
        if let Some(p) = &m.practice {
            fields.insert("practice".into(), Value::from(p.as_str()));
        }
        let level = level_of(r.status);
        out.push((level, "Resource summary.", fields));
    }
    let rows: u64 = m.resources.iter().map(|r| r.rows).sum();
    let mut run = Map::new();
    run.insert("run_id".into(), Value::from(m.run_id.as_str()));
    run.insert("pipeline".into(), Value::from(m.pipeline.as_str()));
    if let Some(p) = &m.practice {
        run.insert("practice".into(), Value::from(p.as_str()));
    }
    run.insert("status".into(), Value::from(m.status.as_str()));
    run.insert("rows".into(), Value::from(rows));
    run.insert("resources".into(), Value::from(m.resources.len()));
    run.insert(
        "api".into(),
        serde_json::to_value(&m.api).unwrap_or(Value::Null),
    );
    let level = level_of(m.status);
    out.push((level, "Run summary.", run));
    out
}

/// `5 value(s) did not fit their column (cells null, values kept in _extra): patients.gender 3, …`
fn mismatch_line(counts: &crate::flatten::ColumnCounts) -> String {
    let columns: Vec<String> = counts
        .iter()
        .flat_map(|(table, cols)| cols.iter().map(move |(c, n)| format!("{table}.{c} {n}")))
        .collect();
    let total: u64 = counts.values().flat_map(|c| c.values()).sum();
    format!(
        "{total} value(s) did not fit their column (cells null, values kept in _extra): {}",
        columns.join(", ")
    )
}

/// The log level a status is reported at.
fn level_of(status: Status) -> &'static str {
    match status {
        Status::Failed => "ERROR",
        Status::Partial => "WARN",
        Status::Succeeded | Status::Unavailable => "INFO",
    }
}
