//! Patients and what hangs directly off them: stats, referrals, recalls, waiting lists
//! (§5.1, §5.19, §5.20, §5.23).
//!
//! This is where most personal data lives: names, contact details, addresses, identity numbers,
//! emergency contacts and free-text notes are tagged `Pii::Direct`.

use super::types::{Field, FieldType::*, Grade, RangeFilter, Resource};

/// Patients (§5.1). B-grade fields plus `family_id` from the DP-only "various" row (C; the rest
/// of that row is skipped). `acquisition_source_id` is integer-or-string: IdText.
/// `custom_fields` and `metadata` have no fixed shape: JSON text, tagged personal (free-form:
/// a practice can put anything in them, notes and allergies included). `ethnicity` is sensitive but
/// does not identify anyone on its own: not tagged. `portal_registered` is deliberately absent
/// (it lands in `_extra`).
///
/// `proof_of_identification` and `suspicious_identity` are names without a known type (D,
/// api-evidence §2): declared as booleans, a text value (a document type, a reason) would not
/// fit. They are JSON text, which every value fits (`true`, `"Passport"`), and tagged Direct
/// because a text value may name or number an identity document or say why one is doubted.
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
        Field::direct("proof_of_identification", Json).graded(Grade::D),
        Field::direct("suspicious_identity", Json).graded(Grade::D),
        Field::direct("image_url", Text),
        Field::direct("custom_fields", Json),
        Field::direct("metadata", Json),
        Field::new("family_id", Int).graded(Grade::C),
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
.with_by_key("patients", "stats")
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

/// Recalls (api-evidence §2): the field list of a third party's loader realigned "to Dentally
/// API shape" (C+), `updated_at` seen live (B). There is no `created_at`. The loader keeps
/// `id`, `appointment_id`, `workflow_stage_id` and the reminder ids as text, so they are
/// IdText (numbers or strings both fit); `id` is a guess either way (D), and a GUID id must not
/// reject every recall. `*_at` fields are taken as datetimes and `due_date`/`run_date` as
/// dates, as named. Dentally deletes a recall when the patient reattends.
pub(crate) const RECALLS: Resource = Resource::list(
    "recalls",
    "/v1/recalls",
    "recall:read",
    &[
        Field::new("id", IdText).graded(Grade::D),
        Field::new("patient_id", Int).graded(Grade::CPlus),
        Field::new("appointment_id", IdText).graded(Grade::CPlus),
        Field::new("due_date", Date).graded(Grade::CPlus),
        Field::new("recall_type", Text).graded(Grade::CPlus),
        Field::new("recall_method", Text).graded(Grade::CPlus),
        Field::new("status", Text).graded(Grade::CPlus),
        Field::new("prebooked", Bool).graded(Grade::CPlus),
        Field::new("first_reminder_sent_at", Timestamp).graded(Grade::CPlus),
        Field::new("first_reminder_type", Text).graded(Grade::CPlus),
        Field::new("second_reminder_sent_at", Timestamp).graded(Grade::CPlus),
        Field::new("second_reminder_type", Text).graded(Grade::CPlus),
        Field::new("last_reminded_at", Timestamp).graded(Grade::CPlus),
        Field::new("latest_reminder_type", Text).graded(Grade::CPlus),
        Field::new("times_contacted", Int).graded(Grade::CPlus),
        Field::new("run_date", Date).graded(Grade::CPlus),
        Field::new("workflow_status", Text).graded(Grade::CPlus),
        Field::new("workflow_stage_id", IdText).graded(Grade::CPlus),
        Field::new("first_reminder_id", IdText).graded(Grade::CPlus),
        Field::new("second_reminder_id", IdText).graded(Grade::CPlus),
        Field::new("updated_at", Timestamp),
    ],
    "Recalls due for patients, with their reminders (deleted when the patient reattends)",
)
.with_cursor("updated_at")
.with_ranges(&[RangeFilter::after_only(
    "updated_at",
    "updated_after",
    Grade::B,
)]);

/// Waiting lists: the list *definitions* a practice keeps (several named lists per site), not
/// the patients on them (how entries are exposed is unknown). Fields from a third party's
/// loader (C, api-evidence §2); its id is text there, so IdText. `default_*` are what a new
/// entry starts with; `default_notes` is a template, not about a patient: not tagged. No
/// cursor: `updated_after` was never seen on this list.
pub(crate) const WAITING_LISTS: Resource = Resource::list(
    "waiting_lists",
    "/v1/waiting_lists",
    "waiting_list:read",
    &[
        Field::new("id", IdText).graded(Grade::C),
        Field::new("name", Text).graded(Grade::C),
        Field::new("site_id", Guid).graded(Grade::C),
        Field::new("active", Bool).graded(Grade::C),
        Field::new("default_appointment_reason", Text).graded(Grade::C),
        Field::new("default_treatment_reason", Text).graded(Grade::C),
        Field::new("default_notes", Text).graded(Grade::C),
        Field::new("default_status", Text).graded(Grade::C),
        Field::new("default_appointment_duration", Int).graded(Grade::C),
        Field::new("default_treatment_duration", Int).graded(Grade::C),
        Field::new("target_appointment_days", Int).graded(Grade::C),
        Field::new("target_treatment_days", Int).graded(Grade::C),
        Field::new("created_at", Timestamp).graded(Grade::C),
        Field::new("updated_at", Timestamp).graded(Grade::C),
    ],
    "Waiting lists the practice keeps (names, sites, defaults and targets for new entries)",
);
