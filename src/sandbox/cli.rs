//! `dentally-etl sandbox`: serve the emulator on loopback until Ctrl-C.
//!
//! The first line on stdout is exactly the base URL (flushed at once), so scripts can start
//! the sandbox in the background and read where it listens; the help for humans (tokens,
//! control routes) goes to stderr.

use std::io::Write;
use std::time::Duration;

use anyhow::Context;

use super::config::{RateLimitConfig, RateLimitMode, SandboxConfig};
use super::error::SandboxError;
use super::faults::FaultConfig;

/// Options of `dentally-etl sandbox`.
#[derive(Debug, Clone, clap::Args)]
pub struct SandboxArgs {
    /// Port on 127.0.0.1 (0 picks a free one).
    #[arg(long, default_value_t = 0)]
    pub port: u16,
    /// Seed of the generated data and of the faults.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Practice size: 1 ≈ 1,000 patients; any positive number (1000 works).
    #[arg(long, default_value_t = 1.0)]
    pub scale: f64,
    /// Simulated date (YYYY-MM-DD); default today (UTC).
    #[arg(long)]
    pub today: Option<String>,
    /// Fault profile: none, flaky or hostile.
    #[arg(long, default_value = "none")]
    pub faults: String,
    /// Requests per rate-limit window and user.
    #[arg(long, default_value_t = 3_600)]
    pub rate_limit: u32,
    /// Rate-limit window in seconds (windows align to multiples of it).
    #[arg(long, default_value_t = 3_600)]
    pub rate_window_secs: u64,
    /// How an over-limit request is refused.
    #[arg(long, value_enum, default_value_t = RateLimitMode::Forbidden403Text)]
    pub rate_limit_mode: RateLimitMode,
    /// Leave `meta.total_pages` out of list answers.
    #[arg(long)]
    pub no_total_pages: bool,
    /// A resource whose feature the practices do not use: its list answers 404 (repeatable).
    #[arg(long = "feature-off", value_name = "RESOURCE")]
    pub features_off: Vec<String>,
    /// Do not send `X-OAuth-Scopes`.
    #[arg(long)]
    pub no_scopes_header: bool,
    /// Latency added to every API answer, in milliseconds.
    #[arg(long, default_value_t = 0)]
    pub latency_ms: u64,
    /// Number of practices (tokens `sandbox-read-2` … reach the others).
    #[arg(long, default_value_t = 1)]
    pub practices: u32,
}

impl SandboxArgs {
    /// The configuration these options describe.
    pub fn config(&self) -> Result<SandboxConfig, SandboxError> {
        if !(self.scale.is_finite() && self.scale > 0.0) {
            return Err(SandboxError::InvalidSetting {
                setting: "--scale",
                reason: "must be a positive number".into(),
            });
        }
        if self.practices == 0 || self.rate_window_secs == 0 {
            return Err(SandboxError::InvalidSetting {
                setting: "--practices/--rate-window-secs",
                reason: "must be at least 1".into(),
            });
        }
        let today = match &self.today {
            Some(value) => chrono::NaiveDate::parse_from_str(value, "%Y-%m-%d").map_err(|_| {
                SandboxError::InvalidDate {
                    value: value.clone(),
                }
            })?,
            None => chrono::Utc::now().date_naive(),
        };
        Ok(SandboxConfig {
            seed: self.seed,
            scale: self.scale,
            today,
            practices: self.practices,
            rate_limit: RateLimitConfig {
                limit: self.rate_limit,
                window: Duration::from_secs(self.rate_window_secs),
                mode: self.rate_limit_mode,
            },
            faults: FaultConfig::profile(&self.faults)?,
            total_pages: !self.no_total_pages,
            features_off: self.features_off.clone(),
            scopes_header: !self.no_scopes_header,
            latency: Duration::from_millis(self.latency_ms),
            port: self.port,
            ..SandboxConfig::default()
        })
    }
}

/// Runs the sandbox until Ctrl-C: prints the base URL as the first stdout line, then a short
/// help on stderr.
pub async fn run(args: SandboxArgs) -> anyhow::Result<()> {
    let config = args.config()?;
    let practices = config.practices;
    let handle = super::spawn(config)
        .await
        .with_context(|| format!("cannot listen on 127.0.0.1:{}", args.port))?;
    let url = handle.base_url();
    let mut stdout = std::io::stdout();
    writeln!(stdout, "{url}")?;
    stdout.flush()?;
    eprintln!(
        "Dentally sandbox listening on {url} (seed {}, scale {}, faults {})",
        args.seed, args.scale, args.faults
    );
    eprintln!(
        "  tokens: sandbox-read (all :read scopes), sandbox-write, sandbox-patients (user:read patient:read), sandbox-expired (always 401)"
    );
    if practices > 1 {
        eprintln!("  practices 2..{practices}: sandbox-read-2 … sandbox-read-{practices}");
    }
    eprintln!(
        "  try: curl -H 'User-Agent: me' -H 'Authorization: Bearer sandbox-read' {url}/v1/patients?per_page=2"
    );
    eprintln!(
        "  control: GET {url}/_sandbox/requests, POST {url}/_sandbox/advance?days=N, GET {url}/_sandbox/truth/<resource>"
    );
    eprintln!("  Ctrl-C to stop");
    tokio::signal::ctrl_c()
        .await
        .context("waiting for Ctrl-C")?;
    handle.shutdown();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: SandboxArgs,
    }

    #[test]
    fn flags_become_a_config() {
        let cli = Cli::parse_from([
            "x",
            "--scale",
            "0.5",
            "--today",
            "2026-06-15",
            "--faults",
            "flaky",
            "--rate-limit",
            "20",
            "--rate-window-secs",
            "2",
            "--rate-limit-mode",
            "429",
            "--no-total-pages",
            "--practices",
            "2",
        ]);
        let c = cli.args.config().unwrap();
        assert_eq!(c.scale, 0.5);
        assert_eq!(c.today.to_string(), "2026-06-15");
        assert!(c.faults.error_rate > 0.0);
        assert_eq!(c.rate_limit.limit, 20);
        assert_eq!(c.rate_limit.window, Duration::from_secs(2));
        assert_eq!(c.rate_limit.mode, RateLimitMode::TooMany429);
        assert!(!c.total_pages);
        assert_eq!(c.practices, 2);
        let bad = Cli::parse_from(["x", "--faults", "evil"]);
        assert!(bad.args.config().is_err());
    }
}
