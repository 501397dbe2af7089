//! The catalog of Dentally resources: one entry per list endpoint of the v1 API plus `practice`.
//!
//! Everything the tool knows about the API's data lives here, as data (`docs/design.md` §1): the
//! extractor reads paths, envelope keys, scopes, keys, cursors and windows; the flattener and the
//! sinks read field types and PII tags, from which [`tables`] derives the Arrow schema of every
//! table. The entries are grouped by subject in small files (`reference`, `organisation`,
//! `patients`, `clinical`, `finance`, `schedule`); this file only assembles and looks them up.
//! Field lists follow `docs/dentally-api.md` §5 as regraded by `../shared/docs/api-evidence.md`
//! §2; decisions taken where the research is silent are written on each entry, and every field
//! carries its evidence grade (`schema NAME` shows it). A field whose type is a guess is declared
//! so that any plausible value fits.

mod clinical;
mod describe;
#[cfg(test)]
mod evidence;
mod finance;
mod organisation;
mod patients;
mod pii;
mod reference;
mod schedule;
pub(crate) mod schema;
mod types;

pub use describe::{describe, list_text};
pub use pii::PiiPolicy;
pub use schema::{
    Column, EXTRA_COLUMN, INDEX_COLUMN, META_JSON_PATH, META_PII, Table, arrow_type, columns,
    tables,
};
pub use types::{
    ByKey, Field, FieldKind, FieldType, Grade, Kind, Pii, RangeFilter, Resource, Window, Witness,
};

/// Scope of `GET /v1/user`, the preflight's who-am-I call; needed by every pipeline.
pub const USER_SCOPE: &str = "user:read";

/// Every resource, in the order of `docs/dentally-api.md` §3 (`practice` first).
static ALL: [Resource; 30] = [
    organisation::PRACTICE,
    organisation::SITES,
    organisation::USERS,
    organisation::PRACTITIONERS,
    reference::ROOMS,
    clinical::TREATMENTS,
    reference::TREATMENT_CATEGORIES,
    finance::PAYMENT_PLANS,
    finance::FEES,
    finance::SUNDRIES,
    clinical::CONTRACTS,
    reference::ACQUISITION_SOURCES,
    reference::APPOINTMENT_CANCELLATION_REASONS,
    reference::APPOINTMENT_REASONS,
    patients::WAITING_LISTS,
    patients::PATIENTS,
    patients::PATIENT_STATS,
    finance::ACCOUNTS,
    schedule::APPOINTMENTS,
    clinical::TREATMENT_APPOINTMENTS,
    finance::INVOICES,
    finance::INVOICE_ITEMS,
    finance::PAYMENTS,
    clinical::TREATMENT_PLANS,
    clinical::TREATMENT_PLAN_ITEMS,
    patients::RECALLS,
    clinical::NHS_CLAIMS,
    patients::PATIENT_REFERRALS,
    schedule::ROTA_PRACTITIONER_DIARIES,
    reference::CUSTOM_FIELDS,
];

/// Every resource of the catalog.
pub fn all() -> &'static [Resource] {
    &ALL
}

/// The resource with this exact name (`patients`), if the catalog has one.
pub fn find(name: &str) -> Option<&'static Resource> {
    ALL.iter().find(|r| r.name == name)
}

/// The catalog name closest to `name` by edit distance, for "did you mean …?" hints; `None` when
/// nothing is reasonably close (more than a third of the name, and more than 3 edits, away).
pub fn suggest(name: &str) -> Option<&'static str> {
    let limit = (name.len() / 3).max(3);
    ALL.iter()
        .map(|r| (strsim::levenshtein(name, r.name), r.name))
        .filter(|&(distance, _)| distance <= limit)
        .min_by_key(|&(distance, _)| distance)
        .map(|(_, found)| found)
}

