//! The registry of generators: for each catalog resource, how many base records it has, how
//! record `i` is produced, where integer ids start, and (for windowed resources) the monotone
//! key that lets a window become an index range.

use serde_json::Value;

use super::timeline::DAY_MS;
use super::{
    World, appointments, clinical, finance, ids, organisation, patients, payments, plans, rota,
    setup, vocab,
};

/// A per-record key: `key(world, index)`.
pub(crate) type Key = fn(&World, u64) -> i64;

/// How a resource's records are produced.
pub(crate) struct Table {
    /// Catalog name.
    pub name: &'static str,
    /// First integer id (`id = first_id + index`), or `None` for GUID-keyed resources.
    pub first_id: Option<i64>,
    /// Number of base records.
    pub len: fn(&World) -> u64,
    /// Record `i` (raw, before `conform`).
    pub record: fn(&World, u64) -> Value,
    /// For windowed resources: the monotone window key of record `i` (UTC ms of `start_time`,
    /// or the day number of `day`).
    pub window: Option<Key>,
    /// A field whose value never decreases with the index (`treatment_id` of fees, `patient_id`
    /// of accounts), with that value for record `i`: an equality filter on it is an index range.
    pub grouped: Option<(&'static str, Key)>,
    /// Cheap timestamps of base records, for `created_*`/`updated_*` filters at large scales.
    pub stamps: Option<Stamps>,
}

/// `updated_at` of base records, as far as it can be had cheaply.
#[derive(Clone, Copy)]
pub(crate) enum Updated {
    /// Always equal to `created_at`.
    SameAsCreated,
    /// Computed by this function.
    Cheap(Key),
    /// Only by generating the record (but within `max_lag` of `created_at`).
    Unknown,
}

/// Timestamps of base records computed without generating them.
#[derive(Clone, Copy)]
pub(crate) struct Stamps {
    /// `created_at` (UTC ms), non-decreasing in the index.
    pub created: Key,
    /// What is known of `updated_at` without generating the record.
    pub updated: Updated,
    /// Upper bound of `updated_at − created_at` (ms).
    pub max_lag: i64,
}

impl Table {
    /// The same table, with cheap timestamps.
    const fn stamped(self, created: Key, updated: Updated, max_lag: i64) -> Table {
        Table {
            stamps: Some(Stamps {
                created,
                updated,
                max_lag,
            }),
            ..self
        }
    }

