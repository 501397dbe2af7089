//! Patients and what hangs directly off them: stats, referrals, recalls, waiting lists
//! (§5.1, §5.19, §5.20, §5.23).
//!
//! This is where most personal data lives: names, contact details, addresses, identity numbers,
//! emergency contacts and free-text notes are tagged `Pii::Direct`.

use super::types::{Field, FieldType::*, Grade, RangeFilter, Resource};

/// Patients (§5.1). B-grade fields plus `family_id` from the DP-only "various" row (the rest of
/// that row is skipped); `proof_of_identification` and `suspicious_identity` ("?" in §5.1) are
/// taken as booleans. `acquisition_source_id` is integer-or-string: IdText. `custom_fields` and
/// `metadata` have no fixed shape: JSON text. `ethnicity` is sensitive but does not identify
/// anyone on its own: not tagged. `portal_registered` is deliberately absent (it lands in
/// `_extra`).
pub(crate) const PATIENTS: Resource = Resource::list(
    "patients",
    "/v1/patients",
    "patient:read",
    &[
        Field::new("id", Int),
        Field::new("uuid", Guid),
        Field::new("account_id", Int),
        Field::new("active", Bool),
        Field::direct("title", Text),
        Field::direct("first_name", Text),
        Field::direct("middle_name", Text),
        Field::direct("last_name", Text),
        Field::direct("preferred_name", Text),
        Field::direct("date_of_birth", Date),
        Field::new("gender", Bool),
        Field::new("ethnicity", Text),
        Field::direct("email_address", Text),
        Field::direct("home_phone", Text),
        Field::direct("mobile_phone", Text),
        Field::direct("work_phone", Text),
        Field::new("preferred_phone_number", Text),
        Field::new("use_email", Bool),
        Field::new("use_sms", Bool),
        Field::new("marketing", Bool),
        Field::direct("address_line_1", Text),
        Field::direct("address_line_2", Text),
        Field::direct("address_line_3", Text),
        Field::direct("town", Text),
        Field::direct("county", Text),
        Field::direct("postcode", Text),
        Field::new("site_id", Guid),
        Field::new("dentist_id", Int),
        Field::new("hygienist_id", Int),
        Field::new("dentist_recall_date", Date),
        Field::new("hygienist_recall_date", Date),
        Field::new("dentist_recall_interval", Int),
        Field::new("hygienist_recall_interval", Int),
        Field::new("recall_method", Text),
        Field::new("payment_plan_id", Int),
        Field::new("acquisition_source_id", IdText),
        Field::new("archived_reason", Text),
        Field::direct("nhs_number", Text),
        Field::direct("ni_number", Text),
        Field::direct("pps_number", Text),
        Field::new("medical_alert", Bool),
        Field::direct("medical_alert_text", Text),
        Field::direct("special_needs", Text),
        Field::direct("occupation", Text),
        Field::direct("school_name", Text),
        Field::direct("emergency_contact_name", Text),
        Field::direct("emergency_contact_phone", Text),
        Field::direct("emergency_contact_phone_country", Text),
        Field::direct("emergency_contact_phone_normalized", Text),
        Field::direct("emergency_contact_relationship", Text),
        Field::new("proof_of_identification", Bool),
        Field::new("suspicious_identity", Bool),
        Field::direct("image_url", Text),
        Field::new("custom_fields", Json),
        Field::new("metadata", Json),
        Field::new("family_id", Int),
        Field::new("created_at", Timestamp),
        Field::new("updated_at", Timestamp),
    ],
    "Patients: demographics, contact details, recall settings (most PII lives here)",
)
.with_cursor("updated_at")
.with_ranges(&[
    RangeFilter::after_only("updated_at", "updated_after", Grade::B),
    RangeFilter::both("created_at", "created_after", "created_before", Grade::C),
])
.without_sort();

