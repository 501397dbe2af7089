//! The request budget of one token owner, shared by every concurrent request.
//!
//! Dentally allows 3,600 requests an hour per user (a fixed clock hour), shared with the
//! practice's other integrations, and answers a drained budget with a 403. We read
//! `X-RateLimit-Limit`, `-Remaining` and `-Reset` from every answer and keep a floor of requests
//! unused: the reserve (10 % of the limit by default) or whatever our own `requests_per_hour`
//! ceiling leaves, whichever is larger. At the floor, requests wait for the window's reset.
//!
//! The headers come from a server we do not control, so none of them is trusted blindly
//! (security review D4/D5):
//!
//! - `remaining` counts down locally for every request sent, and an answer can only lower it
//!   within a window: a stale or frozen header cannot spend the reserve;
//! - a reset more than two hours away is impossible for an hourly window and is ignored (one
//!   warning); any single wait is capped at an hour and a minute;
//! - every wait of a run is charged to one total wait budget; past it the request fails with a
//!   message instead of the job hanging;
//! - our own `requests_per_hour` ceiling is enforced by counting the requests of the last hour,
//!   and a server that sends no rate headers at all is held to Dentally's documented 3,600 an
//!   hour minus the reserve.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::error::ApiError;

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
    /// When each request of the last hour was sent (for the client-side ceiling).
    sent: VecDeque<Instant>,
    /// Total time this budget made requests wait.
    waited: Duration,
    warned_bad_reset: bool,
}

/// One token owner's budget.
#[derive(Debug)]
pub struct Budget {
    reserve_percent: u32,
    ceiling_per_hour: Option<u32>,
    wait_budget: Duration,
    state: Mutex<State>,
}

/// A slot for one request (the request was counted when the permit was given).
#[derive(Debug)]
pub struct Permit<'a> {
    _budget: &'a Budget,
}

/// Margin added after a reset instant, since `X-RateLimit-Reset` has whole-second resolution.
const RESET_MARGIN: Duration = Duration::from_millis(150);
/// Wait after a rate-limit 403 that the headers do not explain (the "blip" after a rollover).
const BLIP_WAIT: Duration = Duration::from_secs(2);
/// Dentally's documented limit, assumed until the server says otherwise.
const DOCUMENTED_LIMIT: u32 = 3_600;
/// The rate window.
const WINDOW: Duration = Duration::from_secs(3_600);
/// A reset further away than this cannot belong to an hourly window.
const MAX_RESET_AHEAD_SECS: u64 = 2 * 3_600;
/// Longest single wait, whatever a header says: the window plus a minute.
pub const MAX_SINGLE_WAIT: Duration = Duration::from_secs(3_660);
/// Waits longer than this are logged at WARN (a `--quiet` job still says why it is idle).
pub const LONG_WAIT: Duration = Duration::from_secs(60);
/// Default total wait budget of a run.
pub const DEFAULT_WAIT_BUDGET: Duration = Duration::from_secs(6 * 3_600);

impl Budget {
    /// A budget keeping `reserve_percent` of the limit free, and using at most
    /// `ceiling_per_hour` requests an hour when set; waits of a run total at most 6 hours.
    pub fn new(reserve_percent: u32, ceiling_per_hour: Option<u32>) -> Self {
        Self {
            reserve_percent: reserve_percent.min(90),
            ceiling_per_hour,
            wait_budget: DEFAULT_WAIT_BUDGET,
            state: Mutex::default(),
        }
    }

    /// The same budget with another total wait budget.
    pub fn with_wait_budget(mut self, total: Duration) -> Self {
        self.wait_budget = total;
        self
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

    /// Requests per rolling hour we allow ourselves whatever the headers say: our own ceiling,
    /// or, while the server has sent no limit, Dentally's documented one minus the reserve.
    fn client_ceiling(&self, s: &State) -> Option<u32> {
        match (self.ceiling_per_hour, s.limit) {
            (Some(c), _) => Some(c.max(1)),
            (None, None) => Some(DOCUMENTED_LIMIT - self.floor(DOCUMENTED_LIMIT)),
            (None, Some(_)) => None,
        }
    }

    /// Waits until a request may be sent and counts it; `on_wait` is told how long each wait
    /// lasts. Fails when the run's total wait budget would be exceeded.
    pub async fn acquire(
        &self,
        on_wait: &(dyn Fn(Duration) + Sync),
    ) -> Result<Permit<'_>, ApiError> {
        loop {
            let wait = {
                let mut s = self.lock();
                match self.wait_needed(&mut s) {
                    None => {
                        s.remaining = s.remaining.map(|r| r.saturating_sub(1));
                        s.sent.push_back(Instant::now());
                        return Ok(Permit { _budget: self });
                    }
                    Some(w) => w,
                }
            };
            let wait = self.charge_wait(wait)?;
            on_wait(wait);
            tokio::time::sleep(wait).await;
        }
    }

