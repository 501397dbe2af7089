//! One run at a time per pipeline and practice: a lock object in the output (security review D9).
//!
//! Two overlapping runs of one pipeline (cron plus a manual run, or a scheduler's retry while
//! the first attempt still runs) delete each other's in-flight files and race on the state. The
//! lock is an object created with `PutMode::Create`, which every backend makes atomic: an
//! `O_EXCL`-style hard link on a local disk, `If-None-Match: *` on S3, a generation or ETag
//! precondition on GCS and Azure. Exactly one of two runs creating it at once succeeds.
//!
//! It holds the run id, the host and process, and an expiry that a background heartbeat pushes
//! forward while the run lives. A run that dies without releasing it (SIGKILL, power loss) blocks
//! the next one only until the expiry, [`LOCK_TTL`], or not at all when the next run is on the
//! same host and the holder's process is gone (a crash followed by a scheduler's retry);
//! `run --break-lock` takes over at once.
//! Taking over an expired or broken lock is a delete then a create, so two runs doing that at
//! the very same moment still get one winner.

use std::time::Duration;

use chrono::{DateTime, Utc};
use object_store::{ObjectStore, PutMode, PutOptions, PutPayload};
use serde::{Deserialize, Serialize};

use super::error::SinkError;
use super::location::Location;

/// How long a lock holds without a heartbeat.
pub const LOCK_TTL: Duration = Duration::from_secs(10 * 60);
/// How often a live run pushes its lock's expiry forward.
const HEARTBEAT: Duration = Duration::from_secs(2 * 60);

/// The content of a lock object.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct LockInfo {
    /// The run holding the lock.
    pub run_id: String,
    /// Host name of the machine running it (best effort).
    pub host: String,
    /// Its process id.
    pub pid: u32,
    /// When it took the lock (RFC 3339).
    pub acquired_at: String,
    /// When the lock lapses unless renewed (RFC 3339).
    pub expires_at: String,
}

impl LockInfo {
    fn new(run_id: &str, acquired_at: DateTime<Utc>) -> Self {
        Self {
            run_id: run_id.to_string(),
            host: host_name(),
            pid: std::process::id(),
            acquired_at: acquired_at.to_rfc3339(),
            expires_at: expiry().to_rfc3339(),
        }
    }

    /// `run 2026…-3fa2 on host pid 42, since …`.
    fn describe(&self) -> String {
        let host = if self.host.is_empty() {
            "an unknown host"
        } else {
            self.host.as_str()
        };
        format!(
            "run {} on {host} pid {}, since {}",
            self.run_id, self.pid, self.acquired_at
        )
    }

    fn expired(&self) -> bool {
        DateTime::parse_from_rfc3339(&self.expires_at).map_or(true, |t| t < Utc::now())
    }

    /// True when the holder ran on this host and its process no longer exists (Linux `/proc`;
    /// elsewhere, or on another host, only the expiry tells).
    fn holder_gone(&self) -> bool {
        let proc = std::path::Path::new("/proc");
        !self.host.is_empty()
            && self.host == host_name()
            && self.pid != std::process::id()
            && proc.join("self").exists()
            && !process_alive(self.pid)
    }
}

/// Whether process `pid` exists and is not a zombie (Linux).
fn process_alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // `pid (comm) S …`: the state follows the last `)`.
        Ok(stat) => stat
            .rsplit_once(')')
            .is_none_or(|(_, rest)| !rest.trim_start().starts_with(['Z', 'X'])),
        Err(_) => false,
    }
}

/// This machine's name (best effort; empty when unknown).
fn host_name() -> String {
    ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .find_map(|f| std::fs::read_to_string(f).ok())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_string())
        .unwrap_or_default()
}

fn expiry() -> DateTime<Utc> {
    Utc::now() + chrono::Duration::from_std(LOCK_TTL).unwrap_or(chrono::Duration::zero())
}

/// Why the lock could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Another run holds it.
    #[error(
        "another run ({}) holds the lock `{key}` at `{location}` until {}; two runs of one pipeline and practice would delete each other's files. Wait for it to finish; if it died, the lock lapses at that time, or run again with `--break-lock`",
        .holder.describe(),
        .holder.expires_at
    )]
    Held {
        /// The lock key.
        key: String,
        /// The output location.
        location: String,
        /// Who holds it.
        holder: LockInfo,
    },
    /// The lock appeared and vanished under us twice (another run starting at the same moment).
    #[error(
        "the run lock `{key}` at `{location}` keeps changing: another run of this pipeline is starting; run again in a minute"
    )]
    Contended {
        /// The lock key.
        key: String,
        /// The output location.
        location: String,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] SinkError),
}

/// A lock this run holds; give it back with [`RunLock::release`]. Dropping it stops the
/// heartbeat, and the lock lapses after [`LOCK_TTL`].
#[derive(Debug)]
pub struct RunLock {
    loc: Location,
    key: String,
    run_id: String,
    heartbeat: tokio::task::JoinHandle<()>,
}

impl Drop for RunLock {
    fn drop(&mut self) {
        self.heartbeat.abort();
    }
}

