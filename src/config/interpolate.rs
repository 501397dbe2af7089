//! `${VAR}` and `${VAR:-default}` in pipeline strings.
//!
//! Interpolation lets one pipeline file serve several environments (a sandbox URL in CI, the real
//! host in production) without ever holding a secret. Every missing variable is reported, not just
//! the first, so a user fixes them in one go.

/// The result of expanding one string.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Expanded {
    /// All variables were set (or had defaults).
    Ok(String),
    /// These variables are unset and have no default.
    Missing(Vec<String>),
    /// A `${` without its closing `}` or with an empty name.
    Malformed(String),
}

/// Expands `${VAR}` and `${VAR:-default}` using `lookup`; `$$` stands for a literal `$`.
pub(crate) fn expand(input: &str, lookup: &dyn Fn(&str) -> Option<String>) -> Expanded {
    let mut out = String::with_capacity(input.len());
    let mut missing = Vec::new();
    let mut rest = input;
    while let Some(pos) = rest.find('$') {
        out.push_str(&rest[..pos]);
        let after = &rest[pos + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
            continue;
        }
        let Some(body) = after.strip_prefix('{') else {
            out.push('$');
            rest = after;
            continue;
        };
        let Some(end) = body.find('}') else {
            return Expanded::Malformed(format!("`${{` without a closing `}}` in `{input}`"));
        };
        let (name, default) = match body[..end].split_once(":-") {
            Some((name, default)) => (name, Some(default)),
            None => (&body[..end], None),
        };
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Expanded::Malformed(format!(
                "`${{{}}}` is not a valid variable name",
                &body[..end]
            ));
        }
        match (lookup(name).filter(|v| !v.is_empty()), default) {
            (Some(value), _) => out.push_str(&value),
            (None, Some(default)) => out.push_str(default),
            (None, None) => missing.push(name.to_string()),
        }
        rest = &body[end + 1..];
    }
    out.push_str(rest);
    if missing.is_empty() {
        Expanded::Ok(out)
    } else {
        Expanded::Missing(missing)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        (name == "HOST").then(|| "example.org".to_string())
    }

    #[test]
    fn expands_set_default_and_missing_variables() {
        assert_eq!(
            expand("https://${HOST}/x", &env),
            Expanded::Ok("https://example.org/x".into())
        );
        assert_eq!(expand("${PORT:-8080}", &env), Expanded::Ok("8080".into()));
        assert_eq!(
            expand("$$5 ${HOST}", &env),
            Expanded::Ok("$5 example.org".into())
        );
        assert_eq!(
            expand("${A}-${HOST}-${B}", &env),
            Expanded::Missing(vec!["A".into(), "B".into()])
        );
        assert!(matches!(expand("${HOST", &env), Expanded::Malformed(_)));
    }
}
