//! Answering a list request without materialising the resource.
//!
//! Records live in an index space: base records `0..base` (generated on demand), appended ones
//! after them; ids follow indices. A request becomes
//! * a range of base indices, narrowed by binary search when a filter bounds a resource's window
//!   field (appointments by `start_time`, rota days by `day`) or asks for changes after the
//!   clock started (`updated_after` later than any base record);
//! * plus the "explicit" indices the overlay touched (updated or appended), always checked
//!   against every filter.
//!
//! With nothing else to check and the default (id) order, a page is located arithmetically:
//! page 5,000 of a million patients costs one binary search and 25 records. Other filters scan
//! the range; other sort orders collect `(key, index)` pairs and sort them. Either way only the
//! rows of the page are rendered.

use serde_json::Value;

use crate::catalog::{self, FieldType, Window};

use super::data::conform::conform;
use super::data::rng::Rng;
use super::data::{Updated, rota};
use super::matching::{Key, holds, holds_at};
use super::order_cache::OrderCache;
use super::query::{Filter, ListQuery, Sort};
use super::store::View;
use super::unstable;

/// One page of a list and the number of rows matching the request.
#[derive(Debug)]
pub(crate) struct Page {
    /// The page's records, conformed to the catalog.
    pub rows: Vec<Value>,
    /// `meta.total_count`.
    pub total: u64,
}

/// The page `query` asks for. `unstable` (a seed) perturbs the default order, as the
/// unstable-order fault does; it has no effect when `sort_by` was given. `swaps` (a seed)
/// makes the page wobble at its boundaries whatever the order (see `unstable`). Rows that had
/// to be scanned and sorted are kept in `cache` for the next pages of the same query.
pub(crate) fn list(
    view: &View<'_>,
    resource: &'static catalog::Resource,
    query: &ListQuery,
    unstable: Option<u64>,
    swaps: Option<u64>,
    cache: &OrderCache,
) -> Page {
    let base = view.base_len();
    let deleted = &view.changes.deleted;
    let explicit: Vec<u64> = {
        let mut v: Vec<u64> = view
            .changes
            .updated
            .keys()
            .copied()
            .chain(base..view.index_len())
            .filter(|i| !deleted.contains(i))
            .collect();
        v.sort_unstable();
        v.dedup();
        v
    };
    let excluded: Vec<u64> = {
        let mut v: Vec<u64> = deleted
            .iter()
            .chain(view.changes.updated.keys())
            .copied()
            .filter(|&i| i < base)
            .collect();
        v.sort_unstable();
        v.dedup();
        v
    };
    let (lo, hi, resolved) = narrow(view, resource, query);
    let residual: Vec<&Filter> = query
        .filters
        .iter()
        .enumerate()
        .filter(|(i, _)| !resolved.contains(i))
        .map(|(_, f)| f)
        .collect();
    let matches_all = |raw: &Value| query.filters.iter().all(|f| holds(view, f, raw));
    let explicit: Vec<u64> = explicit
        .into_iter()
        .filter(|&i| view.raw(i).is_some_and(|r| matches_all(&r)))
        .collect();
    let natural = match &query.sort {
        None => Some(false),
        Some(Sort {
            field, descending, ..
        }) if *field == "id" || *field == resource.primary_key => Some(*descending),
        Some(_) => None,
    };
    let unstable = unstable.filter(|_| !query.sort_requested);
    let offset = shifted(query, unstable);
    let (indices, total) = match natural {
        Some(descending) if residual.is_empty() => {
            let implicit = (hi - lo) - count_in(&excluded, lo, hi);
            let total = implicit + explicit.len() as u64;
            let picks: Vec<u64> = page_positions(total, offset, query.per_page, descending, swaps)
                .map(|k| nth(k, lo, hi, &excluded, &explicit, view.index_len()))
                .collect();
            (picks, total)
        }
        _ => {
            let scan = || {
                let mut found: Vec<u64> = Vec::new();
                let mut keyed: Vec<(Key, u64)> = Vec::new();
                let cheap_updated = match view.table.stamps.map(|s| s.updated) {
                    Some(Updated::Cheap(key)) => Some(key),
                    _ => None,
                };
                let by_key = |f: &&Filter| {
                    cheap_updated.is_some()
                        && matches!(
                            f,
                            Filter::From {
                                field: "updated_at",
                                ..
                            } | Filter::Until {
                                field: "updated_at",
                                ..
                            }
                        )
                };
                // Sorting by `updated_at` (the default under `updated_after`) needs no record
                // where the stamp is cheap.
                let by_updated = query
                    .sort
                    .as_ref()
                    .is_some_and(|s| s.field == "updated_at" && s.ty == FieldType::Timestamp);
                let (cheap, costly): (Vec<&Filter>, Vec<&Filter>) =
                    residual.iter().copied().partition(by_key);
                for i in merged(lo, hi, &excluded, &explicit) {
                    let implicit = (lo..hi).contains(&i) && excluded.binary_search(&i).is_err();
                    if implicit && let Some(key) = cheap_updated {
                        let at = key(view.world, i);
                        if !cheap.iter().all(|f| holds_at(f, at)) {
                            continue;
                        }
                        if costly.is_empty() && natural.is_some() {
                            found.push(i);
                            continue;
                        }
                        if costly.is_empty() && by_updated {
                            keyed.push((Key::Number(at as f64), i));
                            continue;
                        }
                    }
                    let Some(raw) = view.raw(i) else { continue };
                    if implicit && !costly.iter().all(|f| holds(view, f, &raw)) {
                        continue;
                    }
                    match (&query.sort, natural) {
                        (Some(sort), None) => keyed.push((Key::of(&raw, sort), i)),
                        _ => found.push(i),
                    }
                }
                if natural.is_none() {
                    keyed.sort();
                    found = keyed.into_iter().map(|(_, i)| i).collect();
                }
                found
            };
            let key = format!(
                "p{} {} {:?} {:?} g{}",
                view.world.practice, resource.name, query.filters, query.sort, view.generation
            );
            let found = cache.get_or(key, scan);
            let descending = query.sort.as_ref().is_some_and(|s| s.descending);
            let total = found.len() as u64;
            let picks = page_positions(total, offset, query.per_page, descending, swaps)
                .map(|k| found[k as usize])
                .collect();
            (picks, total)
        }
    };
    let mut rows: Vec<Value> = indices
        .into_iter()
        .filter_map(|i: u64| view.raw(i))
        .map(|r| conform(resource, r))
        .collect();
    if let Some(seed) = unstable {
        shuffle(&mut rows, seed);
    }
    Page { rows, total }
}

