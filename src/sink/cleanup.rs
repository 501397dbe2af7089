//! Crash recovery: removing the half-written leftovers of an interrupted run.
//!
//! The sink never publishes a partial file, but a killed process can leave invisible debris:
//!
//! - **`LocalFileSystem`** (`object_store` 0.14, `local.rs`) writes every object, single `put` or
//!   multipart, into a staging file next to its destination named `<file>#<n>` (`n` = 1, 2, … the
//!   first free number), then renames it over `<file>` on completion. On an error or when the
//!   upload is dropped inside a tokio runtime it deletes the staging file itself, but after
//!   `SIGKILL`, OOM or power loss the `part-0.parquet#1` files stay. `object_store` hides names
//!   ending in `#<digits>` from `list` and refuses to address them (`InvalidPath`), so they can
//!   only be removed through the filesystem, which is what this module does.
//! - **S3, GCS, Azure**: an interrupted multipart upload (or uncommitted Azure blocks) is not an
//!   object; it cannot be listed through `object_store` and is never visible to readers, but S3
//!   bills its parts until it is aborted. Configure the bucket lifecycle rule
//!   `AbortIncompleteMultipartUpload` (e.g. after 1 day); nothing here can see them.
//! - **`*.tmp` objects**: temp-then-rename writers (other tools, or a future writer of ours) leave
//!   these on any backend; they are listed and deleted like ordinary objects.
//!
//! Only leftovers older than a given age are removed, so the staging file of a concurrent
//! writer (its modification time advances with every part) is not pulled from under it.

use std::path::{Path as FsPath, PathBuf};
use std::time::{Duration, SystemTime};

use super::error::SinkError;
use super::location::Location;

/// What a cleanup removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CleanupReport {
    /// Keys relative to the location, sorted.
    pub removed: Vec<String>,
}

/// Whether a file name is a leftover: a `LocalFileSystem` staging file (`name#<digits>`) or a
/// `*.tmp` file.
pub fn is_temporary(file_name: &str) -> bool {
    let staging = file_name.rsplit_once('#').is_some_and(|(_, suffix)| {
        !suffix.is_empty() && suffix.bytes().all(|b| b.is_ascii_digit())
    });
    staging || has_tmp_extension(file_name)
}

fn has_tmp_extension(file_name: &str) -> bool {
    std::path::Path::new(file_name)
        .extension()
        .is_some_and(|ext| ext.eq_ignore_ascii_case("tmp"))
}

/// Removes the leftovers under `rel_prefix` (recursively) last modified more than `older_than`
/// ago: staging files of a local directory, and `*.tmp` objects on any backend.
/// `Duration::ZERO` removes them all; use it only when no other run writes to this output.
pub async fn remove_leftovers(
    location: &Location,
    rel_prefix: &str,
    older_than: Duration,
) -> Result<CleanupReport, SinkError> {
    let cutoff = SystemTime::now()
        .checked_sub(older_than)
        .unwrap_or(SystemTime::UNIX_EPOCH);
    let mut removed = Vec::new();
    if let Some(root) = location.local_root() {
        let root = root.to_path_buf();
        let dir = rel_prefix
            .split('/')
            .filter(|p| !p.is_empty())
            .fold(root.clone(), |dir, part| dir.join(part));
        let local = tokio::task::spawn_blocking(move || remove_staging_files(&root, &dir, cutoff))
            .await
            .unwrap_or_else(|join| std::panic::resume_unwind(join.into_panic()))?;
        removed.extend(local);
    }
    removed.extend(remove_tmp_objects(location, rel_prefix, cutoff).await?);
    removed.sort();
    removed.dedup();
    Ok(CleanupReport { removed })
}

/// Deletes `*.tmp` objects under the prefix that are older than `cutoff`.
async fn remove_tmp_objects(
    location: &Location,
    rel_prefix: &str,
    cutoff: SystemTime,
) -> Result<Vec<String>, SinkError> {
    let cutoff = chrono::DateTime::<chrono::Utc>::from(cutoff);
    let mut removed = Vec::new();
    for meta in location.list(rel_prefix).await? {
        let stale = meta.last_modified <= cutoff;
        if !stale || !meta.location.filename().is_some_and(is_temporary) {
            continue;
        }
        let rel = location
            .relative(&meta.location)
            .unwrap_or_else(|| meta.location.to_string());
        location.delete(&rel).await?;
        removed.push(rel);
    }
    Ok(removed)
}

