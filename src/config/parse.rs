//! Pipeline file → validated [`Pipeline`], collecting every problem on the way.
//!
//! Pure: reads only the text given and the environment lookup passed in (for `${VAR}`).

use std::ops::Range;
use std::path::Path;

use toml::de::DeTable;

use super::diagnostic::{Diagnostic, Diagnostics};
use super::model::{
    Compression, Mode, Output, OutputFormat, PiiMode, Pipeline, Reconcile, ResourceSpec,
};
use super::reader::{Ctx, Section, Str};
use super::source::read_source;
use super::window::{DateBound, WindowSpec};
use crate::catalog::{self, Window};

const TOP: &[&str] = &[
    "name",
    "source",
    "sources",
    "parallel_practices",
    "output",
    "defaults",
    "resources",
    "models",
];
const OUTPUT: &[&str] = &[
    "url",
    "format",
    "compression",
    "row_group_rows",
    "row_group_bytes",
    "dictionary",
    "table_format",
    "delta_retention_days",
    "parquet_profile",
    "endpoint",
    "region",
    "allow_http",
    "virtual_hosted_style",
    "retry_timeout_secs",
    "private",
    "csv_guard",
    "raw_retention_days",
    "allow_insecure_http",
];
const DEFAULTS: &[&str] = &[
    "mode",
    "pii",
    "pii_hash_key_env",
    "window",
    "lag_secs",
    "lookback_days",
    "reconcile_deletes",
];
const RESOURCE: &[&str] = &[
    "name",
    "mode",
    "pii",
    "window",
    "reconcile_deletes",
    "lookback_days",
];
/// Default `lookback_days`: a week of payments re-read each night catches late entries.
pub const DEFAULT_LOOKBACK_DAYS: u32 = 7;
/// Most `lookback_days` accepted: beyond a year, a full read is the simpler tool.
const MAX_LOOKBACK_DAYS: u64 = 366;
/// When a windowed resource reconciles if the pipeline does not say: its incremental runs read
/// changes only, and a weekly window re-read finds the appointments deleted in between.
const WINDOWED_RECONCILE: Reconcile = Reconcile::EveryDays(7);
const WINDOW: &[&str] = &["from", "to"];

/// Default `User-Agent`: names the tool and its version, as the API asks.
pub const DEFAULT_USER_AGENT: &str = concat!("dentally-etl/", env!("CARGO_PKG_VERSION"));

