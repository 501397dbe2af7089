//! How this run reads a resource: everything, a delta since the cursor, a window again, or
//! everything to reconcile deletions — and so how its current table is built.
//!
//! The choice is made from the catalog's declared capabilities (`ranges`, `sortable`), never from
//! parameter names written here: the live API silently ignores filters it does not know
//! (`/payments` ignores `updated_after`), so a delta must use the filter the list is believed to
//! honour on the resource's cursor field (`dated_after` on payments' `dated_on`). How a whole
//! read gets past the deep-offset wall (keyset, tiles, plain) is the paging code's choice
//! (`extract::candidates`). `plan` calls the same functions, so what it shows is what a run does.

use chrono::{DateTime, Days, NaiveDate, Utc};

use crate::catalog::{RangeFilter, Resource, Window};
use crate::config::{Mode, Reconcile, ResourceSpec, cursor_is_date};
use crate::extract::WindowCut;
use crate::state::ResourceState;
use crate::table::merge::Coverage;

/// Where a delta starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Since {
    /// A timestamp cursor minus `lag_secs` (`updated_after`).
    Instant(DateTime<Utc>),
    /// A date cursor minus `lookback_days` (`dated_after`).
    Day(NaiveDate),
}

impl Since {
    /// The value sent as the filter's parameter.
    pub fn param(self) -> String {
        match self {
            Self::Instant(t) => t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            Self::Day(d) => d.format("%Y-%m-%d").to_string(),
        }
    }
}

/// The reading strategy of one resource in one run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Strategy {
    /// Full mode (or a first/forced run): the current table is this run's rows.
    Full,
    /// Rows changed (or dated) since the cursor, by the list's filter on the cursor field:
    /// merged into the previous current table. A windowed resource's delta is not windowed.
    Delta {
        /// The range filter used (`updated_after` on `updated_at`, `dated_after` on `dated_on`).
        filter: &'static RangeFilter,
        /// Its lower bound.
        since: Since,
    },
    /// A windowed resource re-reads its window; rows of the window not returned are deleted.
    Window {
        /// The window field (`start_time`, `day`).
        field: &'static str,
        /// Start of the covered range, µs since the epoch.
        from: i64,
        /// End of the covered range, µs since the epoch.
        to: i64,
    },
    /// A full read merged into the previous table; rows not returned are marked deleted.
    Everything,
}

/// What the choice depends on besides the pipeline.
#[derive(Debug, Clone, Copy)]
pub struct Choice {
    /// `--full-refresh`.
    pub full_refresh: bool,
    /// `--reconcile-deletes`.
    pub force_reconcile: bool,
    /// The run's date.
    pub today: NaiveDate,
    /// The run's start.
    pub now: DateTime<Utc>,
}

impl Strategy {
    /// Picks the strategy of `spec` given its state.
    ///
    /// An incremental resource reads a delta whenever it has a cursor and a filter on it, and no
    /// reconciliation is due. For a windowed resource (appointments) that is much cheaper than
    /// re-reading the window: the delta costs the pages of rows changed since the last run, the
    /// window at least one page per slice and every row again. The window re-read is then the
    /// periodic reconciling read that finds deletions (`reconcile_deletes`, weekly by default
    /// for windowed resources).
    pub fn choose(spec: &ResourceSpec, state: &ResourceState, c: Choice) -> Self {
        if spec.mode == Mode::Full || c.full_refresh || state.tables.is_empty() {
            return Self::Full;
        }
        if !reconcile_due(spec.reconcile, state, c)
            && let Some(delta) = delta(spec, state, c.today)
        {
            return delta;
        }
        if let (Window::Required { field, .. }, Some(w)) = (spec.resource.window, spec.window) {
            let (from, to) = w.resolve(c.today);
            // One day inside each edge: the API's reading of date bounds (local or UTC midnight)
            // must not make a row at the edge look deleted.
            return Self::Window {
                field,
                from: micros(from + Days::new(1)),
                to: micros(to - Days::new(1)),
            };
        }
        Self::Everything
    }

    /// Parameters added to every page request.
    pub fn query(&self) -> Vec<(&'static str, String)> {
        match self {
            Self::Delta { filter, since } => vec![(filter.after, since.param())],
            _ => Vec::new(),
        }
    }

    /// How a windowed resource is cut into slices by this read: a delta is one list, any other
    /// read covers the whole window, sized from the last window read's density.
    pub fn window_cut(&self, state: &ResourceState) -> WindowCut {
        match self {
            Self::Delta { .. } => WindowCut::Changes,
            _ => WindowCut::Window {
                rows_per_day: state.window.as_ref().and_then(|w| w.rows_per_day()),
            },
        }
    }

    /// What the read covers, for the merge; `None` for a plain (full) build.
    pub fn coverage(&self) -> Option<Coverage> {
        match self {
            Self::Full => None,
            Self::Delta { .. } => Some(Coverage::Nothing),
            Self::Window { field, from, to } => Some(Coverage::Window {
                field: (*field).to_string(),
                from: *from,
                to: *to,
            }),
            Self::Everything => Some(Coverage::Everything),
        }
    }

    /// True when this read finds deleted rows: of the whole table, or of a windowed resource's
    /// whole window (its reconciling read).
    pub fn reconciles(&self) -> bool {
        !matches!(self, Self::Delta { .. })
    }

    /// For the manifest and summary.
    pub fn label(&self) -> String {
        match self {
            Self::Full => "full".into(),
            Self::Delta { filter, since } => format!(
                "incremental since {} ({} on {})",
                since.param(),
                filter.after,
                filter.field
            ),
            Self::Window { .. } => "window".into(),
            Self::Everything => "reconcile".into(),
        }
    }
}

/// The range filter a delta of `resource` uses: the one on its cursor field, if the list is
/// believed to honour one. `None`: every run reads the whole list.
pub fn delta_filter(resource: &Resource) -> Option<&'static RangeFilter> {
    resource.cursor.and_then(|c| resource.range_on(c))
}

fn delta(spec: &ResourceSpec, state: &ResourceState, today: NaiveDate) -> Option<Strategy> {
    let filter = delta_filter(spec.resource)?;
    let cursor = DateTime::parse_from_rfc3339(state.cursor.as_deref()?)
        .ok()?
        .with_timezone(&Utc);
    let since = if cursor_is_date(spec.resource) {
        // A post-dated row must not move the start past today's entries.
        let day = cursor.date_naive().min(today);
        Since::Day(day - Days::new(u64::from(spec.lookback_days)))
    } else {
        Since::Instant(cursor - chrono::Duration::seconds(spec.lag_secs as i64))
    };
    Some(Strategy::Delta { filter, since })
}

fn reconcile_due(rule: Reconcile, state: &ResourceState, c: Choice) -> bool {
    if c.force_reconcile {
        return true;
    }
    match rule {
        Reconcile::Never | Reconcile::Counts => false,
        Reconcile::Always => true,
        Reconcile::EveryRuns(n) => state.runs_since_reconcile + 1 >= n,
        Reconcile::EveryDays(days) => state
            .last_reconcile
            .as_deref()
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
            .is_none_or(|t| c.now.signed_duration_since(t).num_days() >= i64::from(days)),
    }
}

fn micros(d: NaiveDate) -> i64 {
    d.and_hms_opt(0, 0, 0)
        .expect("midnight")
        .and_utc()
        .timestamp_micros()
}

#[cfg(test)]
#[path = "strategy_tests.rs"]
mod tests;
