//! Run metrics for monitoring systems: Prometheus text exposition, written to a file for
//! node_exporter's textfile collector (`--metrics-file`) and optionally pushed to a Pushgateway
//! (`--pushgateway`).
//!
//! A nightly batch job has no endpoint to scrape, so it leaves its figures behind: the file is
//! rewritten atomically at the end of every run, failed ones included (an alert on
//! `dentally_etl_last_success_timestamp_seconds` catches a job that stopped succeeding, and one
//! on `dentally_etl_run_status{status="failed"}` a job that failed last night). The per-resource
//! figures are the run manifest's, so the metrics and the manifest never disagree. Every metric
//! is a gauge: each run replaces the figures of the previous one.

mod exposition;
mod push;
mod textfile;

use chrono::{DateTime, Utc};
use serde_json::Value;

pub use exposition::{Family, render as render_families};
pub use push::push;
pub use textfile::{previous_last_success, write_atomically};

use crate::manifest::{Manifest, ResourceEntry, Status};

/// What one invocation of `run` did, for its metrics.
#[derive(Debug, Clone)]
pub struct RunReport<'a> {
    /// Pipeline name (the file stem when the pipeline did not load).
    pub pipeline: &'a str,
    /// The manifests written (one per practice that got to its commit).
    pub manifests: &'a [Manifest],
    /// The process exit code.
    pub exit_code: u8,
    /// When the run started.
    pub started: DateTime<Utc>,
    /// When it ended.
    pub finished: DateTime<Utc>,
    /// The last successful run before this one, if known (carried over by a failed run).
    pub previous_success: Option<f64>,
}

impl RunReport<'_> {
    /// `succeeded` (exit 0), `partial` (exit 4) or `failed`.
    pub fn status(&self) -> Status {
        match self.exit_code {
            0 => Status::Succeeded,
            4 => Status::Partial,
            _ => Status::Failed,
        }
    }

    /// When the pipeline last succeeded: now if this run did, else the carried-over instant.
    pub fn last_success(&self) -> Option<f64> {
        if self.exit_code == 0 {
            Some(epoch(self.finished))
        } else {
            self.previous_success
        }
    }
}

/// Statuses a run or a resource can end with (one sample each: 1 for the actual one).
const RUN_STATUSES: &[Status] = &[Status::Succeeded, Status::Partial, Status::Failed];
const RESOURCE_STATUSES: &[Status] = &Status::ALL;

fn epoch(t: DateTime<Utc>) -> f64 {
    t.timestamp_millis() as f64 / 1000.0
}

/// The exposition text of a run.
pub fn render(report: &RunReport<'_>) -> String {
    let mut families = run_families(report);
    families.extend(api_families(report));
    families.extend(resource_families(report));
    exposition::render(&families)
}

fn run_families(r: &RunReport<'_>) -> Vec<Family> {
    let p = [("pipeline", r.pipeline)];
    let mut status = Family::gauge(
        "dentally_etl_run_status",
        "1 for the status the last run ended with (succeeded, partial, failed), 0 for the others.",
    );
    for s in RUN_STATUSES {
        let value = if *s == r.status() { 1.0 } else { 0.0 };
        status.sample(&[("pipeline", r.pipeline), ("status", s.as_str())], value);
    }
    let mut exit = Family::gauge(
        "dentally_etl_run_exit_code",
        "Exit code of the last run: 0 ok, 1 runtime failure, 2 invalid pipeline, 3 token refused, 4 partial.",
    );
    exit.sample(&p, f64::from(r.exit_code));
    let mut duration = Family::gauge(
        "dentally_etl_run_duration_seconds",
        "Wall time of the last run.",
    );
    duration.sample(
        &p,
        (r.finished - r.started).num_milliseconds() as f64 / 1000.0,
    );
    let mut finished = Family::gauge(
        "dentally_etl_run_finished_timestamp_seconds",
        "When the last run ended (Unix time).",
    );
    finished.sample(&p, epoch(r.finished));
    let mut success = Family::gauge(
        "dentally_etl_last_success_timestamp_seconds",
        "When a run of the pipeline last succeeded (Unix time; exit code 0).",
    );
    if let Some(t) = r.last_success() {
        success.sample(&p, t);
    }
    vec![status, exit, duration, finished, success]
}

fn api_families(r: &RunReport<'_>) -> Vec<Family> {
    let mut requests = Family::gauge(
        "dentally_etl_api_requests",
        "HTTP requests the last run sent (budget used), the preflight and retries included.",
    );
    let mut retries = Family::gauge("dentally_etl_api_retries", "Retried requests.");
    let mut limited = Family::gauge(
        "dentally_etl_api_rate_limited",
        "Rate-limit refusals received.",
    );
    let mut waited = Family::gauge(
        "dentally_etl_api_budget_wait_seconds",
        "Seconds spent waiting for the rate budget.",
    );
    let mut remaining = Family::gauge(
        "dentally_etl_api_budget_remaining",
        "Requests left in the rate window at the end of the run.",
    );
    let mut limit = Family::gauge(
        "dentally_etl_api_budget_limit",
        "Requests allowed per rate window.",
    );
    for m in r.manifests {
        let l = [
            ("pipeline", r.pipeline),
            ("practice", m.practice.as_deref().unwrap_or("")),
        ];
        requests.sample(&l, m.api.requests as f64);
        retries.sample(&l, m.api.retries as f64);
        limited.sample(&l, m.api.rate_limited as f64);
        waited.sample(&l, m.api.waited_seconds);
        if let Some(v) = m.api.budget.remaining {
            remaining.sample(&l, f64::from(v));
        }
        if let Some(v) = m.api.budget.limit {
            limit.sample(&l, f64::from(v));
        }
    }
    vec![requests, retries, limited, waited, remaining, limit]
}