/// Parses and validates pipeline text. `file` is used in messages only.
pub fn parse(
    file: &Path,
    text: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Pipeline, Vec<Diagnostic>> {
    let mut ctx = Ctx {
        diags: Diagnostics::new(file, text),
        env,
    };
    let doc = match DeTable::parse(text) {
        Ok(doc) => doc,
        Err(e) => {
            let span = e.span().unwrap_or(0..0);
            ctx.diags.error_with_hint(
                span,
                format!("invalid TOML: {}", e.message().trim()),
                "see https://toml.io for the syntax",
            );
            return Err(ctx.diags.into_sorted());
        }
    };
    let top = Section::new(doc.get_ref(), "the pipeline", TOP);
    let pipeline = read_pipeline(&mut ctx, &top, file);
    top.finish(&mut ctx, &|key| secret_key_hint(key));
    match pipeline {
        Some(p) if ctx.diags.is_empty() => Ok(p),
        _ => Err(ctx.diags.into_sorted()),
    }
}

pub(super) fn secret_key_hint(key: &str) -> Option<String> {
    let k = key.to_ascii_lowercase();
    (k.contains("token") || k.contains("secret") || k.contains("password") || k.contains("api_key"))
        .then(|| {
            "secrets never go in a pipeline file: name an environment variable with `token_env` \
             or a file with `token_file` in [source]"
                .to_string()
        })
}

fn read_pipeline(ctx: &mut Ctx<'_>, top: &Section<'_, '_>, file: &Path) -> Option<Pipeline> {
    let name = top.string(ctx, "name");
    if name.is_none() && top.span_of("name").is_none() {
        ctx.diags.error_with_hint(
            0..0,
            "missing `name`",
            "add `name = \"nightly\"` at the top",
        );
    }
    let name = name.and_then(|(n, span)| valid_name(ctx, n, span));
    let single = read_source(ctx, top);
    let practices = super::practices::read(ctx, top);
    let source = single.or_else(|| practices.first().map(|p| p.source.clone()));
    let output = read_output(ctx, top);
    let defaults = read_defaults(ctx, top);
    let resources = read_resources(ctx, top, &defaults);
    check_incremental_format(ctx, top, output.as_ref(), &resources);
    let models = super::models::read_models(ctx, top, output.as_ref());
    Some(Pipeline {
        name: name?,
        file: file.to_path_buf(),
        source: source?,
        output: output?,
        resources,
        pii_hash_key_env: defaults.pii_hash_key_env,
        models,
        practices,
        parallel_practices: top
            .uint(ctx, "parallel_practices", 256)
            .map_or(4, |n| n.max(1) as usize),
    })
}

fn check_incremental_format(
    ctx: &mut Ctx<'_>,
    top: &Section<'_, '_>,
    output: Option<&Output>,
    resources: &[ResourceSpec],
) {
    let csv = output.is_some_and(|o| o.format == OutputFormat::Csv);
    let incremental: Vec<&str> = resources
        .iter()
        .filter(|r| r.mode == Mode::Incremental)
        .map(|r| r.resource.name)
        .collect();
    if csv && !incremental.is_empty() {
        let span = top
            .table(ctx, "output")
            .and_then(|(t, _)| t.get("format").map(toml::Spanned::span))
            .unwrap_or(0..0);
        ctx.diags.error_with_hint(
            span,
            format!("incremental mode needs `format = \"parquet\"` (used by {})", incremental.join(", ")),
            "CSV current tables cannot be merged by key exactly; use `mode = \"full\"` for CSV outputs, or Parquet",
        );
    }
}

pub(super) fn valid_name(ctx: &mut Ctx<'_>, name: String, span: Range<usize>) -> Option<String> {
    let ok = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !ok {
        ctx.diags.error_with_hint(
            span,
            format!("pipeline name `{name}` may hold only letters, digits, `-` and `_`"),
            "the name is used in file names (`_state/<name>.json`)",
        );
        return None;
    }
    Some(name)
}

pub(super) fn required<'t, 'i>(
    ctx: &mut Ctx<'_>,
    top: &Section<'t, 'i>,
    key: &'static str,
    allowed: &'static [&'static str],
) -> Option<(Section<'t, 'i>, Range<usize>)> {
    if top.span_of(key).is_none() {
        ctx.diags.error_with_hint(
            0..0,
            format!("missing [{key}] section"),
            format!("add a [{key}] table"),
        );
        return None;
    }
    let (table, span) = top.table(ctx, key)?;
    Some((Section::new(table, format!("[{key}]"), allowed), span))
}

