//! Reading one slice of a list resource, page by page, exactly once per row.
//!
//! The rules come from what the real API does (dentally-api.md §4, api-evidence.md §3):
//! - ask for `per_page=100` with a stable `sort_by`; the API silently caps sizes it dislikes at 25,
//!   so the page size actually served is read off the first page;
//! - `meta.total_count` is reliable, `total_pages` is not: when the total is known the remaining
//!   pages are fetched concurrently (in order), and paging continues past the expected last page
//!   while pages come back full;
//! - no offset walk goes past the offset wall ([`super::wall`]): a long list is read by a
//!   [`route`](super::route) (keyset restarts, tiles) whose filters are checked on every page
//!   ([`super::verify`]);
//! - stop at a short or empty page; drop rows whose key was already seen;
//! - fewer distinct rows than `total_count` → recover ([`super::recover`]), and only then fail
//!   loudly, never truncate silently.
//!
//! Where a slice is (route, keyset bound, pending tiles) travels with every page in its
//! [`SliceReport`], so a checkpoint taken in the middle of a keyset or tile sequence resumes
//! there and re-reads at most the pages that were in flight.

use std::sync::{Arc, Mutex};

use futures::StreamExt;
use tokio::sync::mpsc;

use super::ExtractError;
use super::clip::Clip;
use super::dedupe::KeySet;
use super::route::{self, Grain, Route, Tile, micros_of};
use super::seen::Seen;
use super::slice::Slice;
use super::verify::{Check, Watched};
use super::wall::Wall;
use crate::api::{ApiError, Client, Target};
use crate::catalog::Resource;
use crate::json::{Doc, Kind, Node};

/// Page size we ask for: the API's documented maximum.
pub const PER_PAGE: u32 = 100;

/// Query parameters without the page number.
pub type Params = Vec<(&'static str, String)>;

/// One page of new (not yet seen) records.
#[derive(Debug)]
pub struct Page {
    /// Which slice it belongs to (index into the resource's slices).
    pub slice: usize,
    /// 1-based page number within the current walk of the slice (see [`SliceReport::sequence`]).
    pub number: u32,
    /// The page as received.
    pub doc: Doc,
    /// Positions in `doc` of the records whose keys were not seen before, in API order.
    pub records: Vec<u32>,
    /// What the slice had found up to and including this page (for checkpoints).
    pub progress: SliceReport,
}

impl Page {
    /// The new records, in API order.
    pub fn records(&self) -> impl Iterator<Item = Node<'_>> {
        self.records.iter().map(|at| self.doc.node(*at))
    }
}

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
    /// bound ([`Clip`]): outside the window, or kept by the slice before. Part of `total_count`.
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

    fn note_route(&mut self, route: Route) {
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

/// Everything fixed while reading one resource.
pub struct SliceReader<'a> {
    /// The API client.
    pub client: &'a Client,
    /// The resource.
    pub resource: &'static Resource,
    /// Extra parameters for every request (incremental filters).
    pub base_query: Params,
    /// Pages fetched at once.
    pub concurrency: usize,
    /// How deep an offset walk may go.
    pub wall: Wall,
    /// Filters found ignored by the API while reading this resource (warned about once).
    pub(super) ignored: Mutex<Vec<String>>,
    /// Keys of the rows recovery may fetch one by one (the patients' ids for `patient_stats`),
    /// when the run reads them anyway: awaited only if recovery needs them.
    pub(super) known_keys: Mutex<Option<KeysLater<'a>>>,
}

/// Keys handed over by another resource of the run, once it has read them (`None`: list them).
pub type KeysLater<'a> =
    std::pin::Pin<Box<dyn std::future::Future<Output = Option<Arc<Vec<String>>>> + Send + 'a>>;

pub(super) struct Fetched {
    number: u32,
    /// The query it answered (without the page): a page fetched ahead is only used for the
    /// same query.
    params: Params,
    pub(super) doc: Doc,
    /// Positions of the envelope's records in `doc`.
    records: Vec<u32>,
    pub(super) total: Option<u64>,
}

