//! Logs go to stderr (stdout carries data only): text for people, JSON for schedulers.
//!
//! With `--log-format json` every stderr line is one JSON object: tracing events, heartbeats, the
//! end-of-run summary, validation results, fatal errors (with their cause chain as a field) and
//! panics. A log shipper (CloudWatch, Loki, Airflow's task log parser) can then parse a whole run
//! without guessing which lines are structured. The lines written here directly have the shape of
//! tracing-subscriber's flattened JSON events: `timestamp`, `level`, `message`, then fields.

use std::io::{IsTerminal, Write};
use std::sync::OnceLock;

use chrono::{SecondsFormat, Utc};
use serde_json::{Map, Value};
use tracing_subscriber::EnvFilter;

use super::args::LogFormat;

/// The format chosen at start-up (text until [`init`] runs).
static FORMAT: OnceLock<LogFormat> = OnceLock::new();

/// The tracing target of heartbeat lines: they pass `--quiet`, which exists to silence chatter, not
/// the one sign of life a job without a terminal gives (see `run::heartbeat`).
const HEARTBEAT_TARGET: &str = "dentally_etl::run::heartbeat";

/// Installs the global subscriber. `RUST_LOG` overrides the level.
pub fn init(format: LogFormat, quiet: bool) {
    let _ = FORMAT.set(format);
    let default = if quiet { "warn" } else { "info" };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        EnvFilter::new(format!(
            "dentally_etl={default},{HEARTBEAT_TARGET}=info,warn"
        ))
    });
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none());
    let _ = match format {
        LogFormat::Text => builder.compact().try_init(),
        LogFormat::Json => {
            std::panic::set_hook(Box::new(|info| {
                let mut fields = Map::new();
                if let Some(at) = info.location() {
                    fields.insert("location".into(), Value::from(at.to_string()));
                }
                let payload = info
                    .payload()
                    .downcast_ref::<&str>()
                    .map(|s| (*s).to_string())
                    .or_else(|| info.payload().downcast_ref::<String>().cloned())
                    .unwrap_or_default();
                fields.insert("panic".into(), Value::from(payload));
                json_line("ERROR", "The program panicked; please report this.", fields);
            }));
            builder.json().flatten_event(true).try_init()
        }
    };
}

/// Whether stderr lines are JSON.
pub fn is_json() -> bool {
    FORMAT.get() == Some(&LogFormat::Json)
}

/// A line the user asked for (a validation result, a summary line): shown even with `--quiet`.
/// In text, `message` alone; in JSON, an object with `fields`.
pub fn say(level: &str, message: &str, fields: Map<String, Value>) {
    if is_json() {
        json_line(level, message, fields);
    } else {
        eprintln!("{message}");
    }
}

/// A fatal error: `error: <message>` and a `caused by:` line per cause in text; in JSON an
/// `ERROR` object with the exit code and `error_chain`, the error and each of its causes.
pub fn fatal(code: u8, error: &(dyn std::error::Error + 'static)) {
    fatal_chain(code, &crate::manifest::error_chain(error));
}

/// A fatal error known only as text (lines after the first become the chain's later entries).
pub fn fatal_message(code: u8, message: &str) {
    let chain: Vec<String> = message
        .lines()
        .map(str::trim_end)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect();
    if is_json() {
        fatal_chain(code, &chain);
    } else {
        eprintln!("error: {message}");
    }
}

fn fatal_chain(code: u8, chain: &[String]) {
    if !is_json() {
        // Our error's text says what failed and how to fix it; each cause below it says why
        // (the object store's, the HTTP client's or parquet's own words).
        eprintln!("error: {}", chain.first().map_or("", String::as_str));
        for cause in chain.iter().skip(1) {
            eprintln!("  caused by: {cause}");
        }
        return;
    }
    let mut fields = Map::new();
    fields.insert("exit_code".into(), Value::from(code));
    fields.insert(
        "error_chain".into(),
        Value::from(
            chain
                .iter()
                .map(|s| Value::from(s.as_str()))
                .collect::<Vec<_>>(),
        ),
    );
    let message = chain.first().map_or("error", String::as_str);
    json_line("ERROR", message, fields);
}

/// Writes one JSON log object (shaped like tracing-subscriber's) to stderr.
pub fn json_line(level: &str, message: &str, fields: Map<String, Value>) {
    let mut line = Map::new();
    line.insert(
        "timestamp".into(),
        Value::from(Utc::now().to_rfc3339_opts(SecondsFormat::Micros, true)),
    );
    line.insert("level".into(), Value::from(level));
    line.insert("message".into(), Value::from(message));
    for (k, v) in fields {
        line.insert(k, v);
    }
    let mut text = Value::Object(line).to_string();
    text.push('\n');
    let mut err = std::io::stderr().lock();
    let _ = err.write_all(text.as_bytes());
    let _ = err.flush();
}

/// Builds a field map from `(name, value)` pairs.
pub fn fields<const N: usize>(pairs: [(&str, Value); N]) -> Map<String, Value> {
    pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}