fn read_output(ctx: &mut Ctx<'_>, top: &Section<'_, '_>) -> Option<Output> {
    let (s, section) = required(ctx, top, "output", OUTPUT)?;
    let url = s.string(ctx, "url");
    if url.is_none() && s.span_of("url").is_none() {
        ctx.diags.error_with_hint(
            section,
            "[output] needs `url`",
            "e.g. `url = \"./out\"` or `url = \"s3://bucket/prefix\"`",
        );
    }
    let format = pick(
        ctx,
        &s,
        "format",
        &[
            ("parquet", OutputFormat::Parquet),
            ("csv", OutputFormat::Csv),
        ],
    )
    .unwrap_or(OutputFormat::Parquet);
    let compression = pick(
        ctx,
        &s,
        "compression",
        &[
            ("zstd", Compression::Zstd),
            ("snappy", Compression::Snappy),
            ("none", Compression::None),
        ],
    )
    .unwrap_or(Compression::Zstd);
    let row_group_rows = s
        .uint(ctx, "row_group_rows", 10_000_000)
        .map_or(122_880, |n| n.max(1) as usize);
    let row_group_bytes = s
        .uint(ctx, "row_group_bytes", 1 << 32)
        .map_or(64 << 20, |n| n.max(1 << 16) as usize);
    let dictionary = s.boolean(ctx, "dictionary");
    let tables = super::table_format::read_table_settings(ctx, &s, format);
    let endpoint_at = s.string(ctx, "endpoint");
    let region = s.string(ctx, "region").map(|e| e.0);
    let allow_http = s.boolean(ctx, "allow_http");
    let virtual_hosted_style = s.boolean(ctx, "virtual_hosted_style");
    let retry_timeout_secs = s.uint(ctx, "retry_timeout_secs", 3600);
    let private = s.boolean(ctx, "private").unwrap_or(true);
    let csv_guard = s.boolean(ctx, "csv_guard").unwrap_or(true);
    let raw_retention_days = s
        .uint(ctx, "raw_retention_days", 3650)
        .unwrap_or(super::model::DEFAULT_RAW_RETENTION_DAYS);
    let allow_insecure_http = s.boolean(ctx, "allow_insecure_http").unwrap_or(false);
    super::source::check_store_endpoint(ctx, endpoint_at.as_ref(), allow_http, allow_insecure_http);
    let endpoint = endpoint_at.map(|e| e.0);
    s.finish(ctx, &|key| {
        secret_key_hint(key).map(|_| {
            "credentials never go in a pipeline file: use AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (or your cloud's usual variables)".to_string()
        })
    });
    Some(Output {
        url: url?.0,
        format,
        compression,
        row_group_rows,
        row_group_bytes,
        dictionary,
        tables,
        endpoint,
        region,
        allow_http,
        virtual_hosted_style,
        retry_timeout_secs,
        private,
        csv_guard,
        raw_retention_days,
        allow_insecure_http,
    })
}

pub(super) fn pick<T: Copy>(
    ctx: &mut Ctx<'_>,
    s: &Section<'_, '_>,
    key: &str,
    choices: &[(&str, T)],
) -> Option<T> {
    let (value, span) = s.string(ctx, key)?;
    if let Some((_, v)) = choices.iter().find(|(name, _)| *name == value) {
        return Some(*v);
    }
    let names: Vec<&str> = choices.iter().map(|(n, _)| *n).collect();
    ctx.diags.error_with_hint(
        span,
        format!("unknown {key} `{value}`"),
        format!("use one of: {}", names.join(", ")),
    );
    None
}

struct Defaults {
    mode: Mode,
    pii: PiiMode,
    pii_hash_key_env: Option<String>,
    window: Option<WindowSpec>,
    lag_secs: u64,
    lookback_days: u32,
    /// `None` when `[defaults]` does not set `reconcile_deletes`.
    reconcile: Option<Reconcile>,
}

const MODES: &[(&str, Mode)] = &[("full", Mode::Full), ("incremental", Mode::Incremental)];
const PII: &[(&str, PiiMode)] = &[
    ("keep", PiiMode::Keep),
    ("hash", PiiMode::Hash),
    ("drop", PiiMode::Drop),
];

