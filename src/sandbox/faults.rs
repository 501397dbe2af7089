//! Fault injection: what goes wrong, how often, and the seeded dice that decide it.
//!
//! The real API is slow on deep pages, answers 5xx now and then, blips a rate-limit 403 right
//! after the hourly reset, and may not keep its default order stable (`docs/dentally-api.md`
//! §4, §7). A [`FaultConfig`] gives each of these a probability per request; the dice are a
//! seeded stream (request `n` always rolls the same numbers), so a failing test replays.
//!
//! A fault is per attempt, never per request: the same request (method, path, query, user)
//! is failed at most [`FaultConfig::max_consecutive`] times in a row, then served, so a client
//! that retries always gets through.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use super::data::rng::Rng;
use super::error::SandboxError;

/// Probabilities (0.0–1.0, per request) and shapes of injected faults.
#[derive(Debug, Clone, PartialEq)]
pub struct FaultConfig {
    /// A 500, 502 or 503 JSON error instead of the answer.
    pub error_rate: f64,
    /// Sleep [`stall`](Self::stall) before answering, so clients with shorter timeouts time out.
    pub stall_rate: f64,
    /// How long a stall lasts. Default 30 s.
    pub stall: Duration,
    /// Valid status and headers, JSON body cut in the middle (the response itself completes).
    pub truncate_rate: f64,
    /// Headers, then part of the body, then the connection is aborted.
    pub reset_rate: f64,
    /// Extra latency, uniform up to [`latency_max`](Self::latency_max).
    pub latency_rate: f64,
    /// Upper bound of extra latency. Default 250 ms.
    pub latency_max: Duration,
    /// A rate-limit answer although the budget is fine, for requests in the first
    /// [`blip_window`](Self::blip_window) of a rate-limit window.
    pub blip_rate: f64,
    /// How long after a window reset blips can happen. Default 5 s.
    pub blip_window: Duration,
    /// Lists without `sort_by` come back in an unstable order (rows shift between pages, so
    /// some repeat and some vanish); with `sort_by` the order is always stable.
    pub unstable_order_rate: f64,
    /// `meta.total_pages` is left out of a list answer.
    pub missing_total_pages_rate: f64,
    /// A request is failed at most this many times in a row. Default 3.
    pub max_consecutive: u32,
}

impl Default for FaultConfig {
    fn default() -> Self {
        FaultConfig {
            error_rate: 0.0,
            stall_rate: 0.0,
            stall: Duration::from_secs(30),
            truncate_rate: 0.0,
            reset_rate: 0.0,
            latency_rate: 0.0,
            latency_max: Duration::from_millis(250),
            blip_rate: 0.0,
            blip_window: Duration::from_secs(5),
            unstable_order_rate: 0.0,
            missing_total_pages_rate: 0.0,
            max_consecutive: 3,
        }
    }
}

impl FaultConfig {
    /// A named profile: `none` (no faults), `flaky` (occasional 5xx and latency), `hostile`
    /// (everything: 5xx, stalls, truncated bodies, resets, rate-limit blips, unstable default
    /// order, missing `total_pages`).
    pub fn profile(name: &str) -> Result<FaultConfig, SandboxError> {
        let base = FaultConfig::default();
        match name {
            "none" => Ok(base),
            "flaky" => Ok(FaultConfig {
                error_rate: 0.05,
                latency_rate: 0.2,
                latency_max: Duration::from_millis(150),
                ..base
            }),
            "hostile" => Ok(FaultConfig {
                error_rate: 0.08,
                stall_rate: 0.01,
                truncate_rate: 0.03,
                reset_rate: 0.03,
                latency_rate: 0.3,
                latency_max: Duration::from_millis(300),
                blip_rate: 0.5,
                unstable_order_rate: 0.3,
                missing_total_pages_rate: 0.5,
                ..base
            }),
            other => Err(SandboxError::UnknownProfile {
                name: other.to_string(),
            }),
        }
    }

    /// Whether any fault can happen.
    pub fn is_active(&self) -> bool {
        self.error_rate
            + self.stall_rate
            + self.truncate_rate
            + self.reset_rate
            + self.latency_rate
            + self.blip_rate
            + self.unstable_order_rate
            + self.missing_total_pages_rate
            > 0.0
    }
}

/// A fault that replaces or breaks the answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Failure {
    /// A JSON 5xx.
    Status(u16),
    /// Sleep, then answer normally.
    Stall(Duration),
    /// Cut the body in the middle.
    Truncate,
    /// Abort the connection mid-body.
    Reset,
}

/// What the dice decided for one request.
#[derive(Debug, Clone, Default)]
pub(crate) struct Plan {
    /// Extra latency.
    pub latency: Duration,
    /// A breaking fault, if any.
    pub failure: Option<Failure>,
    /// Seed of the perturbation of an unstable default order, if this answer gets one.
    pub unstable_order: Option<u64>,
    /// Leave out `meta.total_pages`.
    pub hide_total_pages: bool,
}

