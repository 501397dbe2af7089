//! The count-guided search for deleted rows, as a pure algorithm over two oracles: the table's
//! own rows (sorted by the range field) and the API's answers (a count per range, the keys of a
//! range). Kept free of HTTP and Parquet so every branch is unit-tested with a fake API.
//!
//! Why it works: after the run's delta is merged, the table is up to date to the cursor, so in
//! any closed range of a field that never moves without the delta seeing it, the API's count
//! equals the table's live count unless rows in it were deleted. Ranges whose counts agree cost
//! one request and are done; ranges that differ are bisected on the table's own median until
//! reading the range's keys (about one page) is cheaper than splitting it again, and then read.
//!
//! Safety rules (a wrong delete is worse than a missed one):
//! - only a key the table holds and a *read* of its range did not return is ever a candidate;
//!   counts only decide where to look;
//! - the initial partition must add up to the unfiltered `total_count`, or the filter is not
//!   doing what we think (ignored, other bound semantics, rows arriving): the caller falls back;
//! - the caller removes candidates the API still lists elsewhere (rows updated meanwhile).

use std::collections::HashSet;

use super::columns::Key;

/// A half-open range `[from, to)` of the range field, in µs since the epoch (dates at UTC
/// midnight). `None` bounds are open: the first range has no lower bound, the last no upper.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range {
    /// Inclusive lower bound.
    pub from: Option<i64>,
    /// Exclusive upper bound.
    pub to: Option<i64>,
}

impl Range {
    /// Everything.
    pub const ALL: Range = Range {
        from: None,
        to: None,
    };
}

/// What the search needs from the API.
pub trait RangeApi {
    /// `meta.total_count` of the list restricted to `range` (`Range::ALL`: unfiltered).
    async fn count(&mut self, range: Range) -> Result<u64, String>;
    /// Every key the list returns for `range`.
    async fn keys(&mut self, range: Range) -> Result<HashSet<Key>, String>;
}

/// The table's live rows: range-field values (sorted ascending) with their keys.
#[derive(Debug, Default)]
pub struct LocalRows {
    rows: Vec<(i64, Key)>,
}

impl LocalRows {
    /// From unsorted `(value, key)` pairs.
    pub fn new(mut rows: Vec<(i64, Key)>) -> Self {
        rows.sort_unstable_by_key(|r| r.0);
        Self { rows }
    }

    /// Live rows held.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Index range of the rows inside `range`.
    fn span(&self, range: Range) -> std::ops::Range<usize> {
        let lo = range
            .from
            .map_or(0, |f| self.rows.partition_point(|r| r.0 < f));
        let hi = range
            .to
            .map_or(self.rows.len(), |t| self.rows.partition_point(|r| r.0 < t));
        lo..hi.max(lo)
    }

    fn count(&self, range: Range) -> u64 {
        self.span(range).len() as u64
    }

    /// The keys of the rows inside `range`.
    pub fn keys_in(&self, range: Range) -> impl Iterator<Item = Key> + '_ {
        self.keys(range)
    }

    fn keys(&self, range: Range) -> impl Iterator<Item = Key> + '_ {
        self.rows[self.span(range)].iter().map(|r| r.1)
    }
}

/// How the search snaps bounds: API parameters carry whole seconds (timestamps) or whole days
/// (dates), so every bound is a multiple of this many µs.
#[derive(Debug, Clone, Copy)]
pub struct Grain(pub i64);

impl Grain {
    /// Whole seconds.
    pub const SECOND: Grain = Grain(1_000_000);
    /// Whole days.
    pub const DAY: Grain = Grain(86_400_000_000);

    fn floor(self, v: i64) -> i64 {
        v.div_euclid(self.0) * self.0
    }
}

