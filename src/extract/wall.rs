//! The offset wall: how deep a list may be paged before the API answers 413.
//!
//! The live API refuses list pages past an offset of roughly 50,000 to 106,000 rows, and the
//! depth drifts with load (api-evidence.md §3). A read that plans from `meta.total_count` stays
//! below the wall instead of hitting it: each offset walk (one keyset segment, one tile) is kept
//! to [`Wall::safe_rows`]. The estimate starts at 85 % of the `[source] offset_wall` setting
//! (45,000 by default: the low end of the evidence minus its drift; 85 % leaves room for a
//! drift of ±10 %) and only goes down: a 413 at offset `o` lowers it to 70 % of `o` (`o` may
//! be a page past the wall at its highest), so one 413 per run teaches every later read of
//! every resource (the wall is the API's, not a resource's) and the drift does not bite again.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

pub use crate::config::DEFAULT_OFFSET_WALL;

/// Share of the configured wall a walk uses (room for the wall's drift).
const CONFIGURED_PERCENT: u64 = 85;

/// Share of an observed 413's offset kept as the new estimate (room for drift).
const MARGIN_PERCENT: u64 = 70;

/// The shared estimate (cheap to clone: every reader of a run sees what one learned).
#[derive(Debug, Clone)]
pub struct Wall {
    rows: Arc<AtomicU64>,
}

impl Default for Wall {
    fn default() -> Self {
        Self::new(DEFAULT_OFFSET_WALL)
    }
}

impl Wall {
    /// A wall believed to stand at about `rows`, drifting.
    pub fn new(rows: u64) -> Self {
        Self {
            rows: Arc::new(AtomicU64::new((rows * CONFIGURED_PERCENT / 100).max(1))),
        }
    }

    /// Rows one offset walk may cover.
    pub fn safe_rows(&self) -> u64 {
        self.rows.load(Ordering::Relaxed)
    }

    /// Pages of `page_size` one offset walk may request (at least one).
    pub fn safe_pages(&self, page_size: u32) -> u32 {
        let pages = self.safe_rows() / u64::from(page_size.max(1));
        u32::try_from(pages).unwrap_or(u32::MAX).max(1)
    }

    /// Records a 413 answered for the page starting at `offset` rows.
    pub fn hit(&self, offset: u64) {
        let lowered = (offset * MARGIN_PERCENT / 100).max(1);
        let before = self.rows.fetch_min(lowered, Ordering::Relaxed);
        if lowered < before {
            tracing::info!(
                offset,
                safe_rows = lowered,
                "The API refused a deep page (413); reads now stay below this depth."
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_413_lowers_the_estimate_with_a_margin_and_never_raises_it() {
        let wall = Wall::new(1_000);
        assert_eq!(wall.safe_pages(100), 8, "850 rows: 8 whole pages");
        wall.hit(1_000);
        assert_eq!(wall.safe_rows(), 700);
        assert_eq!(wall.safe_pages(100), 7);
        wall.hit(50_000);
        assert_eq!(wall.safe_rows(), 700, "a deeper 413 says nothing new");
        wall.hit(0);
        assert_eq!(wall.safe_pages(100), 1, "always at least one page");
    }
}
