//! Which query parameters the live API honours, per resource, from
//! `../shared/docs/api-evidence.md` (§2, §3). Every other parameter is silently ignored: the
//! answer is the unfiltered list, as the live API answers `/payments?updated_after=…` with the
//! whole payment history. A filter the evidence does not show is ignored (the harsher side),
//! even where the catalog (`Resource::ranges`) believes it works: the sandbox keeps its own
//! table, so that the extractor's checks of its beliefs are tested against the evidence, not
//! against themselves.
//!
//! | resource | honoured | grade | notably ignored |
//! |---|---|---|---|
//! | appointments | `after`, `before`, `on` (start_time); `updated_after`; `cancelled`; `practitioner_id`, `patient_id`, `room_id`, `site_id`, `state` | B (ranges), C (equality) | `updated_before` |
//! | rota_practitioner_diaries | `after`, `before` (day) | B- | |
//! | patients | `updated_after`; `created_after`, `created_before`; `site_id` | B / C | `updated_before`, `query`, `active`, `sort_by` |
//! | invoices | `dated_on_after`, `dated_on_before`; `updated_after`; `site_id` | C / B- | `paid`, `updated_before` |
//! | invoice_items | `updated_after` | B- | `updated_before` |
//! | payments | `dated_after`, `dated_before` (dated_on) | C+ | `updated_after` (B-), `dated_on_*` |
//! | treatment_plans | `updated_after`, `updated_before`; `created_after` | B / C | `site_id` (C) |
//! | treatment_plan_items | `updated_after`, `updated_before` | B | |
//! | treatment_appointments | `updated_after`, `updated_before` | B | |
//! | nhs_claims | `updated_after`; `claim_status`, `site_id` | B- / C | |
//! | recalls | `updated_after` | B | |
//! | fees | `treatment_id` | B | `payment_plan_id` |
//! | every other list | nothing | | every filter |
//!
//! `page`, `per_page`, `sort_by` and `sort_direction` are not filters (paging and order have
//! their own rules, see `order`). Tests can move any parameter across the line with
//! `SandboxConfig::honour_filters` / `ignore_filters` (`--honour-filter RESOURCE:PARAM`,
//! `--ignore-filter RESOURCE:PARAM`; `*` matches any resource or parameter, so
//! `--honour-filter '*:*'` gives back the old sandbox that applied every filter it knew).

use super::config::SandboxConfig;

/// Parameters that shape paging and order, never filtered out here.
const PAGING: &[&str] = &["page", "per_page", "sort_by", "sort_direction"];

/// Per resource, the filter parameters the live API applies (see the module table).
const HONOURED: &[(&str, &[&str])] = &[
    (
        "appointments",
        &[
            "after",
            "before",
            "on",
            "updated_after",
            "cancelled",
            "practitioner_id",
            "patient_id",
            "room_id",
            "site_id",
            "state",
        ],
    ),
    ("rota_practitioner_diaries", &["after", "before"]),
    (
        "patients",
        &[
            "updated_after",
            "created_after",
            "created_before",
            "site_id",
        ],
    ),
    (
        "invoices",
        &[
            "dated_on_after",
            "dated_on_before",
            "updated_after",
            "site_id",
        ],
    ),
    ("invoice_items", &["updated_after"]),
    ("payments", &["dated_after", "dated_before"]),
    (
        "treatment_plans",
        &["updated_after", "updated_before", "created_after"],
    ),
    ("treatment_plan_items", &["updated_after", "updated_before"]),
    (
        "treatment_appointments",
        &["updated_after", "updated_before"],
    ),
    ("nhs_claims", &["updated_after", "claim_status", "site_id"]),
    ("recalls", &["updated_after"]),
    ("fees", &["treatment_id"]),
];

/// Whether the evidence says `resource` applies `param`.
pub(crate) fn by_evidence(resource: &str, param: &str) -> bool {
    HONOURED
        .iter()
        .any(|(r, params)| *r == resource && params.contains(&param))
}

/// Whether `pattern` (`resource:param`, either side may be `*`) names `resource`'s `param`.
fn matches(pattern: &str, resource: &str, param: &str) -> bool {
    let Some((r, p)) = pattern.split_once(':') else {
        return false;
    };
    (r == "*" || r == resource) && (p == "*" || p == param)
}

/// Whether this sandbox applies `param` on `resource`: the configured overrides first
/// (ignoring wins over honouring), then the evidence.
pub(crate) fn honours(config: &SandboxConfig, resource: &str, param: &str) -> bool {
    if config
        .ignore_filters
        .iter()
        .any(|p| matches(p, resource, param))
    {
        return false;
    }
    config
        .honour_filters
        .iter()
        .any(|p| matches(p, resource, param))
        || by_evidence(resource, param)
}

/// The query pairs of a list request on `resource` that the sandbox will act on: paging and
/// order parameters, and the filters it honours. The rest is dropped, so the answer is what
/// the live API gives when it does not know a parameter.
pub(crate) fn keep(
    config: &SandboxConfig,
    resource: &str,
    params: &[(String, String)],
) -> Vec<(String, String)> {
    params
        .iter()
        .filter(|(k, _)| PAGING.contains(&k.as_str()) || honours(config, resource, k))
        .cloned()
        .collect()
}

/// Checks a `RESOURCE:PARAM` override: both parts present, the resource known (or `*`).
pub(crate) fn validate(pattern: &str) -> Result<(), String> {
    let Some((resource, param)) = pattern.split_once(':') else {
        return Err(format!(
            "`{pattern}` is not RESOURCE:PARAM (e.g. payments:updated_after, or *:* for all)"
        ));
    };
    if param.is_empty() {
        return Err(format!("`{pattern}` names no parameter after the colon"));
    }
    if resource != "*" && crate::catalog::find(resource).is_none() {
        return Err(format!(
            "`{pattern}`: no resource `{resource}` in the catalog (see `dentally-etl resources`)"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(q: &[(&str, &str)]) -> Vec<(String, String)> {
        q.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn the_evidence_decides_by_default() {
        let c = SandboxConfig::default();
        assert!(honours(&c, "payments", "dated_after"));
        assert!(!honours(&c, "payments", "updated_after"));
        assert!(honours(&c, "appointments", "updated_after"));
        assert!(!honours(&c, "appointments", "updated_before"));
        assert!(!honours(&c, "patients", "updated_before"));
        assert!(honours(&c, "fees", "treatment_id"));
        let kept = keep(
            &c,
            "payments",
            &pairs(&[
                ("updated_after", "x"),
                ("per_page", "100"),
                ("sort_by", "id"),
            ]),
        );
        assert_eq!(kept, pairs(&[("per_page", "100"), ("sort_by", "id")]));
    }

    #[test]
    fn overrides_move_a_filter_across_the_line() {
        let c = SandboxConfig {
            honour_filters: vec!["payments:updated_after".into(), "*:query".into()],
            ignore_filters: vec!["appointments:*".into(), "*:updated_before".into()],
            ..SandboxConfig::default()
        };
        assert!(honours(&c, "payments", "updated_after"));
        assert!(honours(&c, "patients", "query"));
        assert!(!honours(&c, "appointments", "after"));
        assert!(!honours(&c, "treatment_plans", "updated_before"));
        let all = SandboxConfig {
            honour_filters: vec!["*:*".into()],
            ..SandboxConfig::default()
        };
        assert!(honours(&all, "rooms", "anything"));
        assert!(validate("payments:updated_after").is_ok());
        assert!(validate("*:*").is_ok());
        assert!(validate("payment:updated_after").is_err());
        assert!(validate("payments").is_err());
        assert!(validate("payments:").is_err());
    }
}
