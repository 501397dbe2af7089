//! Clinical work: the treatment list, treatment plans and their items, the links between plans
//! and appointments, NHS contracts and claims (§5.10–§5.13, §5.15, §5.16).
//!
//! UDA/UOA values and targets are decimals (Decimal128(18, 4)), prices are money.

use super::types::{Field, FieldType::*, Grade, RangeFilter, Resource};

/// Treatments (§5.13). `uda_band` holds raw values like `"1.2"`: kept as text.
pub(crate) const TREATMENTS: Resource = Resource::list(
    "treatments",
    "/v1/treatments",
    "treatment:read",
    &[
        Field::new("id", Int),
        Field::new("active", Bool),
        Field::new("code", Text),
        Field::new("nomenclature", Text),
        Field::new("patient_nomenclature", Text),
        Field::new("description", Text),
        Field::new("patient_description", Text),
        Field::new("region", Text),
        Field::new("nhs_treatment_cat", Text),
        Field::new("uda_band", Text),
        Field::new("treatment_category_id", Int),
        Field::new("insurance_classification", Text),
        Field::new("owner", Text),
        Field::new("duration", Int),
        Field::new("created_at", Timestamp),
        Field::new("updated_at", Timestamp),
    ],
    "The practice's treatment list (fee scale items)",
);

/// Treatment plans (§5.10, B: a live key list). `site_id` comes from one mapping only (C).
pub(crate) const TREATMENT_PLANS: Resource = Resource::list(
    "treatment_plans",
    "/v1/treatment_plans",
    "treatment_plan:read",
    &[
        Field::new("id", Int),
        Field::new("patient_id", Int),
        Field::new("practitioner_id", Int),
        Field::new("site_id", Guid).graded(Grade::C),
        Field::new("nickname", Text),
        Field::new("start_date", Date),
        Field::new("end_date", Date),
        Field::new("completed", Bool),
        Field::new("completed_at", Timestamp),
        Field::new("last_completed_at", Timestamp),
        Field::new("private_treatment_value", Money),
        Field::new("nhs_uda_value", Decimal),
        Field::new("nhs_completed_uda_value", Decimal),
        Field::new("created_at", Timestamp),
        Field::new("updated_at", Timestamp),
    ],
    "Courses of treatment per patient, with private value and NHS UDAs",
)
.with_cursor("updated_at")
.with_ranges(&[
    RangeFilter::both("updated_at", "updated_after", "updated_before", Grade::B),
    RangeFilter::after_only("created_at", "created_after", Grade::C),
]);

/// Treatment plan items (§5.11, B; `site_id` C). `notes` is clinical free text about the patient (Direct);
/// `teeth`/`surfaces` are scalar lists; `custom_fields` has no fixed shape (JSON text).
pub(crate) const TREATMENT_PLAN_ITEMS: Resource = Resource::list(
    "treatment_plan_items",
    "/v1/treatment_plan_items",
    "treatment_plan_item:read",
    &[
        Field::new("id", Int),
        Field::new("treatment_plan_id", Int),
        Field::new("patient_id", Int),
        Field::new("practitioner_id", Int),
        Field::new("payment_plan_id", Int),
        Field::new("treatment_id", Int),
        Field::new("invoice_id", Int),
        Field::new("treatment_appointment_id", Int),
        Field::new("referrer_id", Int),
        Field::new("appear_on_invoice", Bool),
        Field::new("base_chart", Bool),
        Field::new("charged", Bool),
        Field::new("completed", Bool),
        Field::new("completed_at", Timestamp),
        Field::new("duration", Int),
        Field::new("nhs_treatment_cat", Text),
        Field::new("nomenclature", Text),
        Field::new("patient_nomenclature", Text),
        Field::direct("notes", Text),
        Field::new("position", Int),
        Field::new("price", Money),
        Field::new("region", Text),
        Field::new("uda_band", Text),
        Field::new("teeth", TextList),
        Field::new("surfaces", TextList),
        Field::direct("custom_fields", Json),
        Field::new("site_id", Guid).graded(Grade::C),
        Field::new("created_at", Timestamp),
        Field::new("updated_at", Timestamp),
    ],
    "Individual treatments planned or done within a plan (teeth, surfaces, price)",
)
.with_cursor("updated_at")
.with_ranges(&[RangeFilter::both(
    "updated_at",
    "updated_after",
    "updated_before",
    Grade::B,
)]);