/// Every read scope the catalog can need: [`USER_SCOPE`] plus each resource's scope, sorted and
/// without duplicates.
pub fn all_read_scopes() -> Vec<&'static str> {
    let mut scopes: Vec<&'static str> = ALL.iter().map(|r| r.scope).collect();
    scopes.push(USER_SCOPE);
    scopes.sort_unstable();
    scopes.dedup();
    scopes
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn one_entry_per_endpoint_with_conventional_names() {
        assert_eq!(all().len(), 30);
        let names: BTreeSet<_> = all().iter().map(|r| r.name).collect();
        assert_eq!(names.len(), 30, "duplicate resource names");
        for r in all() {
            assert_eq!(r.path, format!("/v1/{}", r.name));
            assert_eq!(r.envelope, r.name);
            assert_eq!(r.sort_by, r.primary_key);
            assert!(r.scope.ends_with(":read"));
            assert!(
                r.field(r.primary_key).is_some(),
                "{}: key not a field",
                r.name
            );
            assert_eq!(r.kind == Kind::Single, r.name == "practice");
        }
    }

    #[test]
    fn scopes_are_singular_read_scopes() {
        assert_eq!(find("payments").unwrap().singular(), "payment");
        assert_eq!(
            find("treatment_categories").unwrap().scope,
            "treatment_category:read"
        );
        assert_eq!(find("sundries").unwrap().scope, "sundry:read");
        let scopes = all_read_scopes();
        assert_eq!(scopes.len(), 30, "user:read is shared by `users`");
        assert!(scopes.windows(2).all(|w| w[0] < w[1]));
        assert!(scopes.contains(&USER_SCOPE));
    }

    #[test]
    fn cursors_keys_and_windows() {
        let with_cursor: BTreeSet<_> = all()
            .iter()
            .filter(|r| r.cursor.is_some())
            .map(|r| r.name)
            .collect();
        let expected: BTreeSet<_> = [
            "patients",
            "patient_stats",
            "appointments",
            "invoices",
            "invoice_items",
            "payments",
            "treatment_plans",
            "treatment_plan_items",
            "treatment_appointments",
            "recalls",
            "nhs_claims",
            "patient_referrals",
        ]
        .into_iter()
        .collect();
        assert_eq!(with_cursor, expected);
        for r in all() {
            if let Some(cursor) = r.cursor {
                assert!(r.field(cursor).is_some(), "{}: cursor not a field", r.name);
            }
            if let Window::Required { field, .. } = r.window {
                assert!(r.field(field).is_some(), "{}: window field missing", r.name);
            }
        }
        assert_eq!(find("patient_stats").unwrap().primary_key, "patient_id");
        assert_eq!(
            find("fees").unwrap().window,
            Window::PerParent {
                parent: "treatments",
                param: "treatment_id"
            }
        );
        assert_eq!(find("patient_stats").unwrap().keys_from(), Some("patients"));
        // Every parent a resource is read by is in the catalog, keyed by one field.
        for r in all() {
            if let Some(parent) = r.keys_from() {
                assert!(find(parent).is_some(), "{}: parent {parent}", r.name);
            }
        }
        assert_eq!(
            find("appointments").unwrap().window,
            Window::after_before("start_time")
        );
        assert_eq!(
            find("rota_practitioner_diaries").unwrap().window,
            Window::after_before("day")
        );
    }

    #[test]
    fn field_names_are_unique_per_level_and_children_only_at_top() {
        fn check(fields: &[Field], top: bool, at: &str) {
            let names: BTreeSet<_> = fields.iter().map(|f| f.name).collect();
            assert_eq!(names.len(), fields.len(), "duplicate field under {at}");
            for f in fields {
                match f.kind {
                    FieldKind::Scalar(_) => {}
                    FieldKind::Object(sub) => check(sub, false, f.name),
                    FieldKind::Children(sub) => {
                        assert!(top, "children nested below the top level at {at}");
                        check(sub, false, f.name);
                    }
                }
            }
        }
        for r in all() {
            check(r.fields, true, r.name);
        }
    }

    #[test]
    fn patients_leave_portal_registered_to_extra() {
        let patients = find("patients").unwrap();
        assert!(patients.field("portal_registered").is_none());
        assert_eq!(patients.field("family_id").unwrap().pii, Pii::None);
        assert_eq!(patients.field("nhs_number").unwrap().pii, Pii::Direct);
    }

    #[test]
    fn suggestions() {
        assert_eq!(suggest("patient"), Some("patients"));
        assert_eq!(suggest("apointments"), Some("appointments"));
        assert_eq!(suggest("invoice_item"), Some("invoice_items"));
        assert_eq!(suggest("zzzzzzzzzzzzzzzzzzzz"), None);
        assert!(find("nope").is_none());
    }
}