    /// The same table, with `field` (valued `key(i)`) non-decreasing in the index.
    const fn by(self, field: &'static str, key: Key) -> Table {
        Table {
            grouped: Some((field, key)),
            ..self
        }
    }
}

macro_rules! table {
    ($name:literal, $first:expr, $len:expr, $record:path) => {
        Table {
            name: $name,
            first_id: $first,
            len: $len,
            record: $record,
            window: None,
            grouped: None,
            stamps: None,
        }
    };
    ($name:literal, $first:expr, $len:expr, $record:path, $window:path) => {
        Table {
            name: $name,
            first_id: $first,
            len: $len,
            record: $record,
            window: Some($window),
            grouped: None,
            stamps: None,
        }
    };
}

/// Every generated resource, in catalog order.
#[rustfmt::skip]
static TABLES: &[Table] = &[
    table!("practice", None, |_| 1, organisation::practice),
    table!("sites", None, |w| w.counts.sites, organisation::site),
    table!("users", Some(ids::USERS), |w| w.counts.users, organisation::user),
    table!("practitioners", Some(ids::PRACTITIONERS), |w| w.counts.practitioners, organisation::practitioner),
    table!("rooms", Some(ids::ROOMS), |w| w.counts.rooms, organisation::room),
    table!("treatments", Some(ids::TREATMENTS), |w| w.counts.treatments, setup::treatment),
    table!("treatment_categories", Some(ids::TREATMENT_CATEGORIES), |w| w.counts.categories, setup::category),
    table!("payment_plans", Some(ids::PAYMENT_PLANS), |w| w.counts.payment_plans, setup::payment_plan),
    table!("fees", Some(ids::FEES), |w| w.counts.treatments * w.counts.payment_plans, setup::fee).by("treatment_id", setup::fee_treatment),
    table!("sundries", Some(ids::SUNDRIES), |w| w.counts.sundries, vocab::sundry),
    table!("contracts", None, |w| w.counts.sites, vocab::contract),
    table!("acquisition_sources", Some(ids::ACQUISITION_SOURCES), |w| w.counts.acquisition_sources, vocab::acquisition_source),
    table!("appointment_cancellation_reasons", Some(ids::CANCELLATION_REASONS), |w| w.counts.cancellation_reasons, vocab::cancellation_reason),
    table!("appointment_reasons", Some(ids::APPOINTMENT_REASONS), |w| w.counts.appointment_reasons, vocab::appointment_reason),
    table!("custom_fields", Some(ids::CUSTOM_FIELDS), |w| w.counts.custom_fields, vocab::custom_field),
    table!("waiting_lists", Some(ids::WAITING_LISTS), |w| w.counts.waiting_lists, clinical::waiting_list),
    table!("patients", Some(ids::PATIENTS), |w| w.counts.patients, patients::patient).stamped(patients::created, Updated::Cheap(patients::updated), 731 * DAY_MS),
    table!("patient_stats", Some(ids::PATIENTS), |w| w.counts.patients, patients::patient_stat).by("patient_id", |_, i| ids::PATIENTS + i as i64),
    table!("accounts", Some(ids::ACCOUNTS), |w| w.counts.patients, patients::account).by("patient_id", |_, i| ids::PATIENTS + i as i64),
    table!("appointments", Some(ids::APPOINTMENTS), |w| w.counts.appointments, appointments::appointment, appointments::start_key),
    table!("treatment_appointments", Some(ids::TREATMENT_APPOINTMENTS), |w| w.counts.treatment_appointments, appointments::treatment_appointment).by("appointment_id", appointments::linked_appointment_id),
    table!("invoices", Some(ids::INVOICES), |w| w.counts.invoices, finance::invoice).stamped(finance::invoice_created, Updated::Unknown, 12 * DAY_MS),
    table!("invoice_items", None, finance::item_count, finance::invoice_item).by("invoice_id", finance::item_invoice_id).stamped(finance::item_created, Updated::SameAsCreated, 0),
    table!("payments", Some(ids::PAYMENTS), |w| w.counts.payments, payments::payment),
    table!("treatment_plans", Some(ids::TREATMENT_PLANS), |w| w.counts.treatment_plans, plans::treatment_plan).by("patient_id", plans::plan_patient_id),
    table!("treatment_plan_items", Some(ids::TREATMENT_PLAN_ITEMS), plans::item_count, plans::treatment_plan_item).by("treatment_plan_id", plans::item_plan_id),
    table!("recalls", Some(ids::RECALLS), |w| w.counts.recalls, clinical::recall).by("patient_id", clinical::recall_patient_id),
    table!("nhs_claims", Some(ids::NHS_CLAIMS), |w| w.counts.nhs_claims, clinical::nhs_claim).by("treatment_plan_id", clinical::claim_plan_id),
    table!("patient_referrals", Some(ids::PATIENT_REFERRALS), |w| w.counts.referrals, clinical::referral).by("patient_id", clinical::referral_patient_id),
    table!("rota_practitioner_diaries", Some(ids::ROTA), rota::count, rota::diary, rota::day_key),
];

/// The generator of a resource, by catalog name.
pub(crate) fn table(name: &str) -> Option<&'static Table> {
    TABLES.iter().find(|t| t.name == name)
}

/// Every generator.
#[cfg(test)]
pub(crate) fn tables() -> &'static [Table] {
    TABLES
}
