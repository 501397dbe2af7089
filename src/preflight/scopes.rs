//! Reading `X-OAuth-Scopes` and judging it: read-only, and covering every selected resource.
//!
//! Only four scope names are evidenced (`user:read`, `patient:read`, `appointment:read`,
//! `practice:read`; api-evidence.md §3); the other names in the catalog are ours. So a scope
//! is judged by its *words*, not by an exact spelling: any write verb (or no verb at all: a bare
//! resource name grants every action) means the token can write, and a needed scope that is not
//! named exactly is not refused here but probed (`super::probe`).

use std::collections::BTreeSet;

/// The scope names seen in production clients (api-evidence.md §3, source 16); every other
/// name in the catalog is ours.
pub const EVIDENCED: &[&str] = &[
    "user:read",
    "patient:read",
    "appointment:read",
    "practice:read",
];

/// Splits an `X-OAuth-Scopes` value on spaces and commas.
pub fn parse(header: &str) -> BTreeSet<String> {
    header
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// Verbs that let a token change data.
const WRITE_WORDS: &[&str] = &[
    "create", "update", "delete", "destroy", "write", "edit", "manage", "admin", "modify", "post",
    "put", "patch",
];
/// Verbs that only read.
const READ_WORDS: &[&str] = &["read", "readonly", "view", "list", "show", "get"];

/// The lowercase words of a scope name: split on anything not a letter or digit, and at
/// lower→upper case changes (`patients.Read`, `read_patients`, `readPatients`).
fn words(scope: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut previous_lower = false;
    for c in scope.chars() {
        if !c.is_alphanumeric() {
            out.push(std::mem::take(&mut word));
            previous_lower = false;
            continue;
        }
        if c.is_uppercase() && previous_lower {
            out.push(std::mem::take(&mut word));
        }
        previous_lower = c.is_lowercase();
        word.extend(c.to_lowercase());
    }
    out.push(word);
    out.retain(|w| !w.is_empty());
    out
}

/// Whether a scope can only read: it names a read verb and no write verb.
pub fn is_read_only(scope: &str) -> bool {
    let words = words(scope);
    let has = |list: &[&str]| words.iter().any(|w| list.contains(&w.as_str()));
    has(READ_WORDS) && !has(WRITE_WORDS)
}

/// Scopes that allow more than reading: any write verb (`:create`, `.update`, `write_`…), and
/// any scope naming no read verb (a bare resource name such as `appointment` grants every
/// action; an unknown word cannot be proven harmless).
pub fn write_scopes(scopes: &BTreeSet<String>) -> Vec<String> {
    scopes
        .iter()
        .filter(|s| !is_read_only(s))
        .cloned()
        .collect()
}

/// Whether the token's scopes name `needed` exactly (or its bare resource, which covers it).
pub fn names(scopes: &BTreeSet<String>, needed: &str) -> bool {
    let bare = needed.trim_end_matches(":read");
    scopes.contains(needed) || scopes.contains(bare)
}

/// The needed scopes the token does not name (a bare `patient` covers `patient:read`).
pub fn missing(scopes: &BTreeSet<String>, needed: &BTreeSet<&'static str>) -> Vec<String> {
    needed
        .iter()
        .filter(|n| !names(scopes, n))
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
    fn read_scopes_are_recognised_however_they_are_spelled() {
        for read in [
            "patient:read",
            "patients.read",
            "read_patients",
            "readPatients",
            "Patients:Read",
            "read:invoice_items",
            "patient-readonly",
        ] {
            assert!(is_read_only(read), "{read}");
        }
        for write in [
            "patient:update",
            "patients.write",
            "write_patients",
            "read_write_patients",
            "patients:read:create",
            "appointment",
            "patients",
            "admin",
            "manage_read",
        ] {
            assert!(!is_read_only(write), "{write}");
        }
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
        assert!(!names(&parse("patients.read"), "patient:read"));
    }
}
