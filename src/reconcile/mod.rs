//! Count-guided reconciliation: finding the rows deleted in Dentally at the cost of the
//! deletions, not of a full re-read.
//!
//! Dentally never lists deleted records, so the only way to see a deletion is to notice a row
//! the API no longer returns. Re-reading a whole table for that costs `rows / 100` requests
//! (13,000 for one real `treatment_plan_items` table, four hours of budget). Instead, after the
//! run's delta, the table is up to date to the cursor, so for a closed range of a field the API
//! can filter on, its `total_count` (one request with `per_page=1`) equals the table's live count
//! unless rows in the range were deleted. [`search`] partitions the field, compares the counts,
//! bisects only the ranges that differ and reads those (about a page each): cost about
//! `ranges + clusters × log₂(rows per range / 100)`.
//!
//! Never mark a row deleted that the API still lists: counts only decide where to look; a key
//! is marked only when a read of its range did not return it, and a key the API lists among the
//! rows updated since the cursor (moved out of its range while we counted) is spared. When the
//! counts cannot be trusted (they do not add up to the unfiltered total: the filter is ignored,
//! its bounds mean something else, rows arrived mid-read) the resource falls back to a full
//! key read in the same run, and the manifest says why.

mod columns;
mod local;
mod remote;
mod search;

use std::collections::HashSet;

pub use columns::{Key, keys_of, micros_of};
pub use local::TableFiles;
pub use search::{Fallback, SearchReport, Settings};

use crate::api::Client;
use crate::catalog::{FieldKind, FieldType, RangeFilter, Resource, Window};
use remote::RemoteRange;
use search::{Grain, Range, RangeApi};

/// Range fields in order of preference: those that never move come first (`updated_at` moves on
/// every edit, but only with the delta seeing it, so it is still sound, just busier).
const PREFERRED_FIELDS: [&str; 3] = ["created_at", "dated_on", "updated_at"];

/// What one reconciliation did, for the manifest.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct ReconcileReport {
    /// `counts` (the search decided) or `full` (a full key read after a fallback).
    pub method: &'static str,
    /// The range filter used (`created_after/created_before`).
    pub filter: String,
    /// Live rows of the table before marking.
    pub live_rows: u64,
    /// The search's figures.
    pub search: SearchReport,
    /// Keys the search found gone but the API lists among rows changed since the cursor.
    pub spared: u64,
    /// Requests of the fallback's full key read, when there was one.
    pub full_read_requests: u64,
    /// Rows marked `_deleted_at`.
    pub rows_marked: u64,
    /// Why the counts were not trusted, when they were not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fallback: Option<String>,
}

/// The range filter count-guided reconciliation uses for `resource`: one with both bounds on a
/// timestamp or date field; `None` (windowed resources reconcile by re-reading their window,
/// and lists with no two-sided filter can only be re-read in full).
pub fn range_for(resource: &'static Resource) -> Option<&'static RangeFilter> {
    if resource.window != Window::None {
        return None;
    }
    PREFERRED_FIELDS.iter().find_map(|field| {
        let range = resource.range_on(field).filter(|r| r.before.is_some())?;
        matches!(
            resource.field(range.field)?.kind,
            FieldKind::Scalar(FieldType::Timestamp | FieldType::Date)
        )
        .then_some(range)
    })
}

/// Everything one reconciliation needs.
pub struct Reconcile<'a> {
    /// The API client.
    pub client: &'a Client,
    /// The resource (must have a [`range_for`]).
    pub resource: &'static Resource,
    /// Its range filter.
    pub filter: &'static RangeFilter,
    /// Where the table's rows are.
    pub files: TableFiles<'a>,
    /// The cursor after this run's delta (µs): rows the API lists as updated since are spared.
    pub cursor: Option<i64>,
    /// Sizes and limits.
    pub settings: Settings,
}

