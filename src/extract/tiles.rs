//! Window tiling: a list that cannot be sorted reliably is read as windows of a range filter
//! with both bounds (`updated_after`/`updated_before`, `created_after`/`created_before`,
//! `after`/`before`, `dated_on_after`/`dated_on_before`), each small enough to page by offset.
//!
//! The windows are sized from `total_count`, not guessed: a window's first page says how many
//! rows it holds; one holding more than the wall allows is cut into parts of about half the
//! wall (between the smallest and largest values its first page showed, open ends kept open),
//! and so on down. A 413 inside a window (the wall moved) cuts it too. Rows already read stay:
//! the parts repeat them and the key set drops the repeats.
//!
//! With `cap` set to one page, the same machinery is the recovery of unstable paging: windows
//! narrowed until each fits one page cannot skip rows ([`super::recover`]).

use chrono::Utc;

use super::ExtractError;
use super::pages::{End, Fetched, Outcome, Reading, SliceReader, Walk};
use super::query::Params;
use super::report::Sequence;
use super::route::{Grain, Tile};
use super::slice::Slice;
use super::verify::Check;
use crate::catalog::RangeFilter;

/// Cuts in a row that leave every row in one part before the filter is deemed ignored.
const MAX_SAME_AS_PARENT: u32 = 12;

/// Reads of a window too narrow to cut, in recovery, before its missing rows are given up.
const PAGE_THROUGH_PASSES: usize = 4;

impl SliceReader<'_> {
    /// The query of one window.
    pub(super) fn tile_params(&self, slice: &Slice, filter: &RangeFilter, tile: &Tile) -> Params {
        let grain = Grain::of(self.resource, filter);
        let replaced: Vec<&str> = std::iter::once(filter.after).chain(filter.before).collect();
        self.params(slice, None, &replaced, tile.query(filter, grain))
    }

    /// Reads the windows of `stack` (the last one first, from page `next`).
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn tiles(
        &self,
        reading: &mut Reading<'_>,
        slice: &Slice,
        filter: &'static RangeFilter,
        cap: Option<u64>,
        mut stack: Vec<Tile>,
        mut next: u32,
        mut first: Option<Fetched>,
    ) -> Result<Outcome, ExtractError> {
        let grain = Grain::of(self.resource, filter);
        let now = Utc::now().timestamp_micros();
        while let Some(tile) = stack.last().cloned() {
            reading.report.sequence = Some(Sequence::Tiles {
                after: filter.after.to_string(),
                cap,
                stack: stack.clone(),
            });
            let params = self.tile_params(slice, filter, &tile);
            let page_size = reading.report.rows_per_page();
            let most = cap.unwrap_or_else(|| self.wall.safe_rows());
            let mut check = Check {
                field: Some(filter.field),
                from: tile.from.map(|f| (f, filter.after)),
                to: tile.to.zip(filter.before),
                slack: grain.micros(),
                equals: self.equality(slice),
                cursor: self.watched_cursor(),
                ..Check::default()
            };
            let walk = Walk {
                params: &params,
                last_page: match cap {
                    Some(_) => 1,
                    None => self.wall.safe_pages(page_size),
                },
                too_big: Some(most),
                root: cap.is_none() && stack.len() == 1 && tile.parent_total.is_none(),
            };
            if cap.is_some()
                && reading
                    .stop_at_pages
                    .is_some_and(|p| reading.report.pages >= p)
            {
                // Recovery spent its budget; what is still missing fails the slice.
                break;
            }
            if next <= 1 && cap.is_none() {
                reading.report.paging.tiles += 1;
            }
            let end = self
                .walk(reading, &walk, next, first.take(), &mut check)
                .await?;
            next = 1;
            match end {
                End::Done => {
                    stack.pop();
                }
                End::Ignored(param) => return Ok(Outcome::Ignored(param)),
                End::TooBig | End::Limit | End::Wall => {
                    let total = reading.report.walk_total.unwrap_or(most.saturating_mul(2));
                    let same = if tile.parent_total == Some(total) {
                        tile.same_as_parent + 1
                    } else {
                        0
                    };
                    if same > MAX_SAME_AS_PARENT {
                        // Cut after cut, every row stays in one part: the bounds do nothing.
                        return Ok(Outcome::Ignored(filter.before.unwrap_or(filter.after)));
                    }
                    let seen = check
                        .min_seen
                        .zip(check.max_seen)
                        .map(|(min, max)| (min, max, check.values));
                    let target = (most / 2).max(1);
                    stack.pop();
                    match tile.split(total, target, seen, grain, now) {
                        Some(parts) => {
                            stack.extend(parts.into_iter().rev().map(|mut p| {
                                p.same_as_parent = same;
                                p
                            }));
                        }
                        // Recovery: a window one grain wide holds more than a page (rows
                        // sharing an instant, as a bulk update leaves them). Narrower windows
                        // do not exist: page it through, the best read left.
                        None if cap.is_some() => {
                            self.page_through(reading, &params, &tile, filter, total, check)
                                .await?;
                        }
                        None => {
                            return Err(ExtractError::Stuck {
                                resource: self.resource.name.into(),
                                field: filter.field,
                                rows: most,
                            });
                        }
                    }
                }
            }
        }
        Ok(Outcome::Done)
    }

    /// Recovery's last resort for a window one grain wide that holds `total` rows, more than a
    /// page: pages it through, again while the distinct rows held in it fall short (each read
    /// of an unstable list skips other rows), at most [`PAGE_THROUGH_PASSES`] times.
    async fn page_through(
        &self,
        reading: &mut Reading<'_>,
        params: &Params,
        tile: &Tile,
        filter: &RangeFilter,
        total: u64,
        mut check: Check,
    ) -> Result<(), ExtractError> {
        let pages = self.wall.safe_pages(reading.report.rows_per_page());
        let mut from = 2;
        for _ in 0..PAGE_THROUGH_PASSES {
            let whole = Walk {
                params,
                last_page: pages,
                too_big: None,
                root: false,
            };
            self.walk(reading, &whole, from, None, &mut check).await?;
            let held = reading.seen.count_in(filter.field, tile.from, tile.to);
            if held.is_none_or(|h| h >= total) {
                break;
            }
            from = 1;
        }
        Ok(())
    }
}
