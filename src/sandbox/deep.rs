//! The deep-offset wall: past an offset of roughly 50,000–106,000 rows, a list page of the
//! live API answers HTTP 413 Content Too Large, and the threshold drifts with load
//! (`../shared/docs/api-evidence.md` §3, B). A first full read of a big table by offset alone
//! cannot finish; the client must narrow its reads with filters.
//!
//! The sandbox's wall is `SandboxConfig::deep_offset` rows with a drift of up to ±10 %, drawn
//! from the seed and re-drawn every [`DRIFT_EVERY`] list requests, so a run replays exactly
//! while a client cannot learn one fixed threshold. The wall applies to the page's offset
//! (`(page − 1) × per_page`), whatever the list's length.

use std::sync::atomic::{AtomicU64, Ordering};

use super::data::rng::Rng;
use super::error::ApiError;

/// List requests between two draws of the drift.
pub(crate) const DRIFT_EVERY: u64 = 100;
/// Largest drift, as a share of the configured wall.
const DRIFT: f64 = 0.10;

/// The wall of a sandbox: its configured depth and a count of list requests.
#[derive(Debug)]
pub(crate) struct Wall {
    seed: u64,
    rows: Option<u64>,
    requests: AtomicU64,
}

impl Wall {
    /// A wall `rows` deep (`None`: no wall).
    pub(crate) fn new(seed: u64, rows: Option<u64>) -> Wall {
        Wall {
            seed,
            rows,
            requests: AtomicU64::new(0),
        }
    }

    /// The deepest offset served to the next list request, if there is a wall.
    fn next_limit(&self) -> Option<u64> {
        let rows = self.rows?;
        let n = self.requests.fetch_add(1, Ordering::Relaxed);
        let rng = Rng::record(self.seed, 0, "deep_offset", n / DRIFT_EVERY);
        let factor = 1.0 + DRIFT * (2.0 * rng.unit("drift") - 1.0);
        Some((rows as f64 * factor).round() as u64)
    }

    /// Refuses a list request whose page starts past the wall.
    pub(crate) fn check(&self, offset: u64) -> Result<(), ApiError> {
        match self.next_limit() {
            Some(limit) if offset > limit => Err(ApiError::ContentTooLarge { offset }),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wall_drifts_within_ten_percent() {
        let wall = Wall::new(5, Some(1_000));
        let limits: Vec<u64> = (0..2_000).filter_map(|_| wall.next_limit()).collect();
        assert!(limits.iter().all(|l| (900..=1_100).contains(l)));
        let distinct: std::collections::BTreeSet<_> = limits.iter().collect();
        assert!(distinct.len() > 5, "it drifts");
        assert!(
            limits[..DRIFT_EVERY as usize]
                .iter()
                .all(|l| *l == limits[0])
        );
        assert!(Wall::new(5, Some(1_000)).check(899).is_ok());
        assert!(Wall::new(5, Some(1_000)).check(1_101).is_err());
        assert!(Wall::new(5, None).check(u64::MAX).is_ok());
    }
}
