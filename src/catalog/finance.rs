//! Money: payment plans, fees, sundries, accounts, invoices and their items, payments with
//! their allocations (§5.6–§5.9, §5.14, §5.21, §5.23).
//!
//! Amounts arrive as decimal strings (`"-76.0"`) and become Decimal128(18, 2), never floats.

use super::types::{Field, FieldType::*, Grade, RangeFilter, Resource, Window};

/// Payment plans (§5.14). Keeps the API's typo `monthly_memberhsip_fee`; §5.14 lists
/// `created_at` but no `updated_at`.
pub(crate) const PAYMENT_PLANS: Resource = Resource::list(
    "payment_plans",
    "/v1/payment_plans",
    "payment_plan:read",
    &[
        Field::new("id", Int),
        Field::new("name", Text),
        Field::new("active", Bool),
        Field::new("site_id", Guid),
        Field::new("patient_friendly_name", Text),
        Field::new("colour", Text),
        Field::new("dentist_recall_interval", Int),
        Field::new("hygienist_recall_interval", Int),
        Field::new("recall_method", Text),
        Field::new("emergency_duration", Int),
        Field::new("exam_duration", Int),
        Field::new("scale_and_polish_duration", Int),
        Field::new("exam_scale_and_polish_duration", Int),
        Field::new("exam_appointments_included", Int),
        Field::new("hygiene_appointments_included", Int),
        Field::new("monthly_memberhsip_fee", Money),
        Field::new("created_at", Timestamp),
    ],
    "Private and NHS payment plans (memberships)",
);

/// Fees (§5.21): one row per treatment × payment plan, fetched per treatment.
pub(crate) const FEES: Resource = Resource::list(
    "fees",
    "/v1/fees",
    "fee:read",
    &[
        Field::new("id", Int),
        Field::new("treatment_id", Int),
        Field::new("payment_plan_id", Int),
        Field::new("multiple_pricing", Bool),
        Field::new("price_one", Money),
        Field::new("price_two", Money),
        Field::new("price_three", Money),
        Field::new("price_four", Money),
        Field::new("price_five", Money),
        Field::new("duration_one", Int),
        Field::new("duration_two", Int),
        Field::new("duration_three", Int),
        Field::new("duration_four", Int),
        Field::new("duration_five", Int),
    ],
    "Prices and durations of each treatment per payment plan (fetched per treatment)",
)
.with_window(Window::PerParent {
    parent: "treatments",
    param: "treatment_id",
});

/// Sundries (§5.23, B).
pub(crate) const SUNDRIES: Resource = Resource::list(
    "sundries",
    "/v1/sundries",
    "sundry:read",
    &[
        Field::new("id", Int),
        Field::new("name", Text),
        Field::new("nickname", Text),
        Field::new("price", Money),
        Field::new("site_id", Guid),
    ],
    "Products sold over the counter (toothbrushes, whitening kits)",
);

/// Accounts (§5.9). Rows carry no `updated_at`, so no cursor: always a full pull.
pub(crate) const ACCOUNTS: Resource = Resource::list(
    "accounts",
    "/v1/accounts",
    "account:read",
    &[
        Field::new("id", Int),
        Field::new("patient_id", Int),
        Field::direct("patient_name", Text),
        Field::new("current_balance", Money),
        Field::new("opening_balance", Money),
        Field::new("planned_nhs_treatment_value", Money),
        Field::new("planned_private_treatment_value", Money),
    ],
    "Patient accounts with balances (negative balance: the patient owes)",
);

/// Invoices (§5.6, B: equal to a live pull's 18 fields). List rows carry `invoice_items[]`
/// (C+: three clients read items off list rows); they go to the child table
/// `invoices__invoice_items` (the element's own `invoice_id` is the parent key column) rather
/// than into every invoice's `_extra`. `/v1/invoice_items` stays the table to use: it has a
/// cursor of its own and does not depend on the embedding.
pub(crate) const INVOICES: Resource = Resource::list(
    "invoices",
    "/v1/invoices",
    "invoice:read",
    &[
        Field::new("id", Int),
        Field::new("account_id", Int),
        Field::new("patient_id", Int),
        Field::new("site_id", Guid),
        Field::new("user_id", Int),
        Field::new("amount", Money),
        Field::new("amount_outstanding", Money),
        Field::new("nhs_amount", Money),
        Field::new("dated_on", Date),
        Field::new("due_on", Date),
        Field::new("paid", Bool),
        Field::new("paid_on", Date),
        Field::new("sent_at", Timestamp),
        Field::new("reference", Text),
        Field::new("footnote", Text),
        Field::new("payment_terms", Text),
        Field::new("created_at", Timestamp),
        Field::new("updated_at", Timestamp),
        Field::children("invoice_items", INVOICE_ITEM_FIELDS).graded(Grade::CPlus),
    ],
    "Invoices (amount = sum of their items, discounts included), items embedded (child table)",
)
.with_cursor("updated_at")
.with_ranges(&[
    RangeFilter::after_only("updated_at", "updated_after", Grade::BMinus),
    RangeFilter::both("dated_on", "dated_on_after", "dated_on_before", Grade::C),
]);

