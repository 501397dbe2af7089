//! Progress bars on stderr: one per resource (rows, pages, rate, elapsed), hidden when stderr is
//! not a terminal or with `--quiet`, so logs of scheduled runs stay clean.

use std::io::IsTerminal;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

/// The run's progress display.
#[derive(Debug, Clone)]
pub struct Progress {
    multi: Option<MultiProgress>,
}

impl Progress {
    /// Bars when `wanted` and stderr is a terminal.
    pub fn new(wanted: bool) -> Self {
        let show = wanted && std::io::stderr().is_terminal();
        Self {
            multi: show.then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr())),
        }
    }

    /// A bar for one resource (a hidden one when bars are off).
    pub fn resource(&self, name: &str) -> ProgressBar {
        let Some(multi) = &self.multi else {
            return ProgressBar::hidden();
        };
        let bar = multi.add(ProgressBar::new_spinner());
        let style = ProgressStyle::with_template(
            "{spinner} {prefix:<34} {human_pos:>9} rows {msg} [{elapsed}] {per_sec}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_spinner());
        bar.set_style(style);
        bar.set_prefix(name.to_string());
        bar.enable_steady_tick(std::time::Duration::from_millis(200));
        bar
    }
}
