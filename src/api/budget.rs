//! The request budget of one token owner, shared by every concurrent request.
//!
//! Dentally allows 3,600 requests an hour per user, shared with the practice's other
//! integrations, and answers a drained budget with a 403. We read `X-RateLimit-Limit`,
//! `-Remaining` and `-Reset` from every answer and keep a floor of requests unused: the reserve
//! (10 % of the limit by default) or whatever our own `requests_per_hour` ceiling leaves, whichever
//! is larger. At the floor, requests wait for the window's reset instead of failing.

use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The rate-limit headers of one answer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct RateHeaders {
    /// `X-RateLimit-Limit`.
    pub limit: Option<u32>,
    /// `X-RateLimit-Remaining`.
    pub remaining: Option<u32>,
    /// `X-RateLimit-Reset`: epoch seconds when the window resets.
    pub reset: Option<u64>,
}

impl RateHeaders {
    /// Reads the three headers (absent or unparsable ones are `None`).
    pub fn from_headers(h: &reqwest::header::HeaderMap) -> Self {
        let num = |name: &str| {
            h.get(name)
                .and_then(|v| v.to_str().ok())
                .and_then(|s| s.trim().parse::<u64>().ok())
        };
        Self {
            limit: num("x-ratelimit-limit").map(|n| n.min(u64::from(u32::MAX)) as u32),
            remaining: num("x-ratelimit-remaining").map(|n| n.min(u64::from(u32::MAX)) as u32),
            reset: num("x-ratelimit-reset"),
        }
    }
}

#[derive(Debug, Default)]
struct State {
    limit: Option<u32>,
    remaining: Option<u32>,
    reset: Option<u64>,
    in_flight: u32,
}

/// One token owner's budget.
#[derive(Debug)]
pub struct Budget {
    reserve_percent: u32,
    ceiling_per_hour: Option<u32>,
    state: Mutex<State>,
}

/// A slot for one request; give it back by dropping it.
#[derive(Debug)]
pub struct Permit<'a> {
    budget: &'a Budget,
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        let mut s = self.budget.lock();
        s.in_flight = s.in_flight.saturating_sub(1);
    }
}

/// Margin added after a reset instant, since `X-RateLimit-Reset` has whole-second resolution.
const RESET_MARGIN: Duration = Duration::from_millis(150);
/// Wait after a rate-limit 403 that the headers do not explain (the "blip" after a rollover).
const BLIP_WAIT: Duration = Duration::from_secs(2);