/// An invoice line (§5.7, B: a live shape and a live pull give these 15 fields): GUID ids;
/// `sundry_id` is string-or-null: IdText. Whether `quantity` is an integer or a decimal (`1`,
/// `1.0`, `"1.0"`) is unknown (D): as Decimal every one of them fits, where Int would refuse a
/// fraction and `"1.0"`. Shared by `/v1/invoice_items` and the items embedded in invoices.
const INVOICE_ITEM_FIELDS: &[Field] = &[
    Field::new("id", Guid),
    Field::new("invoice_id", Int),
    Field::new("name", Text),
    Field::new("item_price", Money),
    Field::new("quantity", Decimal).graded(Grade::D),
    Field::new("total_price", Money),
    Field::new("nhs_charge", Bool),
    Field::new("practitioner_id", Int),
    Field::new("user_id", Int),
    Field::new("sundry_id", IdText),
    Field::new("treatment_id", Int),
    Field::new("treatment_plan_id", Int),
    Field::new("treatment_plan_item_id", Int),
    Field::new("created_at", Timestamp),
    Field::new("updated_at", Timestamp),
];

/// Invoice items (§5.7), the lines of [`INVOICE_ITEM_FIELDS`].
pub(crate) const INVOICE_ITEMS: Resource = Resource::list(
    "invoice_items",
    "/v1/invoice_items",
    "invoice_item:read",
    INVOICE_ITEM_FIELDS,
    "Invoice lines (negative lines are discounts, imported balances, refunds)",
)
.with_cursor("updated_at")
.with_ranges(&[RangeFilter::after_only(
    "updated_at",
    "updated_after",
    Grade::BMinus,
)]);

/// One allocation of a payment to an invoice (§5.8). `comments` is free text: Direct.
const EXPLANATIONS: &[Field] = &[
    Field::new("id", Int),
    Field::new("amount", Money),
    Field::direct("comments", Text),
    Field::new("invoice_id", Int),
    Field::new("invoice_reference", Text),
    Field::new("payment_reference", Text),
    Field::new("user_id", Int),
];

/// Payments (§5.8, B: the 18 fields and the 7 keys of `explanations[]` match a live pull),
/// with `explanations[]` as the child table `payments__explanations`. `status` is one of
/// `paid`, `unexplained`, `partially_explained` and `method` free Title-Case text ("Credit
/// Card", "BACS"), both C+: kept as text, not enumerated. `deleted: true` rows are soft-deleted
/// payments the list still serves.
pub(crate) const PAYMENTS: Resource = Resource::list(
    "payments",
    "/v1/payments",
    "payment:read",
    &[
        Field::new("id", Int),
        Field::new("account_id", Int),
        Field::new("patient_id", Int),
        Field::new("site_id", Guid),
        Field::new("user_id", Int),
        Field::new("practitioner_id", Int),
        Field::new("payment_plan_id", Int),
        Field::new("amount", Money),
        Field::new("amount_unexplained", Money),
        Field::new("dated_on", Date),
        Field::new("method", Text),
        Field::new("reference", Text),
        Field::new("status", Text),
        Field::new("transaction_number", Text),
        Field::new("deleted", Bool),
        Field::new("fully_explained", Bool),
        Field::new("created_at", Timestamp),
        Field::new("updated_at", Timestamp),
        Field::children("explanations", EXPLANATIONS),
    ],
    "Payments received, with their allocations to invoices (child table)",
)
.with_cursor("dated_on") // `/payments` ignores `updated_after` (api-evidence.md §2)
.with_ranges(&[RangeFilter::both(
    "dated_on",
    "dated_after",
    "dated_before",
    Grade::CPlus,
)]);
