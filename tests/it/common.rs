//! Shared test helpers: the binary under test, temp dirs, output filters.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The `dentally-etl` binary built for these tests.
pub fn bin() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_dentally-etl"));
    cmd.env_remove("RUST_LOG")
        .env("NO_COLOR", "1")
        .env_remove("DENTALLY_API_TOKEN");
    cmd
}

/// Path of a file under `tests/it/data/`.
pub fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/it/data")
        .join(name)
}

/// stdout and stderr as text, with the exit code.
pub fn text(out: &Output) -> (i32, String, String) {
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Replaces the repository path so snapshots are machine-independent.
pub fn scrub(s: &str) -> String {
    s.replace(env!("CARGO_MANIFEST_DIR"), "[REPO]")
}