/// The page's offset, moved by up to half a page (never zero) when the order is unstable.
/// The first page is never moved: an answer that fits one page comes back whole, as from any
/// server (moving it would make the list's first rows unreachable by every query, which no
/// evidence reports and no client could recover from).
fn shifted(query: &ListQuery, unstable: Option<u64>) -> u64 {
    let offset = query.offset();
    let Some(seed) = unstable.filter(|_| offset > 0) else {
        return offset;
    };
    let rng = Rng::record(seed, 0, "unstable", offset);
    let reach = (query.per_page / 2).max(1) as i64;
    let mut delta = rng.range("delta", 1, reach);
    if rng.chance("back", 0.5) {
        delta = -delta;
    }
    (offset as i64 + delta).max(0) as u64
}

fn shuffle(rows: &mut [Value], seed: u64) {
    let rng = Rng::record(seed, 0, "shuffle", 0);
    for i in (1..rows.len()).rev() {
        rows.swap(i, rng.below(&format!("s{i}"), i as u64 + 1) as usize);
    }
}

/// Positions (in index order) of the rows of a page, wobbling when `swaps` is given.
fn page_positions(
    total: u64,
    offset: u64,
    per_page: u64,
    descending: bool,
    swaps: Option<u64>,
) -> impl Iterator<Item = u64> {
    unstable::positions(total, offset, per_page, swaps)
        .into_iter()
        .map(move |k| if descending { total - 1 - k } else { k })
}

fn count_in(sorted: &[u64], lo: u64, hi: u64) -> u64 {
    (sorted.partition_point(|&x| x < hi) - sorted.partition_point(|&x| x < lo)) as u64
}

/// The index of the `k`-th row of `[lo, hi) \ excluded ∪ explicit`, in index order.
fn nth(k: u64, lo: u64, hi: u64, excluded: &[u64], explicit: &[u64], len: u64) -> u64 {
    let count_le = |x: u64| {
        let top = (x + 1).clamp(lo, hi);
        (top - lo) - count_in(excluded, lo, top) + explicit.partition_point(|&e| e <= x) as u64
    };
    let (mut a, mut b) = (0u64, len);
    while a < b {
        let mid = a + (b - a) / 2;
        if count_le(mid) > k {
            b = mid
        } else {
            a = mid + 1
        }
    }
    a
}

