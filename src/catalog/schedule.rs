//! The diary: appointments and practitioners' rota days (§5.2, §5.22).
//!
//! Both lists are only usable inside an `after`/`before` window, which the extractor slices into
//! months.

use super::types::{Field, FieldType::*, Grade, RangeFilter, Resource, Window};

/// Appointments (§5.2). `patient_id` is null for diary blocks. `room_id` and
/// `appointment_cancellation_reason_id` were seen as integers and as strings (one source saw a
/// UUID): IdText. `patient_name`, `patient_image_url` and `notes` are about the patient and
/// `practitioner_name` names a person: Direct.
pub(crate) const APPOINTMENTS: Resource = Resource::list(
    "appointments",
    "/v1/appointments",
    "appointment:read",
    &[
        Field::new("id", Int),
        Field::new("uuid", Guid),
        Field::new("patient_id", Int),
        Field::direct("patient_name", Text),
        Field::direct("patient_image_url", Text),
        Field::new("practitioner_id", Int),
        Field::new("practitioner_site_id", Guid),
        Field::direct("practitioner_name", Text),
        Field::new("user_id", Int),
        Field::new("room_id", IdText),
        Field::new("payment_plan_id", Int),
        Field::new("appointment_cancellation_reason_id", IdText),
        Field::new("reason", Text),
        Field::new("treatment_description", Text),
        Field::direct("notes", Text),
        Field::new("state", Text),
        Field::new("start_time", Timestamp),
        Field::new("finish_time", Timestamp),
        Field::new("duration", Int),
        Field::new("pending_at", Timestamp),
        Field::new("confirmed_at", Timestamp),
        Field::new("arrived_at", Timestamp),
        Field::new("in_surgery_at", Timestamp),
        Field::new("completed_at", Timestamp),
        Field::new("cancelled_at", Timestamp),
        Field::new("did_not_attend_at", Timestamp),
        Field::new("booked_via_api", Bool),
        Field::new("import_id", Text),
        Field::new("metadata", Json),
        Field::new("created_at", Timestamp),
        Field::new("updated_at", Timestamp),
    ],
    "Appointments and diary blocks (windowed by start_time)",
)
.with_window(Window::after_before("start_time"))
.with_cursor("updated_at")
.with_ranges(&[
    RangeFilter::both("start_time", "after", "before", Grade::B),
    RangeFilter::after_only("updated_at", "updated_after", Grade::B),
])
.with_required_params(&[("cancelled", "true")]);

/// A break within a rota day. Times are local `HH:MM`, like the day's own times.
const BREAKS: &[Field] = &[
    Field::new("id", Int),
    Field::new("name", Text),
    Field::new("start_time", TimeOfDay),
    Field::new("end_time", TimeOfDay),
];

/// Rota days (§5.22): one row per practitioner per day. The research does not say whether
/// `start_time`/`end_time` are datetimes or local times of day; with `day` already a date we
/// take them as `HH:MM` local times (TimeOfDay, kept as sent). The envelope name was not
/// recorded; we assume the path name, like every other list.
pub(crate) const ROTA_PRACTITIONER_DIARIES: Resource = Resource::list(
    "rota_practitioner_diaries",
    "/v1/rota_practitioner_diaries",
    "rota_practitioner_diary:read",
    &[
        Field::new("id", Int),
        Field::new("practitioner_id", Int),
        Field::new("day", Date),
        Field::new("start_time", TimeOfDay),
        Field::new("end_time", TimeOfDay),
        Field::new("unavailable", Bool),
        Field::children("breaks", BREAKS),
    ],
    "Practitioners' working days and breaks (windowed by day; needs the Rota feature)",
)
.with_window(Window::after_before("day"))
.with_ranges(&[RangeFilter::both("day", "after", "before", Grade::BMinus)]);
