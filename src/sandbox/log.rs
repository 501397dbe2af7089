//! The request log: one entry per API request with its outcome, for tests to assert on
//! (`SandboxHandle::requests`, `GET /_sandbox/requests`). Control routes are not logged.
//! A long-running sandbox keeps the most recent [`CAPACITY`] entries.

use std::collections::VecDeque;
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use serde::Serialize;

/// One API request as the sandbox answered it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LoggedRequest {
    /// HTTP method.
    pub method: String,
    /// Path as requested (`/v1/patients`).
    pub path: String,
    /// Raw query string (empty when none).
    pub query: String,
    /// The token's owner (`p1-u1001`), never the token; `None` when unauthenticated.
    pub user: Option<String>,
    /// Status sent.
    pub status: u16,
    /// Whether the request was refused by the rate limit (including blips).
    pub rate_limited: bool,
    /// Injected faults (`"503"`, `"stall"`, `"truncated"`, `"reset"`, `"blip"`, `"latency"`,
    /// `"unstable_order"`, `"no_total_pages"`, joined with `+`).
    pub fault: Option<String>,
    /// When the answer was decided (wall clock).
    pub at: DateTime<Utc>,
}

/// Entries kept; older ones are dropped first.
pub const CAPACITY: usize = 100_000;

/// The log of a sandbox.
#[derive(Debug, Default)]
pub(crate) struct RequestLog {
    entries: Mutex<VecDeque<LoggedRequest>>,
}

impl RequestLog {
    /// Appends an entry (dropping the oldest beyond [`CAPACITY`]).
    pub(crate) fn push(&self, entry: LoggedRequest) {
        let mut entries = self.entries.lock().expect("request log");
        if entries.len() == CAPACITY {
            entries.pop_front();
        }
        entries.push_back(entry);
    }

    /// A copy of every entry, oldest first.
    pub(crate) fn all(&self) -> Vec<LoggedRequest> {
        self.entries
            .lock()
            .expect("request log")
            .iter()
            .cloned()
            .collect()
    }

    /// Forgets every entry.
    pub(crate) fn clear(&self) {
        self.entries.lock().expect("request log").clear();
    }
}
