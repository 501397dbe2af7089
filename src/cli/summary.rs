//! The end-of-run summary table (stderr).

use std::fmt::Write;

use crate::run::Manifest;

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
    }
    for r in m.resources.iter().filter(|r| !r.mismatches.is_empty()) {
        let _ = writeln!(out, "  {}: {}", r.name, mismatch_line(&r.mismatches));
    }
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
