//! The pipeline's state `_state/<pipeline>.json`: checkpoints of unfinished backfills and (for
//! incremental runs) the committed cursor of each resource.
//!
//! It lives next to the output, in the same store, so a job that moves machines (a new pod, a new
//! Airflow worker) finds it. It is human-readable JSON, replaced whole by a single `put` (atomic
//! on every backend), and versioned: a file of another format version is refused with a clear
//! message instead of being misread.
//!
//! Order of commits (design §4): data files are published first, then the checkpoint naming them
//! is written here. A crash between the two leaves data files that no checkpoint names; the next
//! run ignores them (they are never read into a current table) and cleans them up.
//!
//! Two safety rules (security review D10, D14): a committed cursor is never later than the moment
//! the state was loaded, so one row dated in the future (server clock skew, a bad timestamp)
//! cannot make every later run skip real changes; and [`erase`] removes a state without reading
//! it, so a corrupt or foreign file can always be reset with the tool.

use std::collections::BTreeMap;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;

use crate::extract::{SliceReport, SliceTotals};
use crate::manifest::FileEntry;
use crate::sink::{Location, SinkError};

/// Format version of the state file.
pub const VERSION: u32 = 1;

/// The whole state file.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct State {
    /// Format version.
    pub version: u32,
    /// Pipeline name.
    pub pipeline: String,
    /// Per resource.
    #[serde(default)]
    pub resources: BTreeMap<String, ResourceState>,
}

/// One resource's state.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ResourceState {
    /// Largest cursor value (`updated_at`, RFC 3339 UTC) committed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    /// Run id of the last commit of this resource.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_run: Option<String>,
    /// Current files per table, as of the last commit (the input of the next merge).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tables: BTreeMap<String, Vec<String>>,
    /// When deletions were last reconciled (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_reconcile: Option<String>,
    /// Incremental runs since then.
    #[serde(default)]
    pub runs_since_reconcile: u32,
    /// Progress of an unfinished extraction, to resume from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkpoint: Option<Checkpoint>,
    /// Schema hash of each current table at the last commit: a run whose tables hash
    /// otherwise (another `pii` policy, an upgrade that added or retyped a column) rebuilds them
    /// from a full read instead of merging old rows, which may hold plaintext, into them.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub schemas: BTreeMap<String, String>,
    /// Rows of the main current table at the last commit: the request estimate of `plan`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rows: Option<u64>,
    /// The last read of a whole date window: how dense the window is, so the next window read
    /// is cut into slices of a sensible size (and `plan` shows the same slices).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<crate::manifest::WindowRead>,
}

/// Where an unfinished extraction stood at its last commit.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Checkpoint {
    /// Run that wrote the checkpoint.
    pub run_id: String,
    /// Identity of the slices planned (window dates, treatments); resuming needs the same plan.
    pub plan: String,
    /// Slices fully read, with what they found.
    pub done: SliceTotals,
    /// Slice being read.
    pub slice: usize,
    /// Next page of that slice to request.
    pub next_page: u32,
    /// What the slice had found up to `next_page - 1`.
    pub partial: SliceReport,
    /// Published raw files, per table.
    pub raw_files: BTreeMap<String, Vec<FileEntry>>,
    /// Rows rejected so far.
    pub rejects: u64,
    /// Unknown fields seen so far.
    pub unknown_fields: Vec<String>,
    /// Values kept out of their columns so far, per table then column.
    #[serde(default)]
    pub mismatches: crate::flatten::ColumnCounts,
    /// Largest cursor value read so far (µs since the epoch).
    #[serde(default)]
    pub max_cursor: Option<i64>,
    /// Rows read so far, and those of them only a required parameter brings (its witness, e.g.
    /// Cancelled appointments): a resumed read judges the parameter on the whole read.
    #[serde(default)]
    pub witness: (u64, u64),
}

/// Why the state could not be used.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// Reading or writing failed.
    #[error(transparent)]
    Sink(#[from] SinkError),
    /// The file is not a state file we understand.
    #[error(
        "state file `{path}` cannot be read: {why}; move it away (or run `dentally-etl state reset`) to start afresh"
    )]
    Unreadable {
        /// Key of the state file.
        path: String,
        /// What is wrong.
        why: String,
    },
}

