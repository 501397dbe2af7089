//! What a run shows while it works: indicatif bars on a terminal, heartbeat log lines elsewhere.
//!
//! Bars need a terminal and are drawn over themselves, so a scheduled job (stderr is a file or a
//! pipe) or `--quiet` gets heartbeat lines instead (`heartbeat`): at each resource's start and end
//! and every `--heartbeat-secs`. Without them a nightly job waiting an hour for the rate budget
//! says nothing until it ends. Bars and heartbeats read the same live figures, so both show rows,
//! pages, requests, the budget and its reset, the time spent waiting for it, and an ETA.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use tokio::task::JoinHandle;

use super::heartbeat::{self, Live, Monitor};
use crate::api::Client;
use crate::extract::Page;
use crate::manifest::ResourceEntry;

/// How often bars are refreshed with the budget and the ETA.
const BAR_REFRESH: Duration = Duration::from_secs(1);

/// The run's progress display.
#[derive(Debug, Clone)]
pub struct Progress {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    multi: Option<MultiProgress>,
    monitor: Arc<Monitor>,
    ticker: Mutex<Option<JoinHandle<()>>>,
}

impl Drop for Shared {
    fn drop(&mut self) {
        if let Some(t) = self
            .ticker
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take()
        {
            t.abort();
        }
    }
}

impl Progress {
    /// Bars when `bars_wanted` and stderr is a terminal; heartbeat lines every `heartbeat` (zero:
    /// only at each resource's start and end) otherwise. `practice` names the practice in a
    /// multi-practice run; `client` is read for the request count and the budget.
    pub fn new(
        bars_wanted: bool,
        heartbeat: Duration,
        practice: Option<&str>,
        client: &Client,
    ) -> Self {
        let bars = bars_wanted && std::io::IsTerminal::is_terminal(&std::io::stderr());
        let monitor = Arc::new(Monitor::new(
            practice.map(str::to_string),
            client.budget().clone(),
            client.stats().clone(),
            bars,
        ));
        let every = if bars { BAR_REFRESH } else { heartbeat };
        let ticker = heartbeat::start(&monitor, every);
        Self {
            shared: Arc::new(Shared {
                multi: bars.then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr())),
                monitor,
                ticker: Mutex::new(ticker),
            }),
        }
    }

    /// The display of one resource (logs its start when there are no bars).
    pub fn resource(&self, name: &str) -> ResourceProgress {
        let bar = match &self.shared.multi {
            Some(multi) => {
                let bar = multi.add(ProgressBar::new_spinner());
                let style = ProgressStyle::with_template(
                    "{spinner} {prefix:<34} {human_pos:>9} rows {msg} [{elapsed}] {per_sec}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_spinner());
                bar.set_style(style);
                bar.set_prefix(name.to_string());
                bar.enable_steady_tick(Duration::from_millis(200));
                bar
            }
            None => ProgressBar::hidden(),
        };
        let live = Arc::new(Live::new(name, bar));
        self.shared.monitor.started(&live);
        ResourceProgress {
            live,
            monitor: Arc::clone(&self.shared.monitor),
        }
    }
}

/// The display of one resource.
#[derive(Debug)]
pub struct ResourceProgress {
    live: Arc<Live>,
    monitor: Arc<Monitor>,
}

impl ResourceProgress {
    /// This run reads slices `first..count` of the resource (for the ETA).
    pub fn slices(&self, first: usize, count: usize) {
        self.live.slices(first, count);
    }

    /// A page arrived.
    pub fn page(&self, page: &Page) {
        self.live.page(page);
    }

    /// The resource is done (succeeded, partial, failed or unavailable).
    pub fn finish(&self, entry: &ResourceEntry) {
        self.monitor.finished(&self.live, entry);
    }
}
