//! A local output directory holds UK GDPR special-category health data, so it is private by
//! default and its contents are trusted only as far as they are our own (security review D7,
//! D12).
//!
//! - **Modes.** With `[output] private = true` (the default) the process umask becomes `077`
//!   before anything is written, so every directory `object_store` creates is 0700 and every
//!   file 0600, staging files included (a chmod after the fact would leave each file readable
//!   while it is written). A root we create is 0700; a root that already exists and is open to
//!   others is left as the user made it, with a warning. `private = false` keeps the umask the
//!   user set.
//! - **Symlinks.** A symlinked folder under the root would send PII wherever it points and let
//!   whoever planted it choose what the run deletes, so any symlink below the root is refused
//!   before the run writes. (The root itself may be a symlink: the user chose it.)

use std::path::Path;

use super::error::SinkError;

/// Makes files and directories created from now on private to this user (umask 077).
#[cfg(unix)]
pub(crate) fn restrict_umask() {
    use rustix::fs::Mode;
    let old = rustix::process::umask(Mode::from_raw_mode(0o077));
    // umask only removes bits: keep any stricter mask the user already had.
    rustix::process::umask(Mode::from_raw_mode(0o077) | old);
}

#[cfg(not(unix))]
pub(crate) fn restrict_umask() {}

/// Warns when an existing output root is open to group or others.
#[cfg(unix)]
pub(crate) fn warn_if_open(root: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let Ok(meta) = std::fs::metadata(root) else {
        return;
    };
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        tracing::warn!(
            "the output directory `{}` is open to group or others (mode {mode:o}); new files in it are private, but consider `chmod 700 {}`",
            root.display(),
            root.display()
        );
    }
}

#[cfg(not(unix))]
pub(crate) fn warn_if_open(_root: &Path) {}

/// Refuses the output when any entry below `root` is a symbolic link.
pub(crate) fn refuse_symlinks(root: &Path) -> Result<(), SinkError> {
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let entries = std::fs::read_dir(&dir).map_err(|source| SinkError::CreateDir {
            path: dir.clone(),
            source,
        })?;
        for entry in entries.flatten() {
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            if kind.is_symlink() {
                return Err(SinkError::Symlink { path: entry.path() });
            }
            if kind.is_dir() {
                pending.push(entry.path());
            }
        }
    }
    Ok(())
}

/// Creates `dir` (and its parents) when missing; `true` when it was created now.
pub(crate) fn create_root(dir: &Path) -> Result<bool, std::io::Error> {
    if dir.is_dir() {
        return Ok(false);
    }
    std::fs::create_dir_all(dir)?;
    Ok(true)
}

/// The path of a symlink found, for tests.
#[cfg(test)]
pub(crate) fn first_symlink(root: &Path) -> Option<std::path::PathBuf> {
    match refuse_symlinks(root) {
        Err(SinkError::Symlink { path }) => Some(path),
        _ => None,
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn a_symlink_anywhere_below_the_root_is_found() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("patients/practice=a")).unwrap();
        assert_eq!(first_symlink(dir.path()), None);
        let elsewhere = tempfile::tempdir().unwrap();
        let link = dir.path().join("patients/practice=a/evil");
        std::os::unix::fs::symlink(elsewhere.path(), &link).unwrap();
        assert_eq!(first_symlink(dir.path()), Some(link));
    }
}
