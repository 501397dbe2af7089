//! How a sandbox is set up: data size and seed, the simulated date, rate limiting, response
//! switches and faults.
//!
//! Every knob has the default of the real API as far as `docs/dentally-api.md` knows it
//! (3,600 requests per clock hour, 403 text/plain when exceeded, `meta.total_pages` present),
//! so a default sandbox is the "happy" API and tests turn on what they need.

use std::time::Duration;

use chrono::NaiveDate;

use super::faults::FaultConfig;

/// Everything a sandbox is made of. Build one with `SandboxConfig::default()` and struct
/// update syntax, or with the `with_*` builders.
#[derive(Debug, Clone)]
pub struct SandboxConfig {
    /// Seed of all generated data and of the fault dice. Two sandboxes with the same
    /// configuration serve byte-identical answers. Default 1.
    pub seed: u64,
    /// Practice size: 1 ≈ 1,000 patients, 3,000 appointments, 2,000 invoices; every table
    /// scales with it and keeps at least one row. Default 1.0. Scale 1000 works (records are
    /// generated on the fly).
    pub scale: f64,
    /// The simulated date: base data ends here and the clock starts at 09:00 local time on this
    /// day. Default: the real current UTC date.
    pub today: NaiveDate,
    /// Number of practices (tenants); practice `n > 1` is read with `sandbox-read-n`. Default 1.
    pub practices: u32,
    /// Rate limiting.
    pub rate_limit: RateLimitConfig,
    /// Fault injection (none by default).
    pub faults: FaultConfig,
    /// Send `meta.total_pages` on list answers. Default true.
    pub total_pages: bool,
    /// Send `X-OAuth-Scopes` on authenticated answers. Default true.
    pub scopes_header: bool,
    /// Added to every API answer (not to control routes). Default zero.
    pub latency: Duration,
    /// Port to bind on 127.0.0.1; 0 picks a free one. Default 0.
    pub port: u16,
    /// Tokens unused for longer than this many *simulated* days answer 401 for good (Dentally
    /// expires keys after two weeks idle). `None` disables expiry (except for
    /// `sandbox-expired`). Default `Some(14)`: note that `advance(15)` without a request in
    /// between expires every token.
    pub token_idle_days: Option<u32>,
    /// Answer 422 instead of an empty list when a windowed list (appointments, rota) is asked
    /// for without its `after`/`before` window. Default false (empty list).
    pub strict_windows: bool,
    /// Resources whose feature the practices do not use (`nhs_claims`, `rota_practitioner_diaries`,
    /// `rooms`…): their lists answer 404, as Dentally's do for features a practice lacks.
    pub features_off: Vec<String>,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        SandboxConfig {
            seed: 1,
            scale: 1.0,
            today: chrono::Utc::now().date_naive(),
            practices: 1,
            rate_limit: RateLimitConfig::default(),
            faults: FaultConfig::default(),
            total_pages: true,
            scopes_header: true,
            latency: Duration::ZERO,
            port: 0,
            token_idle_days: Some(14),
            strict_windows: false,
            features_off: Vec::new(),
        }
    }
}

impl SandboxConfig {
    /// The same configuration with another seed.
    pub fn with_seed(self, seed: u64) -> Self {
        SandboxConfig { seed, ..self }
    }

    /// The same configuration with another scale.
    pub fn with_scale(self, scale: f64) -> Self {
        SandboxConfig { scale, ..self }
    }

    /// The same configuration with another simulated date.
    pub fn with_today(self, today: NaiveDate) -> Self {
        SandboxConfig { today, ..self }
    }

    /// The same configuration with other faults.
    pub fn with_faults(self, faults: FaultConfig) -> Self {
        SandboxConfig { faults, ..self }
    }

    /// The same configuration with another rate limit.
    pub fn with_rate_limit(self, rate_limit: RateLimitConfig) -> Self {
        SandboxConfig { rate_limit, ..self }
    }
}

/// The per-user request budget.
#[derive(Debug, Clone)]
pub struct RateLimitConfig {
    /// Requests per window. Default 3,600.
    pub limit: u32,
    /// Window length; windows are aligned to multiples of it since the Unix epoch (one hour:
    /// the clock hour). Default one hour.
    pub window: Duration,
    /// What an over-limit answer looks like.
    pub mode: RateLimitMode,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        RateLimitConfig {
            limit: 3_600,
            window: Duration::from_secs(3_600),
            mode: RateLimitMode::default(),
        }
    }
}

/// How the sandbox answers a request over the limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum RateLimitMode {
    /// `403`, `text/plain`, body `403 Forbidden (Rate Limit Exceeded)`: Dentally's middleware.
    #[default]
    #[value(name = "403-text")]
    Forbidden403Text,
    /// `403` with a JSON error whose message contains "Rate limit exceeded".
    #[value(name = "403-json")]
    Forbidden403Json,
    /// `429 Too Many Requests` with `Retry-After` (seconds to the window's end).
    #[value(name = "429")]
    TooMany429,
}