/// What one walk is allowed to do.
pub(super) struct Walk<'p> {
    pub(super) params: &'p Params,
    /// Last page it may request (the wall).
    pub(super) last_page: u32,
    /// Stop after page 1 when `total_count` is above this (the walk would meet the wall).
    pub(super) too_big: Option<u64>,
    /// Whether this walk's total is the slice's.
    pub(super) root: bool,
}

/// How a walk ended.
pub(super) enum End {
    /// Short or empty page, or every row counted.
    Done,
    /// It reached its last allowed page with full pages.
    Limit,
    /// The API refused a page as too deep (413).
    Wall,
    /// Page 1 said the walk holds more rows than allowed.
    TooBig,
    /// A page showed this parameter had been ignored.
    Ignored(&'static str),
}

/// What a route's reading came to.
pub(super) enum Outcome {
    /// Every row of the route was read.
    Done,
    /// The API ignored this parameter: take the next route.
    Ignored(&'static str),
}

/// The state of one slice being read, threaded through the walks.
pub(super) struct Reading<'k> {
    pub(super) slice_index: usize,
    pub(super) keys: &'k mut KeySet,
    pub(super) out: &'k mpsc::Sender<Page>,
    pub(super) report: SliceReport,
    /// Recovery stops once this many pages were requested (its bound on extra requests).
    pub(super) stop_at_pages: Option<u32>,
    /// Where the distinct rows lie along the recovery filter's field (recovery cuts there).
    pub(super) seen: Seen,
    /// Rows outside the slice's window, when the API ignores a bound of it ([`Clip`]).
    pub(super) clip: Option<Clip>,
    /// Keys of every row this slice's answers held, while a window bound is ignored.
    pub(super) in_slice: KeySet,
}

impl<'a> SliceReader<'a> {
    /// A reader of `resource` (see the fields).
    pub fn new(
        client: &'a Client,
        resource: &'static Resource,
        base_query: Params,
        concurrency: usize,
        wall: Wall,
    ) -> Self {
        Self {
            client,
            resource,
            base_query,
            concurrency,
            wall,
            ignored: Mutex::default(),
            known_keys: Mutex::new(None),
        }
    }

    /// Where recovery gets the keys of rows to fetch one by one (see [`KeysLater`]).
    pub fn set_known_keys(&mut self, later: KeysLater<'a>) {
        self.known_keys = Mutex::new(Some(later));
    }

    /// The parameters of a walk: paging, `sort` (default: the resource's key), required
    /// parameters, the run's and the slice's filters except those named in `replaced`, then
    /// `extra`.
    pub(super) fn params(
        &self,
        slice: &Slice,
        sort: Option<&'static str>,
        replaced: &[&str],
        extra: Params,
    ) -> Params {
        let mut q = list_query(self.resource, sort, &self.base_query, slice, replaced);
        q.extend(extra);
        q
    }

    /// The value the run or the slice gives `param`, as µs.
    pub(super) fn bound(&self, slice: &Slice, param: &str) -> Option<i64> {
        self.base_query
            .iter()
            .chain(slice.query.iter())
            .rev()
            .find(|(k, _)| *k == param)
            .and_then(|(_, v)| micros_of(v))
    }

    pub(super) async fn fetch(&self, params: &Params, page: u32) -> Result<Fetched, ExtractError> {
        let target = Target {
            resource: self.resource.name,
            page,
        };
        let mut query = Vec::with_capacity(params.len() + 1);
        query.push(("page", page.to_string()));
        query.extend(params.iter().cloned());
        let reply = self.client.get(self.resource.path, &query, target).await?;
        let root = reply.body.root();
        let records = match root.get(self.resource.envelope) {
            Some(list) if list.kind() == Kind::Array => list.items().map(Node::position).collect(),
            _ => {
                return Err(ExtractError::Shape {
                    resource: self.resource.name.into(),
                    page,
                    why: format!("the answer has no `{}` array", self.resource.envelope),
                });
            }
        };
        let total: Option<u64> = root
            .get("meta")
            .and_then(|m| m.get("total_count"))
            .and_then(|t| t.number()?.parse().ok());
        if let Some(t) = total.filter(|t| *t > MAX_PLAUSIBLE_TOTAL) {
            return Err(ExtractError::Shape {
                resource: self.resource.name.into(),
                page,
                why: format!(
                    "`meta.total_count` is {t}, over the {MAX_PLAUSIBLE_TOTAL} rows no practice \
                     holds; paging by it could not end (is `base_url` the Dentally API?)"
                ),
            });
        }
        Ok(Fetched {
            number: page,
            params: params.clone(),
            doc: reply.body,
            records,
            total,
        })
    }