fn read_defaults(ctx: &mut Ctx<'_>, top: &Section<'_, '_>) -> Defaults {
    let mut d = Defaults {
        mode: Mode::Full,
        pii: PiiMode::Keep,
        pii_hash_key_env: None,
        window: None,
        lag_secs: 300,
        lookback_days: DEFAULT_LOOKBACK_DAYS,
        reconcile: None,
    };
    let Some((table, _)) = top
        .span_of("defaults")
        .and_then(|_| top.table(ctx, "defaults"))
    else {
        return d;
    };
    let s = Section::new(table, "[defaults]", DEFAULTS);
    d.mode = pick(ctx, &s, "mode", MODES).unwrap_or(Mode::Full);
    d.pii = pick(ctx, &s, "pii", PII).unwrap_or(PiiMode::Keep);
    d.pii_hash_key_env = s.string(ctx, "pii_hash_key_env").map(|v| v.0);
    d.lag_secs = s.uint(ctx, "lag_secs", 86_400 * 7).unwrap_or(300);
    d.lookback_days = s
        .uint(ctx, "lookback_days", MAX_LOOKBACK_DAYS)
        .map_or(DEFAULT_LOOKBACK_DAYS, |n| n as u32);
    d.reconcile = read_reconcile(ctx, &s);
    d.window = read_window(ctx, &s);
    s.finish(ctx, &|_| None);
    d
}

fn read_reconcile(ctx: &mut Ctx<'_>, s: &Section<'_, '_>) -> Option<Reconcile> {
    if let Some(n) = s
        .span_of("reconcile_deletes")
        .filter(|_| s.uint_silent("reconcile_deletes").is_some())
    {
        let runs = s.uint(ctx, "reconcile_deletes", 10_000)?;
        if runs == 0 {
            ctx.diags.error(
                n,
                "`reconcile_deletes` as a number means every N runs and must be at least 1",
            );
            return None;
        }
        return Some(Reconcile::EveryRuns(runs as u32));
    }
    let choices = [
        ("never", Reconcile::Never),
        ("always", Reconcile::Always),
        ("daily", Reconcile::EveryDays(1)),
        ("weekly", Reconcile::EveryDays(7)),
        ("counts", Reconcile::Counts),
    ];
    pick(ctx, s, "reconcile_deletes", &choices)
}

fn read_window(ctx: &mut Ctx<'_>, s: &Section<'_, '_>) -> Option<WindowSpec> {
    let (table, span) = s.table(ctx, "window")?;
    let w = Section::new(table, "`window`", WINDOW);
    let from = bound(ctx, &w, "from", span.clone());
    let to = bound(ctx, &w, "to", span.clone());
    w.finish(ctx, &|_| None);
    let (from, to) = (from?, to?);
    let today = chrono::Utc::now().date_naive();
    if from.resolve(today) >= to.resolve(today) {
        ctx.diags.error_with_hint(
            span,
            "window `from` must be before `to`",
            "e.g. window = { from = \"-400d\", to = \"+90d\" }",
        );
        return None;
    }
    Some(WindowSpec { from, to })
}

fn bound(
    ctx: &mut Ctx<'_>,
    w: &Section<'_, '_>,
    key: &str,
    window: Range<usize>,
) -> Option<DateBound> {
    let Some((text, span)) = w.string(ctx, key) else {
        if w.span_of(key).is_none() {
            ctx.diags.error_with_hint(
                window,
                format!("window needs `{key}`"),
                "e.g. window = { from = \"-400d\", to = \"+90d\" }",
            );
        }
        return None;
    };
    match DateBound::parse(&text) {
        Ok(b) => Some(b),
        Err(why) => {
            ctx.diags.error_with_hint(
                span,
                format!("bad window `{key}`: {why}"),
                "use `-400d`, `+90d`, `-2w`, `-1y`, `today` or `YYYY-MM-DD`",
            );
            None
        }
    }
}

fn read_resources(ctx: &mut Ctx<'_>, top: &Section<'_, '_>, d: &Defaults) -> Vec<ResourceSpec> {
    let entries = top.tables(ctx, "resources");
    if entries.is_empty() && top.span_of("resources").is_none() {
        ctx.diags.error_with_hint(
            0..0,
            "no resources selected",
            "add `[[resources]]` entries with a `name` (see `dentally-etl resources`)",
        );
    }
    let mut seen: Vec<&'static str> = Vec::new();
    let mut out = Vec::new();
    for (table, span) in entries {
        let s = Section::new(table, "[[resources]]", RESOURCE);
        if let Some(spec) = read_resource(ctx, &s, span, d) {
            if seen.contains(&spec.resource.name) {
                ctx.diags.error(
                    s.span_of("name").unwrap_or(0..0),
                    format!("resource `{}` is listed twice", spec.resource.name),
                );
            } else {
                seen.push(spec.resource.name);
                out.push(spec);
            }
        }
        s.finish(ctx, &|_| None);
    }
    out
}