/// The state of one pipeline, shared by the resources of a run, saved on every change.
///
/// Two files: `_state/<pipeline>.json` holds what runs committed (cursors, current files) and is
/// written only by a run's commit; `_state/<pipeline>.progress.json` holds the checkpoints of
/// unfinished extractions and is written as they go. A run that fails therefore never changes
/// the committed state, yet the next run can resume where it stopped.
#[derive(Debug)]
pub struct StateStore {
    loc: Location,
    path: String,
    progress_path: String,
    state: Mutex<State>,
    /// When the state was loaded: no cursor is committed past it.
    loaded_at: DateTime<Utc>,
}

/// The checkpoints file.
#[derive(Debug, Default, Serialize, Deserialize)]
struct ProgressFile {
    version: u32,
    checkpoints: BTreeMap<String, Checkpoint>,
}

impl StateStore {
    /// Loads `_state/<pipeline>.json` and its checkpoints (an empty state when there is none).
    pub async fn load(loc: &Location, pipeline: &str) -> Result<Self, StateError> {
        let loaded_at = Utc::now();
        let (path, progress_path) = paths(pipeline);
        let mut state = match read_json(loc, &path).await? {
            None => State {
                version: VERSION,
                pipeline: pipeline.to_string(),
                resources: BTreeMap::new(),
            },
            Some(json) => parse(&path, json)?,
        };
        if let Some(json) = read_json(loc, &progress_path).await? {
            let progress: ProgressFile =
                serde_json::from_value(json).map_err(|e| StateError::Unreadable {
                    path: progress_path.clone(),
                    why: e.to_string(),
                })?;
            for (name, cp) in progress.checkpoints {
                state.resources.entry(name).or_default().checkpoint = Some(cp);
            }
        }
        Ok(Self {
            loc: loc.clone(),
            path,
            progress_path,
            state: Mutex::new(state),
            loaded_at,
        })
    }

    /// A copy of one resource's state.
    pub async fn resource(&self, name: &str) -> ResourceState {
        self.state
            .lock()
            .await
            .resources
            .get(name)
            .cloned()
            .unwrap_or_default()
    }

    /// A copy of the whole state.
    pub async fn snapshot(&self) -> State {
        self.state.lock().await.clone()
    }

    /// Changes one resource's committed state and saves the state file.
    pub async fn update(
        &self,
        name: &str,
        mut change: impl FnMut(&mut ResourceState),
    ) -> Result<(), StateError> {
        self.update_each(&[name], |n| n, |_, r| change(r)).await
    }

    /// Changes the committed state of the resource each of `items` names (`name`) and saves the
    /// state file once (a run's commit): a kill leaves all of them at this run or all at the
    /// last, never a mix that no manifest describes.
    pub async fn update_each<T>(
        &self,
        items: &[T],
        name: impl Fn(&T) -> &str,
        mut change: impl FnMut(&T, &mut ResourceState),
    ) -> Result<(), StateError> {
        let mut state = self.state.lock().await;
        for item in items {
            let name = name(item);
            let resource = state.resources.entry(name.to_string()).or_default();
            change(item, resource);
            resource.cursor = clamp_cursor(name, resource.cursor.take(), self.loaded_at);
        }
        let mut committed = state.clone();
        for r in committed.resources.values_mut() {
            r.checkpoint = None;
        }
        self.loc.put_json_atomic(&self.path, &committed).await?;
        Ok(())
    }

    /// Records (or clears) one resource's checkpoint in the progress file.
    pub async fn set_checkpoint(
        &self,
        name: &str,
        checkpoint: Option<Checkpoint>,
    ) -> Result<(), StateError> {
        let mut state = self.state.lock().await;
        state
            .resources
            .entry(name.to_string())
            .or_default()
            .checkpoint = checkpoint;
        let checkpoints: BTreeMap<String, Checkpoint> = state
            .resources
            .iter()
            .filter_map(|(n, r)| r.checkpoint.clone().map(|cp| (n.clone(), cp)))
            .collect();
        if checkpoints.is_empty() {
            self.loc.delete(&self.progress_path).await?;
        } else {
            self.loc
                .put_json_atomic(
                    &self.progress_path,
                    &ProgressFile {
                        version: VERSION,
                        checkpoints,
                    },
                )
                .await?;
        }
        Ok(())
    }

    /// The folder of the state files, for cleaning up interrupted writes: `_state/` for a
    /// single-practice pipeline, `_state/<pipeline>/practice=<name>/` for one practice of many.
    pub fn dir(&self) -> &str {
        self.path
            .rsplit_once('/')
            .map_or("_state/", |(dir, _)| &self.path[..=dir.len()])
    }

    /// Where the state lives (for messages).
    pub fn path(&self) -> &str {
        &self.path
    }
}