    /// Reads `slice` (index `slice_index`) from its first page, or from `resume`, sending new
    /// records to `out` in page order.
    pub async fn read(
        &self,
        slice_index: usize,
        slice: &Slice,
        resume: Option<Resume>,
        keys: &mut KeySet,
        out: &mpsc::Sender<Page>,
    ) -> Result<SliceReport, ExtractError> {
        self.read_from(slice_index, slice, resume, None, keys, out)
            .await
    }

    /// [`read`](Self::read), with page 1 of the slice's first walk possibly fetched ahead.
    async fn read_from(
        &self,
        slice_index: usize,
        slice: &Slice,
        resume: Option<Resume>,
        mut first: Option<Fetched>,
        keys: &mut KeySet,
        out: &mpsc::Sender<Page>,
    ) -> Result<SliceReport, ExtractError> {
        let mut reading = Reading {
            slice_index,
            keys,
            out,
            report: SliceReport::default(),
            stop_at_pages: None,
            seen: Seen::of(self.narrowing_filter(&[]).map(|f| f.field)),
            clip: None,
            in_slice: KeySet::default(),
        };
        let (mut sequence, mut next) = match resume {
            Some(r) => {
                let sequence = r.report.sequence.clone().unwrap_or(Sequence::Offset);
                // What an earlier session found ignored still is (a clip depends on it).
                if let Ok(mut ignored) = self.ignored.lock() {
                    for param in &r.report.paging.ignored_filters {
                        if !ignored.contains(param) {
                            ignored.push(param.clone());
                        }
                    }
                }
                reading.report = r.report;
                // The slice's keys are not checkpointed: count them again (an undercount only
                // costs a recovery read, an overcount could hide a missing row).
                reading.report.elsewhere = 0;
                (sequence, r.next_page)
            }
            None => (self.start(slice), 1),
        };
        if sequence == Sequence::PerKey {
            // Killed while recovering: the reads were done; recover what is still missing.
            return self.finish(&mut reading, slice).await;
        }
        // Every read of the resource says what was found ignored, in its own report too.
        for param in self.ignored_now() {
            if !reading.report.paging.ignored_filters.contains(&param) {
                reading.report.paging.ignored_filters.push(param);
            }
        }
        loop {
            reading.clip = Clip::of(self.resource, slice, &self.ignored_now());
            let outcome = self
                .follow(&mut reading, slice, sequence, next, first.take())
                .await?;
            match outcome {
                Outcome::Done => break,
                Outcome::Ignored(param) => {
                    self.note_ignored(&mut reading.report, param);
                    sequence = self.start(slice);
                    next = 1;
                }
            }
        }
        self.finish(&mut reading, slice).await
    }

    /// Reads on along `sequence` from page `next` of its walk in progress.
    pub(super) async fn follow(
        &self,
        reading: &mut Reading<'_>,
        slice: &Slice,
        sequence: Sequence,
        next: u32,
        first: Option<Fetched>,
    ) -> Result<Outcome, ExtractError> {
        match sequence {
            Sequence::Keyset { since } => {
                let filter = self.resource.range_on(route::KEYSET_FIELD);
                match filter {
                    Some(f) => {
                        reading.report.paging.note_route(Route::Keyset(f));
                        self.keyset(reading, slice, f, since, next, first).await
                    }
                    None => self.offset(reading, slice, next, first).await,
                }
            }
            Sequence::Tiles { after, cap, stack } => {
                let filter = self.resource.ranges.iter().find(|f| f.after == after);
                match filter {
                    Some(f) => {
                        if cap.is_none() {
                            reading.report.paging.note_route(Route::Tiles(f));
                        }
                        self.tiles(reading, slice, f, cap, stack, next, first).await
                    }
                    None => self.offset(reading, slice, next, first).await,
                }
            }
            Sequence::Offset | Sequence::PerKey => self.offset(reading, slice, next, first).await,
        }
    }

