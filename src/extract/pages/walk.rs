//! One walk: a single query read page by page from page 1 (or a resumed page) within its
//! limits (the offset wall, a too-big total), each page checked against the filters it relies on,
//! de-duplicated against the slice and the walk, and sent on. The walk ends at the first short
//! page, a 413, an ignored filter, or two full pages in a row that bring nothing new to it.

use futures::StreamExt;

use super::{End, Fetched, Reading, SliceReader, Walk};
use crate::api::ApiError;
use crate::extract::ExtractError;
use crate::extract::dedupe::KeySet;
use crate::extract::query::PER_PAGE;
use crate::extract::verify::Check;

impl SliceReader<'_> {
    /// Reads one walk (one query) from page `from`, within its limits.
    pub(in crate::extract) async fn walk(
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
}

/// What reading one page found.
struct Accepted {
    /// As many rows as a page holds.
    full: bool,
    /// A row this walk had not read before.
    new_in_walk: bool,
    /// The filter the page shows ignored.
    ignored: Option<&'static str>,
}

/// A 413: the walk went past the offset wall.
fn is_deep(e: &ExtractError) -> bool {
    matches!(e, ExtractError::Api(ApiError::DeepOffset { .. }))
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