    /// Caps a wait at [`MAX_SINGLE_WAIT`] and charges it to the run's wait budget; an error when
    /// the budget cannot cover it.
    pub fn charge_wait(&self, wait: Duration) -> Result<Duration, ApiError> {
        let wait = wait.min(MAX_SINGLE_WAIT);
        let mut s = self.lock();
        if s.waited + wait > self.wait_budget {
            return Err(ApiError::WaitBudget {
                waited_secs: s.waited.as_secs(),
                wanted_secs: wait.as_secs(),
                budget_secs: self.wait_budget.as_secs(),
            });
        }
        s.waited += wait;
        Ok(wait)
    }

    fn wait_needed(&self, s: &mut State) -> Option<Duration> {
        let now = now_secs_f64();
        if s.reset.is_some_and(|reset| now >= reset as f64) {
            // The window rolled over: the next answer tells us the new remaining.
            s.remaining = None;
            s.reset = None;
        }
        let hour_ago = Instant::now().checked_sub(WINDOW);
        while s
            .sent
            .front()
            .is_some_and(|t| hour_ago.is_some_and(|h| *t <= h))
        {
            s.sent.pop_front();
        }
        if let Some(ceiling) = self.client_ceiling(s)
            && s.sent.len() >= ceiling as usize
            && let Some(oldest) = s.sent.front()
        {
            return Some(
                (*oldest + WINDOW).saturating_duration_since(Instant::now()) + RESET_MARGIN,
            );
        }
        let remaining = s.remaining?;
        if remaining > self.floor(s.limit.unwrap_or(DOCUMENTED_LIMIT)) {
            return None;
        }
        Some(until(s.reset.unwrap_or_else(next_hour)))
    }

    /// `reset` when it can belong to an hourly window, else `None` (with one warning).
    fn plausible_reset(&self, s: &mut State, reset: Option<u64>) -> Option<u64> {
        let reset = reset?;
        if reset <= now_secs_f64() as u64 + MAX_RESET_AHEAD_SECS {
            return Some(reset);
        }
        if !s.warned_bad_reset {
            s.warned_bad_reset = true;
            tracing::warn!(
                reset,
                "The API sent an X-RateLimit-Reset more than two hours away; ignoring it (the window is hourly)."
            );
        }
        None
    }

    /// Takes in the headers of an answer.
    pub fn observe(&self, h: &RateHeaders) {
        let mut s = self.lock();
        if h.limit.is_some() {
            s.limit = h.limit;
        }
        let Some(remaining) = h.remaining else { return };
        let new = self.plausible_reset(&mut s, h.reset);
        let now = now_secs_f64() as u64;
        match (s.reset, new) {
            // An answer of a window that has already ended, arriving late.
            (Some(old), Some(new)) if new < old && new <= now => {}
            // Same window (or the answer did not say): the smallest remaining is the truth; ours
            // already counts the requests still in flight.
            (Some(old), Some(new)) if new == old => {
                s.remaining = Some(s.remaining.map_or(remaining, |r| r.min(remaining)));
            }
            (Some(_), None) => {
                s.remaining = Some(s.remaining.map_or(remaining, |r| r.min(remaining)));
            }
            // A new window, or the first answer.
            (_, new) => {
                s.remaining = Some(remaining);
                s.reset = Some(new.unwrap_or_else(next_hour));
            }
        }
    }