    /// The first walk of the best route not yet found ignored.
    pub(super) fn start(&self, slice: &Slice) -> Sequence {
        let ignored = self.ignored.lock().map(|i| i.clone()).unwrap_or_default();
        match route::candidates(self.resource, slice, &ignored)[0] {
            Route::Keyset(f) => Sequence::Keyset {
                since: self.bound(slice, f.after),
            },
            Route::Tiles(f) => Sequence::Tiles {
                after: f.after.to_string(),
                cap: None,
                stack: vec![Tile::root(
                    self.bound(slice, f.after),
                    f.before.and_then(|b| self.bound(slice, b)),
                )],
            },
            Route::Offset => Sequence::Offset,
        }
    }

    /// The equality filter `slice` sets on a field of the resource (`treatment_id` of a
    /// per-treatment slice), unless it is known ignored: every page is checked against it.
    pub(super) fn equality(&self, slice: &Slice) -> Option<(&'static str, String)> {
        let ignored = self.ignored_now();
        let bounds: Vec<&str> = self
            .resource
            .ranges
            .iter()
            .flat_map(|f| std::iter::once(f.after).chain(f.before))
            .collect();
        slice
            .query
            .iter()
            .find(|(k, _)| {
                !bounds.contains(k)
                    && self.resource.field(k).is_some()
                    && !ignored.iter().any(|i| i == k)
            })
            .map(|(k, v)| (*k, v.clone()))
    }

    /// The run's own lower bound (a delta's `updated_after` or `dated_after`), to watch on a
    /// plain walk, unless it is known ignored already.
    pub(super) fn watched_cursor(&self) -> Option<Watched> {
        let ignored = self.ignored_now();
        self.base_query.iter().find_map(|(k, v)| {
            let filter = self.resource.ranges.iter().find(|f| f.after == *k)?;
            if ignored.iter().any(|i| i == k) {
                return None;
            }
            Some(Watched {
                field: filter.field,
                param: filter.after,
                from: micros_of(v)?,
                // Wide: it only reports, and the API may read the bound as UK local time (an
                // hour off in summer). An ignored filter brings rows far older than that.
                slack: Grain::of(self.resource, filter)
                    .micros()
                    .max(WATCH_SLACK_MICROS),
            })
        })
    }

    /// The parameters found ignored so far on this resource.
    pub(super) fn ignored_now(&self) -> Vec<String> {
        self.ignored.lock().map(|i| i.clone()).unwrap_or_default()
    }

    /// Records that the API ignored `param` on this resource: warned once, never relied on
    /// again, named in the manifest.
    pub(super) fn note_ignored(&self, report: &mut SliceReport, param: &'static str) {
        if let Ok(mut ignored) = self.ignored.lock()
            && !ignored.iter().any(|p| p == param)
        {
            ignored.push(param.to_string());
            tracing::warn!(
                resource = self.resource.name,
                filter = param,
                "The API ignored the `{param}` filter of `{}`: reading it another way that does not need it.",
                self.resource.name
            );
        }
        if !report.paging.ignored_filters.iter().any(|p| p == param) {
            report.paging.ignored_filters.push(param.to_string());
        }
    }

    /// A plain offset walk: the route of small lists, and of lists with no honoured filter
    /// (which fail at the wall: nothing narrower exists).
    async fn offset(
        &self,
        reading: &mut Reading<'_>,
        slice: &Slice,
        next: u32,
        first: Option<Fetched>,
    ) -> Result<Outcome, ExtractError> {
        reading.report.paging.note_route(Route::Offset);
        reading.report.sequence = Some(Sequence::Offset);
        let params = self.params(slice, None, &[], Vec::new());
        let walk = Walk {
            params: &params,
            last_page: u32::MAX,
            too_big: None,
            root: true,
        };
        let mut check = Check {
            equals: self.equality(slice),
            cursor: self.watched_cursor(),
            ..Check::default()
        };
        let end = self.walk(reading, &walk, next, first, &mut check).await?;
        match end {
            // An equality filter of the slice (`treatment_id`) the API ignored: read again,
            // keeping the slice's rows only ([`Clip`]).
            End::Ignored(param) => Ok(Outcome::Ignored(param)),
            // Rows the list cannot reach are fetched one by one (recovery).
            End::Wall if self.reads_per_key() => Ok(Outcome::Done),
            End::Wall => Err(ExtractError::Wall {
                resource: self.resource.name.into(),
                slice: slice.label.clone(),
                total: reading.report.total_count,
            }),
            _ => Ok(Outcome::Done),
        }
    }