impl RunLock {
    /// Takes the lock `key` for `run_id`: refuses while another live run holds it, takes over an
    /// expired or unreadable one (and, with `break_lock`, any), with a warning naming the holder.
    pub async fn acquire(
        loc: &Location,
        key: &str,
        run_id: &str,
        break_lock: bool,
    ) -> Result<Self, LockError> {
        let started = Utc::now();
        for _ in 0..2 {
            let info = LockInfo::new(run_id, started);
            if create(loc, key, &info).await? {
                let heartbeat = tokio::spawn(heartbeat(loc.clone(), key.to_string(), info));
                return Ok(Self {
                    loc: loc.clone(),
                    key: key.to_string(),
                    run_id: run_id.to_string(),
                    heartbeat,
                });
            }
            let holder = read(loc, key).await?;
            match holder {
                Some(h) if !h.expired() && !h.holder_gone() && !break_lock => {
                    return Err(LockError::Held {
                        key: key.to_string(),
                        location: loc.display().to_string(),
                        holder: h,
                    });
                }
                Some(h) => {
                    let why = if break_lock {
                        "--break-lock"
                    } else if h.expired() {
                        "it expired"
                    } else {
                        "its process is gone"
                    };
                    tracing::warn!(key, holder = %h.run_id, since = %h.acquired_at, "Taking over the run lock ({why}).");
                }
                None => tracing::warn!(key, "Taking over an unreadable run lock."),
            }
            loc.delete(key).await?;
        }
        // Someone else took it between our delete and our create.
        match read(loc, key).await? {
            Some(holder) => Err(LockError::Held {
                key: key.to_string(),
                location: loc.display().to_string(),
                holder,
            }),
            None => Err(LockError::Contended {
                key: key.to_string(),
                location: loc.display().to_string(),
            }),
        }
    }

    /// Stops the heartbeat and deletes the lock, if it is still ours.
    pub async fn release(self) -> Result<(), SinkError> {
        self.heartbeat.abort();
        match read(&self.loc, &self.key).await {
            Ok(Some(info)) if info.run_id == self.run_id => self.loc.delete(&self.key).await,
            Ok(_) => {
                tracing::warn!(key = %self.key, "The run lock was taken over by another run before this one finished.");
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    /// The lock's key.
    pub fn key(&self) -> &str {
        &self.key
    }
}

/// Creates the lock object; `false` when it already exists.
async fn create(loc: &Location, key: &str, info: &LockInfo) -> Result<bool, SinkError> {
    let payload = PutPayload::from(serde_json::to_vec_pretty(info).unwrap_or_default());
    let options = PutOptions::from(PutMode::Create);
    match loc
        .store()
        .put_opts(&loc.child(key), payload, options)
        .await
    {
        Ok(_) => Ok(true),
        Err(
            object_store::Error::AlreadyExists { .. } | object_store::Error::Precondition { .. },
        ) => Ok(false),
        Err(e) => Err(loc.store_error("create the run lock", key, e)),
    }
}

/// The lock's content; `None` when it is gone or unreadable.
async fn read(loc: &Location, key: &str) -> Result<Option<LockInfo>, SinkError> {
    match loc.get_json(key).await {
        Ok(Some(json)) => Ok(serde_json::from_value(json).ok()),
        Ok(None) | Err(SinkError::Json { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Pushes the expiry forward while the run lives; stops when the lock is no longer ours.
async fn heartbeat(loc: Location, key: String, mut info: LockInfo) {
    loop {
        tokio::time::sleep(HEARTBEAT).await;
        match read(&loc, &key).await {
            Ok(Some(current)) if current.run_id == info.run_id => {}
            Ok(_) => {
                tracing::warn!(key = %key, "The run lock was taken over by another run; this run goes on, but two runs now overlap.");
                return;
            }
            Err(e) => {
                tracing::warn!(key = %key, error = %e, "Cannot read the run lock to renew it.");
                continue;
            }
        }
        info.expires_at = expiry().to_rfc3339();
        if let Err(e) = loc.put_json_atomic(&key, &info).await {
            tracing::warn!(key = %key, error = %e, "Cannot renew the run lock.");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sink::StoreOptions;

    #[tokio::test]
    async fn one_holder_at_a_time_then_released() {
        let dir = tempfile::tempdir().unwrap();
        let loc = Location::parse(dir.path().to_str().unwrap(), &StoreOptions::default()).unwrap();
        let key = "_state/p.lock";
        let first = RunLock::acquire(&loc, key, "r1", false).await.unwrap();
        let err = RunLock::acquire(&loc, key, "r2", false).await.unwrap_err();
        assert!(
            matches!(&err, LockError::Held { holder, .. } if holder.run_id == "r1"),
            "{err}"
        );
        assert!(err.to_string().contains("--break-lock"), "{err}");
        first.release().await.unwrap();
        assert!(!loc.exists(key).await.unwrap());
        RunLock::acquire(&loc, key, "r3", false)
            .await
            .unwrap()
            .release()
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn expired_or_broken_locks_are_taken_over() {
        let loc = Location::parse("memory:///o", &StoreOptions::default()).unwrap();
        let key = "_state/p.lock";
        let mut stale = LockInfo::new("dead", Utc::now());
        stale.expires_at = (Utc::now() - chrono::Duration::minutes(1)).to_rfc3339();
        loc.put_json_atomic(key, &stale).await.unwrap();
        let lock = RunLock::acquire(&loc, key, "r1", false).await.unwrap();
        // A live holder gives way only to --break-lock.
        let broken = RunLock::acquire(&loc, key, "r2", true).await.unwrap();
        // The first run no longer owns it: its release leaves r2's lock alone.
        lock.release().await.unwrap();
        assert!(loc.exists(key).await.unwrap());
        broken.release().await.unwrap();
        assert!(!loc.exists(key).await.unwrap());
    }
}