/// Limits and sizes of one search.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    /// Rows per page the API serves.
    pub page_rows: u64,
    /// Target live rows per initial range.
    pub range_rows: u64,
    /// Most initial ranges.
    pub max_ranges: usize,
    /// Most requests the search may make before it gives up, unless reading every range's keys
    /// costs more (then that is the cap: a search that gives up costs a full read on top).
    pub max_requests: u64,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            page_rows: 100,
            range_rows: 10_000,
            max_ranges: 200,
            max_requests: 5_000,
        }
    }
}

/// What the search found and what it cost.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct SearchReport {
    /// Ranges whose count was asked (initial partition and halves).
    pub ranges_counted: u64,
    /// Ranges split in two because their counts differed.
    pub ranges_bisected: u64,
    /// Ranges whose keys were read.
    pub ranges_read: u64,
    /// Requests made (counts plus the pages of the reads).
    pub requests: u64,
    /// Keys the API listed that the table does not hold (created after the delta; the next
    /// delta reads them).
    pub unseen: u64,
}

/// Why the search cannot be trusted for this resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fallback {
    /// The initial partition's counts do not add up to the unfiltered total.
    CountsDisagree {
        /// Sum of the partition's counts.
        partition: u64,
        /// Unfiltered `total_count`.
        total: u64,
    },
    /// The search would cost more than `max_requests`.
    TooCostly,
    /// An API request failed.
    Api(String),
}

/// Runs the search; `Ok` holds the keys the table holds that the API no longer lists in their
/// range (candidates: the caller checks them against rows updated meanwhile).
pub async fn search(
    local: &LocalRows,
    api: &mut impl RangeApi,
    grain: Grain,
    settings: Settings,
    report: &mut SearchReport,
) -> Result<HashSet<Key>, Fallback> {
    // Never less than reading every range's keys: the search picks, per range, bisection or a
    // read, so it stays within about a full read's cost; a cap below that would give up on
    // many deletions in a large table, where finishing is the cheapest way to mark them.
    let rows = local.len() as u64;
    let read_all =
        rows.div_ceil(settings.page_rows.max(1)) + rows.div_ceil(settings.range_rows.max(1)) + 10;
    let mut budget = Budget {
        left: settings.max_requests.max(read_all),
        report,
    };
    let total = budget.count(api, Range::ALL).await?;
    let mut work = Vec::new();
    let mut sum = 0;
    for range in partition(local, grain, settings) {
        let count = budget.count(api, range).await?;
        sum += count;
        work.push((range, count));
    }
    if sum != total {
        return Err(Fallback::CountsDisagree {
            partition: sum,
            total,
        });
    }
    let mut work: Vec<Pending> = work
        .into_iter()
        .map(|(range, count)| Pending {
            range,
            count,
            clustered: true,
        })
        .collect();
    let mut candidates = HashSet::new();
    while let Some(Pending {
        range,
        count: api_count,
        clustered,
    }) = work.pop()
    {
        let ours = local.count(range);
        if api_count == ours {
            continue;
        }
        let split = (api_count < ours
            && bisecting_pays(ours, ours - api_count, clustered, settings))
        .then(|| split_point(local, range, grain))
        .flatten();
        match split {
            Some(at) => {
                budget.report.ranges_bisected += 1;
                let left = Range {
                    from: range.from,
                    to: Some(at),
                };
                let right = Range {
                    from: Some(at),
                    to: range.to,
                };
                let left_count = budget.count(api, left).await?;
                let right_count = api_count.saturating_sub(left_count);
                // Deletions all on one side look clustered: keep halving towards them.
                // Missing rows on both sides look scattered: read unless halving still pays
                // for every one of them.
                let left_short = left_count < local.count(left);
                let right_short = right_count < local.count(right);
                let one_sided = left_short != right_short;
                work.push(Pending {
                    range: right,
                    count: right_count,
                    clustered: one_sided,
                });
                work.push(Pending {
                    range: left,
                    count: left_count,
                    clustered: one_sided,
                });
            }
            None => {
                let listed = budget.read(api, range, api_count, settings).await?;
                let held: HashSet<Key> = local.keys(range).collect();
                budget.report.unseen += listed.iter().filter(|k| !held.contains(k)).count() as u64;
                candidates.extend(held.into_iter().filter(|k| !listed.contains(k)));
            }
        }
    }
    Ok(candidates)
}