    /// Reads one walk (one query) from page `from`, within its limits.
    pub(super) async fn walk(
        &self,
        reading: &mut Reading<'_>,
        walk: &Walk<'_>,
        from: u32,
        first: Option<Fetched>,
        check: &mut Check,
    ) -> Result<End, ExtractError> {
        let mut next = from;
        let mut last_full = true;
        // Keys of this walk alone: a page bringing none new repeats the walk (a server clamping
        // the page number), which a read of rows seen by an earlier walk of the slice does not.
        let mut walk_keys = KeySet::default();
        // Full pages in a row that brought no row new to the walk: two mean a server repeating
        // itself; one can be the API's unstable paging serving a page's rows again.
        let mut stale = 0u8;
        if next <= 1 {
            let fetched = match first.filter(|f| f.params == *walk.params && f.number == 1) {
                Some(f) => f,
                None => self.fetch(walk.params, 1).await?,
            };
            if reading.report.page_size == 0 {
                reading.report.page_size = page_size(&fetched);
            }
            reading.report.walk_total = fetched.total;
            reading.report.walk_max = None;
            if walk.root {
                reading.report.total_count = fetched.total;
            }
            let page = self.accept(reading, fetched, check, &mut walk_keys).await?;
            if let Some(param) = page.ignored {
                return Ok(End::Ignored(param));
            }
            last_full = page.full;
            next = 2;
        }
        // Checked on a resumed walk too: a window found too big is cut, not paged deeper.
        if let (Some(max), Some(total)) = (walk.too_big, reading.report.walk_total)
            && total > max
        {
            return Ok(End::TooBig);
        }
        let size = u64::from(reading.report.rows_per_page());
        let expected = reading
            .report
            .walk_total
            .map(|t| u32::try_from(t.div_ceil(size)).unwrap_or(u32::MAX));
        if let Some(pages) = expected
            .map(|p| p.min(walk.last_page))
            .filter(|p| *p >= next)
        {
            let mut stream = futures::stream::iter(next..=pages)
                .map(|p| async move { (p, self.fetch(walk.params, p).await) })
                .buffered(self.concurrency.max(1));
            while let Some((p, fetched)) = stream.next().await {
                let fetched = match fetched {
                    Err(e) if is_deep(&e) => {
                        self.met_wall(reading, p);
                        return Ok(End::Wall);
                    }
                    other => other?,
                };
                let page = self.accept(reading, fetched, check, &mut walk_keys).await?;
                if let Some(param) = page.ignored {
                    return Ok(End::Ignored(param));
                }
                // A short or empty page is the list's end, whatever the total said (a total
                // that overstates, or rows deleted while we read): the total check then sees
                // what is missing (review D5). Pages fetched ahead are dropped.
                if !page.full {
                    return Ok(End::Done);
                }
                stale = if page.new_in_walk { 0 } else { stale + 1 };
                if stale >= 2 {
                    return Ok(End::Done);
                }
                last_full = page.full;
            }
            next = pages + 1;
        }
        // Unknown total, or rows added while we read: go on while pages come back full.
        while last_full
            && reading
                .report
                .walk_total
                .is_none_or(|t| u64::from(next - 1) * size < t)
        {
            if next > walk.last_page {
                return Ok(End::Limit);
            }
            let fetched = match self.fetch(walk.params, next).await {
                Err(e) if is_deep(&e) => {
                    self.met_wall(reading, next);
                    return Ok(End::Wall);
                }
                other => other?,
            };
            let page = self.accept(reading, fetched, check, &mut walk_keys).await?;
            if let Some(param) = page.ignored {
                return Ok(End::Ignored(param));
            }
            // A full page of rows already read is a server repeating itself (a clamped page
            // number): going on would never end (review D5).
            stale = if page.new_in_walk { 0 } else { stale + 1 };
            last_full = page.full && stale < 2;
            next += 1;
        }
        Ok(End::Done)
    }