/// The keys gone from Dentally, with the report; an error only when the table could not be
/// read or the API failed in the fallback too (then nothing is marked).
pub async fn find_deleted(r: &Reconcile<'_>) -> Result<(HashSet<Key>, ReconcileReport), String> {
    let local = local::live_rows(&r.files)
        .await
        .map_err(|e| e.to_string())?;
    let date = matches!(
        r.resource.field(r.filter.field).map(|f| f.kind),
        Some(FieldKind::Scalar(FieldType::Date))
    );
    let grain = if date { Grain::DAY } else { Grain::SECOND };
    let mut api = RemoteRange {
        client: r.client,
        resource: r.resource,
        filter: r.filter,
        date,
    };
    let mut report = ReconcileReport {
        method: "counts",
        filter: match r.filter.before {
            Some(before) => format!("{}/{before}", r.filter.after),
            None => r.filter.after.to_string(),
        },
        live_rows: local.len() as u64,
        ..ReconcileReport::default()
    };
    crate::hooks::pause_point("before-counts");
    let candidates =
        match search::search(&local, &mut api, grain, r.settings, &mut report.search).await {
            Ok(candidates) => candidates,
            Err(why_kind) => {
                let why = describe(&why_kind, r);
                tracing::warn!(
                    resource = r.resource.name,
                    filter = %report.filter,
                    "Count-guided reconciliation fell back to a full key read: {why}"
                );
                let by_ranges = !matches!(why_kind, search::Fallback::CountsDisagree { .. });
                report.fallback = Some(why);
                report.method = "full";
                let listed = if by_ranges {
                    // The range filter works: read the keys range by range, each range far
                    // below the offset wall (an unfiltered read of a large table meets it).
                    let ranges = search::partition(&local, grain, r.settings);
                    ranged_key_read(&api, &ranges, &mut report).await?
                } else {
                    full_key_read(&mut api, &mut report).await?
                };
                local
                    .keys_in(Range::ALL)
                    .filter(|k| !listed.contains(k))
                    .collect()
            }
        };
    let gone = spare_updated(r, candidates, &mut report).await?;
    report.rows_marked = gone.len() as u64;
    Ok((gone, report))
}

fn describe(why: &Fallback, r: &Reconcile<'_>) -> String {
    match why {
        Fallback::CountsDisagree { partition, total } => format!(
            "the counts of the ranges of `{}` add up to {partition}, the unfiltered total is \
             {total} (the API may ignore `{}`)",
            r.filter.field, r.filter.after
        ),
        Fallback::TooCostly => format!(
            "more than {} requests would be needed",
            r.settings.max_requests
        ),
        Fallback::Api(e) => e.clone(),
    }
}

/// Every key the list holds, unfiltered: the fallback, as costly as a full re-read.
async fn full_key_read(
    api: &mut RemoteRange<'_>,
    report: &mut ReconcileReport,
) -> Result<HashSet<Key>, String> {
    let (listed, pages) = api.all_keys().await?;
    report.full_read_requests = pages;
    Ok(listed)
}

/// Every key of the list, read range by range over `ranges` (which cover every possible row).
async fn ranged_key_read(
    api: &RemoteRange<'_>,
    ranges: &[search::Range],
    report: &mut ReconcileReport,
) -> Result<HashSet<Key>, String> {
    let mut listed = HashSet::new();
    for range in ranges {
        let (keys, pages) = api.read(*range).await?;
        report.full_read_requests += pages;
        listed.extend(keys);
    }
    Ok(listed)
}

/// Drops candidates the API lists among rows updated since the cursor: they moved out of their
/// range while we counted, they are not gone.
async fn spare_updated(
    r: &Reconcile<'_>,
    candidates: HashSet<Key>,
    report: &mut ReconcileReport,
) -> Result<HashSet<Key>, String> {
    if candidates.is_empty() {
        return Ok(candidates);
    }
    let (Some(updated), Some(cursor)) = (r.resource.range_on("updated_at"), r.cursor) else {
        return Ok(candidates);
    };
    let mut recent = RemoteRange {
        client: r.client,
        resource: r.resource,
        filter: updated,
        date: false,
    };
    let range = Range {
        from: Some(cursor - 1_000_000),
        to: None,
    };
    let changed = recent.count(range).await?;
    // A filter that took effect returns the few rows changed during this run; far more means
    // it was ignored, and nothing can be spared safely: mark nothing this time.
    let limit = (report.live_rows / 10).max(1_000);
    if changed > limit {
        return Err(format!(
            "`{}` answered {changed} rows changed since the cursor; `{}` looks ignored, so no \
             row is marked deleted this run",
            r.resource.name, updated.after
        ));
    }
    let listed = recent.keys(range).await?;
    let before = candidates.len();
    let gone: HashSet<Key> = candidates
        .into_iter()
        .filter(|k| !listed.contains(k))
        .collect();
    report.spared = (before - gone.len()) as u64;
    Ok(gone)
}
