//! The command line, as clap derive types: the single source of truth for `--help`.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

/// Extract a dental practice's data from the Dentally API into typed Parquet or CSV.
#[derive(Debug, Parser)]
#[command(name = "dentally-etl", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
    /// Hide progress bars and informational logs.
    #[arg(long, short, global = true)]
    pub quiet: bool,
    /// Log format on stderr.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text, env = "DENTALLY_ETL_LOG_FORMAT")]
    pub log_format: LogFormat,
    /// Write Prometheus metrics (text exposition, for node_exporter's textfile collector) to this
    /// file at the end of every run, failed ones included. Written atomically.
    #[arg(
        long,
        global = true,
        value_name = "PATH",
        env = "DENTALLY_ETL_METRICS_FILE"
    )]
    pub metrics_file: Option<PathBuf>,
    /// Also push the run's metrics to this Prometheus Pushgateway (e.g. `http://pushgateway:9091`).
    #[arg(
        long,
        global = true,
        value_name = "URL",
        env = "DENTALLY_ETL_PUSHGATEWAY"
    )]
    pub pushgateway: Option<url::Url>,
    /// Seconds between heartbeat log lines when progress bars are off (stderr not a terminal, or
    /// `--quiet`); 0 logs only each resource's start and end.
    #[arg(
        long,
        global = true,
        value_name = "SECS",
        default_value_t = 60,
        env = "DENTALLY_ETL_HEARTBEAT_SECS"
    )]
    pub heartbeat_secs: u64,
}

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line, for schedulers.
    Json,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Preflight, then extract → flatten → write → commit.
    Run {
        /// The pipeline file.
        pipeline: PathBuf,
        /// Only these resources (comma separated), a subset of the pipeline's.
        #[arg(long, value_delimiter = ',')]
        resources: Vec<String>,
        /// Ignore saved state and read everything.
        #[arg(long)]
        full_refresh: bool,
        /// Re-read every key of incremental resources now and mark rows deleted in Dentally.
        #[arg(long)]
        reconcile_deletes: bool,
        /// Only this practice of a multi-practice pipeline (repeatable).
        #[arg(long = "practice", value_name = "NAME")]
        practices: Vec<String>,
        /// Only the practices of shard `i` of `n` (0-based; e.g. `--shard $JOB_COMPLETION_INDEX/3`).
        #[arg(long, value_name = "i/n")]
        shard: Option<crate::run::Shard>,
        /// Print the run manifest as JSON on stdout.
        #[arg(long)]
        json: bool,
        /// Take the run lock even if another run holds it (only when that run is surely dead).
        #[arg(long)]
        break_lock: bool,
    },
    /// Preflight only: token valid, read-only, every needed scope present, budget left.
    Check {
        /// The pipeline file.
        pipeline: PathBuf,
        /// Print the report as JSON on stdout.
        #[arg(long)]
        json: bool,
    },
    /// First contact, measured: read page 1 of each resource and report, without any values,
    /// how the API's answers differ from the catalog (fields, types, paging, sort, filters).
    Probe {
        /// The pipeline file.
        pipeline: PathBuf,
        /// Print the report as JSON on stdout (a file to share so the catalog can be corrected).
        #[arg(long)]
        json: bool,
    },
    /// Check pipeline files offline and list every problem with its line and column.
    Validate {
        /// Pipeline files.
        #[arg(required = true)]
        pipelines: Vec<PathBuf>,
    },
    /// Offline dry run: resources, request parameters, windows, output paths.
    Plan {
        /// The pipeline file.
        pipeline: PathBuf,
        /// Show which practices shard `i` of `n` takes.
        #[arg(long, value_name = "i/n")]
        shard: Option<crate::run::Shard>,
        /// Print the plan as JSON on stdout.
        #[arg(long)]
        json: bool,
    },
    /// Erase rows marked deleted in Dentally longer ago than `--older-than`, from every current
    /// table (Delta history too) and from the `_raw/` copies.
    Purge {
        /// The pipeline file.
        pipeline: PathBuf,
        /// Age of the deletion mark (`_deleted_at`) past which rows go: days, as `30d` or `30`.
        #[arg(long, value_name = "DAYS", value_parser = parse_days)]
        older_than: u64,
        /// Only this practice of a multi-practice pipeline (repeatable).
        #[arg(long = "practice", value_name = "NAME")]
        practices: Vec<String>,
        /// Count the rows that would go; write and delete nothing.
        #[arg(long)]
        dry_run: bool,
        /// Print the report as JSON on stdout.
        #[arg(long)]
        json: bool,
        /// Take the run lock even if another run holds it (only when that run is surely dead).
        #[arg(long)]
        break_lock: bool,
    },
    /// Show or reset a pipeline's state (`_state/<pipeline>.json` next to the output).
    State {
        /// What to do.
        #[command(subcommand)]
        action: StateAction,
    },
    /// List the catalog of Dentally resources.
    Resources,
    /// Print the Arrow/Parquet schema of a resource's tables.
    Schema {
        /// Resource name (see `resources`).
        resource: String,
        /// Show the schema as written under this PII policy.
        #[arg(long, default_value = "keep", value_parser = ["keep", "drop", "hash"])]
        pii: String,
    },
    /// Serve the built-in Dentally emulator on 127.0.0.1.
    Sandbox(crate::sandbox::cli::SandboxArgs),
    /// Start the sandbox in-process and run `pipelines/demo.toml` into `./out`.
    Demo {
        /// Output folder.
        #[arg(long, default_value = "out")]
        out: PathBuf,
        /// Sandbox data scale (1 ≈ a practice of 1,000 patients).
        #[arg(long, default_value_t = 0.2)]
        scale: f64,
        /// Output format.
        #[arg(long, default_value = "parquet")]
        format: String,
    },
    /// Print a shell completion script on stdout (e.g. `dentally-etl completions bash >
    /// /etc/bash_completion.d/dentally-etl`).
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff) on stdout (e.g. `dentally-etl man > dentally-etl.1`).
    Man,
}

/// `state` subcommands.
#[derive(Debug, Subcommand)]
pub enum StateAction {
    /// Print the state as JSON on stdout (one object per practice for `[[sources]]`).
    Show {
        /// The pipeline file.
        pipeline: PathBuf,
        /// Only this practice of a multi-practice pipeline (repeatable).
        #[arg(long = "practice", value_name = "NAME")]
        practices: Vec<String>,
    },
    /// Forget cursors and checkpoints: the next run reads everything again. Without
    /// `--resource` the state files are removed unread, so a corrupt state can be reset too.
    Reset {
        /// The pipeline file.
        pipeline: PathBuf,
        /// Only this resource.
        #[arg(long)]
        resource: Option<String>,
        /// Only this practice of a multi-practice pipeline (repeatable; default: every one).
        #[arg(long = "practice", value_name = "NAME")]
        practices: Vec<String>,
    },
}

/// `30d` or `30`: a number of days.
fn parse_days(text: &str) -> Result<u64, String> {
    let digits = text.strip_suffix('d').unwrap_or(text);
    digits
        .parse::<u64>()
        .ok()
        .filter(|d| *d <= 36_500)
        .ok_or_else(|| format!("`{text}` is not a number of days (0 to 36500), such as `30d`"))
}
