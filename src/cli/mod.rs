//! The command-line front end: parse arguments, dispatch, map outcomes to exit codes.
//!
//! Exit codes (design §2): 0 success; 1 runtime failure; 2 invalid pipeline or usage; 3 token or
//! scope refused; 4 partial (some resources failed, rows were rejected or are known missing);
//! 5 another run of the pipeline holds its lock. stdout carries data only (`--json`, `schema`,
//! `resources`, `plan`); everything else goes to stderr.

mod args;
mod demo;
mod docs;
mod logging;
mod plan;
mod probe;
mod purge;
mod run_metrics;
mod state;
mod summary;

use std::io::Write;
use std::process::ExitCode;

pub use args::{Cli, Command, LogFormat, StateAction};

use crate::config::{self, LoadError, Pipeline};
use crate::run::{self, RunError, RunOptions};

/// Runs the parsed command line; returns the process exit code.
pub fn main(cli: Cli) -> ExitCode {
    logging::init(cli.log_format, cli.quiet);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return fail(1, &format!("cannot start the async runtime: {e}")),
    };
    runtime.block_on(dispatch(cli))
}

/// A command line clap refused (or `--help`/`--version`): clap's text, or with `--log-format json`
/// (argument or environment) one JSON error line, so that every stderr line stays JSON.
pub fn usage_error(e: &clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    let informational = matches!(
        e.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    );
    if informational || !json_requested() {
        let _ = e.print();
        return ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(2));
    }
    logging::init(LogFormat::Json, false);
    logging::fatal_message(2, e.render().to_string().trim());
    ExitCode::from(2)
}

/// `--log-format json`, `--log-format=json` or `DENTALLY_ETL_LOG_FORMAT=json`.
fn json_requested() -> bool {
    let args: Vec<String> = std::env::args().collect();
    let in_args = args
        .windows(2)
        .any(|w| w[0] == "--log-format" && w[1] == "json")
        || args.iter().any(|a| a == "--log-format=json");
    in_args || std::env::var("DENTALLY_ETL_LOG_FORMAT").is_ok_and(|v| v == "json")
}

async fn dispatch(cli: Cli) -> ExitCode {
    let quiet = cli.quiet;
    let heartbeat = std::time::Duration::from_secs(cli.heartbeat_secs);
    let metrics = run_metrics::Sinks {
        file: cli.metrics_file,
        pushgateway: cli.pushgateway,
    };
    match cli.command {
        Command::Validate { pipelines } => validate(&pipelines),
        Command::Plan {
            pipeline,
            shard,
            json,
        } => match config::load(&pipeline) {
            Ok(p) => {
                let plan = plan::build(&p, shard).await;
                if json {
                    print_json(&plan);
                } else {
                    print_stdout(&plan::render(&plan));
                }
                ExitCode::SUCCESS
            }
            Err(e) => load_failed(&e),
        },
        Command::State { action } => state::run(action).await,
        Command::Purge {
            pipeline,
            older_than,
            practices,
            dry_run,
            json,
            break_lock,
        } => match config::load(&pipeline) {
            Ok(p) => {
                let options = crate::purge::PurgeOptions {
                    older_than_days: older_than,
                    practices,
                    dry_run,
                    break_lock,
                };
                purge::run(&p, &options, json).await
            }
            Err(e) => load_failed(&e),
        },
        Command::Resources => {
            print_stdout(&crate::catalog::list_text());
            ExitCode::SUCCESS
        }
        Command::Schema { resource, pii } => schema(&resource, &pii),
        Command::Check { pipeline, json } => match config::load(&pipeline) {
            Ok(p) => check(&p, json).await,
            Err(e) => load_failed(&e),
        },
        Command::Probe { pipeline, json } => match config::load(&pipeline) {
            Ok(p) => probe::run(&p, json).await,
            Err(e) => load_failed(&e),
        },
        Command::Run {
            pipeline,
            resources,
            full_refresh,
            reconcile_deletes,
            practices,
            shard,
            json,
            break_lock,
        } => {
            let started = chrono::Utc::now();
            match config::load(&pipeline) {
                Ok(p) => {
                    let options = RunOptions {
                        only: resources,
                        full_refresh,
                        progress: !quiet,
                        heartbeat,
                        reconcile_deletes,
                        practices,
                        shard,
                        break_lock,
                    };
                    run_pipeline(&p, &options, json, &metrics).await
                }
                Err(e) => {
                    let code = load_failed(&e);
                    let name = run_metrics::fallback_name(&pipeline);
                    metrics.write(&name, shard, &[], 2, started).await;
                    code
                }
            }
        }
        Command::Sandbox(args) => match crate::sandbox::cli::run(args).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => fail(1, &format!("{e:#}")),
        },
        Command::Demo { out, scale, format } => demo::run(&out, scale, &format, quiet).await,
        Command::Completions { shell } => docs::completions(shell),
        Command::Man => docs::man(),
    }
}

