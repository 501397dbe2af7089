//! The per-user request budget, in fixed windows aligned like Dentally's clock hour.
//!
//! Each token owner (per practice) has a counter per window; windows start at multiples of the
//! window length since the Unix epoch, so with the default one-hour window they reset on the
//! hour, and `X-RateLimit-Reset` is the epoch second the current window ends. Wall-clock time
//! is used (not the simulated clock), so a test with a 2-second window can watch a reset.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::config::RateLimitConfig;

/// The state of one budget at one instant, for the `X-RateLimit-*` headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Quota {
    /// Requests per window.
    pub limit: u32,
    /// Requests left in this window.
    pub remaining: u32,
    /// Epoch seconds of the window's end.
    pub reset: u64,
    /// Seconds until the window's end (at least 1), for `Retry-After`.
    pub retry_after: u64,
    /// Time since the window started.
    pub since_reset: Duration,
}

/// Budgets of every owner.
#[derive(Debug)]
pub(crate) struct Limiter {
    config: RateLimitConfig,
    windows: Mutex<HashMap<String, (u64, u32)>>,
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis() as u64
}

impl Limiter {
    /// A limiter with `config`.
    pub(crate) fn new(config: RateLimitConfig) -> Limiter {
        Limiter {
            config,
            windows: Mutex::new(HashMap::new()),
        }
    }

    /// The configuration.
    pub(crate) fn config(&self) -> &RateLimitConfig {
        &self.config
    }

    fn window_ms(&self) -> u64 {
        (self.config.window.as_millis() as u64).max(1)
    }

    /// Spends one request of `owner`'s budget: `Ok` with the quota after it, or `Err` with the
    /// (exhausted) quota when the budget is spent.
    pub(crate) fn consume(&self, owner: &str) -> Result<Quota, Quota> {
        self.at(owner, now_ms(), true)
    }

    /// The quota of `owner` without spending anything (`/rate_limit`).
    pub(crate) fn peek(&self, owner: &str) -> Quota {
        self.at(owner, now_ms(), false).unwrap_or_else(|q| q)
    }

    fn at(&self, owner: &str, now: u64, spend: bool) -> Result<Quota, Quota> {
        let window = self.window_ms();
        let start = now / window * window;
        let mut windows = self.windows.lock().expect("rate windows");
        let entry = windows.entry(owner.to_string()).or_insert((start, 0));
        if entry.0 != start {
            *entry = (start, 0);
        }
        let limit = self.config.limit;
        let over = entry.1 >= limit;
        if spend && !over {
            entry.1 += 1;
        }
        let end = start + window;
        let quota = Quota {
            limit,
            remaining: limit.saturating_sub(entry.1),
            reset: end.div_ceil(1000),
            retry_after: (end - now).div_ceil(1000).max(1),
            since_reset: Duration::from_millis(now - start),
        };
        if spend && over { Err(quota) } else { Ok(quota) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_windows_reset_on_multiples() {
        let limiter = Limiter::new(RateLimitConfig {
            limit: 2,
            window: Duration::from_secs(10),
            ..Default::default()
        });
        let t0 = 1_700_000_000_000u64; // a multiple of 10 s
        let q = limiter.at("u", t0 + 1_000, true).unwrap();
        assert_eq!((q.remaining, q.reset), (1, 1_700_000_010));
        assert_eq!(limiter.at("u", t0 + 2_000, true).unwrap().remaining, 0);
        let over = limiter.at("u", t0 + 3_000, true).unwrap_err();
        assert_eq!((over.remaining, over.retry_after), (0, 7));
        assert_eq!(
            limiter.at("other", t0 + 3_000, true).unwrap().remaining,
            1,
            "budgets are per owner"
        );
        assert_eq!(
            limiter.at("u", t0 + 10_000, true).unwrap().remaining,
            1,
            "next window"
        );
        assert_eq!(
            limiter.at("u", t0 + 10_500, false).unwrap().remaining,
            1,
            "peeking is free"
        );
    }
}
