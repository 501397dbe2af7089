//! `dentally-etl probe PIPELINE [--json]`: the probe's report, for people (text) or to share
//! (`--json`). Both carry names, JSON types, verdicts and small counts only (see
//! [`crate::preflight::probe`]).

use std::fmt::Write;
use std::process::ExitCode;

use crate::config::Pipeline;
use crate::preflight::probe::{self, Check, ProbeReport, ResourceProbe};
use crate::run::{self, RunError};

/// Runs the probe and prints its report; exit 3 when the token was refused, 4 when some
/// resource could not be read, else 0.
pub async fn run(p: &Pipeline, json: bool) -> ExitCode {
    let client = match run::client_for(p) {
        Ok(c) => c,
        Err(e) => return super::run_failed(&e),
    };
    let report = probe::probe(&client, p).await;
    if json {
        super::print_json(&report);
    } else {
        super::print_stdout(&render(&report));
    }
    let refused = report
        .resources
        .iter()
        .all(|r| r.status.starts_with("unauthorized"));
    if refused && !report.resources.is_empty() {
        let e = RunError::Api(crate::api::ApiError::Unauthorized {
            path: "the probed resources".into(),
        });
        return super::run_failed(&e);
    }
    if report.resources.iter().any(|r| r.status != "ok") {
        ExitCode::from(4)
    } else {
        ExitCode::SUCCESS
    }
}

/// The report as text.
pub fn render(report: &ProbeReport) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "probe of pipeline `{}`: {} request(s); no value of any record is shown",
        report.pipeline, report.requests
    );
    match &report.scopes {
        Some(scopes) => {
            let _ = writeln!(out, "X-OAuth-Scopes: {}", scopes.join(" "));
            if !report.write_scopes.is_empty() {
                let _ = writeln!(
                    out,
                    "  scopes that can write: {}",
                    report.write_scopes.join(" ")
                );
            }
        }
        None => {
            let _ = writeln!(
                out,
                "X-OAuth-Scopes: not sent (read-only cannot be verified)"
            );
        }
    }
    for r in &report.resources {
        resource(&mut out, r);
    }
    out
}

fn resource(out: &mut String, r: &ResourceProbe) {
    let _ = writeln!(out, "\n{} (GET {}): {}", r.resource, r.path, r.status);
    let named = match r.scope_named {
        Some(true) => "named in the header",
        Some(false) => "NOT named in the header",
        None => "no header",
    };
    let _ = writeln!(out, "  scope {}: {named}", r.scope);
    if r.status != "ok" {
        return;
    }
    if !r.envelope_found {
        let _ = writeln!(out, "  the answer has no `{}` key", r.resource);
    }
    let _ = writeln!(out, "  rows on page 1: {}", r.rows);
    list(out, "meta keys", &r.meta_keys);
    list(out, "other top-level keys", &r.other_keys);
    if let Some(c) = &r.per_page {
        check(out, "per_page=100", c);
    }
    if let Some(c) = &r.sort_by {
        check(out, "sort_by", c);
    }
    for f in &r.filters {
        check(out, &format!("{} on {}", f.after, f.field), &f.after_check);
        if let (Some(param), Some(c)) = (&f.before, &f.before_check) {
            check(out, &format!("{param} on {}", f.field), c);
        }
        if let Some(down) = f.total_count_went_down {
            let _ = writeln!(
                out,
                "    meta.total_count {} with the filter",
                if down { "went down" } else { "did NOT go down" }
            );
        }
    }
    let fields = &r.fields;
    list(out, "fields the catalog lacks", &fields.unknown);
    list(out, "catalog fields never seen", &fields.never_seen);
    list(out, "catalog fields always null", &fields.always_null);
    let misfits: Vec<String> = fields
        .misfits
        .iter()
        .map(|m| format!("{}.{} got {} ×{}", m.table, m.column, m.json_type, m.count))
        .collect();
    list(out, "values not fitting their declared type", &misfits);
    if fields.unkeyed_rows > 0 {
        let _ = writeln!(
            out,
            "  rows without a usable primary key: {}",
            fields.unkeyed_rows
        );
    }
}

fn check(out: &mut String, what: &str, c: &Check) {
    let _ = writeln!(out, "  {what}: {} ({})", c.verdict.label(), c.detail);
}

fn list(out: &mut String, what: &str, items: &[String]) {
    if items.is_empty() {
        let _ = writeln!(out, "  {what}: none");
    } else {
        let _ = writeln!(out, "  {what}: {}", items.join(", "));
    }
}