fn read_resource(
    ctx: &mut Ctx<'_>,
    s: &Section<'_, '_>,
    span: Range<usize>,
    d: &Defaults,
) -> Option<ResourceSpec> {
    let name: Option<Str> = s.string(ctx, "name");
    if name.is_none() && s.span_of("name").is_none() {
        ctx.diags
            .error(span.clone(), "[[resources]] entry without `name`");
    }
    let mode = pick(ctx, s, "mode", MODES).unwrap_or(d.mode);
    let pii = pick(ctx, s, "pii", PII).unwrap_or(d.pii);
    let window = read_window(ctx, s).or(d.window);
    let reconcile = read_reconcile(ctx, s).or(d.reconcile);
    let lookback_days = s
        .uint(ctx, "lookback_days", MAX_LOOKBACK_DAYS)
        .map(|n| n as u32);
    let (name, name_span) = name?;
    let Some(resource) = catalog::find(&name) else {
        let hint = catalog::suggest(&name).map_or_else(
            || "run `dentally-etl resources` to list them".to_string(),
            |s| format!("did you mean `{s}`? (`dentally-etl resources` lists them all)"),
        );
        ctx.diags
            .error_with_hint(name_span, format!("unknown resource `{name}`"), hint);
        return None;
    };
    let windowed = matches!(resource.window, Window::Required { .. });
    if windowed && window.is_none() {
        if s.span_of("window").is_some() {
            return None; // the bad window was reported where it is
        }
        ctx.diags.error_with_hint(
            span.clone(),
            format!("resource `{name}` needs a date window"),
            "add `window = { from = \"-400d\", to = \"+90d\" }` to this entry (or to [defaults])",
        );
        return None;
    }
    if !windowed && s.span_of("window").is_some() {
        ctx.diags.error(
            s.span_of("window").unwrap_or(span.clone()),
            format!("resource `{name}` is not windowed; remove `window`"),
        );
    }
    if pii == PiiMode::Hash && d.pii_hash_key_env.is_none() {
        ctx.diags.error_with_hint(
            s.span_of("pii").unwrap_or(span.clone()),
            format!("resource `{name}` hashes PII but no key is configured"),
            "set `pii_hash_key_env = \"DENTALLY_PII_KEY\"` in [defaults] and export a secret key in it",
        );
    }
    if lookback_days.is_some() && !super::model::cursor_is_date(resource) {
        ctx.diags.error_with_hint(
            s.span_of("lookback_days").unwrap_or(span),
            format!("resource `{name}` has no date cursor; `lookback_days` does not apply"),
            "only resources read by a date (payments' `dated_on`) take `lookback_days`; use `lag_secs` in [defaults] for `updated_at` cursors",
        );
    }
    // Windowed lists re-read their window weekly; a date cursor (payments) misses edits to old
    // rows, so a weekly full read catches refunds and `deleted` flags; every other list finds
    // its deletions by counts after each delta (`crate::reconcile`).
    let default_reconcile = if windowed {
        WINDOWED_RECONCILE
    } else if super::model::cursor_is_date(resource) {
        Reconcile::EveryDays(7)
    } else {
        Reconcile::Counts
    };
    Some(ResourceSpec {
        resource,
        mode,
        pii,
        window: windowed.then_some(window).flatten(),
        lag_secs: d.lag_secs,
        lookback_days: lookback_days.unwrap_or(d.lookback_days),
        reconcile: reconcile.unwrap_or(default_reconcile),
    })
}

#[cfg(test)]
#[path = "parse_tests.rs"]
mod tests;
