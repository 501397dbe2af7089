//! A Python virtualenv with the readers and servers the tests talk to, installed on first use.
//!
//! `cargo test` must work on a fresh machine (and in CI, which starts from a clean clone) with no
//! manual step, so the first test that needs Python creates `<target>/pyenv` with `python3 -m venv`
//! and installs [`PACKAGES`] into it with its own pip (about a minute). Later tests, and later
//! `cargo test` runs, reuse it: a marker file inside the venv lists the packages it was built with,
//! and a different list (someone edited [`PACKAGES`]) rebuilds it.
//!
//! Tests run as threads of one process (`cargo test`) or as one process each (`cargo nextest`), so
//! two guards keep them from installing twice: a [`OnceLock`] within the process and a lock file
//! created with `create_new` across processes, holding the owner's pid. A lock file left by a killed
//! process is taken over once that process is gone, or once it is older than [`STALE_LOCK`].

use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

/// What the tests import or run: the S3 server, its client, the Parquet readers of the interop
/// and warehouse checks (fastparquet and pyspark are outside the Arrow family; deltalake reads
/// the Delta tables), and Prometheus' own text parser for the metrics file. Lower bounds only:
/// the versions in `docs/toolchain.md` are known to agree.
const PACKAGES: &[&str] = &[
    "moto[server]>=5",
    "boto3",
    "duckdb>=1.1",
    "pyarrow>=17",
    "polars>=1.0",
    "prometheus_client>=0.20",
    "fastparquet>=2024.2",
    "pyspark>=3.5",
    "deltalake>=0.25",
];

/// The marker file in the venv: present only after a complete install, holding [`PACKAGES`].
const MARKER: &str = "dentally-etl-packages.txt";

/// A lock file older than this belongs to a killed process (an install takes about a minute).
const STALE_LOCK: Duration = Duration::from_secs(15 * 60);

/// A ready virtualenv.
#[derive(Debug, Clone)]
pub struct PyEnv {
    /// The venv's interpreter, `<venv>/bin/python`.
    pub python: PathBuf,
    /// The venv's script directory, `<venv>/bin` (holds `moto_server`).
    pub bin: PathBuf,
}

/// The shared virtualenv, created or repaired on first use; panics with pip's output if the
/// install fails (no Python, no `venv` module, no access to the package index).
pub fn python_env() -> PyEnv {
    static ENV: OnceLock<PyEnv> = OnceLock::new();
    ENV.get_or_init(|| {
        let dir = target_dir().join("pyenv");
        let env = PyEnv {
            python: dir.join("bin/python"),
            bin: dir.join("bin"),
        };
        if !is_ready(&dir) {
            let _lock = LockFile::acquire(&target_dir().join("pyenv.lock"));
            if !is_ready(&dir) {
                install(&dir);
            }
        }
        env
    })
    .clone()
}

/// `CARGO_TARGET_DIR` (relative to the package root when relative), else `<package>/target`.
fn target_dir() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => root.join(dir),
        None => root.join("target"),
    }
}

fn marker_text() -> String {
    PACKAGES.join("\n") + "\n"
}

fn is_ready(dir: &Path) -> bool {
    dir.join("bin/python").exists()
        && fs::read_to_string(dir.join(MARKER)).is_ok_and(|text| text == marker_text())
}

/// Builds the venv from scratch; the marker is written last, so an interrupted install is redone.
fn install(dir: &Path) {
    eprintln!(
        "pyenv: installing {} into {}",
        PACKAGES.join(" "),
        dir.display()
    );
    if dir.exists() {
        fs::remove_dir_all(dir).unwrap_or_else(|e| panic!("cannot remove {}: {e}", dir.display()));
    }
    let python = std::env::var("DENTALLY_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
    run(Command::new(&python).args(["-m", "venv"]).arg(dir));
    run(Command::new(dir.join("bin/python"))
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
        ])
        .args(PACKAGES));
    fs::write(dir.join(MARKER), marker_text()).unwrap();
}

fn run(cmd: &mut Command) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("pyenv: cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "pyenv: {cmd:?} failed ({}); on Debian, `apt-get install python3-venv` provides `venv`\n\
         --- stdout\n{}\n--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
}

/// An exclusive lock across processes: a file that exists while the lock is held.
struct LockFile(PathBuf);

impl LockFile {
    fn acquire(path: &Path) -> Self {
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        loop {
            match OpenOptions::new().write(true).create_new(true).open(path) {
                Ok(mut file) => {
                    let _ = writeln!(file, "{}", std::process::id());
                    return Self(path.to_path_buf());
                }
                Err(e) if e.kind() == ErrorKind::AlreadyExists => {
                    if is_stale(path) {
                        let _ = fs::remove_file(path);
                    } else {
                        std::thread::sleep(Duration::from_millis(500));
                    }
                }
                Err(e) => panic!("pyenv: cannot create the lock {}: {e}", path.display()),
            }
        }
    }
}

/// The holder is gone: its process no longer exists (where `/proc` tells), or the lock is older
/// than [`STALE_LOCK`] (an interrupted `cargo test` must not block the next one for long).
fn is_stale(path: &Path) -> bool {
    let holder = fs::read_to_string(path).ok();
    let pid = holder
        .as_deref()
        .and_then(|text| text.trim().parse::<u32>().ok());
    if let Some(pid) = pid
        && Path::new("/proc/self").exists()
        && !Path::new(&format!("/proc/{pid}")).exists()
    {
        return true;
    }
    let modified = File::open(path).and_then(|f| f.metadata()?.modified());
    modified.is_ok_and(|m| {
        SystemTime::now()
            .duration_since(m)
            .is_ok_and(|age| age > STALE_LOCK)
    })
}

impl Drop for LockFile {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.0);
    }
}