    /// Records a rate-limit refusal and returns how long to wait before trying again (not yet
    /// capped or charged: see [`Budget::charge_wait`]).
    pub fn refused(&self, h: &RateHeaders) -> Duration {
        let mut s = self.lock();
        let high = h.remaining.is_some_and(|r| r > 0);
        let reset = self.plausible_reset(&mut s, h.reset);
        if let Some(reset) = reset.filter(|_| !high) {
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

    /// Total time requests of this budget have waited so far.
    pub fn waited(&self) -> Duration {
        self.lock().waited
    }
}

fn now_secs_f64() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// The next clock hour (Dentally's window), for answers that name no reset.
fn next_hour() -> u64 {
    (now_secs_f64() as u64 / 3_600 + 1) * 3_600
}

/// Time from now until `reset` (epoch seconds) plus a margin.
fn until(reset: u64) -> Duration {
    let left = (reset as f64 - now_secs_f64()).clamp(0.0, MAX_SINGLE_WAIT.as_secs_f64());
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

    fn now() -> u64 {
        now_secs_f64() as u64
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
        let reset = now() + 1;
        b.observe(&headers(100, 12, reset));
        let _ = b.acquire(&|_| panic!("must not wait")).await.unwrap();
        // The local count went down to 11; a header of 11 agrees, and one more request is fine.
        b.observe(&headers(100, 11, reset));
        let _ = b.acquire(&|_| panic!("must not wait")).await.unwrap();
        let waited = std::sync::atomic::AtomicBool::new(false);
        let _p = b
            .acquire(&|_| waited.store(true, std::sync::atomic::Ordering::SeqCst))
            .await
            .unwrap();
        assert!(waited.load(std::sync::atomic::Ordering::SeqCst));
        assert!(now_secs_f64() >= reset as f64);
    }

    #[test]
    fn out_of_order_answers_keep_the_lowest_remaining() {
        let b = Budget::new(10, None);
        let reset = now() + 600;
        b.observe(&headers(100, 50, reset));
        b.observe(&headers(100, 60, reset));
        assert_eq!(b.snapshot().remaining, Some(50));
        b.observe(&headers(100, 99, reset + 3600));
        assert_eq!(b.snapshot().remaining, Some(99));
    }

    #[tokio::test]
    async fn a_stale_header_cannot_freeze_remaining() {
        let b = Budget::new(10, None);
        let reset = now() + 600;
        b.observe(&headers(100, 15, reset));
        for _ in 0..5 {
            let _ = b.acquire(&|_| panic!("must not wait")).await.unwrap();
            // The server keeps saying 15: our own count wins.
            b.observe(&headers(100, 15, reset));
        }
        assert_eq!(b.snapshot().remaining, Some(10));
    }

    #[test]
    fn a_reset_years_away_is_ignored_and_waits_are_capped() {
        let b = Budget::new(10, None);
        b.observe(&headers(3600, 3000, now() + 10 * 365 * 86_400));
        let reset = b.snapshot().reset.unwrap();
        assert!(reset <= now() + 3_600, "{reset}");
        // A later, sane window is taken at once (the poisoned one never became the truth).
        b.observe(&headers(3600, 5, now() + 1_800));
        assert_eq!(b.snapshot().remaining, Some(5));
        let wait = b.refused(&headers(3600, 0, u64::MAX));
        assert!(wait <= Duration::from_secs(3), "{wait:?}");
        assert_eq!(
            b.charge_wait(Duration::from_secs(99_999_999)).unwrap(),
            MAX_SINGLE_WAIT
        );
    }

    #[test]
    fn the_wait_budget_runs_out() {
        let b = Budget::new(10, None).with_wait_budget(Duration::from_secs(100));
        assert!(b.charge_wait(Duration::from_secs(60)).is_ok());
        let err = b.charge_wait(Duration::from_secs(60)).unwrap_err();
        assert!(err.to_string().contains("wait budget"), "{err}");
    }

    #[tokio::test]
    async fn the_ceiling_holds_without_any_header() {
        let b = Budget::new(10, Some(3)).with_wait_budget(Duration::ZERO);
        for _ in 0..3 {
            let _ = b.acquire(&|_| panic!("must not wait")).await.unwrap();
        }
        // The fourth request of the hour would have to wait; with no wait budget it fails.
        assert!(b.acquire(&|_| {}).await.is_err());
        // No ceiling configured and no header ever seen: Dentally's documented limit applies.
        let b = Budget::new(10, None);
        let s = b.lock();
        assert_eq!(b.client_ceiling(&s), Some(3240));
    }
}
