//! Reading `X-OAuth-Scopes` and judging it: read-only, and covering every selected resource.

use std::collections::BTreeSet;

/// Splits an `X-OAuth-Scopes` value on spaces and commas.
pub fn parse(header: &str) -> BTreeSet<String> {
    header
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// Scopes that allow more than reading: `:create`, `:update`, `:delete`, `:write`, anything not
/// ending in `:read`, and bare resource names (`appointment`), which grant every action.
pub fn write_scopes(scopes: &BTreeSet<String>) -> Vec<String> {
    scopes
        .iter()
        .filter(|s| !s.ends_with(":read"))
        .cloned()
        .collect()
}

/// The needed scopes the token does not hold (a bare `patient` covers `patient:read`).
pub fn missing(scopes: &BTreeSet<String>, needed: &BTreeSet<&'static str>) -> Vec<String> {
    needed
        .iter()
        .filter(|n| {
            let bare = n.trim_end_matches(":read");
            !scopes.contains(**n) && !scopes.contains(bare)
        })
        .map(|s| (*s).to_string())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_space_and_comma_separated_scopes() {
        let s = parse("user:read, patient:read  appointment:create");
        assert_eq!(s.len(), 3);
        assert_eq!(write_scopes(&s), vec!["appointment:create".to_string()]);
        assert_eq!(
            write_scopes(&parse("appointment user:read")),
            vec!["appointment".to_string()]
        );
    }

    #[test]
    fn lists_every_missing_scope() {
        let held = parse("user:read patient:read");
        let needed: BTreeSet<&str> = ["patient:read", "appointment:read", "invoice:read"].into();
        assert_eq!(
            missing(&held, &needed),
            vec!["appointment:read".to_string(), "invoice:read".to_string()]
        );
        assert!(missing(&parse("appointment"), &["appointment:read"].into()).is_empty());
    }
}
