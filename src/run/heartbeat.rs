//! Heartbeats: the live figures of each resource, and the lines or bar messages made of them.
//!
//! An operator watching a nightly job wants to know, at any moment: is it alive, how far is it,
//! is it waiting for the rate budget (and until when), and when will it end. A heartbeat answers
//! all of it from figures the run already has: rows and pages per resource (fed page by page),
//! requests and budget waits from the client's counters, and the budget's last known state.
//! The ETA exists only where `meta.total_count` of every slice still to read is known; it counts
//! a wait for the budget's reset when the rows left need more requests than the budget has left.
//!
//! These lines have their own tracing target (this module), which `--quiet` lets through.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::{Duration, Instant};

use chrono::{DateTime, SecondsFormat, Utc};
use indicatif::ProgressBar;
use tokio::task::JoinHandle;

use crate::api::{Budget, Stats};
use crate::extract::Page;
use crate::manifest::ResourceEntry;

/// What the run shares with its heartbeat task.
#[derive(Debug)]
pub(crate) struct Monitor {
    practice: Option<String>,
    budget: Arc<Budget>,
    stats: Arc<Stats>,
    /// Bars are drawn: refresh their messages instead of logging.
    bars: bool,
    resources: Mutex<Vec<Arc<Live>>>,
}

/// One resource's live figures and its bar (hidden without a terminal).
#[derive(Debug)]
pub(crate) struct Live {
    name: String,
    started: Instant,
    bar: ProgressBar,
    figures: Mutex<Figures>,
}

#[derive(Debug, Default)]
struct Figures {
    /// New rows this run.
    rows: u64,
    /// Pages this run.
    pages: u64,
    /// Slices this run reads: `first..count`, once known.
    slices: Option<(usize, usize)>,
    /// Per slice: (rows and repeats seen, `total_count`, page size).
    per_slice: BTreeMap<usize, (u64, Option<u64>, u32)>,
    finished: bool,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Live {
    pub(crate) fn new(name: &str, bar: ProgressBar) -> Self {
        Self {
            name: name.to_string(),
            started: Instant::now(),
            bar,
            figures: Mutex::default(),
        }
    }

    pub(crate) fn slices(&self, first: usize, count: usize) {
        lock(&self.figures).slices = Some((first, count));
    }

    pub(crate) fn page(&self, page: &Page) {
        let rows = page.records.len() as u64;
        let mut f = lock(&self.figures);
        f.rows += rows;
        f.pages += 1;
        let p = &page.progress;
        f.per_slice.insert(
            page.slice,
            (p.rows + p.duplicates, p.total_count, p.page_size),
        );
        drop(f);
        self.bar.inc(rows);
    }
}

/// The budget as a heartbeat shows it.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct BudgetView {
    pub limit: Option<u32>,
    pub remaining: Option<u32>,
    /// When the window resets (from `X-RateLimit-Reset`).
    pub resets_at: Option<DateTime<Utc>>,
    /// Requests are held back until the reset (the reserve is reached or the API refused).
    pub waiting: bool,
    /// Seconds spent (or being spent) waiting for the budget so far in this run.
    pub waited_secs: f64,
    /// Requests the budget lets us send before the reset.
    pub usable: Option<u32>,
}

/// One heartbeat of one resource.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Beat {
    pub rows: u64,
    pub pages: u64,
    pub requests: u64,
    pub rows_per_sec: f64,
    pub elapsed_secs: f64,
    pub eta_secs: Option<u64>,
    pub budget: BudgetView,
}

impl Monitor {
    pub(crate) fn new(
        practice: Option<String>,
        budget: Arc<Budget>,
        stats: Arc<Stats>,
        bars: bool,
    ) -> Self {
        Self {
            practice,
            budget,
            stats,
            bars,
            resources: Mutex::default(),
        }
    }

    fn budget_view(&self, now: DateTime<Utc>) -> BudgetView {
        let snap = self.budget.snapshot();
        let resets_at = snap
            .reset
            .and_then(|s| i64::try_from(s).ok())
            .and_then(|s| DateTime::from_timestamp(s, 0));
        let usable = match (snap.limit, snap.remaining) {
            (Some(limit), Some(remaining)) => {
                Some(remaining.saturating_sub(self.budget.floor(limit)))
            }
            _ => None,
        };
        BudgetView {
            limit: snap.limit,
            remaining: snap.remaining,
            resets_at,
            waiting: usable == Some(0) && resets_at.is_some_and(|r| r > now),
            waited_secs: self.stats.waited_ms.load(Ordering::Relaxed) as f64 / 1000.0,
            usable,
        }
    }

