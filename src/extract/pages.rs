//! Reading one slice of a list resource, page by page, exactly once per row.
//!
//! The rules come from what the real API does (dentally-api.md §4):
//! - ask for `per_page=100` with a stable `sort_by`; the API silently caps sizes it dislikes at 25,
//!   so the page size actually served is read off the first page;
//! - `meta.total_count` is reliable, `total_pages` is not: when the total is known the remaining
//!   pages are fetched concurrently (in order), and paging continues past the expected last page
//!   while pages come back full;
//! - stop at a short or empty page; drop rows whose key was already seen;
//! - finish with fewer distinct rows than `total_count` → fail loudly, never truncate silently.

use futures::StreamExt;
use tokio::sync::mpsc;

use super::ExtractError;
use super::dedupe::KeySet;
use super::slice::Slice;
use crate::api::{Client, Target};
use crate::catalog::Resource;
use crate::json::{Doc, Kind, Node};

/// Page size we ask for: the API's documented maximum.
pub const PER_PAGE: u32 = 100;

/// One page of new (not yet seen) records.
#[derive(Debug)]
pub struct Page {
    /// Which slice it belongs to (index into the resource's slices).
    pub slice: usize,
    /// 1-based page number.
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
}

impl Default for SliceTotals {
    fn default() -> Self {
        Self {
            slices: 0,
            pages: 0,
            rows: 0,
            duplicates: 0,
            total_count: Some(0),
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
    }
}

/// Where to pick a slice up again: the next page, and what the pages before it found.
#[derive(Debug, Clone)]
pub struct Resume {
    /// Next page to request.
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
    /// `meta.total_count` of the last page, when sent.
    pub total_count: Option<u64>,
    /// Page size the API actually served.
    pub page_size: u32,
}

/// Everything fixed while reading one resource.
pub struct SliceReader<'a> {
    /// The API client.
    pub client: &'a Client,
    /// The resource.
    pub resource: &'static Resource,
    /// Extra parameters for every request (incremental filters).
    pub base_query: Vec<(&'static str, String)>,
    /// Pages fetched at once.
    pub concurrency: usize,
}

struct Fetched {
    number: u32,
    doc: Doc,
    /// Positions of the envelope's records in `doc`.
    records: Vec<u32>,
    total: Option<u64>,
}

impl SliceReader<'_> {
    fn query(&self, slice: &Slice, page: u32) -> Vec<(&'static str, String)> {
        page_query(self.resource, &self.base_query, slice, page)
    }

    async fn fetch(&self, slice: &Slice, page: u32) -> Result<Fetched, ExtractError> {
        let target = Target {
            resource: self.resource.name,
            page,
        };
        let reply = self
            .client
            .get(self.resource.path, &self.query(slice, page), target)
            .await?;
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
        let total = root
            .get("meta")
            .and_then(|m| m.get("total_count"))
            .and_then(|t| t.number()?.parse().ok());
        Ok(Fetched {
            number: page,
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
        let (mut report, mut next, mut last_full) = match resume {
            Some(r) => (r.report, r.next_page, r.last_full),
            None => {
                let mut report = SliceReport::default();
                let first = self.fetch(slice, 1).await?;
                report.page_size = page_size(&first);
                let full = self
                    .accept(first, slice_index, keys, out, &mut report)
                    .await?;
                (report, 2, full)
            }
        };
        let expected_pages = report
            .total_count
            .map(|t| t.div_ceil(u64::from(report.page_size.max(1))) as u32);
        if let Some(pages) = expected_pages.filter(|p| *p >= next) {
            let mut stream = futures::stream::iter(next..=pages)
                .map(|p| self.fetch(slice, p))
                .buffered(self.concurrency.max(1));
            while let Some(fetched) = stream.next().await {
                last_full = self
                    .accept(fetched?, slice_index, keys, out, &mut report)
                    .await?;
            }
            next = pages + 1;
        }
        // Unknown total, or rows added while we read: go on while pages come back full.
        while last_full
            && report
                .total_count
                .is_none_or(|t| report.rows + report.duplicates < t)
        {
            let fetched = self.fetch(slice, next).await?;
            last_full = self
                .accept(fetched, slice_index, keys, out, &mut report)
                .await?;
            next += 1;
        }
        self.check_total(slice, &report)?;
        Ok(report)
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
        if let Some(r) = resume {
            if let Some(slice) = slices.get(next) {
                self.read(next, slice, Some(r), keys, out).await?;
            }
            next += 1;
        }
        let mut firsts = futures::stream::iter(next..slices.len())
            .map(|i| async move { (i, self.fetch(&slices[i], 1).await) })
            .buffered(self.concurrency.max(1));
        while let Some((i, fetched)) = firsts.next().await {
            let fetched = fetched?;
            let mut report = SliceReport {
                page_size: page_size(&fetched),
                ..SliceReport::default()
            };
            let last_full = self.accept(fetched, i, keys, out, &mut report).await?;
            // The rest of this slice (nothing more when page 1 held it all).
            self.read(
                i,
                &slices[i],
                Some(Resume {
                    next_page: 2,
                    report,
                    last_full,
                }),
                keys,
                out,
            )
            .await?;
        }
        Ok(())
    }

    async fn accept(
        &self,
        fetched: Fetched,
        slice: usize,
        keys: &mut KeySet,
        out: &mpsc::Sender<Page>,
        report: &mut SliceReport,
    ) -> Result<bool, ExtractError> {
        report.pages += 1;
        if fetched.total.is_some() {
            report.total_count = fetched.total;
        }
        let full =
            !fetched.records.is_empty() && fetched.records.len() >= report.page_size as usize;
        let mut fresh = Vec::with_capacity(fetched.records.len());
        for at in fetched.records {
            // A record without a readable key cannot repeat-check; it is kept.
            if keys
                .insert(fetched.doc.node(at), self.resource.primary_key)
                .unwrap_or(true)
            {
                fresh.push(at);
            } else {
                report.duplicates += 1;
            }
        }
        report.rows += fresh.len() as u64;
        // Empty pages are sent too: they carry the progress a checkpoint needs.
        let page = Page {
            slice,
            number: fetched.number,
            doc: fetched.doc,
            records: fresh,
            progress: report.clone(),
        };
        out.send(page).await.map_err(|_| ExtractError::Cancelled)?;
        Ok(full)
    }

    fn check_total(&self, slice: &Slice, report: &SliceReport) -> Result<(), ExtractError> {
        match report.total_count {
            Some(total) if report.rows < total => Err(ExtractError::Shortfall {
                resource: self.resource.name.into(),
                slice: slice.label.clone(),
                rows: report.rows,
                total,
            }),
            _ => Ok(()),
        }
    }
}

/// The parameters of page `page` of `slice` (`plan` shows page 1 of each resource with it).
pub fn page_query(
    resource: &Resource,
    base_query: &[(&'static str, String)],
    slice: &Slice,
    page: u32,
) -> Vec<(&'static str, String)> {
    let mut q = vec![
        ("page", page.to_string()),
        ("per_page", PER_PAGE.to_string()),
        ("sort_by", resource.sort_by.to_string()),
        ("sort_direction", "asc".to_string()),
    ];
    // Without these the live API leaves rows out (appointments: `cancelled=true`).
    q.extend(
        resource
            .required_params
            .iter()
            .map(|(k, v)| (*k, (*v).to_string())),
    );
    q.extend(base_query.iter().cloned());
    q.extend(slice.query.iter().cloned());
    q
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