    fn met_wall(&self, reading: &mut Reading<'_>, page: u32) {
        let size = u64::from(reading.report.rows_per_page());
        self.wall.hit(u64::from(page.saturating_sub(1)) * size);
        reading.report.paging.walls += 1;
    }

    /// Reads `slices[first..]` (the first one from `resume` when given), sending new records to
    /// `out` in slice and page order. The first pages of the following slices are fetched ahead,
    /// `concurrency` at a time, so a resource cut into many small slices (fees per treatment,
    /// month windows) does not pay one round trip after another.
    pub async fn read_all(
        &self,
        slices: &[Slice],
        first: usize,
        resume: Option<Resume>,
        keys: &mut KeySet,
        out: &mpsc::Sender<Page>,
    ) -> Result<(), ExtractError> {
        let mut next = first;
        // Rows read by an earlier session of this run (a resume reloads their keys).
        let read_before = !keys.is_empty();
        let mut rows = 0;
        if let Some(r) = resume {
            if let Some(slice) = slices.get(next) {
                rows += self.read(next, slice, Some(r), keys, out).await?.rows;
            }
            next += 1;
        }
        let mut firsts = futures::stream::iter(next..slices.len())
            .map(|i| async move {
                let params = self.first_params(&slices[i]);
                (i, self.fetch(&params, 1).await)
            })
            .buffered(self.concurrency.max(1));
        while let Some((i, fetched)) = firsts.next().await {
            let fetched = fetched?;
            rows += self
                .read_from(i, &slices[i], None, Some(fetched), keys, out)
                .await?
                .rows;
        }
        drop(firsts);
        // A whole window without a row: an empty diary, or a start the API ignored.
        if !read_before
            && rows == 0
            && let Some(param) = self.ignored_window_start(slices).await?
        {
            let mut noted = SliceReport::default();
            self.note_ignored(&mut noted, param);
            for (i, slice) in slices.iter().enumerate() {
                self.read_from(i, slice, None, None, keys, out).await?;
            }
        }
        Ok(())
    }

    /// The query of page 1 of a slice's first walk (to fetch it ahead).
    fn first_params(&self, slice: &Slice) -> Params {
        match self.start(slice) {
            Sequence::Keyset { since } => self.keyset_params(slice, since),
            Sequence::Tiles { after, stack, .. } => {
                match (
                    self.resource.ranges.iter().find(|f| f.after == after),
                    stack.last(),
                ) {
                    (Some(f), Some(tile)) => self.tile_params(slice, f, tile),
                    _ => self.params(slice, None, &[], Vec::new()),
                }
            }
            Sequence::Offset | Sequence::PerKey => self.params(slice, None, &[], Vec::new()),
        }
    }

    /// Checks, de-duplicates and sends one page.
    async fn accept(
        &self,
        reading: &mut Reading<'_>,
        fetched: Fetched,
        check: &mut Check,
        walk_keys: &mut KeySet,
    ) -> Result<Accepted, ExtractError> {
        let report = &mut reading.report;
        report.pages += 1;
        let ignored = check.page(fetched.records.iter().map(|at| fetched.doc.node(*at)));
        if let Some(param) = check.cursor_ignored.take() {
            // The whole list comes: the read that does not need the filter. Said, not redone.
            check.cursor = None;
            self.note_ignored(report, param);
        }
        report.walk_max = report.walk_max.max(check.max_seen);
        let full =
            !fetched.records.is_empty() && fetched.records.len() >= report.page_size as usize;
        let mut fresh = Vec::with_capacity(fetched.records.len());
        let mut new_in_walk = false;
        for at in fetched.records {
            let node = fetched.doc.node(at);
            // With a window bound ignored, every distinct row of this slice's answers counts
            // towards its total, kept here or not (outside the window, or kept by the slice
            // before, in the day of overlap).
            let new_here = reading.clip.is_some()
                && reading
                    .in_slice
                    .insert(node, self.resource.primary_key)
                    .unwrap_or(true);
            new_in_walk |= walk_keys
                .insert(node, self.resource.primary_key)
                .unwrap_or(true);
            if reading.clip.as_ref().is_some_and(|c| c.outside(node)) {
                report.elsewhere += u64::from(new_here);
                continue;
            }
            // A record without a readable key cannot repeat-check; it is kept.
            if reading
                .keys
                .insert(node, self.resource.primary_key)
                .unwrap_or(true)
            {
                reading.seen.note(node);
                fresh.push(at);
            } else {
                report.duplicates += 1;
                report.elsewhere += u64::from(new_here);
            }
        }
        report.rows += fresh.len() as u64;
        self.send(reading, fetched.number, fetched.doc, fresh)
            .await?;
        Ok(Accepted {
            full,
            new_in_walk,
            ignored,
        })
    }

