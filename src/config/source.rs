//! `[source]` (and each `[[sources]]` entry): which API host, which token, how hard to push.
//!
//! Security rules live here: a token is only ever named (`token_env`, `token_file`), never
//! written; the base URL must be HTTPS unless it is a loopback address (the sandbox), and
//! carries no query or fragment (a query is where an `access_token` would hide, and it would be
//! printed in manifests and logs). The same loopback rule applies to a plain-http object-store
//! endpoint (security review D15, D16).

use std::ops::Range;
use std::path::PathBuf;

use url::Url;

use super::model::{Source, TokenSource, region_base_url};
use super::parse::{DEFAULT_USER_AGENT, required, secret_key_hint};
use super::reader::{Ctx, Section};

/// The keys of a source table, after any `extra` ones: one list for `[source]` and for each
/// `[[sources]]` entry (which adds `name`).
macro_rules! source_keys {
    ($($extra:literal),*) => {
        &[
            $($extra,)*
            "region",
            "base_url",
            "token_env",
            "token_file",
            "requests_per_hour",
            "reserve_percent",
            "concurrency",
            "timeout_secs",
            "user_agent",
            "allow_write_scopes",
            "accept_unverified_scopes",
            "checkpoint_pages",
            "checkpoint_secs",
            "offset_wall",
            "max_wait_secs",
        ]
    };
}
pub(super) use source_keys;

/// Keys of `[source]`.
pub(super) const SOURCE: &[&str] = source_keys!();

pub(super) fn read_source(ctx: &mut Ctx<'_>, top: &Section<'_, '_>) -> Option<Source> {
    if top.span_of("sources").is_some() {
        if let Some(span) = top.span_of("source") {
            ctx.diags.error_with_hint(
                span,
                "give either [source] or [[sources]], not both",
                "one practice: [source]; several: one [[sources]] entry each, with a `name`",
            );
        }
        return None;
    }
    let (s, span) = required(ctx, top, "source", SOURCE)?;
    let source = source_from(ctx, &s, span);
    s.finish(ctx, &|key| secret_key_hint(key));
    source
}

/// Reads the keys of a source table (`[source]` or one `[[sources]]` entry).
pub(super) fn source_from(
    ctx: &mut Ctx<'_>,
    s: &Section<'_, '_>,
    span: Range<usize>,
) -> Option<Source> {
    let base_url = read_base_url(ctx, s, span.clone());
    let token = read_token_source(ctx, s, span);
    let requests_per_hour = s.uint(ctx, "requests_per_hour", 100_000).map(|n| n as u32);
    let reserve_percent = s.uint(ctx, "reserve_percent", 90).map_or(10, |n| n as u32);
    let concurrency = s
        .uint(ctx, "concurrency", 64)
        .map_or(4, |n| n.max(1) as usize);
    let timeout_secs = s.uint(ctx, "timeout_secs", 3600).map_or(60, |n| n.max(1));
    let user_agent = s
        .string(ctx, "user_agent")
        .map_or_else(|| DEFAULT_USER_AGENT.to_string(), |u| u.0);
    let allow_write_scopes = s.boolean(ctx, "allow_write_scopes").unwrap_or(false);
    let accept_unverified_scopes = s.boolean(ctx, "accept_unverified_scopes").unwrap_or(false);
    let checkpoint_pages = s
        .uint(ctx, "checkpoint_pages", 100_000)
        .map_or(20, |n| n.max(1) as u32);
    let checkpoint_secs = s.uint(ctx, "checkpoint_secs", 86_400).unwrap_or(30);
    let offset_wall = s
        .uint(ctx, "offset_wall", 10_000_000)
        .map_or(super::model::DEFAULT_OFFSET_WALL, |n| n.max(1));
    let max_wait_secs = s
        .uint(ctx, "max_wait_secs", 7 * 86_400)
        .unwrap_or(crate::api::DEFAULT_WAIT_BUDGET.as_secs());
    Some(Source {
        base_url: base_url?,
        token: token?,
        requests_per_hour,
        reserve_percent,
        concurrency,
        timeout_secs,
        user_agent,
        allow_write_scopes,
        accept_unverified_scopes,
        checkpoint_pages,
        checkpoint_secs,
        offset_wall,
        max_wait_secs,
    })
}

