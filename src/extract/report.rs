//! What reading a slice found and where it stands: the records that travel with every page into
//! checkpoints (so a resume continues the same walk) and, summed, into the manifest.

use super::query::PER_PAGE;
use super::route::{Route, Tile};

/// What the finished slices of a resource found, summed (kept in checkpoints: constant size
/// however many slices a resource has, e.g. one per treatment for `fees`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SliceTotals {
    /// Slices finished.
    pub slices: usize,
    /// Pages requested.
    pub pages: u64,
    /// Distinct rows kept.
    pub rows: u64,
    /// Rows dropped as repeats.
    pub duplicates: u64,
    /// Sum of `meta.total_count` (`None` when a slice had none).
    pub total_count: Option<u64>,
    /// How the slices were read past the offset wall, and what that cost.
    #[serde(default)]
    pub paging: PagingReport,
}

impl Default for SliceTotals {
    fn default() -> Self {
        Self {
            slices: 0,
            pages: 0,
            rows: 0,
            duplicates: 0,
            total_count: Some(0),
            paging: PagingReport::default(),
        }
    }
}

impl SliceTotals {
    /// Adds a finished slice.
    pub fn add(&mut self, r: &SliceReport) {
        self.slices += 1;
        self.pages += u64::from(r.pages);
        self.rows += r.rows;
        self.duplicates += r.duplicates;
        self.total_count = self.total_count.zip(r.total_count).map(|(a, b)| a + b);
        self.paging.add(&r.paging);
    }
}

/// Where to pick a slice up again: the next page, and what the pages before it found.
#[derive(Debug, Clone)]
pub struct Resume {
    /// Next page to request (of the walk named by `report.sequence`).
    pub next_page: u32,
    /// What pages `1..next_page` found.
    pub report: SliceReport,
    /// Whether the last page read was full (unknown after a restart: assume it was).
    pub last_full: bool,
}

/// What reading a slice found.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SliceReport {
    /// Pages requested.
    pub pages: u32,
    /// Distinct rows kept.
    pub rows: u64,
    /// Rows dropped as repeats.
    pub duplicates: u64,
    /// `meta.total_count` of the whole slice (its first unbounded walk), when sent.
    pub total_count: Option<u64>,
    /// Page size the API actually served.
    pub page_size: u32,
    /// The walk in progress: route, keyset bound or pending tiles (`None`: a plain walk, as
    /// checkpoints written before routes existed).
    #[serde(default)]
    pub sequence: Option<Sequence>,
    /// `meta.total_count` of the walk in progress.
    #[serde(default)]
    pub walk_total: Option<u64>,
    /// Distinct rows of the slice's answers it did not keep because the API ignored a window
    /// bound ([`Clip`](super::clip::Clip)): outside the window, or kept by the slice before.
    /// Part of `total_count`.
    #[serde(default)]
    pub elsewhere: u64,
    /// Largest value of the keyset field read by the walk in progress (µs).
    #[serde(default)]
    pub walk_max: Option<i64>,
    /// Restarts, tiles, 413s, ignored filters and recovery of this slice.
    #[serde(default)]
    pub paging: PagingReport,
}

impl SliceReport {
    /// Rows per page: what the API served, or what we ask for before the first page came back
    /// (a walk's page limit is set before its first page; 1 there would lift the limit).
    pub fn rows_per_page(&self) -> u32 {
        if self.page_size == 0 {
            PER_PAGE
        } else {
            self.page_size
        }
    }
}

/// How a slice got past the offset wall and what it recovered (summed into the manifest).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PagingReport {
    /// Routes used (`keyset`, `tiles(created_at)`, `offset`), in the order taken.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub routes: Vec<String>,
    /// Keyset restarts (page 1 again with a later `updated_after`).
    #[serde(default)]
    pub restarts: u64,
    /// Tile windows requested (cut windows included).
    #[serde(default)]
    pub tiles: u64,
    /// Pages the API refused as too deep (413).
    #[serde(default)]
    pub walls: u64,
    /// Filters the API was found to ignore (`updated_after`, `sort_by`): never relied on again.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ignored_filters: Vec<String>,
    /// Rows found by recovery after the reads fell short of `total_count`.
    #[serde(default)]
    pub recovered: u64,
    /// Requests spent on recovery.
    #[serde(default)]
    pub recovery_requests: u64,
    /// How rows were recovered (`narrow tiles on updated_at`, `GET /v1/patients/{id}/stats`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub recovered_by: Vec<String>,
}

impl PagingReport {
    /// Adds another slice's report.
    pub fn add(&mut self, other: &PagingReport) {
        for (mine, theirs) in [
            (&mut self.routes, &other.routes),
            (&mut self.ignored_filters, &other.ignored_filters),
            (&mut self.recovered_by, &other.recovered_by),
        ] {
            for item in theirs {
                if !mine.contains(item) {
                    mine.push(item.clone());
                }
            }
        }
        self.restarts += other.restarts;
        self.tiles += other.tiles;
        self.walls += other.walls;
        self.recovered += other.recovered;
        self.recovery_requests += other.recovery_requests;
    }

    pub(super) fn note_route(&mut self, route: Route) {
        let label = route.label();
        if self.routes.last() != Some(&label) {
            self.routes.push(label);
        }
    }
}

/// The walk a slice is in, kept with every page so a resume continues it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "route", rename_all = "snake_case")]
pub enum Sequence {
    /// One plain offset walk.
    Offset,
    /// Sorted by `updated_at`, from `since` (µs; none: from the first row).
    Keyset {
        /// Lower bound of the walk in progress.
        since: Option<i64>,
    },
    /// Windows of the range filter whose lower-bound parameter is `after`.
    Tiles {
        /// The filter's `after` parameter (names it in the catalog).
        after: String,
        /// Rows per window when recovering (one page); none: the offset wall.
        cap: Option<u64>,
        /// Windows still to read; the last one is in progress.
        stack: Vec<Tile>,
    },
    /// Rows fetched one by one by key (recovery).
    PerKey,
}
