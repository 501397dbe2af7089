//! Security review (docs: ../shared/docs/security-review.md), one test per defect fixed in the
//! API client, the sink, the lock and the state: each runs the real binary against the sandbox,
//! or against a small hostile server in front of it, and checks the safe behaviour (exit code,
//! message, files).

mod bounded;
mod files;
mod hostile;
mod lock;
mod pii;
mod settings;
mod state;
mod transport;
mod values;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// What one run of the binary did.
pub struct Ran {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    /// Peak resident memory (`VmHWM`), in KiB.
    pub peak_kib: u64,
    pub elapsed: Duration,
}

/// Runs the binary with `args` and `envs`, sampling its peak memory until it exits.
pub async fn run_measured(args: &[&str], envs: &[(&str, &str)]) -> Ran {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_dentally-etl"));
    cmd.args(args)
        .env_remove("RUST_LOG")
        .env_remove("DENTALLY_API_TOKEN")
        .env("NO_COLOR", "1")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let started = Instant::now();
    let child = cmd.spawn().expect("start the binary");
    let pid = child.id().unwrap_or(0);
    let sampler = tokio::spawn(async move {
        let mut peak = 0;
        loop {
            match std::fs::read_to_string(format!("/proc/{pid}/status")) {
                Ok(status) => peak = peak.max(vm_hwm_kib(&status)),
                Err(_) => return peak,
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    });
    let out = child.wait_with_output().await.expect("wait for the binary");
    let elapsed = started.elapsed();
    let peak_kib = sampler.await.unwrap_or(0);
    Ran {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        peak_kib,
        elapsed,
    }
}

fn vm_hwm_kib(status: &str) -> u64 {
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// A single-practice pipeline `name` in `dir` reading `resources` from `base`, writing under
/// `dir/out`; `source` and `output` are extra lines for those sections.
pub fn pipeline(dir: &Path, base: &str, resources: &[&str], source: &str, output: &str) -> PathBuf {
    let mut text = format!(
        "name = \"sec\"\n[source]\nbase_url = \"{base}\"\ntoken_env = \"DENTALLY_API_TOKEN\"\n{source}\n\
         [output]\nurl = \"{}\"\n{output}\n",
        dir.join("out").display()
    );
    for r in resources {
        text.push_str(&format!("\n[[resources]]\nname = \"{r}\"\n"));
    }
    let path = dir.join("sec.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// Runs `run --quiet <pipeline>` with the sandbox's read token.
pub async fn run(p: &Path, extra: &[&str]) -> Ran {
    let mut args = vec!["--quiet", "run", p.to_str().unwrap()];
    args.extend_from_slice(extra);
    run_measured(&args, &[("DENTALLY_API_TOKEN", "sandbox-read")]).await
}

/// Every file under `dir` (recursively), relative, sorted.
pub fn files_under(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(d) = pending.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let path = e.path();
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                pending.push(path);
            } else {
                out.push(path.strip_prefix(dir).unwrap().display().to_string());
            }
        }
    }
    out.sort();
    out
}
