//! The diary: appointments and practitioners' rota days (§5.2, §5.22).
//!
//! Both lists are only usable inside an `after`/`before` window, which the extractor slices into
//! months.

use super::types::{Field, FieldType::*, Grade, RangeFilter, Resource, Window, Witness};

/// Appointments (§5.2). The field list is the docs' example, known from two independent copies
/// (C+), plus `patient_name` and `practitioner_name` read live (B). `patient_id` is null for
/// diary blocks. `room_id` and
/// `appointment_cancellation_reason_id` were seen as integers and as strings (one source saw a
/// UUID): IdText. `patient_name`, `patient_image_url` and `notes` are about the patient and
/// `practitioner_name` names a person: Direct.
pub(crate) const APPOINTMENTS: Resource = Resource::list(
    "appointments",
    "/v1/appointments",
    "appointment:read",
    &[
        Field::new("id", Int).graded(Grade::CPlus),
        Field::new("uuid", Guid).graded(Grade::CPlus),
        Field::new("patient_id", Int).graded(Grade::CPlus),
        Field::direct("patient_name", Text),
        Field::direct("patient_image_url", Text).graded(Grade::CPlus),
        Field::new("practitioner_id", Int).graded(Grade::CPlus),
        Field::new("practitioner_site_id", Guid).graded(Grade::CPlus),
        Field::direct("practitioner_name", Text),
        Field::new("user_id", Int).graded(Grade::CPlus),
        Field::new("room_id", IdText).graded(Grade::CPlus),
        Field::new("payment_plan_id", Int).graded(Grade::CPlus),
        Field::new("appointment_cancellation_reason_id", IdText).graded(Grade::CPlus),
        Field::new("reason", Text).graded(Grade::CPlus),
        Field::new("treatment_description", Text).graded(Grade::CPlus),
        Field::direct("notes", Text).graded(Grade::CPlus),
        Field::new("state", Text).graded(Grade::CPlus),
        Field::new("start_time", Timestamp).graded(Grade::CPlus),
        Field::new("finish_time", Timestamp).graded(Grade::CPlus),
        Field::new("duration", Int).graded(Grade::CPlus),
        Field::new("pending_at", Timestamp).graded(Grade::CPlus),
        Field::new("confirmed_at", Timestamp).graded(Grade::CPlus),
        Field::new("arrived_at", Timestamp).graded(Grade::CPlus),
        Field::new("in_surgery_at", Timestamp).graded(Grade::CPlus),
        Field::new("completed_at", Timestamp).graded(Grade::CPlus),
        Field::new("cancelled_at", Timestamp).graded(Grade::CPlus),
        Field::new("did_not_attend_at", Timestamp).graded(Grade::CPlus),
        Field::new("booked_via_api", Bool).graded(Grade::CPlus),
        Field::new("import_id", Text).graded(Grade::CPlus),
        Field::direct("metadata", Json).graded(Grade::CPlus),
        Field::new("created_at", Timestamp).graded(Grade::CPlus),
        Field::new("updated_at", Timestamp).graded(Grade::CPlus),
    ],
    "Appointments and diary blocks (windowed by start_time)",
)
.with_window(Window::after_before("start_time"))
.with_cursor("updated_at")
.with_ranges(&[
    RangeFilter::both("start_time", "after", "before", Grade::B),
    RangeFilter::after_only("updated_at", "updated_after", Grade::B),
])
.with_required_params(&[("cancelled", "true")])
.with_witness(Witness {
    param: "cancelled",
    field: "state",
    values: &["Cancelled", "Did not attend"],
});

/// A break within a rota day. Times are local `HH:MM`, like the day's own times.
const BREAKS: &[Field] = &[
    Field::new("id", Int).graded(Grade::BMinus),
    Field::new("name", Text).graded(Grade::BMinus),
    Field::new("start_time", TimeOfDay).graded(Grade::D),
    Field::new("end_time", TimeOfDay).graded(Grade::D),
];

/// Rota days (§5.22): one row per practitioner per day; the fields and `breaks[]` are B- (a
/// live loader's columns, read through its transform). The research does not say whether
/// `start_time`/`end_time` are datetimes or local times of day (D); with `day` already a date
/// we take them as `HH:MM` local times (TimeOfDay, kept as sent). The envelope name was not
/// recorded; we assume the path name, like every other list.
pub(crate) const ROTA_PRACTITIONER_DIARIES: Resource = Resource::list(
    "rota_practitioner_diaries",
    "/v1/rota_practitioner_diaries",
    "rota_practitioner_diary:read",
    &[
        Field::new("id", Int).graded(Grade::BMinus),
        Field::new("practitioner_id", Int).graded(Grade::BMinus),
        Field::new("day", Date).graded(Grade::BMinus),
        Field::new("start_time", TimeOfDay).graded(Grade::D),
        Field::new("end_time", TimeOfDay).graded(Grade::D),
        Field::new("unavailable", Bool).graded(Grade::BMinus),
        Field::children("breaks", BREAKS).graded(Grade::BMinus),
    ],
    "Practitioners' working days and breaks (windowed by day; needs the Rota feature)",
)
.with_window(Window::after_before("day"))
.with_ranges(&[RangeFilter::both("day", "after", "before", Grade::BMinus)]);
