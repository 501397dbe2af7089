//! How a sandbox is set up: data size and seed, the simulated date, rate limiting, response
//! switches and faults.
//!
//! Every knob defaults to the real API as `../shared/docs/api-evidence.md` knows it, taking the
//! harsher side where the evidence is thin: 3,600 requests per clock hour with a text/plain
//! 403, only the evidenced filters applied (see `honoured`), Cancelled and Did-not-attend
//! appointments left out without `cancelled=true`, HTTP 413 past a deep offset, unstable paging
//! on `patient_stats`, no `meta.total_pages` on patients, treatment plan items and payments, no
//! `current_page`, newest-first default order, `sort_by` ignored on patients. A sandbox kinder
//! than the real API is how bugs hide, so the kind behaviours of earlier versions are knobs a
//! test must turn on, and says why.

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
    /// Send `meta.total_pages` on list answers (except `total_pages_absent`). Default true.
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
    /// `rooms`…): their lists answer 200 with no rows, as the live API does for a practice with
    /// no rooms (B).
    pub features_off: Vec<String>,
    /// Answer 404 (the old sandbox) instead of an empty 200 for `features_off` lists.
    /// Default false.
    pub features_off_404: bool,
    /// Filters applied although the evidence does not show the live API applies them, as
    /// `RESOURCE:PARAM` (`*` matches anything; `*:*` applies every filter the sandbox knows).
    /// Default none.
    pub honour_filters: Vec<String>,
    /// Filters ignored although the evidence shows the live API applies them, as
    /// `RESOURCE:PARAM`; they win over `honour_filters`. Default none.
    pub ignore_filters: Vec<String>,
    /// Serve Cancelled and Did-not-attend appointments without `cancelled=true` (the old
    /// sandbox). Default false: the live API leaves them out (B, two sources).
    pub include_cancelled: bool,
    /// A list page whose offset (`(page − 1) × per_page`) is past about this many rows answers
    /// HTTP 413 Content Too Large; the wall drifts by up to ±10 %, re-rolled (from the seed)
    /// every 100 list requests, as the live one drifts with load. `None`: no wall.
    /// Default `Some(50_000)` (the live wall was met between 50,000 and 106,000).
    pub deep_offset: Option<u64>,
    /// Resources whose bulk paging serves about 6 % of rows twice and skips as many, whatever
    /// `sort_by` says (a single-page answer is always whole). Default `["patient_stats"]`
    /// (6 % observed, B); `treatment_plan_items` and `recalls` were seen too.
    pub unstable_paging: Vec<String>,
    /// Lists whose `meta` never carries `total_pages`. Default patients, treatment_plan_items
    /// and payments (B-).
    pub total_pages_absent: Vec<String>,
    /// Send `meta.current_page` (no evidence that the live API does). Default false.
    pub current_page: bool,
    /// Without `sort_by`, serve newest first (id descending; ascending `updated_at` under
    /// `updated_after`), as the live API does (B-). False: id ascending (the old sandbox).
    /// Default true.
    pub newest_first: bool,
    /// Lists that ignore `sort_by`/`sort_direction`. Default `["patients"]` ("no sort
    /// control", C).
    pub sort_ignored: Vec<String>,
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
            features_off_404: false,
            honour_filters: Vec::new(),
            ignore_filters: Vec::new(),
            include_cancelled: false,
            deep_offset: Some(50_000),
            unstable_paging: vec!["patient_stats".into()],
            total_pages_absent: ["patients", "treatment_plan_items", "payments"]
                .map(String::from)
                .to_vec(),
            current_page: false,
            newest_first: true,
            sort_ignored: vec!["patients".into()],
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

    /// The old, kind sandbox: every filter it knows applied, cancelled appointments always
    /// served, no deep-offset wall, stable paging, `total_pages` and `current_page` everywhere,
    /// id-ascending default order, `sort_by` honoured everywhere. Only for tests of something
    /// else that need a forgiving API; say why where it is used.
    pub fn kind(self) -> Self {
        SandboxConfig {
            honour_filters: vec!["*:*".into()],
            include_cancelled: true,
            deep_offset: None,
            unstable_paging: Vec::new(),
            total_pages_absent: Vec::new(),
            current_page: true,
            newest_first: false,
            sort_ignored: Vec::new(),
            ..self
        }
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