/// Patient stats (§5.19): one row per patient, keyed by `patient_id`. The `*_date` fields are
/// taken as dates, as named.
pub(crate) const PATIENT_STATS: Resource = Resource::list(
    "patient_stats",
    "/v1/patient_stats",
    "patient_stat:read",
    &[
        Field::new("patient_id", Int),
        Field::new("first_appointment_date", Date),
        Field::new("first_exam_date", Date),
        Field::new("last_appointment_date", Date),
        Field::new("last_exam_date", Date),
        Field::new("last_scale_and_polish_date", Date),
        Field::new("last_fta_appointment_date", Date),
        Field::new("last_cancelled_appointment_date", Date),
        Field::new("next_appointment_date", Date),
        Field::new("next_exam_date", Date),
        Field::new("next_scale_and_polish_date", Date),
        Field::new("total_invoiced", Money),
        Field::new("total_paid", Money),
        Field::new("nhs_exemption_code", Text),
        Field::new("created_at", Timestamp),
        Field::new("updated_at", Timestamp),
    ],
    "Per-patient visit dates and totals (one row per patient)",
)
.with_key("patient_id")
.with_cursor("updated_at")
.with_ranges(&[RangeFilter::after_only(
    "updated_at",
    "updated_after",
    Grade::D,
)]);

/// `referrable_attributes` of a referral, as AIH flattens it (§5.20). The free-text
/// `additional_information` is about the patient: Direct.
const REFERRABLE_ATTRIBUTES: &[Field] = &[
    Field::new("services_appointment_id", Int),
    Field::direct("additional_information", Text),
    Field::new("consented_by_patient", Bool),
    Field::new("referred_practitioner_id", Int),
    Field::new("referred_site_id", Guid),
];

/// Patient referrals (§5.20).
pub(crate) const PATIENT_REFERRALS: Resource = Resource::list(
    "patient_referrals",
    "/v1/patient_referrals",
    "patient_referral:read",
    &[
        Field::new("id", Int),
        Field::new("patient_id", Int),
        Field::new("site_id", Guid),
        Field::new("user_id", Int),
        Field::new("reference", Text),
        Field::new("status", Text),
        Field::new("referrable_type", Text),
        Field::object("referrable_attributes", REFERRABLE_ATTRIBUTES),
        Field::new("created_at", Timestamp),
        Field::new("updated_at", Timestamp),
    ],
    "Referrals of patients to other services",
)
.with_cursor("updated_at")
.with_ranges(&[RangeFilter::after_only(
    "updated_at",
    "updated_after",
    Grade::D,
)]);

/// Recalls: real fields were not captured (§5.23, D); we use the AIH Bronze columns:
/// `recall_date` a date, `interval_months` an integer, `notes` free text (Direct).
pub(crate) const RECALLS: Resource = Resource::list(
    "recalls",
    "/v1/recalls",
    "recall:read",
    &[
        Field::new("id", Int),
        Field::new("patient_id", Int),
        Field::new("practitioner_id", Int),
        Field::new("site_id", Guid),
        Field::new("recall_date", Date),
        Field::new("recall_type", Text),
        Field::new("interval_months", Int),
        Field::new("status", Text),
        Field::direct("notes", Text),
        Field::new("created_at", Timestamp),
        Field::new("updated_at", Timestamp),
    ],
    "Recall reminders due for patients",
)
.with_cursor("updated_at")
.with_ranges(&[RangeFilter::after_only(
    "updated_at",
    "updated_after",
    Grade::B,
)]);

/// Waiting lists: fields unknown (§5.23). We assume a patient waiting for a reason with a
/// practitioner at a site; `priority` is Text because its values are unknown (numbers are kept
/// as text); `notes` is free text about the patient (Direct). No cursor: `updated_after` was
/// never seen on this list.
pub(crate) const WAITING_LISTS: Resource = Resource::list(
    "waiting_lists",
    "/v1/waiting_lists",
    "waiting_list:read",
    &[
        Field::new("id", Int),
        Field::new("patient_id", Int),
        Field::new("practitioner_id", Int),
        Field::new("site_id", Guid),
        Field::new("appointment_reason", Text),
        Field::direct("notes", Text),
        Field::new("priority", Text),
        Field::new("created_at", Timestamp),
        Field::new("updated_at", Timestamp),
    ],
    "Patients waiting for an earlier or cancelled slot",
);