/// Indices of `[lo, hi) \ excluded` merged with `explicit`, ascending, without duplicates.
fn merged<'a>(
    lo: u64,
    hi: u64,
    excluded: &'a [u64],
    explicit: &'a [u64],
) -> impl Iterator<Item = u64> + 'a {
    let mut implicit = (lo..hi)
        .filter(move |i| excluded.binary_search(i).is_err())
        .peekable();
    let mut extra = explicit.iter().copied().peekable();
    std::iter::from_fn(
        move || match (implicit.peek().copied(), extra.peek().copied()) {
            (Some(a), Some(b)) if a == b => {
                implicit.next();
                extra.next()
            }
            (Some(a), Some(b)) if a < b => implicit.next(),
            (Some(_), Some(_)) | (None, Some(_)) => extra.next(),
            (Some(_), None) => implicit.next(),
            (None, None) => None,
        },
    )
}

/// The base range that can hold matches, and the filters that range already guarantees for
/// unchanged base rows.
fn narrow(
    view: &View<'_>,
    resource: &catalog::Resource,
    query: &ListQuery,
) -> (u64, u64, Vec<usize>) {
    let (mut lo, mut hi) = (0, view.base_len());
    let mut resolved = Vec::new();
    let window_field = match resource.window {
        Window::Required { field, .. } => Some(field),
        _ => None,
    };
    let key = view.table.window;
    let stamps = view.table.stamps;
    let first_at_least = |x: i64| -> u64 {
        let key = key.expect("window key");
        partition(view.base_len(), |i| key(view.world, i) < x)
    };
    for (n, filter) in query.filters.iter().enumerate() {
        match *filter {
            Filter::From { field, ms } if key.is_some() && Some(field) == window_field => {
                lo = lo.max(first_at_least(ms));
                resolved.push(n);
            }
            Filter::Until { field, ms } if key.is_some() && Some(field) == window_field => {
                hi = hi.min(first_at_least(ms));
                resolved.push(n);
            }
            Filter::DateFrom { field, date } if key.is_some() && Some(field) == window_field => {
                lo = lo.max(first_at_least(rota::day_number(date)));
                resolved.push(n);
            }
            Filter::DateUntil { field, date } if key.is_some() && Some(field) == window_field => {
                hi = hi.min(first_at_least(rota::day_number(date)));
                resolved.push(n);
            }
            Filter::Equals { field, ref value }
                if view.table.grouped.is_some_and(|(f, _)| f == field) =>
            {
                let Ok(v) = value.parse::<i64>() else {
                    continue;
                };
                let (_, key) = view.table.grouped.expect("grouped");
                let at_least = |x: i64| partition(view.base_len(), |i| key(view.world, i) < x);
                lo = lo.max(at_least(v));
                hi = hi.min(at_least(v.saturating_add(1)));
                resolved.push(n);
            }
            Filter::From {
                field: "updated_at" | "created_at",
                ms,
            } if ms > view.world.now => {
                hi = lo;
                resolved.push(n);
            }
            Filter::From { field, ms } | Filter::Until { field, ms }
                if stamps.is_some() && matches!(field, "created_at" | "updated_at") =>
            {
                let st = stamps.expect("stamps");
                let created_from =
                    |x: i64| partition(view.base_len(), |i| (st.created)(view.world, i) < x);
                let exact = field == "created_at" || matches!(st.updated, Updated::SameAsCreated);
                if matches!(filter, Filter::From { .. }) {
                    // updated ≤ created + max_lag: rows created before `ms − max_lag` are out.
                    lo = lo.max(created_from(if exact {
                        ms
                    } else {
                        ms.saturating_sub(st.max_lag)
                    }));
                } else {
                    // updated ≥ created: rows created at or after `ms` are out.
                    hi = hi.min(created_from(ms));
                }
                if exact {
                    resolved.push(n);
                }
            }
            _ => {}
        }
    }
    (lo, hi.max(lo), resolved)
}

/// The first index in `0..n` for which `below` is false (`below` must be monotone).
fn partition(n: u64, below: impl Fn(u64) -> bool) -> u64 {
    let (mut a, mut b) = (0u64, n);
    while a < b {
        let mid = a + (b - a) / 2;
        if below(mid) { a = mid + 1 } else { b = mid }
    }
    a
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nth_skips_excluded_and_merges_explicit() {
        // range [2, 8) minus {3, 5}, plus explicit {1, 10}: 1 2 4 6 7 10
        let rows: Vec<u64> = (0..6)
            .map(|k| nth(k, 2, 8, &[3, 5], &[1, 10], 12))
            .collect();
        assert_eq!(rows, [1, 2, 4, 6, 7, 10]);
        let all: Vec<u64> = merged(2, 8, &[3, 5], &[1, 10]).collect();
        assert_eq!(all, rows);
    }
}
