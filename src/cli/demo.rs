//! `demo`: the whole product on the built-in sandbox, no account needed.
//!
//! Starts the sandbox in-process on a free loopback port, runs the bundled `pipelines/demo.toml`
//! (every resource) with the `sandbox-read` token into `./out`, prints the summary and a DuckDB
//! query to try.

use std::path::Path;
use std::process::ExitCode;

use crate::config::{self, OutputFormat, TokenSource};
use crate::run::{self, RunOptions};
use crate::sandbox::{self, SandboxConfig};

/// The bundled demo pipeline.
pub const DEMO_PIPELINE: &str = include_str!("../../pipelines/demo.toml");

/// Runs the demo.
pub async fn run(out: &Path, scale: f64, format: &str, quiet: bool) -> ExitCode {
    match demo(out, scale, format, quiet).await {
        Ok(code) => code,
        Err(message) => {
            super::logging::fatal_message(1, &message);
            ExitCode::from(1)
        }
    }
}

async fn demo(out: &Path, scale: f64, format: &str, quiet: bool) -> Result<ExitCode, String> {
    let handle = sandbox::spawn(SandboxConfig {
        scale,
        ..SandboxConfig::default()
    })
    .await
    .map_err(|e| format!("cannot start the sandbox: {e}"))?;
    let base = handle.base_url();
    super::logging::say(
        "INFO",
        &format!("sandbox serving at {base} (scale {scale})"),
        super::logging::fields([("base_url", base.as_str().into()), ("scale", scale.into())]),
    );
    let env = |name: &str| match name {
        "DENTALLY_BASE_URL" => Some(base.clone()),
        _ => std::env::var(name).ok(),
    };
    let mut pipeline = config::parse(Path::new("pipelines/demo.toml"), DEMO_PIPELINE, &env)
        .map_err(|d| {
            d.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n")
        })?;
    let token_dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let token_path = token_dir.path().join("token");
    write_private(&token_path, "sandbox-read")
        .map_err(|e| format!("cannot write the demo token file: {e}"))?;
    pipeline.source.token = TokenSource::File(token_path);
    pipeline.output.url = out.display().to_string();
    pipeline.output.format = match format {
        "csv" => OutputFormat::Csv,
        "parquet" => OutputFormat::Parquet,
        other => return Err(format!("unknown format `{other}`: use parquet or csv")),
    };
    // The output folder is created by the run itself, private (0700) like everything it writes.
    let outcome = run::run(
        &pipeline,
        &RunOptions {
            progress: !quiet,
            ..RunOptions::default()
        },
    )
    .await
    .map_err(|e| e.to_string())?;
    for m in &outcome.manifests {
        super::summary::emit(m);
    }
    let ext = outcome
        .manifests
        .first()
        .map_or("parquet", |m| m.format.extension());
    super::logging::say(
        "INFO",
        &format!(
            "\nFiles are in {dir}/. Try:\n  duckdb -c \"SELECT state, count(*) FROM '{dir}/appointments/*.{ext}' GROUP BY state ORDER BY 2 DESC\"",
            dir = out.display()
        ),
        super::logging::fields([("output", out.display().to_string().into())]),
    );
    handle.shutdown();
    Ok(ExitCode::from(outcome.exit_code))
}

fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    std::fs::write(path, text)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(())
}
