//! The order a list is served in when the client does not choose one, and the lists that do
//! not let it choose.
//!
//! Evidence (`../shared/docs/api-evidence.md` §3): unfiltered lists come newest first
//! (`treatment_plan_items`, `treatment_appointments`, B-), and under `updated_after` ascending
//! by `updated_at` (B-); `/v1/patients` has "no sort control" (C), so there `sort_by` and
//! `sort_direction` are ignored (the harsher reading). The sandbox applies both rules to every
//! list. `SandboxConfig::newest_first = false` gives back the old id-ascending default and an
//! empty `sort_ignored` honours `sort_by` everywhere.

use crate::catalog::{FieldType, Resource};

use super::config::SandboxConfig;
use super::query::{Filter, ListQuery, Sort};

/// Drops `sort_by`/`sort_direction` from the parameters of a list that ignores them.
pub(crate) fn strip_ignored_sort(
    config: &SandboxConfig,
    resource: &str,
    params: &mut Vec<(String, String)>,
) {
    if config.sort_ignored.iter().any(|r| r == resource) {
        params.retain(|(k, _)| k != "sort_by" && k != "sort_direction");
    }
}

/// Fills in the default order of a query that asked for none.
pub(crate) fn settle(config: &SandboxConfig, resource: &Resource, query: &mut ListQuery) {
    if query.sort.is_some() || !config.newest_first {
        return;
    }
    let since = query.filters.iter().any(|f| {
        matches!(
            f,
            Filter::From {
                field: "updated_at",
                ..
            }
        )
    });
    query.sort = Some(if since {
        Sort {
            field: "updated_at",
            ty: FieldType::Timestamp,
            descending: false,
        }
    } else {
        Sort {
            field: resource.primary_key,
            ty: FieldType::Int,
            descending: true,
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog;

    #[test]
    fn newest_first_unless_updated_after() {
        let config = SandboxConfig::default();
        let patients = catalog::find("patients").unwrap();
        let params = |q: &[(&str, &str)]| -> Vec<(String, String)> {
            q.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let mut p = params(&[("sort_by", "last_name"), ("page", "2")]);
        strip_ignored_sort(&config, "patients", &mut p);
        assert_eq!(p, params(&[("page", "2")]));
        let mut q = super::super::query::parse(patients, &p, false).unwrap();
        settle(&config, patients, &mut q);
        assert_eq!(
            q.sort.as_ref().map(|s| (s.field, s.descending)),
            Some(("id", true))
        );
        assert!(!q.sort_requested);
        let p = params(&[("updated_after", "2026-01-01")]);
        let mut q = super::super::query::parse(patients, &p, false).unwrap();
        settle(&config, patients, &mut q);
        assert_eq!(
            q.sort.as_ref().map(|s| (s.field, s.descending)),
            Some(("updated_at", false))
        );
        let old = SandboxConfig::default().kind();
        let mut q = super::super::query::parse(patients, &[], false).unwrap();
        settle(&old, patients, &mut q);
        assert!(q.sort.is_none());
    }
}
