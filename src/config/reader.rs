//! A typed, span-aware reader over one TOML table of a pipeline file.
//!
//! We read the document tree (`toml::de::DeTable`, which keeps spans) instead of deriving serde
//! types so that one pass can report every unknown key, wrong type and missing variable with its
//! line and column, rather than stopping at serde's first error.

use std::ops::Range;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::diagnostic::Diagnostics;
use super::interpolate::{Expanded, expand};

/// What the reader needs from its surroundings: where to report, and how to read variables.
pub(crate) struct Ctx<'a> {
    pub(crate) diags: Diagnostics<'a>,
    pub(crate) env: &'a dyn Fn(&str) -> Option<String>,
}

/// A string value with its span.
pub(crate) type Str = (String, Range<usize>);

/// Reads the keys of one table, remembering which were read so leftovers can be reported.
pub(crate) struct Section<'t, 'i> {
    table: &'t DeTable<'i>,
    label: String,
    allowed: &'static [&'static str],
}

impl<'t, 'i> Section<'t, 'i> {
    /// A reader over `table`, which may hold only the `allowed` keys; `label` names it in errors.
    pub(crate) fn new(
        table: &'t DeTable<'i>,
        label: impl Into<String>,
        allowed: &'static [&'static str],
    ) -> Self {
        Self {
            table,
            label: label.into(),
            allowed,
        }
    }

    /// The span of `key`'s value, if present.
    pub(crate) fn span_of(&self, key: &str) -> Option<Range<usize>> {
        self.table.get(key).map(Spanned::span)
    }

    fn value(&self, key: &str) -> Option<&'t Spanned<DeValue<'i>>> {
        debug_assert!(self.allowed.contains(&key), "reading undeclared key {key}");
        self.table.get(key)
    }

    fn wrong_type(&self, ctx: &mut Ctx<'_>, key: &str, want: &str, got: &Spanned<DeValue<'_>>) {
        ctx.diags.error(
            got.span(),
            format!(
                "`{key}` in {} must be {want}, found {}",
                self.label,
                got.get_ref().type_str()
            ),
        );
    }

    /// A string, with `${VAR}` interpolation.
    pub(crate) fn string(&self, ctx: &mut Ctx<'_>, key: &str) -> Option<Str> {
        let v = self.value(key)?;
        let Some(raw) = v.get_ref().as_str() else {
            self.wrong_type(ctx, key, "a string", v);
            return None;
        };
        match expand(raw, ctx.env) {
            Expanded::Ok(s) => Some((s, v.span())),
            Expanded::Missing(names) => {
                for name in names {
                    ctx.diags.error_with_hint(
                        v.span(),
                        format!("environment variable `{name}` used by `{key}` is not set"),
                        format!("export {name}=… before running, or write `${{{name}:-default}}`"),
                    );
                }
                None
            }
            Expanded::Malformed(why) => {
                ctx.diags.error(v.span(), why);
                None
            }
        }
    }

    /// A non-negative integer no larger than `max`.
    pub(crate) fn uint(&self, ctx: &mut Ctx<'_>, key: &str, max: u64) -> Option<u64> {
        let v = self.value(key)?;
        let parsed = v
            .get_ref()
            .as_integer()
            .and_then(|i| int_value(i.as_str(), i.radix()));
        match parsed {
            Some(n) if n >= 0 && n.unsigned_abs() <= max => Some(n.unsigned_abs()),
            Some(n) => {
                ctx.diags.error(
                    v.span(),
                    format!(
                        "`{key}` in {} must be between 0 and {max}, found {n}",
                        self.label
                    ),
                );
                None
            }
            None => {
                self.wrong_type(ctx, key, "an integer", v);
                None
            }
        }
    }

    /// An integer value without reporting anything when it is of another type.
    pub(crate) fn uint_silent(&self, key: &str) -> Option<u64> {
        self.table
            .get(key)?
            .get_ref()
            .as_integer()
            .and_then(|i| int_value(i.as_str(), i.radix()))
            .and_then(|n| u64::try_from(n).ok())
    }

    /// A boolean.
    pub(crate) fn boolean(&self, ctx: &mut Ctx<'_>, key: &str) -> Option<bool> {
        let v = self.value(key)?;
        let b = v.get_ref().as_bool();
        if b.is_none() {
            self.wrong_type(ctx, key, "true or false", v);
        }
        b
    }

    /// A nested table (inline `{…}` or `[section]`).
    pub(crate) fn table(
        &self,
        ctx: &mut Ctx<'_>,
        key: &str,
    ) -> Option<(&'t DeTable<'i>, Range<usize>)> {
        let v = self.value(key)?;
        match v.get_ref() {
            DeValue::Table(t) => Some((t, v.span())),
            _ => {
                self.wrong_type(ctx, key, "a table", v);
                None
            }
        }
    }

    /// An array of tables (`[[resources]]`).
    pub(crate) fn tables(
        &self,
        ctx: &mut Ctx<'_>,
        key: &str,
    ) -> Vec<(&'t DeTable<'i>, Range<usize>)> {
        let Some(v) = self.value(key) else {
            return Vec::new();
        };
        let Some(items) = v.get_ref().as_array() else {
            self.wrong_type(ctx, key, "an array of tables", v);
            return Vec::new();
        };
        let mut out = Vec::new();
        for item in items.iter() {
            match item.get_ref() {
                DeValue::Table(t) => out.push((t, item.span())),
                other => ctx.diags.error(
                    item.span(),
                    format!(
                        "each entry of `{key}` must be a table, found {}",
                        other.type_str()
                    ),
                ),
            }
        }
        out
    }

    /// Reports every key that is not allowed here, suggesting the closest allowed one.
    pub(crate) fn finish(self, ctx: &mut Ctx<'_>, special: &dyn Fn(&str) -> Option<String>) {
        for (key, _) in self.table.iter() {
            let name: &str = key.get_ref();
            if self.allowed.contains(&name) {
                continue;
            }
            let hint = special(name)
                .or_else(|| closest(name, self.allowed).map(|s| format!("did you mean `{s}`?")));
            let message = format!("unknown key `{name}` in {}", self.label);
            match hint {
                Some(h) => ctx.diags.error_with_hint(key.span(), message, h),
                None => ctx.diags.error_with_hint(
                    key.span(),
                    message,
                    format!("allowed keys: {}", self.allowed.join(", ")),
                ),
            }
        }
    }
}

/// A TOML integer's text (`1_000`, in its radix) as a number.
fn int_value(text: &str, radix: u32) -> Option<i64> {
    i64::from_str_radix(&text.replace('_', ""), radix).ok()
}

/// The candidate closest to `name`, if it is close enough to be a likely typo.
pub(crate) fn closest<'c>(name: &str, candidates: &[&'c str]) -> Option<&'c str> {
    candidates
        .iter()
        .map(|c| (strsim::damerau_levenshtein(name, c), *c))
        .filter(|(d, c)| *d <= 2.max(c.len() / 3))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}
