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
    /// A resource whose feature the practices do not use: its list answers 200 with no rows
    /// (repeatable).
    #[arg(long = "feature-off", value_name = "RESOURCE")]
    pub features_off: Vec<String>,
    /// Answer 404 instead of an empty list for `--feature-off` resources (the old sandbox).
    #[arg(long)]
    pub feature_off_404: bool,
    /// Apply a filter the live API is not known to apply, as RESOURCE:PARAM (`*` matches any;
    /// `'*:*'` applies every filter the sandbox knows). Repeatable.
    #[arg(long = "honour-filter", value_name = "RESOURCE:PARAM")]
    pub honour_filters: Vec<String>,
    /// Ignore a filter the live API applies, as RESOURCE:PARAM (wins over --honour-filter).
    /// Repeatable.
    #[arg(long = "ignore-filter", value_name = "RESOURCE:PARAM")]
    pub ignore_filters: Vec<String>,
    /// Serve Cancelled and Did-not-attend appointments without `cancelled=true`.
    #[arg(long)]
    pub include_cancelled: bool,
    /// Offset (rows) past which a list page answers 413, drifting ±10 % (default 50,000;
    /// 0: no wall).
    #[arg(long, value_name = "ROWS")]
    pub deep_offset: Option<u64>,
    /// A resource whose paging serves some rows twice and skips as many, even with sort_by
    /// (repeatable; patient_stats always is unless --stable-paging).
    #[arg(long = "unstable", value_name = "RESOURCE")]
    pub unstable: Vec<String>,
    /// No resource pages unstably (not even patient_stats), except those named by --unstable.
    #[arg(long)]
    pub stable_paging: bool,
    /// Send `meta.total_pages` on every list (patients, treatment_plan_items and payments
    /// omit it by default) and `meta.current_page`.
    #[arg(long)]
    pub full_meta: bool,
    /// Default order id ascending (instead of newest first), and `sort_by` honoured on every
    /// list (patients ignore it by default).
    #[arg(long)]
    pub ordered: bool,
    /// The old, kind sandbox: every filter applied, cancelled appointments served, no 413 wall,
    /// stable paging, full meta, id-ascending order. Other flags still apply on top.
    #[arg(long)]
    pub kind: bool,
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
        for pattern in self.honour_filters.iter().chain(&self.ignore_filters) {
            super::honoured::validate(pattern).map_err(|reason| SandboxError::InvalidSetting {
                setting: "--honour-filter/--ignore-filter",
                reason,
            })?;
        }
        for name in self.unstable.iter().chain(&self.features_off) {
            if crate::catalog::find(name).is_none() {
                return Err(SandboxError::InvalidSetting {
                    setting: "--unstable/--feature-off",
                    reason: format!("no resource `{name}` (see `dentally-etl resources`)"),
                });
            }
        }
        let today = match &self.today {
            Some(value) => chrono::NaiveDate::parse_from_str(value, "%Y-%m-%d").map_err(|_| {
                SandboxError::InvalidDate {
                    value: value.clone(),
                }
            })?,
            None => chrono::Utc::now().date_naive(),
        };
        let base = if self.kind {
            SandboxConfig::default().kind()
        } else {
            SandboxConfig::default()
        };
        let mut unstable_paging = if self.stable_paging {
            Vec::new()
        } else {
            base.unstable_paging.clone()
        };
        unstable_paging.extend(self.unstable.iter().cloned());
        let mut honour_filters = base.honour_filters.clone();
        honour_filters.extend(self.honour_filters.iter().cloned());
        Ok(SandboxConfig {
            features_off_404: self.feature_off_404,
            honour_filters,
            ignore_filters: self.ignore_filters.clone(),
            include_cancelled: base.include_cancelled || self.include_cancelled,
            deep_offset: match self.deep_offset {
                Some(0) => None,
                Some(rows) => Some(rows),
                None => base.deep_offset,
            },
            unstable_paging,
            total_pages_absent: if self.full_meta {
                Vec::new()
            } else {
                base.total_pages_absent.clone()
            },
            current_page: base.current_page || self.full_meta,
            newest_first: base.newest_first && !self.ordered,
            sort_ignored: if self.ordered {
                Vec::new()
            } else {
                base.sort_ignored.clone()
            },
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
            ..base
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
        "  tokens: sandbox-read (all :read scopes), sandbox-write, sandbox-patients (user:read patient:read), sandbox-expired (always 401),"
    );
    eprintln!(
        "          sandbox-read-renamed / sandbox-write-renamed (X-OAuth-Scopes names most read scopes differently; reads still work)"
    );
    if practices > 1 {
        eprintln!("  practices 2..{practices}: sandbox-read-2 … sandbox-read-{practices}");
    }
    eprintln!(
        "  try: curl -H 'User-Agent: me' -H 'Authorization: Bearer sandbox-read' {url}/v1/patients?per_page=2"
    );
    eprintln!(
        "  control: GET {url}/_sandbox/requests, POST {url}/_sandbox/advance?days=N[&resource=R&count=K&clustered=true], GET {url}/_sandbox/truth/<resource>"
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
        assert_eq!(c.deep_offset, Some(50_000));
        assert_eq!(c.unstable_paging, ["patient_stats"]);
        assert!(!c.include_cancelled && c.newest_first && !c.current_page);
        let c = Cli::parse_from([
            "x",
            "--deep-offset",
            "1000",
            "--unstable",
            "recalls",
            "--ignore-filter",
            "appointments:updated_after",
            "--honour-filter",
            "payments:updated_after",
        ])
        .args
        .config()
        .unwrap();
        assert_eq!(c.deep_offset, Some(1_000));
        assert_eq!(c.unstable_paging, ["patient_stats", "recalls"]);
        assert_eq!(c.ignore_filters, ["appointments:updated_after"]);
        assert_eq!(c.honour_filters, ["payments:updated_after"]);
        let kind = Cli::parse_from(["x", "--kind", "--deep-offset", "0"])
            .args
            .config()
            .unwrap();
        assert!(kind.include_cancelled && kind.deep_offset.is_none() && !kind.newest_first);
        assert!(kind.unstable_paging.is_empty() && kind.current_page);
        for bad in [
            ["x", "--honour-filter", "payment:dated_after"],
            ["x", "--unstable", "stats"],
        ] {
            assert!(Cli::parse_from(bad).args.config().is_err());
        }
        let bad = Cli::parse_from(["x", "--faults", "evil"]);
        assert!(bad.args.config().is_err());
    }
}