/// The state file and checkpoints file of a state name.
fn paths(name: &str) -> (String, String) {
    (
        format!("_state/{name}.json"),
        format!("_state/{name}.progress.json"),
    )
}

/// A state object's JSON; malformed JSON is an [`StateError::Unreadable`] with its position.
async fn read_json(loc: &Location, key: &str) -> Result<Option<serde_json::Value>, StateError> {
    match loc.get_json(key).await {
        Err(SinkError::Json { source, .. }) => Err(StateError::Unreadable {
            path: key.to_string(),
            why: source.to_string(),
        }),
        other => Ok(other?),
    }
}

/// Deletes the state and checkpoints of state name `name` without reading them (a corrupt or
/// foreign file included); returns the keys that existed.
pub async fn erase(loc: &Location, name: &str) -> Result<Vec<String>, StateError> {
    let (path, progress_path) = paths(name);
    let mut removed = Vec::new();
    for key in [path, progress_path] {
        if loc.exists(&key).await? {
            loc.delete(&key).await?;
            removed.push(key);
        }
    }
    Ok(removed)
}

/// `cursor`, or `ceiling` when the cursor is later (a row dated in the future), with a warning.
fn clamp_cursor(resource: &str, cursor: Option<String>, ceiling: DateTime<Utc>) -> Option<String> {
    let text = cursor?;
    let Ok(at) = DateTime::parse_from_rfc3339(&text) else {
        return Some(text);
    };
    if at <= ceiling {
        return Some(text);
    }
    tracing::warn!(
        resource,
        newest_row = %text,
        "Rows are dated in the future (server clock skew or a bad timestamp); the cursor stays at the run's start so later changes are not skipped."
    );
    Some(ceiling.to_rfc3339_opts(SecondsFormat::Micros, true))
}

fn parse(path: &str, json: serde_json::Value) -> Result<State, StateError> {
    let version = json.get("version").and_then(serde_json::Value::as_u64);
    if version != Some(u64::from(VERSION)) {
        return Err(StateError::Unreadable {
            path: path.into(),
            why: format!("format version {version:?}, this build reads version {VERSION}"),
        });
    }
    serde_json::from_value(json).map_err(|e| StateError::Unreadable {
        path: path.into(),
        why: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sink::StoreOptions;

    #[tokio::test]
    async fn saves_and_reloads_and_refuses_other_versions() {
        let loc = Location::parse("memory:///o", &StoreOptions::default()).unwrap();
        let store = StateStore::load(&loc, "p").await.unwrap();
        store
            .update("patients", |r| {
                r.cursor = Some("2026-01-01T00:00:00Z".into())
            })
            .await
            .unwrap();
        let again = StateStore::load(&loc, "p").await.unwrap();
        assert_eq!(
            again.resource("patients").await.cursor.as_deref(),
            Some("2026-01-01T00:00:00Z")
        );
        loc.put_json_atomic("_state/q.json", &serde_json::json!({"version": 99}))
            .await
            .unwrap();
        let err = StateStore::load(&loc, "q").await.unwrap_err().to_string();
        assert!(err.contains("version"), "{err}");
    }

    #[tokio::test]
    async fn a_future_cursor_is_held_at_the_load_time() {
        let loc = Location::parse("memory:///o", &StoreOptions::default()).unwrap();
        let store = StateStore::load(&loc, "p").await.unwrap();
        store
            .update("patients", |r| {
                r.cursor = Some("2999-01-01T00:00:00Z".into())
            })
            .await
            .unwrap();
        let cursor = store.resource("patients").await.cursor.unwrap();
        let at = DateTime::parse_from_rfc3339(&cursor).unwrap();
        // The cursor is kept to the microsecond; the load time has nanoseconds.
        let loaded = store.loaded_at - chrono::Duration::microseconds(1);
        assert!(at <= Utc::now() && at >= loaded, "{cursor}");
    }

    #[tokio::test]
    async fn a_corrupt_state_names_the_position_and_can_be_erased() {
        let loc = Location::parse("memory:///o", &StoreOptions::default()).unwrap();
        loc.put_bytes("_state/p.json", b"{\"version\": 1,\n oops".to_vec())
            .await
            .unwrap();
        let err = StateStore::load(&loc, "p").await.unwrap_err().to_string();
        assert!(
            err.contains("line 2") && err.contains("state reset"),
            "{err}"
        );
        assert_eq!(erase(&loc, "p").await.unwrap(), vec!["_state/p.json"]);
        assert!(StateStore::load(&loc, "p").await.is_ok());
    }
}