/// A range still to settle: its API count, and whether its missing rows look clustered.
struct Pending {
    range: Range,
    count: u64,
    clustered: bool,
}

/// Whether to halve a range rather than read it. A range of more than a page is halved when
/// its missing rows look clustered and are fewer than half its rows (halving costs one request
/// a level and soon isolates them), or when, scattered, one bisection path per missing row is
/// still cheaper than reading every page.
fn bisecting_pays(rows: u64, missing: u64, clustered: bool, s: Settings) -> bool {
    let read = rows.div_ceil(s.page_rows.max(1));
    if read <= 1 || missing >= rows {
        return false;
    }
    let depth = u64::from(read.ilog2()) + 1;
    clustered && missing.saturating_mul(2) < rows || missing.saturating_mul(depth + 1) < read
}

/// The initial ranges: about `range_rows` live rows each, cut at grain boundaries, the first
/// open below and the last open above so that together they cover every possible row.
pub(crate) fn partition(local: &LocalRows, grain: Grain, s: Settings) -> Vec<Range> {
    let n = local.len() as u64;
    // At least two ranges whenever there are two rows: a single range from 1970 to 2100 would
    // count everything even with a bound ignored, and the sum check would prove nothing.
    let least = n.clamp(1, 2);
    let pieces = n
        .div_ceil(s.range_rows.max(1))
        .clamp(least, (s.max_ranges as u64).max(least)) as usize;
    let mut cuts: Vec<i64> = (1..pieces)
        .map(|i| grain.floor(local.rows[i * local.len() / pieces].0))
        .collect();
    cuts.dedup();
    let mut ranges = Vec::with_capacity(cuts.len() + 1);
    let mut from = None;
    for cut in cuts {
        if from.is_some_and(|f| cut <= f) {
            continue;
        }
        ranges.push(Range {
            from,
            to: Some(cut),
        });
        from = Some(cut);
    }
    ranges.push(Range { from, to: None });
    ranges
}

/// A grain boundary strictly inside `range` near the median of its rows, if there is one.
fn split_point(local: &LocalRows, range: Range, grain: Grain) -> Option<i64> {
    let span = local.span(range);
    if span.len() < 2 {
        return None;
    }
    let inside = |at: i64| range.from.is_none_or(|f| at > f) && range.to.is_none_or(|t| at < t);
    let median = local.rows[span.start + span.len() / 2].0;
    let down = grain.floor(median);
    let up = down + grain.0;
    [down, up].into_iter().find(|at| {
        inside(*at)
            && local.count(Range {
                from: range.from,
                to: Some(*at),
            }) > 0
            && local.count(Range {
                from: Some(*at),
                to: range.to,
            }) > 0
    })
}

/// Counts requests against the search's ceiling.
struct Budget<'a> {
    left: u64,
    report: &'a mut SearchReport,
}

impl Budget<'_> {
    fn spend(&mut self, requests: u64) -> Result<(), Fallback> {
        if requests > self.left {
            return Err(Fallback::TooCostly);
        }
        self.left -= requests;
        self.report.requests += requests;
        Ok(())
    }

    async fn count(&mut self, api: &mut impl RangeApi, range: Range) -> Result<u64, Fallback> {
        self.spend(1)?;
        self.report.ranges_counted += 1;
        api.count(range).await.map_err(Fallback::Api)
    }

    async fn read(
        &mut self,
        api: &mut impl RangeApi,
        range: Range,
        rows: u64,
        s: Settings,
    ) -> Result<HashSet<Key>, Fallback> {
        self.spend(rows.div_ceil(s.page_rows).max(1))?;
        self.report.ranges_read += 1;
        api.keys(range).await.map_err(Fallback::Api)
    }
}

#[cfg(test)]
mod tests;