fn read_base_url(ctx: &mut Ctx<'_>, s: &Section<'_, '_>, section: Range<usize>) -> Option<Url> {
    let region = s.string(ctx, "region");
    let base = s.string(ctx, "base_url");
    let (text, span) = match (region, base) {
        (Some(_), Some((_, span))) => {
            ctx.diags.error(
                span,
                "give either `region` or `base_url` in [source], not both",
            );
            return None;
        }
        (None, Some(b)) => b,
        (Some((r, span)), None) => match region_base_url(&r) {
            Some(url) => (url.to_string(), span),
            None => {
                ctx.diags.error_with_hint(
                    span,
                    format!("unknown region `{r}`"),
                    "use uk, ca, apac or sandbox, or set `base_url`",
                );
                return None;
            }
        },
        (None, None) => {
            if s.span_of("region").is_none() && s.span_of("base_url").is_none() {
                ctx.diags.error_with_hint(
                    section,
                    "[source] needs `region` or `base_url`",
                    "add `region = \"uk\"` (or ca, apac, sandbox)",
                );
            }
            return None;
        }
    };
    check_base_url(ctx, &text, span)
}

fn check_base_url(ctx: &mut Ctx<'_>, text: &str, span: Range<usize>) -> Option<Url> {
    let url = match Url::parse(text.trim_end_matches('/')) {
        Ok(u) => u,
        Err(e) => {
            ctx.diags
                .error(span, format!("`base_url` is not a URL: {e}"));
            return None;
        }
    };
    if !url.username().is_empty() || url.password().is_some() {
        ctx.diags
            .error(span, "`base_url` must not carry credentials");
        return None;
    }
    if url.query().is_some() || url.fragment().is_some() {
        ctx.diags.error_with_hint(
            span,
            "`base_url` must not have a query (`?…`) or fragment (`#…`)",
            "give the API root only, e.g. `https://api.dentally.co`; the token goes in `token_env`/`token_file`, never in the URL",
        );
        return None;
    }
    let loopback = crate::api::is_loopback(&url);
    if url.scheme() != "https" && !(url.scheme() == "http" && loopback) {
        ctx.diags.error_with_hint(
            span,
            format!("`base_url` must use https (found `{}`)", url.scheme()),
            "plain http is allowed only for loopback addresses such as the built-in sandbox",
        );
        return None;
    }
    Some(url)
}

fn read_token_source(
    ctx: &mut Ctx<'_>,
    s: &Section<'_, '_>,
    section: Range<usize>,
) -> Option<TokenSource> {
    let env = s.string(ctx, "token_env");
    let file = s.string(ctx, "token_file");
    match (env, file) {
        (Some(_), Some((_, span))) => {
            ctx.diags
                .error(span, "give either `token_env` or `token_file`, not both");
            None
        }
        (Some((name, span)), None) => token_env_name(ctx, name, span).map(TokenSource::Env),
        (None, Some((path, _))) => Some(TokenSource::File(PathBuf::from(path))),
        (None, None) => {
            if s.span_of("token_env").is_none() && s.span_of("token_file").is_none() {
                ctx.diags.error_with_hint(
                    section,
                    "[source] needs `token_env` or `token_file`",
                    "add `token_env = \"DENTALLY_API_TOKEN\"` and export the token in that variable",
                );
            }
            None
        }
    }
}

fn token_env_name(ctx: &mut Ctx<'_>, name: String, span: Range<usize>) -> Option<String> {
    let looks_like_name = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
        && !name.starts_with(|c: char| c.is_ascii_digit());
    if looks_like_name {
        return Some(name);
    }
    ctx.diags.error_with_hint(
        span,
        "`token_env` must name an environment variable (like `DENTALLY_API_TOKEN`); this value looks like something else",
        "never write the token itself in a pipeline file: export it in a variable and name that variable here",
    );
    None
}

/// `[output] allow_http = true` with an `endpoint` that is not a loopback address would send
/// health data over plain http: refused unless `allow_insecure_http = true` says so explicitly.
pub(super) fn check_store_endpoint(
    ctx: &mut Ctx<'_>,
    endpoint: Option<&super::reader::Str>,
    allow_http: Option<bool>,
    allow_insecure_http: bool,
) {
    let Some((endpoint, span)) = endpoint else {
        return;
    };
    if allow_http != Some(true) || allow_insecure_http {
        return;
    }
    let remote_http =
        Url::parse(endpoint).is_ok_and(|u| u.scheme() == "http" && !crate::api::is_loopback(&u));
    if remote_http {
        ctx.diags.error_with_hint(
            span.clone(),
            "plain http to an object store that is not on this machine would send patient data unencrypted",
            "use an https endpoint, or set `allow_insecure_http = true` in [output] if the network is trusted",
        );
    }
}