    fn beat(&self, live: &Live, now: DateTime<Utc>) -> Beat {
        let f = lock(&live.figures);
        let elapsed = live.started.elapsed().as_secs_f64();
        let rate = if elapsed > 0.0 {
            f.rows as f64 / elapsed
        } else {
            0.0
        };
        let budget = self.budget_view(now);
        Beat {
            rows: f.rows,
            pages: f.pages,
            requests: self.stats.requests.load(Ordering::Relaxed),
            rows_per_sec: (rate * 10.0).round() / 10.0,
            elapsed_secs: (elapsed * 10.0).round() / 10.0,
            eta_secs: eta(&f, rate, &budget, now),
            budget,
        }
    }

    pub(crate) fn started(&self, live: &Arc<Live>) {
        lock(&self.resources).push(Arc::clone(live));
        if !self.bars {
            tracing::info!(
                practice = self.practice.as_deref(),
                resource = live.name.as_str(),
                "Resource started."
            );
        }
    }

    pub(crate) fn finished(&self, live: &Live, entry: &ResourceEntry) {
        let beat = self.beat(live, Utc::now());
        lock(&live.figures).finished = true;
        lock(&self.resources).retain(|r| !std::ptr::eq(Arc::as_ptr(r), live));
        if self.bars {
            let message = match &entry.error {
                Some(e) => format!("{}: {e}", entry.status),
                None => format!("{} pages, done", entry.pages),
            };
            if entry.status == crate::manifest::Status::Succeeded {
                live.bar.finish_with_message(message);
            } else {
                live.bar.abandon_with_message(message);
            }
            return;
        }
        let b = &beat.budget;
        let resets = b.resets_at.map(rfc3339);
        tracing::info!(
            practice = self.practice.as_deref(),
            resource = live.name.as_str(),
            status = entry.status.as_str(),
            rows = entry.rows,
            pages = entry.pages,
            rejects = entry.rejects,
            seconds = (entry.seconds * 10.0).round() / 10.0,
            requests = beat.requests,
            budget_remaining = b.remaining,
            budget_limit = b.limit,
            budget_resets_at = resets.as_deref(),
            budget_wait_secs = b.waited_secs,
            "Resource finished."
        );
    }

    /// One heartbeat: a log line per resource in progress, or fresh bar messages.
    fn tick(&self) {
        let now = Utc::now();
        let live: Vec<Arc<Live>> = lock(&self.resources).clone();
        for r in live.iter().filter(|r| !lock(&r.figures).finished) {
            let beat = self.beat(r, now);
            if self.bars {
                r.bar.set_message(bar_message(&beat, now));
            } else {
                self.log(r, &beat);
            }
        }
    }

    fn log(&self, live: &Live, beat: &Beat) {
        let b = &beat.budget;
        let resets = b.resets_at.map(rfc3339);
        tracing::info!(
            practice = self.practice.as_deref(),
            resource = live.name.as_str(),
            rows = beat.rows,
            pages = beat.pages,
            requests = beat.requests,
            rows_per_sec = beat.rows_per_sec,
            elapsed_secs = beat.elapsed_secs,
            budget_remaining = b.remaining,
            budget_limit = b.limit,
            budget_resets_at = resets.as_deref(),
            waiting_for_budget = b.waiting,
            budget_wait_secs = b.waited_secs,
            eta_secs = beat.eta_secs,
            "Heartbeat."
        );
    }
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Seconds until the resource is read, when the totals of every slice left are known.
fn eta(f: &Figures, rows_per_sec: f64, budget: &BudgetView, now: DateTime<Utc>) -> Option<u64> {
    let (first, count) = f.slices?;
    let needed = count.saturating_sub(first);
    let seen = f.per_slice.range(first..count).count();
    if needed == 0 || seen < needed {
        return None;
    }
    let (mut rows_left, mut pages_left) = (0u64, 0u64);
    for (seen, total, page_size) in f.per_slice.range(first..count).map(|(_, v)| *v) {
        let left = total?.saturating_sub(seen);
        rows_left += left;
        pages_left += left.div_ceil(u64::from(page_size.max(1)));
    }
    if rows_left == 0 {
        return Some(0);
    }
    if rows_per_sec <= 0.0 {
        return None;
    }
    let mut secs = rows_left as f64 / rows_per_sec;
    let short_of_budget = budget.usable.is_some_and(|u| pages_left > u64::from(u));
    if let (true, Some(reset)) = (short_of_budget, budget.resets_at) {
        secs += (reset - now).num_seconds().max(0) as f64;
    }
    Some(secs.ceil() as u64)
}

fn bar_message(beat: &Beat, now: DateTime<Utc>) -> String {
    let b = &beat.budget;
    let mut parts = vec![format!("{} pages", beat.pages)];
    if let (Some(rem), Some(limit)) = (b.remaining, b.limit) {
        parts.push(format!("budget {rem}/{limit}"));
    }
    match b.resets_at {
        Some(r) if b.waiting => parts.push(format!(
            "waiting for the budget until {} ({}s)",
            r.format("%H:%M:%S UTC"),
            (r - now).num_seconds().max(0)
        )),
        _ => {}
    }
    if b.waited_secs > 0.0 {
        parts.push(format!("{:.0}s waited", b.waited_secs));
    }
    if let Some(eta) = beat.eta_secs {
        parts.push(format!("ETA {}", human_secs(eta)));
    }
    parts.join(" · ")
}

fn human_secs(s: u64) -> String {
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m{:02}s", s / 60, s % 60),
        _ => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
    }
}