impl Plan {
    /// Names of the faults applied, for the request log (`"503"`, `"stall+latency"`).
    pub(crate) fn describe(&self) -> Option<String> {
        let mut parts: Vec<String> = Vec::new();
        match self.failure {
            Some(Failure::Status(code)) => parts.push(code.to_string()),
            Some(Failure::Stall(_)) => parts.push("stall".into()),
            Some(Failure::Truncate) => parts.push("truncated".into()),
            Some(Failure::Reset) => parts.push("reset".into()),
            None => {}
        }
        if !self.latency.is_zero() {
            parts.push("latency".into());
        }
        if self.unstable_order.is_some() {
            parts.push("unstable_order".into());
        }
        if self.hide_total_pages {
            parts.push("no_total_pages".into());
        }
        (!parts.is_empty()).then(|| parts.join("+"))
    }
}

/// The seeded dice of a sandbox.
#[derive(Debug)]
pub(crate) struct FaultDice {
    seed: u64,
    config: Mutex<FaultConfig>,
    rolls: AtomicU64,
    streaks: Mutex<HashMap<String, u32>>,
}

impl FaultDice {
    /// Dice for `config`, seeded by the sandbox seed.
    pub(crate) fn new(seed: u64, config: FaultConfig) -> FaultDice {
        FaultDice {
            seed,
            config: Mutex::new(config),
            rolls: AtomicU64::new(0),
            streaks: Mutex::new(HashMap::new()),
        }
    }

    /// The current configuration.
    pub(crate) fn config(&self) -> FaultConfig {
        self.config.lock().expect("fault config").clone()
    }

    /// Replaces the configuration (from `POST /_sandbox/faults`).
    pub(crate) fn set(&self, config: FaultConfig) {
        *self.config.lock().expect("fault config") = config;
        self.streaks.lock().expect("streaks").clear();
    }

    /// The random stream of the next request.
    pub(crate) fn next(&self) -> Rng {
        Rng::record(
            self.seed,
            0,
            "faults",
            self.rolls.fetch_add(1, Ordering::Relaxed),
        )
    }

    /// Whether a request `since_reset` into its rate-limit window gets a blip.
    pub(crate) fn blip(&self, rng: &Rng, since_reset: Duration, key: &str) -> bool {
        let config = self.config();
        let hit = since_reset < config.blip_window && rng.chance("blip", config.blip_rate);
        hit && self.streak_allows(key, &config)
    }

    /// The faults of a request identified by `key` (method, path, query, user).
    pub(crate) fn plan(&self, rng: &Rng, key: &str) -> Plan {
        let c = self.config();
        let latency = if rng.chance("latency", c.latency_rate) {
            Duration::from_millis(rng.below("latency.ms", c.latency_max.as_millis() as u64 + 1))
        } else {
            Duration::ZERO
        };
        let roll = rng.unit("failure");
        let mut edge = 0.0;
        let mut failure = None;
        for (rate, f) in [
            (
                c.error_rate,
                Failure::Status(*rng.pick("status", &[500, 502, 503])),
            ),
            (c.stall_rate, Failure::Stall(c.stall)),
            (c.truncate_rate, Failure::Truncate),
            (c.reset_rate, Failure::Reset),
        ] {
            edge += rate;
            if failure.is_none() && roll < edge {
                failure = Some(f);
            }
        }
        let failure = failure.filter(|_| self.streak_allows(key, &c));
        if failure.is_none() {
            self.streaks.lock().expect("streaks").remove(key);
        }
        Plan {
            latency,
            failure,
            unstable_order: rng
                .chance("unstable", c.unstable_order_rate)
                .then(|| rng.bits("unstable.seed")),
            hide_total_pages: rng.chance("total_pages", c.missing_total_pages_rate),
        }
    }

    /// Counts one more failure of `key`, unless it already failed `max_consecutive` times in a
    /// row (then the streak ends and the request is served).
    fn streak_allows(&self, key: &str, config: &FaultConfig) -> bool {
        let mut streaks = self.streaks.lock().expect("streaks");
        let streak = streaks.entry(key.to_string()).or_insert(0);
        if *streak >= config.max_consecutive {
            streaks.remove(key);
            return false;
        }
        *streak += 1;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profiles() {
        assert!(!FaultConfig::profile("none").unwrap().is_active());
        assert!(FaultConfig::profile("flaky").unwrap().error_rate > 0.0);
        let hostile = FaultConfig::profile("hostile").unwrap();
        assert!(
            hostile.stall_rate > 0.0
                && hostile.reset_rate > 0.0
                && hostile.unstable_order_rate > 0.0
        );
        assert!(FaultConfig::profile("evil").is_err());
    }

    #[test]
    fn a_request_is_never_failed_forever() {
        let dice = FaultDice::new(
            1,
            FaultConfig {
                error_rate: 1.0,
                ..FaultConfig::default()
            },
        );
        let outcomes: Vec<bool> = (0..8)
            .map(|_| {
                dice.plan(&dice.next(), "GET /v1/patients")
                    .failure
                    .is_some()
            })
            .collect();
        assert_eq!(outcomes, [true, true, true, false, true, true, true, false]);
        assert!(dice.plan(&dice.next(), "GET /v1/other").failure.is_some());
    }

    #[test]
    fn dice_are_deterministic() {
        let config = FaultConfig::profile("hostile").unwrap();
        let a = FaultDice::new(9, config.clone());
        let b = FaultDice::new(9, config);
        for i in 0..50 {
            let key = format!("k{i}");
            assert_eq!(
                a.plan(&a.next(), &key).describe(),
                b.plan(&b.next(), &key).describe()
            );
        }
    }
}
