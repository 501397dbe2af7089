//! Retry policy: exponential backoff with decorrelated jitter, bounded in attempts and time.
//!
//! What is retried is decided by the client (5xx, timeouts, connection resets, truncated or
//! unparsable bodies); never 401, 403 for a scope, 404 or 422, which a person must fix.

use std::time::Duration;

/// How hard to retry one request.
#[derive(Debug, Clone, Copy)]
pub struct RetryConfig {
    /// Most attempts of one request, the first included. Default 8.
    pub max_attempts: u32,
    /// First backoff. Default 500 ms.
    pub initial_backoff: Duration,
    /// Longest single backoff. Default 30 s.
    pub max_backoff: Duration,
    /// Give up once this much time has passed since the first attempt. Default 10 minutes.
    pub max_elapsed: Duration,
}

impl Default for RetryConfig {
    fn default() -> Self {
        Self {
            max_attempts: 8,
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(30),
            max_elapsed: Duration::from_secs(600),
        }
    }
}

/// Decorrelated-jitter backoff ("sleep = random(base, previous × 3)", capped).
#[derive(Debug)]
pub struct Backoff {
    config: RetryConfig,
    previous: Duration,
    rng: fastrand::Rng,
}

impl Backoff {
    /// A backoff with a random seed.
    pub fn new(config: RetryConfig) -> Self {
        Self::with_rng(config, fastrand::Rng::new())
    }

    /// A backoff with an injected RNG (deterministic tests).
    pub fn with_rng(config: RetryConfig, rng: fastrand::Rng) -> Self {
        Self {
            config,
            previous: config.initial_backoff,
            rng,
        }
    }

    /// The next delay.
    pub fn next_delay(&mut self) -> Duration {
        let base = self.config.initial_backoff.as_millis() as u64;
        let upper = (self.previous.as_millis() as u64)
            .saturating_mul(3)
            .max(base + 1);
        let millis = self
            .rng
            .u64(base..upper)
            .min(self.config.max_backoff.as_millis() as u64);
        self.previous = Duration::from_millis(millis);
        self.previous
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_stay_within_bounds_and_grow() {
        let config = RetryConfig::default();
        for seed in 0..200 {
            let mut b = Backoff::with_rng(config, fastrand::Rng::with_seed(seed));
            let mut last = Duration::ZERO;
            for _ in 0..20 {
                let d = b.next_delay();
                assert!(d >= config.initial_backoff.min(config.max_backoff));
                assert!(d <= config.max_backoff);
                last = d;
            }
            assert!(last >= config.initial_backoff);
        }
    }
}