/// Treatment appointments (§5.12): links plans to appointments.
pub(crate) const TREATMENT_APPOINTMENTS: Resource = Resource::list(
    "treatment_appointments",
    "/v1/treatment_appointments",
    "treatment_appointment:read",
    &[
        Field::new("id", Int),
        Field::new("appointment_id", Int),
        Field::new("treatment_plan_id", Int),
        Field::new("patient_id", Int),
        Field::new("bookable", Bool),
        Field::new("site_id", Guid),
        Field::new("created_at", Timestamp),
        Field::new("updated_at", Timestamp),
    ],
    "Links between treatment plans and appointments",
)
.with_cursor("updated_at")
.with_ranges(&[RangeFilter::both(
    "updated_at",
    "updated_after",
    "updated_before",
    Grade::B,
)]);

/// NHS contracts (§5.15): GUID ids. `nhs_location_id`/`nhs_site_id` are codes: text.
pub(crate) const CONTRACTS: Resource = Resource::list(
    "contracts",
    "/v1/contracts",
    "contract:read",
    &[
        Field::new("id", Guid),
        Field::new("active", Bool),
        Field::new("contract_number", Text),
        Field::new("start_date", Date),
        Field::new("end_date", Date),
        Field::new("nhs_location_id", Text),
        Field::new("nhs_site_id", Text),
        Field::new("pds_plus", Bool),
        Field::new("site_id", Guid),
        Field::new("target", Decimal),
        Field::new("uda_value", Decimal),
        Field::new("uoa_target", Decimal),
        Field::new("uoa_value", Decimal),
        Field::new("created_at", Timestamp),
        Field::new("updated_at", Timestamp),
    ],
    "NHS contracts with UDA/UOA targets and rates",
);

/// NHS claims (§5.16, B: equal to a live pull's 25 fields). Types not given by the research
/// are decided here: `contract_id` is a GUID (contracts have GUID ids); `sequence_number` is
/// text (claim numbers may carry leading zeros); `approval_date`/`submitted_date` dates; the
/// Scottish and Northern Irish amounts and fees are money; `status_comments` is text about the
/// claim, not the patient. `continuation_part_number` is text (D): the one live pull keeps it
/// as text, and as an integer a value like `"2a"` would not fit; text takes numbers too.
pub(crate) const NHS_CLAIMS: Resource = Resource::list(
    "nhs_claims",
    "/v1/nhs_claims",
    "nhs_claim:read",
    &[
        Field::new("id", Int),
        Field::new("patient_id", Int),
        Field::new("practitioner_id", Int),
        Field::new("treatment_plan_id", Int),
        Field::new("site_id", Guid),
        Field::new("contract_id", Guid),
        Field::new("claim_status", Text),
        Field::new("status_comments", Text),
        Field::new("sequence_number", Text),
        Field::new("continuation_part_number", Text).graded(Grade::D),
        Field::new("approval_date", Date),
        Field::new("submitted_date", Date),
        Field::new("awarded_uda", Decimal),
        Field::new("expected_uda", Decimal),
        Field::new("uda_band", Text),
        Field::new("dentist_charge", Money),
        Field::new("patient_charge", Money),
        Field::new("ortho", Bool),
        Field::new("scot_amount_authorised", Money),
        Field::new("scot_amount_expected", Money),
        Field::new("ni_calculated_dentist_fee", Money),
        Field::new("ni_calculated_patient_fee", Money),
        Field::new("created_at", Timestamp),
        Field::new("updated_at", Timestamp),
        Field::new("nhs_updated_at", Timestamp),
    ],
    "NHS claims (FP17) with status and awarded UDAs",
)
.with_cursor("updated_at")
.with_ranges(&[RangeFilter::after_only(
    "updated_at",
    "updated_after",
    Grade::BMinus,
)]);
