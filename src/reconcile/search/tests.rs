//! The search against a fake API whose rows are the table's minus some deleted ones.

use std::collections::{BTreeMap, HashSet};

use super::*;

/// The API: a set of live rows (value, id), optionally with a filter it ignores.
struct FakeApi {
    rows: BTreeMap<i64, i64>,
    ignores_filter: bool,
    requests: u64,
}

impl FakeApi {
    fn inside(&self, range: Range) -> impl Iterator<Item = (&i64, &i64)> {
        let ignore = self.ignores_filter;
        self.rows.iter().filter(move |(v, _)| {
            ignore || (range.from.is_none_or(|f| **v >= f) && range.to.is_none_or(|t| **v < t))
        })
    }
}

impl RangeApi for FakeApi {
    async fn count(&mut self, range: Range) -> Result<u64, String> {
        self.requests += 1;
        Ok(self.inside(range).count() as u64)
    }

    async fn keys(&mut self, range: Range) -> Result<HashSet<Key>, String> {
        let keys: HashSet<Key> = self.inside(range).map(|(_, id)| Key::Int(*id)).collect();
        self.requests += (keys.len() as u64).div_ceil(100).max(1);
        Ok(keys)
    }
}

/// `n` rows one second apart; ids equal to their position.
fn table(n: i64) -> (LocalRows, BTreeMap<i64, i64>) {
    let rows: BTreeMap<i64, i64> = (0..n).map(|i| (1_000_000_000 + i * 1_000_000, i)).collect();
    let local = LocalRows::new(rows.iter().map(|(v, id)| (*v, Key::Int(*id))).collect());
    (local, rows)
}

fn run(
    n: i64,
    deleted: &[i64],
    ignores_filter: bool,
) -> (Result<HashSet<Key>, Fallback>, SearchReport, u64) {
    let (local, mut rows) = table(n);
    rows.retain(|_, id| !deleted.contains(id));
    let mut api = FakeApi {
        rows,
        ignores_filter,
        requests: 0,
    };
    let mut report = SearchReport::default();
    let settings = Settings {
        range_rows: 5_000,
        ..Settings::default()
    };
    let found = futures::executor::block_on(search(
        &local,
        &mut api,
        Grain::SECOND,
        settings,
        &mut report,
    ));
    (found, report, api.requests)
}

fn ints(keys: &HashSet<Key>) -> Vec<i64> {
    let mut v: Vec<i64> = keys
        .iter()
        .map(|k| match k {
            Key::Int(i) => *i,
            Key::Text(_) => -1,
        })
        .collect();
    v.sort_unstable();
    v
}

#[test]
fn no_deletion_costs_the_partition_only() {
    let (found, report, requests) = run(20_000, &[], false);
    assert!(found.unwrap().is_empty());
    // One unfiltered count plus four ranges of 5,000 rows.
    assert_eq!(requests, 5);
    assert_eq!(report.requests, 5);
    assert_eq!(report.ranges_read, 0);
}

#[test]
fn finds_exactly_the_deleted_keys_scattered_and_clustered() {
    for deleted in [
        vec![7],
        vec![3, 4_000, 9_999, 12_345, 19_999, 0, 15_000, 8_000, 8_001, 1],
        (10_000..10_100).collect::<Vec<_>>(),
        (0..100).map(|i| i * 199 + 3).collect::<Vec<_>>(),
    ] {
        let (found, _, requests) = run(20_000, &deleted, false);
        let mut want = deleted.clone();
        want.sort_unstable();
        assert_eq!(ints(&found.unwrap()), want);
        // Far below the 200 pages of a full re-read for small k; never above it by more than
        // one probing bisection per initial range.
        assert!(
            requests <= 5 + 200 + 4,
            "{} deletions cost {requests}",
            deleted.len()
        );
        if deleted.len() == 1 {
            assert!(requests <= 5 + 9 + 1, "one deletion cost {requests}");
        }
        if deleted.len() == 100 && deleted[1] == deleted[0] + 1 {
            // A cluster is isolated by halving: a few requests, not the range's 50 pages.
            assert!(
                requests <= 5 + 2 * 9 + 3,
                "a cluster of 100 cost {requests}"
            );
        }
    }
}

#[test]
fn an_ignored_filter_makes_the_counts_disagree() {
    let (found, _, _) = run(20_000, &[5], true);
    assert_eq!(
        found.unwrap_err(),
        Fallback::CountsDisagree {
            partition: 4 * 19_999,
            total: 19_999
        }
    );
}

#[test]
fn the_request_ceiling_is_never_passed() {
    let (local, mut rows) = table(20_000);
    rows.retain(|_, id| *id % 3 != 0);
    let mut api = FakeApi {
        rows,
        ignores_filter: false,
        requests: 0,
    };
    let mut report = SearchReport::default();
    let settings = Settings {
        max_requests: 50,
        ..Settings::default()
    };
    let found = futures::executor::block_on(search(
        &local,
        &mut api,
        Grain::SECOND,
        settings,
        &mut report,
    ));
    // The ceiling is `max_requests` or, when more, reading every range's keys (a search that
    // gave up below that would cost a full read on top of what it spent).
    let (max_requests, read_all) = (settings.max_requests, 20_000 / 100 + 20_000 / 10_000 + 10);
    let ceiling = max_requests.max(read_all);
    assert!(api.requests <= ceiling, "{} requests", api.requests);
    let deleted = local.len() - api.rows.len();
    match found {
        Ok(gone) => assert_eq!(gone.len(), deleted, "every deletion found"),
        Err(e) => assert_eq!(e, Fallback::TooCostly),
    }
}

#[test]
fn rows_the_table_lacks_are_counted_never_marked() {
    let (local, mut rows) = table(1_000);
    rows.insert(2_000_000_000, 50_000);
    let mut api = FakeApi {
        rows,
        ignores_filter: false,
        requests: 0,
    };
    let mut report = SearchReport::default();
    let found = futures::executor::block_on(search(
        &local,
        &mut api,
        Grain::SECOND,
        Settings::default(),
        &mut report,
    ));
    assert!(found.unwrap().is_empty());
    assert_eq!(report.unseen, 1);
}

#[test]
fn bounds_fall_on_whole_seconds() {
    let local = LocalRows::new((0..30_000).map(|i| (i * 333_333, Key::Int(i))).collect());
    for r in partition(&local, Grain::SECOND, Settings::default()) {
        for b in [r.from, r.to].into_iter().flatten() {
            assert_eq!(b % 1_000_000, 0);
        }
    }
}
