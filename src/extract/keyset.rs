//! Keyset continuation: a list sorted by `updated_at`, read in walks that each stay below the
//! offset wall. When a walk reaches its last safe page (or meets a 413 because the wall moved),
//! the next starts again at page 1 with `updated_after` = the largest `updated_at` read, less
//! one second: the rows of that last second come again and are dropped by key, so a boundary
//! the API reads as exclusive, or several rows sharing the instant, lose nothing.
//!
//! Each restart costs one page of overlap, so a table of `n` rows takes about
//! `n / 100 + n / wall` requests. Both the sort and the bound are checked on every page
//! ([`super::verify`]): an API that ignores either sends the reader to the next route.

use super::ExtractError;
use super::pages::{End, Fetched, Outcome, Reading, SliceReader, Walk};
use super::query::Params;
use super::report::Sequence;
use super::route::{Grain, KEYSET_FIELD};
use super::slice::Slice;
use super::verify::Check;
use crate::catalog::RangeFilter;

/// One second, in µs: the overlap of two keyset walks.
const OVERLAP: i64 = 1_000_000;

impl SliceReader<'_> {
    /// The query of the keyset walk starting at `since`.
    pub(super) fn keyset_params(&self, slice: &Slice, since: Option<i64>) -> Params {
        let filter = self.resource.range_on(KEYSET_FIELD);
        let after = filter.map_or("updated_after", |f| f.after);
        // A window whose start the API ignores answers nothing without a cursor bound.
        let since = since.or_else(|| {
            self.window_start_ignored(slice)
                .then_some(super::window_start::EPOCH)
        });
        let bound = since
            .map(|s| vec![(after, Grain::Second.format(s))])
            .unwrap_or_default();
        self.params(slice, Some(KEYSET_FIELD), &[after], bound)
    }

    /// Reads by keyset from the walk starting at `since`, page `next`.
    pub(super) async fn keyset(
        &self,
        reading: &mut Reading<'_>,
        slice: &Slice,
        filter: &'static RangeFilter,
        mut since: Option<i64>,
        mut next: u32,
        mut first: Option<Fetched>,
    ) -> Result<Outcome, ExtractError> {
        let first_since = self.bound(slice, filter.after);
        loop {
            reading.report.sequence = Some(Sequence::Keyset { since });
            let params = self.keyset_params(slice, since);
            let mut check = Check {
                field: Some(KEYSET_FIELD),
                from: since.map(|s| (Grain::Second.floor(s), filter.after)),
                slack: OVERLAP,
                ascending: true,
                equals: self.equality(slice),
                cursor: self.watched_cursor(),
                ..Check::default()
            };
            let walk = Walk {
                params: &params,
                last_page: self.wall.safe_pages(reading.report.rows_per_page()),
                too_big: None,
                root: since == first_since,
            };
            match self
                .walk(reading, &walk, next, first.take(), &mut check)
                .await?
            {
                End::Done => return Ok(Outcome::Done),
                End::Ignored(param) => return Ok(Outcome::Ignored(param)),
                End::Limit | End::Wall | End::TooBig => {
                    let restart = reading
                        .report
                        .walk_max
                        .map(|top| Grain::Second.floor(top - OVERLAP));
                    match restart {
                        Some(r) if since.is_none_or(|s| r > s) => {
                            since = Some(r);
                            next = 1;
                            reading.report.paging.restarts += 1;
                        }
                        _ => {
                            return Err(ExtractError::Stuck {
                                resource: self.resource.name.into(),
                                field: KEYSET_FIELD,
                                rows: self.wall.safe_rows(),
                            });
                        }
                    }
                }
            }
        }
    }
}