fn validate(paths: &[std::path::PathBuf]) -> ExitCode {
    let mut ok = true;
    for path in paths {
        let file = serde_json::Value::from(path.display().to_string());
        match config::load(path) {
            Ok(p) => logging::say(
                "INFO",
                &format!("{}: ok ({} resources)", path.display(), p.resources.len()),
                logging::fields([("file", file), ("resources", p.resources.len().into())]),
            ),
            Err(e) => {
                ok = false;
                logging::say(
                    "ERROR",
                    &e.to_string(),
                    logging::fields([("file", file), ("exit_code", 2.into())]),
                );
            }
        }
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    }
}

fn load_failed(e: &LoadError) -> ExitCode {
    logging::fatal(2, e);
    ExitCode::from(2)
}

fn schema(name: &str, pii: &str) -> ExitCode {
    let policy = match pii {
        "drop" => crate::catalog::PiiPolicy::Drop,
        // The digest's key does not change the schema.
        "hash" => crate::catalog::PiiPolicy::Hash { key: Vec::new() },
        _ => crate::catalog::PiiPolicy::Keep,
    };
    match crate::catalog::find(name) {
        Some(r) => {
            print_stdout(&crate::catalog::describe(r, &policy));
            ExitCode::SUCCESS
        }
        None => {
            let hint = crate::catalog::suggest(name)
                .map(|s| format!("\n  hint: did you mean `{s}`?"))
                .unwrap_or_default();
            fail(
                2,
                &format!(
                    "unknown resource `{name}`{hint}\n  hint: `dentally-etl resources` lists them"
                ),
            )
        }
    }
}

async fn check(p: &Pipeline, json: bool) -> ExitCode {
    let client = match run::client_for(p) {
        Ok(c) => c,
        Err(e) => return run_failed(&e),
    };
    match crate::preflight::check(&client, p).await {
        Ok(report) => {
            if json {
                print_json(&report);
            } else {
                let line = render_check(&report);
                let fields = match serde_json::to_value(&report) {
                    Ok(serde_json::Value::Object(map)) => map,
                    _ => serde_json::Map::new(),
                };
                logging::say("INFO", line.trim_end(), fields);
            }
            ExitCode::SUCCESS
        }
        Err(e) => run_failed(&RunError::Refused(e)),
    }
}

/// `check` for people: the token line, then how each resource's scope was established.
fn render_check(report: &crate::preflight::Report) -> String {
    let b = report.budget;
    let mut out = format!(
        "token ok: user {}, {}, {} scope(s) needed and held ({} check); budget {}/{} left\n",
        report.user.as_deref().unwrap_or("?"),
        report.read_only.label(),
        report.needed.len(),
        report.scope_check,
        b.remaining.map_or("?".into(), |r| r.to_string()),
        b.limit.map_or("?".into(), |r| r.to_string()),
    );
    for m in &report.resources {
        let how = match (&m.probe, m.matched_by) {
            (Some(answer), _) => format!("by a probe ({answer})"),
            (None, "preflight") => "by the preflight request".to_string(),
            (None, how) => format!("by {how}"),
        };
        out.push_str(&format!("  {}: {} matched {how}\n", m.resource, m.scope));
    }
    out
}

async fn run_pipeline(
    p: &Pipeline,
    options: &RunOptions,
    json: bool,
    metrics: &run_metrics::Sinks,
) -> ExitCode {
    let started = chrono::Utc::now();
    match run::run(p, options).await {
        Ok(outcome) => {
            for m in &outcome.manifests {
                summary::emit(m);
            }
            for (practice, code, why) in &outcome.failures {
                logging::say(
                    "ERROR",
                    &format!("practice {practice} failed (exit {code}): {why}"),
                    logging::fields([
                        ("practice", practice.as_str().into()),
                        ("exit_code", (*code).into()),
                        ("error", why.as_str().into()),
                    ]),
                );
            }
            if json {
                match outcome.manifests.as_slice() {
                    [one] if outcome.failures.is_empty() => print_json(one),
                    many => print_json(&many),
                }
            }
            metrics
                .write(
                    &p.name,
                    options.shard,
                    &outcome.manifests,
                    outcome.exit_code,
                    started,
                )
                .await;
            ExitCode::from(outcome.exit_code)
        }
        Err(e) => {
            let code = run_failed(&e);
            metrics
                .write(&p.name, options.shard, &[], e.exit_code(), started)
                .await;
            code
        }
    }
}

fn run_failed(e: &RunError) -> ExitCode {
    logging::fatal(e.exit_code(), e);
    ExitCode::from(e.exit_code())
}

fn fail(code: u8, message: &str) -> ExitCode {
    logging::fatal_message(code, message);
    ExitCode::from(code)
}

fn print_stdout(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes());
    let _ = out.flush();
}

fn print_json<T: serde::Serialize>(value: &T) {
    match serde_json::to_string_pretty(value) {
        Ok(s) => print_stdout(&(s + "\n")),
        Err(e) => logging::fatal_message(1, &format!("cannot render JSON: {e}")),
    }
}
