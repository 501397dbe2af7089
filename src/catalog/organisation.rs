//! The practice itself, its sites, its users and its practitioners (§5.3–§5.5, §2.4).
//!
//! Practice and site contact details (address, phone, email) are the business's, not a
//! person's: they are not tagged PII. Users and practitioners are people (staff): their names,
//! emails, phones and photos are.

use super::types::{Field, FieldType::*, Grade, Resource};

/// One day of opening hours: local `HH:MM` times, kept as sent.
const DAY_HOURS: &[Field] = &[
    Field::new("open", TimeOfDay),
    Field::new("close", TimeOfDay),
];

/// `opening_hours`, keyed by capitalised day name (B). Closed days are absent, not null
/// objects (B): their columns are null either way.
pub(crate) const OPENING_HOURS: &[Field] = &[
    Field::object("Monday", DAY_HOURS),
    Field::object("Tuesday", DAY_HOURS),
    Field::object("Wednesday", DAY_HOURS),
    Field::object("Thursday", DAY_HOURS),
    Field::object("Friday", DAY_HOURS),
    Field::object("Saturday", DAY_HOURS),
    Field::object("Sunday", DAY_HOURS),
];

/// The practice (§5.5): one object, GUID id.
pub(crate) const PRACTICE: Resource = Resource::list(
    "practice",
    "/v1/practice",
    "practice:read",
    &[
        Field::new("id", Guid),
        Field::new("name", Text),
        Field::new("address_line_1", Text),
        Field::new("address_line_2", Text),
        Field::new("town", Text),
        Field::new("postcode", Text),
        Field::new("email_address", Text),
        Field::new("patient_email_address", Text),
        Field::new("phone_number", Text),
        Field::new("website", Text),
        Field::new("logo_url", Text),
        Field::new("slug", Text),
        Field::new("time_zone", Text),
        Field::new("nhs", Bool),
        Field::new("medical_history_expiry_days", Int),
        Field::new("custom_patient_field_label_1", Text),
        Field::new("custom_patient_field_label_2", Text),
        Field::object("opening_hours", OPENING_HOURS),
    ],
    "The practice: name, contact details, time zone, opening hours (one row)",
)
.single("practice");

/// Site fields (§5.4, B/C), shared by `sites` and the nested `practitioner.site`.
/// `logo_url` comes from one mapping (C) and `start_date` is our guess (D).
const SITE_FIELDS: &[Field] = &[
    Field::new("id", Guid),
    Field::new("name", Text),
    Field::new("nickname", Text),
    Field::new("active", Bool),
    Field::new("address_line_1", Text),
    Field::new("address_line_2", Text),
    Field::new("town", Text),
    Field::new("county", Text),
    Field::new("postcode", Text),
    Field::new("phone_number", Text),
    Field::new("email_address", Text),
    Field::new("website", Text),
    Field::new("logo_url", Text).graded(Grade::C),
    Field::new("start_date", Date).graded(Grade::D),
    Field::object("opening_hours", OPENING_HOURS),
];

/// Sites (§5.4).
pub(crate) const SITES: Resource = Resource::list(
    "sites",
    "/v1/sites",
    "site:read",
    SITE_FIELDS,
    "The practice's sites (GUID ids) with addresses and opening hours",
);

/// Users (§2.4, B: the exact live key list). `practice_id` was seen as a GUID or an integer:
/// IdText. `title` is part of a person's name, so it is tagged with the name fields. `role` is
/// Title-Case text ("Dentist", "Receptionist", C+). The elements of `allowed_sites` are of
/// unknown shape (D: site ids, or site objects): JSON text, which either fits, where a list of
/// text would refuse objects.
pub(crate) const USERS: Resource = Resource::list(
    "users",
    "/v1/users",
    "user:read",
    &[
        Field::new("id", Int),
        Field::new("uuid", Guid),
        Field::direct("title", Text),
        Field::direct("first_name", Text),
        Field::direct("middle_name", Text),
        Field::direct("last_name", Text),
        Field::direct("email", Text),
        Field::direct("mobile_phone", Text),
        Field::new("role", Text),
        Field::new("permission_level", Int),
        Field::new("site_id", Guid),
        Field::new("practice_id", IdText),
        Field::new("allowed_sites", Json).graded(Grade::D),
        Field::direct("image_url", Text),
        Field::new("import_id", Text),
        Field::new("last_login", Timestamp),
        Field::new("created_at", Timestamp),
        Field::new("updated_at", Timestamp),
    ],
    "Staff user accounts (permission_level 0 = deactivated)",
);

/// The `user` object nested in a practitioner (§5.3).
const PRACTITIONER_USER: &[Field] = &[
    Field::new("id", Int),
    Field::direct("first_name", Text),
    Field::direct("middle_name", Text),
    Field::direct("last_name", Text),
    Field::direct("title", Text),
    Field::new("role", Text),
    Field::direct("email", Text),
    Field::direct("mobile_phone", Text),
    Field::direct("image_url", Text),
    Field::new("created_at", Timestamp),
    Field::new("updated_at", Timestamp),
    Field::new("last_login", Timestamp),
    Field::new("permission_level", Int),
];

/// Practitioners (§5.3, B: 14 scalars plus nested `user` and `site` match a live pull).
/// `gdc_number` and `nhs_number` identify the clinician: Direct. `contract_targets` is an array
/// of objects (C+): JSON text. The elements of `specialisms` are of unknown shape (D: names,
/// or objects): JSON text, which either fits, where a list of text would refuse objects.
pub(crate) const PRACTITIONERS: Resource = Resource::list(
    "practitioners",
    "/v1/practitioners",
    "practitioner:read",
    &[
        Field::new("id", Int),
        Field::new("uuid", Guid),
        Field::new("active", Bool),
        Field::new("colour", Text),
        Field::new("default_contract_id", Guid),
        Field::direct("gdc_number", Text),
        Field::direct("nhs_number", Text),
        Field::new("site_id", Guid),
        Field::new("uda_target", Decimal),
        Field::new("uoa_target", Decimal),
        Field::new("contract_targets", Json),
        Field::new("specialisms", Json).graded(Grade::D),
        Field::new("created_at", Timestamp),
        Field::new("updated_at", Timestamp),
        Field::object("user", PRACTITIONER_USER),
        Field::object("site", SITE_FIELDS),
    ],
    "Clinicians, with their user (name, role) and site nested",
);
