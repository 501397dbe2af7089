//! Small lookup tables: the practice's vocabularies (rooms, treatment categories, reasons,
//! acquisition sources, custom field definitions).
//!
//! They are a few dozen rows each, fetched in full on every run, so none has a cursor. Field
//! lists follow `docs/dentally-api.md` §5.13, §5.17, §5.18 and §5.23; where the research found
//! no real payload the decision is written on the constant.

use super::types::{Field, FieldType::*, Resource};

/// Rooms: §5.23 grades the fields D (id, name, site_id); we keep exactly those.
pub(crate) const ROOMS: Resource = Resource::list(
    "rooms",
    "/v1/rooms",
    "room:read",
    &[
        Field::new("id", Int),
        Field::new("name", Text),
        Field::new("site_id", Guid),
    ],
    "Surgery rooms per site (may be empty when a practice configures none)",
);

/// Treatment categories: `id`, `name` (B) plus `description` and `display_order` (C, DP).
pub(crate) const TREATMENT_CATEGORIES: Resource = Resource::list(
    "treatment_categories",
    "/v1/treatment_categories",
    "treatment_category:read",
    &[
        Field::new("id", Int),
        Field::new("name", Text),
        Field::new("description", Text),
        Field::new("display_order", Int),
    ],
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

/// Appointment reasons: no payload was captured (§5.23, C); we assume `id`, `reason`, `colour`,
/// `duration` (minutes) and `deleted` (the list accepts `deleted=false`).
pub(crate) const APPOINTMENT_REASONS: Resource = Resource::list(
    "appointment_reasons",
    "/v1/appointment_reasons",
    "appointment_reason:read",
    &[
        Field::new("id", Int),
        Field::new("reason", Text),
        Field::new("colour", Text),
        Field::new("duration", Int),
        Field::new("deleted", Bool),
    ],
    "Reasons offered when booking an appointment",
);

/// Custom field definitions: fields unknown in the research (§5.23); we assume `id`, `name`,
/// `field_type`, `active` and the two stamps. The values live on patients (`custom_fields`).
pub(crate) const CUSTOM_FIELDS: Resource = Resource::list(
    "custom_fields",
    "/v1/custom_fields",
    "custom_field:read",
    &[
        Field::new("id", Int),
        Field::new("name", Text),
        Field::new("field_type", Text),
        Field::new("active", Bool),
        Field::new("created_at", Timestamp),
        Field::new("updated_at", Timestamp),
    ],
    "Definitions of the practice's custom patient fields",
);