/// Walks `dir` (without following symlinks) and deletes staging files older than `cutoff`;
/// returns their paths relative to `root`, `/`-separated. A missing `dir` is not an error.
fn remove_staging_files(
    root: &FsPath,
    dir: &FsPath,
    cutoff: SystemTime,
) -> Result<Vec<String>, SinkError> {
    let mut removed = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(source) => return Err(SinkError::Cleanup { path: dir, source }),
        };
        for entry in entries {
            let entry = entry.map_err(|source| cleanup_error(&dir, source))?;
            let path = entry.path();
            let file_type = entry
                .file_type()
                .map_err(|source| cleanup_error(&path, source))?;
            if file_type.is_dir() {
                pending.push(path);
            } else if file_type.is_file() && is_stale_staging(&entry, cutoff) {
                remove_file(&path)?;
                removed.push(relative_key(root, &path));
            }
        }
    }
    Ok(removed)
}

fn is_stale_staging(entry: &std::fs::DirEntry, cutoff: SystemTime) -> bool {
    let name = entry.file_name();
    let staging = name
        .to_str()
        .is_some_and(|n| is_temporary(n) && !has_tmp_extension(n));
    staging
        && entry
            .metadata()
            .and_then(|m| m.modified())
            .is_ok_and(|modified| modified <= cutoff)
}

fn remove_file(path: &FsPath) -> Result<(), SinkError> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(cleanup_error(path, e)),
        _ => Ok(()),
    }
}

fn relative_key(root: &FsPath, path: &FsPath) -> String {
    let rel = path.strip_prefix(root).unwrap_or(path);
    let parts: Vec<_> = rel.iter().map(|p| p.to_string_lossy()).collect();
    parts.join("/")
}

fn cleanup_error(path: &FsPath, source: std::io::Error) -> SinkError {
    SinkError::Cleanup {
        path: PathBuf::from(path),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sink::location::StoreOptions;

    #[test]
    fn temporary_names() {
        assert!(is_temporary("part-0.parquet#1"));
        assert!(is_temporary("part-0.parquet#12"));
        assert!(is_temporary("state.json.tmp"));
        assert!(!is_temporary("part-0.parquet"));
        assert!(!is_temporary("a#b"));
        assert!(!is_temporary("a#"));
    }

    #[tokio::test]
    async fn local_staging_and_tmp_files_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        let loc = Location::parse(dir.path().to_str().unwrap(), &StoreOptions::default()).unwrap();
        std::fs::create_dir_all(dir.path().join("t/sub")).unwrap();
        for name in [
            "t/part-0.parquet",
            "t/part-0.parquet#1",
            "t/sub/x.csv#2",
            "t/s.json.tmp",
        ] {
            std::fs::write(dir.path().join(name), b"x").unwrap();
        }
        std::fs::write(dir.path().join("other#1"), b"x").unwrap();

        // Too young to touch.
        let report = remove_leftovers(&loc, "t", Duration::from_hours(1))
            .await
            .unwrap();
        assert!(report.removed.is_empty());

        let report = remove_leftovers(&loc, "t", Duration::ZERO).await.unwrap();
        assert_eq!(
            report.removed,
            vec!["t/part-0.parquet#1", "t/s.json.tmp", "t/sub/x.csv#2"]
        );
        assert!(dir.path().join("t/part-0.parquet").exists());
        assert!(dir.path().join("other#1").exists(), "outside the prefix");
    }

    #[tokio::test]
    async fn tmp_objects_are_removed_from_any_store() {
        let loc = Location::parse("memory:///o", &StoreOptions::default()).unwrap();
        loc.put_json_atomic("_state/p.json.tmp", &1).await.unwrap();
        loc.put_json_atomic("_state/p.json", &1).await.unwrap();
        let report = remove_leftovers(&loc, "", Duration::ZERO).await.unwrap();
        assert_eq!(report.removed, vec!["_state/p.json.tmp"]);
        assert!(loc.exists("_state/p.json").await.unwrap());
    }
}