/// Starts the heartbeat task: a tick every `every` (none when zero, or outside a runtime). It
/// holds the monitor weakly, so it ends with the run.
pub(crate) fn start(monitor: &Arc<Monitor>, every: Duration) -> Option<JoinHandle<()>> {
    if every.is_zero() {
        return None;
    }
    let runtime = tokio::runtime::Handle::try_current().ok()?;
    let weak: Weak<Monitor> = Arc::downgrade(monitor);
    Some(runtime.spawn(async move {
        let mut interval = tokio::time::interval(every);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        interval.tick().await;
        loop {
            interval.tick().await;
            let Some(m) = weak.upgrade() else { break };
            m.tick();
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn figures(slices: (usize, usize), per: &[(usize, u64, Option<u64>)]) -> Figures {
        Figures {
            slices: Some(slices),
            per_slice: per.iter().map(|&(i, s, t)| (i, (s, t, 100))).collect(),
            ..Figures::default()
        }
    }

    #[test]
    fn eta_needs_the_total_of_every_slice_left() {
        let now = Utc::now();
        let none = BudgetView::default();
        let f = figures((0, 2), &[(0, 100, Some(300))]);
        assert_eq!(eta(&f, 10.0, &none, now), None, "slice 1 not seen yet");
        let f = figures((0, 2), &[(0, 100, Some(300)), (1, 0, None)]);
        assert_eq!(eta(&f, 10.0, &none, now), None, "slice 1 has no total");
        let f = figures((0, 2), &[(0, 100, Some(300)), (1, 50, Some(150))]);
        assert_eq!(eta(&f, 10.0, &none, now), Some(30));
        let f = figures((1, 2), &[(1, 50, Some(150))]);
        assert_eq!(eta(&f, 10.0, &none, now), Some(10), "resumed at slice 1");
    }

    #[test]
    fn eta_waits_for_the_reset_when_the_budget_is_short() {
        let now = Utc::now();
        let reset = now + chrono::Duration::seconds(600);
        let f = figures((0, 1), &[(0, 100, Some(1100))]);
        let short = BudgetView {
            usable: Some(5),
            resets_at: Some(reset),
            ..BudgetView::default()
        };
        assert_eq!(eta(&f, 100.0, &short, now), Some(610));
        let enough = BudgetView {
            usable: Some(10),
            ..short
        };
        assert_eq!(eta(&f, 100.0, &enough, now), Some(10));
    }

    #[test]
    fn bar_message_shows_the_wait_and_its_end() {
        let now = DateTime::from_timestamp(1_000_000, 0).unwrap();
        let beat = Beat {
            rows: 10,
            pages: 3,
            requests: 7,
            rows_per_sec: 1.0,
            elapsed_secs: 10.0,
            eta_secs: Some(125),
            budget: BudgetView {
                limit: Some(20),
                remaining: Some(2),
                resets_at: Some(now + chrono::Duration::seconds(42)),
                waiting: true,
                waited_secs: 42.0,
                usable: Some(0),
            },
        };
        assert_eq!(
            bar_message(&beat, now),
            "3 pages · budget 2/20 · waiting for the budget until 13:47:22 UTC (42s) · 42s waited · ETA 2m05s"
        );
    }
}
