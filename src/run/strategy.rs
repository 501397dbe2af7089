//! How this run reads a resource: everything, a delta since the cursor, a window again, or
//! everything to reconcile deletions — and so how its current table is built.

use chrono::{DateTime, Days, NaiveDate, Utc};

use super::merge::Coverage;
use crate::catalog::Window;
use crate::config::{Mode, Reconcile, ResourceSpec};
use crate::state::ResourceState;

/// The reading strategy of one resource in one run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Strategy {
    /// Full mode (or a first/forced run): the current table is this run's rows.
    Full,
    /// `updated_after = since`: merged into the previous current table.
    Delta {
        /// Cursor minus lag.
        since: DateTime<Utc>,
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
    pub fn choose(spec: &ResourceSpec, state: &ResourceState, c: Choice) -> Self {
        if spec.mode == Mode::Full || c.full_refresh || state.tables.is_empty() {
            return Self::Full;
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
        let cursor = state
            .cursor
            .as_deref()
            .and_then(|c| DateTime::parse_from_rfc3339(c).ok());
        match (spec.resource.cursor, cursor) {
            (Some(_), Some(cursor)) if !reconcile_due(spec.reconcile, state, c) => Self::Delta {
                since: cursor.with_timezone(&Utc) - chrono::Duration::seconds(spec.lag_secs as i64),
            },
            _ => Self::Everything,
        }
    }

    /// Parameters added to every page request.
    pub fn query(&self) -> Vec<(&'static str, String)> {
        match self {
            Self::Delta { since } => vec![(
                "updated_after",
                since.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            )],
            _ => Vec::new(),
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

    /// True when this read finds deleted rows of the whole table.
    pub fn reconciles(&self) -> bool {
        matches!(self, Self::Full | Self::Everything)
    }

    /// For the manifest and summary.
    pub fn label(&self) -> String {
        match self {
            Self::Full => "full".into(),
            Self::Delta { since } => format!(
                "incremental since {}",
                since.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            ),
            Self::Window { .. } => "window".into(),
            Self::Everything => "reconcile".into(),
        }
    }
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
