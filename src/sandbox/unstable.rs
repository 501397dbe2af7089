//! Unstable bulk paging: pages that serve some rows twice and skip as many, whatever `sort_by`
//! says, as the live API does on `patient_stats` (27,747 rows read, 26,116 distinct: about 6 %
//! duplicated and 6 % missing, B), `treatment_plan_items` and `recalls`.
//!
//! The model is the likely cause: rows near a page boundary tie on the sort key, and each
//! query breaks the ties its own way. For every page boundary a query touches, each of the
//! `⌈per_page / 8⌉` pairs of rows straddling it (`boundary − 1 − k`, `boundary + k`) is
//! swapped with probability 0.4 in that query's order. When the queries of two neighbouring
//! pages disagree about a pair, one row is served twice and the other never: about
//! `2 · 0.4 · 0.6 · ⌈per_page / 8⌉ / per_page` ≈ 6 % of rows at `per_page=100`. `total_count`
//! stays truthful, and a page that holds the whole list (no boundary inside the rows) is
//! always whole, so a client can recover by narrowing its window until each fits one page.
//!
//! Each query's swaps are drawn from the seed, the query and how many times that same query
//! was answered before: a run replays exactly, and a re-read of a page may come back
//! different, as on the live API.

use std::collections::HashMap;
use std::sync::Mutex;

use super::data::rng::Rng;

/// Chance that one straddling pair is swapped in one query's order.
const SWAP: f64 = 0.4;

/// How many times each query was answered (for the swaps of its next answer).
#[derive(Debug, Default)]
pub(crate) struct Attempts {
    seen: Mutex<HashMap<String, u64>>,
}

impl Attempts {
    /// The swap seed of the next answer to `query` (resource, practice and parameters).
    pub(crate) fn next(&self, seed: u64, practice: u32, query: &str) -> u64 {
        let mut seen = self.seen.lock().expect("attempts");
        let n = seen.entry(query.to_string()).or_insert(0);
        let attempt = *n;
        *n += 1;
        Rng::record(seed, practice, &format!("unstable {query}"), attempt).bits("swaps")
    }
}

/// Positions (0-based in the list's order) of the rows of the page at `offset`, in serving
/// order; `swaps` (a seed from [`Attempts::next`]) makes the page wobble at its boundaries.
pub(crate) fn positions(total: u64, offset: u64, per_page: u64, swaps: Option<u64>) -> Vec<u64> {
    let end = offset.saturating_add(per_page).min(total);
    let mut out: Vec<u64> = (offset.min(end)..end).collect();
    let Some(seed) = swaps else { return out };
    let rng = Rng::record(seed, 0, "page", offset);
    let pairs = per_page.div_ceil(8);
    for k in 0..pairs {
        // The boundary the page starts at: the row just before it comes in, row `k` goes.
        if offset > k && offset + k < end && rng.chance(&format!("start{k}"), SWAP) {
            out[k as usize] = offset - 1 - k;
        }
        // The boundary it ends at: the row just after it comes in, row `per_page − 1 − k` goes.
        let boundary = offset.saturating_add(per_page);
        if boundary + k < total
            && boundary >= offset + 1 + k
            && rng.chance(&format!("end{k}"), SWAP)
        {
            out[(boundary - 1 - k - offset) as usize] = boundary + k;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn walk(total: u64, per_page: u64, attempts: &Attempts) -> Vec<u64> {
        let mut seen = Vec::new();
        for page in 0..total.div_ceil(per_page) {
            let swaps = attempts.next(7, 1, &format!("q page={page}"));
            seen.extend(positions(total, page * per_page, per_page, Some(swaps)));
        }
        seen
    }

    #[test]
    fn a_walk_repeats_about_six_percent_and_misses_as_many() {
        let total = 20_000;
        let seen = walk(total, 100, &Attempts::default());
        assert_eq!(seen.len() as u64, total, "each page is full");
        let distinct: BTreeSet<u64> = seen.iter().copied().collect();
        let missing = total - distinct.len() as u64;
        let share = missing as f64 / total as f64;
        assert!((0.04..0.08).contains(&share), "{share}");
        assert!(distinct.iter().all(|&p| p < total));
    }

    #[test]
    fn a_single_page_is_whole_and_stable_paging_is_exact() {
        for swaps in [Some(1), Some(99), None] {
            assert_eq!(positions(60, 0, 100, swaps), (0..60).collect::<Vec<_>>());
        }
        assert_eq!(
            positions(500, 100, 100, None),
            (100..200).collect::<Vec<_>>()
        );
        assert!(positions(50, 100, 100, Some(3)).is_empty());
    }

    #[test]
    fn re_reads_differ_but_replay() {
        let (a, b) = (Attempts::default(), Attempts::default());
        let first = walk(5_000, 100, &a);
        assert_eq!(first, walk(5_000, 100, &b), "same seed, same answers");
        assert_ne!(
            first,
            walk(5_000, 100, &a),
            "a second walk wobbles elsewhere"
        );
    }
}