    /// Sends new records (empty pages too: they carry the progress a checkpoint needs).
    pub(super) async fn send(
        &self,
        reading: &mut Reading<'_>,
        number: u32,
        doc: Doc,
        records: Vec<u32>,
    ) -> Result<(), ExtractError> {
        let page = Page {
            slice: reading.slice_index,
            number,
            doc,
            records,
            progress: reading.report.clone(),
        };
        reading
            .out
            .send(page)
            .await
            .map_err(|_| ExtractError::Cancelled)
    }

    pub(super) fn check_total(
        &self,
        slice: &Slice,
        report: &SliceReport,
    ) -> Result<(), ExtractError> {
        match report.total_count {
            Some(total) if report.rows + report.elsewhere < total => Err(ExtractError::Shortfall {
                resource: self.resource.name.into(),
                slice: slice.label.clone(),
                rows: report.rows,
                total,
            }),
            _ => Ok(()),
        }
    }
}

impl SliceReader<'_> {
    /// Whether missing rows can be fetched one by one (`patient_stats`, per patient).
    pub(super) fn reads_per_key(&self) -> bool {
        self.resource.by_key.is_some()
    }
}

/// The query of a list page of `slice` without its page number: page size, order, the
/// parameters the resource always needs, the run's own (`base`: a delta's cursor bound) and the
/// slice's, less those in `replaced` (a keyset or tile bound takes their place). `run` reads with
/// it and `plan` shows it, so the two cannot drift.
pub fn list_query(
    resource: &Resource,
    sort: Option<&'static str>,
    base: &[(&'static str, String)],
    slice: &Slice,
    replaced: &[&str],
) -> Params {
    let mut q = vec![
        ("per_page", PER_PAGE.to_string()),
        ("sort_by", sort.unwrap_or(resource.sort_by).to_string()),
        ("sort_direction", "asc".to_string()),
    ];
    // Without these the live API leaves rows out (appointments: `cancelled=true`).
    q.extend(
        resource
            .required_params
            .iter()
            .map(|(k, v)| (*k, (*v).to_string())),
    );
    let kept = |(k, _): &&(&'static str, String)| !replaced.contains(k);
    q.extend(base.iter().filter(kept).cloned());
    q.extend(slice.query.iter().filter(kept).cloned());
    q
}

/// A 413: the walk went past the offset wall.
fn is_deep(e: &ExtractError) -> bool {
    matches!(e, ExtractError::Api(ApiError::DeepOffset { .. }))
}

/// Slack of a watched cursor bound: 14 hours, more than any time zone's offset from UTC.
const WATCH_SLACK_MICROS: i64 = 14 * 3_600 * 1_000_000;

/// A `total_count` above this is not a practice's (the largest list seen holds 1.3 M rows):
/// it is refused rather than planned as pages (review D5).
const MAX_PLAUSIBLE_TOTAL: u64 = 1_000_000_000;

/// What reading one page found.
struct Accepted {
    /// As many rows as a page holds.
    full: bool,
    /// A row this walk had not read before.
    new_in_walk: bool,
    /// The filter the page shows ignored.
    ignored: Option<&'static str>,
}

/// The page size the API served: the first page's length when it was short of the total.
fn page_size(first: &Fetched) -> u32 {
    let served = first.records.len() as u32;
    match first.total {
        Some(total) if u64::from(served) < total.min(u64::from(PER_PAGE)) && served > 0 => {
            tracing::warn!(
                served,
                asked = PER_PAGE,
                "The API served fewer rows per page than asked; paging with its size."
            );
            served
        }
        _ => PER_PAGE,
    }
}
