//! Small lookup tables: the practice's vocabularies (rooms, treatment categories, reasons,
//! acquisition sources, custom field definitions).
//!
//! They are a few dozen rows each, fetched in full on every run, so none has a cursor. Field
//! lists follow `docs/dentally-api.md` §5.13, §5.17, §5.18 and §5.23; where the research found
//! no real payload the decision is written on the constant.

use super::types::{Field, FieldType::*, Grade, Resource};

/// Rooms: the fields of a third party's loader written from the docs (C, api-evidence §2).
/// Appointments' `room_id` was seen as an integer and as a string, and the loader keeps room
/// ids as text: IdText. `practice_id` is a GUID or an integer, as on users: IdText. A practice
/// without rooms answers an empty list.
pub(crate) const ROOMS: Resource = Resource::list(
    "rooms",
    "/v1/rooms",
    "room:read",
    &[
        Field::new("id", IdText).graded(Grade::C),
        Field::new("name", Text).graded(Grade::C),
        Field::new("site_id", Guid).graded(Grade::C),
        Field::new("colour", Text).graded(Grade::C),
        Field::new("calendar_position", Int).graded(Grade::C),
        Field::new("created_at", Timestamp).graded(Grade::C),
        Field::new("updated_at", Timestamp).graded(Grade::C),
        Field::new("practice_id", IdText).graded(Grade::C),
    ],
    "Surgery rooms per site (may be empty when a practice configures none)",
);

/// Treatment categories: just `id` and `name` (B). `description` and `display_order` came from
/// one mapping only (C) and were never seen live: if sent, they land in `_extra`.
pub(crate) const TREATMENT_CATEGORIES: Resource = Resource::list(
    "treatment_categories",
    "/v1/treatment_categories",
    "treatment_category:read",
    &[Field::new("id", Int), Field::new("name", Text)],
    "Groups of treatments in the fee scale",
);

/// Acquisition sources (§5.17). `notes` describe a marketing channel, not a person: not PII.
pub(crate) const ACQUISITION_SOURCES: Resource = Resource::list(
    "acquisition_sources",
    "/v1/acquisition_sources",
    "acquisition_source:read",
    &[
        Field::new("id", Int),
        Field::new("active", Bool),
        Field::new("name", Text),
        Field::new("notes", Text),
        Field::new("show_in_portal", Bool),
    ],
    "How patients heard of the practice",
);

/// Appointment cancellation reasons (§5.18).
pub(crate) const APPOINTMENT_CANCELLATION_REASONS: Resource = Resource::list(
    "appointment_cancellation_reasons",
    "/v1/appointment_cancellation_reasons",
    "appointment_cancellation_reason:read",
    &[
        Field::new("id", Int),
        Field::new("reason", Text),
        Field::new("reason_type", Text),
        Field::new("archived", Bool),
    ],
    "Reasons recorded when an appointment is cancelled",
);

/// Appointment reasons: no payload was captured (§5.23); we assume `id`, `reason`, `colour`,
/// `duration` (minutes) and `deleted` (the list accepts `deleted=false`). All guesses (D).
pub(crate) const APPOINTMENT_REASONS: Resource = Resource::list(
    "appointment_reasons",
    "/v1/appointment_reasons",
    "appointment_reason:read",
    &[
        Field::new("id", Int).graded(Grade::D),
        Field::new("reason", Text).graded(Grade::D),
        Field::new("colour", Text).graded(Grade::D),
        Field::new("duration", Int).graded(Grade::D),
        Field::new("deleted", Bool).graded(Grade::D),
    ],
    "Reasons offered when booking an appointment",
);

/// Custom field definitions: fields unknown in the research (§5.23); we assume `id`, `name`,
/// `field_type`, `active` and the two stamps, all guesses (D). The values live on patients
/// (`custom_fields`).
pub(crate) const CUSTOM_FIELDS: Resource = Resource::list(
    "custom_fields",
    "/v1/custom_fields",
    "custom_field:read",
    &[
        Field::new("id", Int).graded(Grade::D),
        Field::new("name", Text).graded(Grade::D),
        Field::new("field_type", Text).graded(Grade::D),
        Field::new("active", Bool).graded(Grade::D),
        Field::new("created_at", Timestamp).graded(Grade::D),
        Field::new("updated_at", Timestamp).graded(Grade::D),
    ],
    "Definitions of the practice's custom patient fields",
);
