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
//!
//! This file holds the reader and the routes' dispatch; one walk of one query is `walk`, the
//! reports are [`super::report`], the page query is [`super::query`].

mod walk;

use std::sync::{Arc, Mutex};

use futures::StreamExt;
use tokio::sync::mpsc;

use super::ExtractError;
use super::clip::Clip;
use super::dedupe::KeySet;
use super::query::{Params, list_query};
use super::report::{Resume, Sequence, SliceReport};
use super::route::{self, Grain, Route, Tile, micros_of};
use super::seen::Seen;
use super::slice::Slice;
use super::verify::{Check, Watched};
use super::wall::Wall;
use crate::api::{Client, Target};
use crate::catalog::Resource;
use crate::json::{Doc, Kind, Node};

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

/// Slack of a watched cursor bound: 14 hours, more than any time zone's offset from UTC.
const WATCH_SLACK_MICROS: i64 = 14 * 3_600 * 1_000_000;

/// A `total_count` above this is not a practice's (the largest list seen holds 1.3 M rows):
/// it is refused rather than planned as pages (review D5).
const MAX_PLAUSIBLE_TOTAL: u64 = 1_000_000_000;
