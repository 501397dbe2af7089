//! `purge`: what was erased, said in counts (never values), and the exit code of a run's
//! failure when it could not finish (1: storage, 2: usage, 5: a run holds the lock).

use std::process::ExitCode;

use crate::config::Pipeline;
use crate::purge::{self, PurgeOptions, PurgeReport};

/// Runs the purge and reports it.
pub async fn run(pipeline: &Pipeline, options: &PurgeOptions, json: bool) -> ExitCode {
    let (reports, error) = match purge::purge(pipeline, options).await {
        Ok(reports) => (reports, None),
        Err(stopped) => (stopped.done, Some(stopped.error)),
    };
    // What was purged is said even when a later practice failed.
    if json {
        super::print_json(&reports);
    } else if !reports.is_empty() || error.is_none() {
        super::print_stdout(&render(&reports));
    }
    match error {
        None => ExitCode::SUCCESS,
        Some(e) => {
            super::logging::fatal(e.exit_code(), &e);
            ExitCode::from(e.exit_code())
        }
    }
}

/// The human report: one line per table, then the raw copies.
fn render(reports: &[PurgeReport]) -> String {
    let mut out = String::new();
    for r in reports {
        let who = r
            .practice
            .as_deref()
            .map(|p| format!(" of practice `{p}`"))
            .unwrap_or_default();
        let verb = if r.dry_run { "would purge" } else { "purged" };
        if r.tables.is_empty() {
            out.push_str(&format!(
                "No row{who} was marked deleted before {}: nothing to purge.\n",
                r.cutoff
            ));
            continue;
        }
        out.push_str(&format!(
            "Rows{who} marked deleted before {} ({verb}):\n",
            r.cutoff
        ));
        for t in &r.tables {
            out.push_str(&format!(
                "  {:<40} {:>10} of {:>10} rows\n",
                t.table, t.rows_purged, t.rows_before
            ));
        }
        if !r.dry_run {
            out.push_str(&format!(
                "  raw copies removed: {} file(s)",
                r.raw_files_removed
            ));
            if !r.checkpoints_dropped.is_empty() {
                out.push_str(&format!(
                    "; checkpoints dropped (read afresh next run): {}",
                    r.checkpoints_dropped.join(", ")
                ));
            }
            out.push('\n');
        }
    }
    out
}