impl Budget {
    /// A budget keeping `reserve_percent` of the limit free, and using at most
    /// `ceiling_per_hour` requests an hour when set.
    pub fn new(reserve_percent: u32, ceiling_per_hour: Option<u32>) -> Self {
        Self {
            reserve_percent: reserve_percent.min(90),
            ceiling_per_hour,
            state: Mutex::default(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Requests we never use in a window of `limit`.
    pub fn floor(&self, limit: u32) -> u32 {
        let reserve = (u64::from(limit) * u64::from(self.reserve_percent)).div_ceil(100) as u32;
        let ceiling_floor = self.ceiling_per_hour.map_or(0, |c| limit.saturating_sub(c));
        reserve.max(ceiling_floor).min(limit.saturating_sub(1))
    }

    /// Waits until a request may be sent; `on_wait` is told how long each wait lasts.
    pub async fn acquire(&self, on_wait: &(dyn Fn(Duration) + Sync)) -> Permit<'_> {
        loop {
            let wait = {
                let mut s = self.lock();
                match self.wait_needed(&mut s) {
                    None => {
                        s.in_flight += 1;
                        return Permit { budget: self };
                    }
                    Some(w) => w,
                }
            };
            on_wait(wait);
            tokio::time::sleep(wait).await;
        }
    }

    fn wait_needed(&self, s: &mut State) -> Option<Duration> {
        let now = now_secs_f64();
        if let Some(reset) = s.reset {
            if now >= reset as f64 {
                // The window rolled over: the next answer tells us the new remaining.
                s.remaining = None;
                s.reset = None;
            }
        }
        let (Some(limit), Some(remaining)) = (s.limit, s.remaining) else {
            return None;
        };
        if remaining.saturating_sub(s.in_flight) > self.floor(limit) {
            return None;
        }
        if s.in_flight > 0 && s.reset.is_none() {
            return Some(Duration::from_millis(100));
        }
        Some(until(s.reset.unwrap_or(now as u64 + 1)))
    }

    /// Takes in the headers of an answer.
    pub fn observe(&self, h: &RateHeaders) {
        let mut s = self.lock();
        if h.limit.is_some() {
            s.limit = h.limit;
        }
        let Some(remaining) = h.remaining else { return };
        match (s.reset, h.reset) {
            // Same window: answers arrive out of order, the smallest remaining is the truth.
            (Some(old), Some(new)) if old == new => {
                s.remaining = Some(s.remaining.map_or(remaining, |r| r.min(remaining)));
            }
            (Some(old), Some(new)) if new < old => {}
            _ => {
                s.remaining = Some(remaining);
                s.reset = h.reset;
            }
        }
    }

    /// Records a rate-limit refusal and returns how long to wait before trying again.
    pub fn refused(&self, h: &RateHeaders) -> Duration {
        let mut s = self.lock();
        let high = h.remaining.is_some_and(|r| r > 0);
        if let Some(reset) = h.reset.filter(|_| !high) {
            s.remaining = Some(0);
            s.reset = Some(reset);
            if h.limit.is_some() {
                s.limit = h.limit;
            }
            return until(reset);
        }
        BLIP_WAIT
    }

    /// What the budget knows now: (limit, remaining, reset).
    pub fn snapshot(&self) -> RateHeaders {
        let s = self.lock();
        RateHeaders {
            limit: s.limit,
            remaining: s.remaining,
            reset: s.reset,
        }
    }
}

fn now_secs_f64() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// Time from now until `reset` (epoch seconds) plus a margin.
fn until(reset: u64) -> Duration {
    let left = (reset as f64 - now_secs_f64()).max(0.0);
    Duration::from_secs_f64(left) + RESET_MARGIN
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(limit: u32, remaining: u32, reset: u64) -> RateHeaders {
        RateHeaders {
            limit: Some(limit),
            remaining: Some(remaining),
            reset: Some(reset),
        }
    }

    #[test]
    fn floor_is_the_larger_of_reserve_and_ceiling() {
        assert_eq!(Budget::new(10, None).floor(3600), 360);
        assert_eq!(Budget::new(10, Some(3000)).floor(3600), 600);
        assert_eq!(Budget::new(10, Some(3500)).floor(3600), 360);
        assert_eq!(Budget::new(10, None).floor(100), 10);
    }

    #[tokio::test]
    async fn waits_at_the_floor_until_reset() {
        let b = Budget::new(10, None);
        let reset = now_secs_f64() as u64 + 1;
        b.observe(&headers(100, 11, reset));
        drop(b.acquire(&|_| panic!("must not wait")).await);
        b.observe(&headers(100, 10, reset));
        let waited = std::sync::atomic::AtomicBool::new(false);
        let _p = b
            .acquire(&|_| waited.store(true, std::sync::atomic::Ordering::SeqCst))
            .await;
        assert!(waited.load(std::sync::atomic::Ordering::SeqCst));
        assert!(now_secs_f64() >= reset as f64);
    }

    #[test]
    fn out_of_order_answers_keep_the_lowest_remaining() {
        let b = Budget::new(10, None);
        b.observe(&headers(100, 50, 1000));
        b.observe(&headers(100, 60, 1000));
        assert_eq!(b.snapshot().remaining, Some(50));
        b.observe(&headers(100, 99, 2000));
        assert_eq!(b.snapshot().remaining, Some(99));
    }
}