fn resource_families(r: &RunReport<'_>) -> Vec<Family> {
    let mut status = Family::gauge(
        "dentally_etl_resource_status",
        "1 for the status the resource ended with (succeeded, partial, failed, unavailable), 0 for the others.",
    );
    let mut rows = Family::gauge("dentally_etl_resource_rows", "Distinct rows extracted.");
    let mut pages = Family::gauge(
        "dentally_etl_resource_pages",
        "Pages requested for the resource (its requests, retries aside: those are counted per run).",
    );
    let mut requests = Family::gauge(
        "dentally_etl_resource_requests",
        "HTTP requests made for the resource, retries and recovery included.",
    );
    let mut seconds = Family::gauge(
        "dentally_etl_resource_seconds",
        "Wall time of the resource.",
    );
    let mut rejects = Family::gauge(
        "dentally_etl_resource_rejects",
        "Rows that broke the type contract (written to _rejects/).",
    );
    let mut duplicates = Family::gauge(
        "dentally_etl_resource_duplicates",
        "Rows dropped as repeats of a key already read.",
    );
    let mut expected = Family::gauge(
        "dentally_etl_resource_total_count",
        "Rows the API said it held (sum of meta.total_count over the slices).",
    );
    let mut mismatches = Family::gauge(
        "dentally_etl_resource_mismatches",
        "Values that did not fit their declared column (the manifest's mismatch counts, summed).",
    );
    for m in r.manifests {
        let practice = m.practice.as_deref().unwrap_or("");
        for e in &m.resources {
            let l = [
                ("pipeline", r.pipeline),
                ("practice", practice),
                ("resource", e.name.as_str()),
            ];
            for s in RESOURCE_STATUSES {
                let value = if *s == e.status { 1.0 } else { 0.0 };
                status.sample(
                    &[
                        ("pipeline", r.pipeline),
                        ("practice", practice),
                        ("resource", e.name.as_str()),
                        ("status", s.as_str()),
                    ],
                    value,
                );
            }
            rows.sample(&l, e.rows as f64);
            pages.sample(&l, f64::from(e.pages));
            requests.sample(&l, e.requests as f64);
            seconds.sample(&l, e.seconds);
            rejects.sample(&l, e.rejects as f64);
            duplicates.sample(&l, e.duplicates as f64);
            if let Some(t) = e.total_count {
                expected.sample(&l, t as f64);
            }
            if let Some(n) = mismatch_count(e) {
                mismatches.sample(&l, n);
            }
        }
    }
    vec![
        status, rows, pages, requests, seconds, rejects, duplicates, expected, mismatches,
    ]
}

/// The resource's mismatch count, when its manifest entry has one: every field whose name holds
/// `mismatch`, a number or numbers nested in maps and lists (per-column counts) summed.
fn mismatch_count(e: &ResourceEntry) -> Option<f64> {
    let Ok(Value::Object(map)) = serde_json::to_value(e) else {
        return None;
    };
    let mut found = None;
    for (key, value) in &map {
        if key.contains("mismatch") {
            *found.get_or_insert(0.0) += sum_numbers(value);
        }
    }
    found
}

fn sum_numbers(v: &Value) -> f64 {
    match v {
        Value::Number(n) => n.as_f64().unwrap_or(0.0),
        Value::Array(items) => items.iter().map(sum_numbers).sum(),
        Value::Object(map) => map.values().map(sum_numbers).sum(),
        _ => 0.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_run_keeps_the_last_success_and_says_failed() {
        let t = |s| DateTime::from_timestamp(s, 0).unwrap();
        let report = RunReport {
            pipeline: "nightly",
            manifests: &[],
            exit_code: 3,
            started: t(1_000),
            finished: t(1_012),
            previous_success: Some(500.0),
        };
        let text = render(&report);
        assert!(
            text.contains("dentally_etl_run_status{pipeline=\"nightly\",status=\"failed\"} 1\n")
        );
        assert!(
            text.contains("dentally_etl_run_status{pipeline=\"nightly\",status=\"succeeded\"} 0\n")
        );
        assert!(text.contains("dentally_etl_run_exit_code{pipeline=\"nightly\"} 3\n"));
        assert!(text.contains("dentally_etl_run_duration_seconds{pipeline=\"nightly\"} 12\n"));
        assert!(
            text.contains(
                "dentally_etl_last_success_timestamp_seconds{pipeline=\"nightly\"} 500\n"
            )
        );
        assert!(
            !text.contains("dentally_etl_resource_rows"),
            "no manifest, no resource figures"
        );
        let ok = RunReport {
            exit_code: 0,
            ..report
        };
        assert!(
            render(&ok).contains(
                "dentally_etl_last_success_timestamp_seconds{pipeline=\"nightly\"} 1012\n"
            )
        );
    }

    #[test]
    fn mismatch_counts_are_summed_from_any_shape() {
        assert_eq!(
            sum_numbers(&serde_json::json!({"a": 2, "b": [1, {"c": 3}]})),
            6.0
        );
        // The manifest always carries `mismatches` now (issue 13): none counted is zero.
        assert_eq!(mismatch_count(&ResourceEntry::new("patients")), Some(0.0));
    }
}
