//! The rows of the last few scanned queries, in serving order, so that paging through a
//! filtered or sorted list costs one scan, not one per page.
//!
//! A list the sandbox cannot page arithmetically (a filter to check on every row, an order other
//! than id) is scanned and sorted; a keyset or tiled read then asks for page after page of the
//! same query, and at large scales rescanning per page would make the emulator, not the client,
//! the slow part of a benchmark. Entries are keyed by the practice, the query's filters and order
//! and the overlay's generation (bumped by every change), so a stale answer is never reused.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

/// Queries remembered (least recently used dropped first).
const CAPACITY: usize = 8;

/// The cache of a sandbox.
#[derive(Debug, Default)]
pub(crate) struct OrderCache {
    entries: Mutex<VecDeque<(String, Arc<Vec<u64>>)>>,
}

impl OrderCache {
    /// The rows of `key`, computed by `scan` unless remembered.
    pub(crate) fn get_or(&self, key: String, scan: impl FnOnce() -> Vec<u64>) -> Arc<Vec<u64>> {
        {
            let mut entries = self.entries.lock().expect("order cache");
            if let Some(at) = entries.iter().position(|(k, _)| *k == key) {
                let entry = entries.remove(at).expect("position is in range");
                let rows = entry.1.clone();
                entries.push_back(entry);
                return rows;
            }
        }
        // Scanned outside the lock: other requests go on meanwhile.
        let rows = Arc::new(scan());
        let mut entries = self.entries.lock().expect("order cache");
        if entries.len() == CAPACITY {
            entries.pop_front();
        }
        entries.push_back((key, rows.clone()));
        rows
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_the_last_queries() {
        let cache = OrderCache::default();
        let mut scans = 0;
        for _ in 0..3 {
            let rows = cache.get_or("a".into(), || {
                scans += 1;
                vec![3, 1, 2]
            });
            assert_eq!(*rows, [3, 1, 2]);
        }
        assert_eq!(scans, 1);
        for k in 0..CAPACITY {
            cache.get_or(format!("k{k}"), Vec::new);
        }
        cache.get_or("a".into(), || {
            scans += 1;
            Vec::new()
        });
        assert_eq!(scans, 2, "evicted after {CAPACITY} other queries");
    }
}
