//! Tests holding the catalog to the evidence review (`../shared/docs/api-evidence.md` §2):
//! the grade of every field, the lenient types of fields whose type is a guess, and the shapes
//! of the resources the review found wrong (recalls, waiting lists, rooms, treatment
//! categories, invoices' embedded items).
//!
//! They pin decisions, so a change to one of these entries is made on purpose, with the
//! evidence, and not by accident.

use std::collections::BTreeSet;

use super::schema::{META_JSON_PATH, tables};
use super::types::{Field, FieldKind, FieldType, Grade, Resource};
use super::{PiiPolicy, describe, find, list_text};

fn resource(name: &str) -> &'static Resource {
    find(name).unwrap_or_else(|| panic!("{name} is in the catalog"))
}

fn field(resource_name: &str, name: &str) -> &'static Field {
    resource(resource_name)
        .field(name)
        .unwrap_or_else(|| panic!("{resource_name}.{name} is in the catalog"))
}

fn names(r: &Resource) -> Vec<&'static str> {
    r.fields.iter().map(|f| f.name).collect()
}

/// The fields whose type is a guess: each is declared so that any plausible value fits
/// (JSON text takes any value; text takes strings, numbers and booleans; IdText numbers and
/// strings; Decimal integers, fractions and decimal strings), and graded D.
#[test]
fn guessed_types_are_lenient_and_graded_d() {
    let lenient = [
        ("patients", "proof_of_identification", FieldType::Json),
        ("patients", "suspicious_identity", FieldType::Json),
        ("practitioners", "specialisms", FieldType::Json),
        ("users", "allowed_sites", FieldType::Json),
        ("invoice_items", "quantity", FieldType::Decimal),
        ("nhs_claims", "continuation_part_number", FieldType::Text),
        ("recalls", "id", FieldType::IdText),
    ];
    for (r, name, ty) in lenient {
        let f = field(r, name);
        assert!(
            matches!(f.kind, FieldKind::Scalar(t) if t == ty),
            "{r}.{name}: {:?}",
            f.kind
        );
        assert_eq!(f.grade, Grade::D, "{r}.{name}");
    }
}

#[test]
fn the_key_of_a_recall_is_text_and_still_a_key() {
    let recalls = resource("recalls");
    assert_eq!(recalls.primary_key, "id");
    let schema = &tables(recalls, &PiiPolicy::Keep)[0].schema;
    assert_eq!(
        schema.field_with_name("id").unwrap().data_type(),
        &arrow::datatypes::DataType::Utf8
    );
}

#[test]
fn field_lists_the_evidence_confirms_are_b_the_rest_say_how_sure() {
    let grade = |name: &str| resource(name).least_sure_grade();
    for confirmed in [
        "practice",
        "accounts",
        "payments",
        "fees",
        "treatment_categories",
        "patient_stats",
        "patient_referrals",
        "treatment_appointments",
    ] {
        assert_eq!(grade(confirmed), Grade::B, "{confirmed}");
    }
    assert_eq!(grade("appointments"), Grade::CPlus);
    assert_eq!(field("appointments", "patient_name").grade, Grade::B);
    assert_eq!(field("appointments", "start_time").grade, Grade::CPlus);
    assert_eq!(grade("waiting_lists"), Grade::C);
    assert_eq!(grade("rooms"), Grade::C);
    assert_eq!(grade("treatment_plans"), Grade::C);
    for guessed in [
        "recalls",
        "custom_fields",
        "appointment_reasons",
        "patients",
        "invoices",
        "nhs_claims",
        "rota_practitioner_diaries",
    ] {
        assert_eq!(grade(guessed), Grade::D, "{guessed}");
    }
    assert_eq!(field("recalls", "updated_at").grade, Grade::B, "seen live");
    assert_eq!(field("recalls", "due_date").grade, Grade::CPlus);
    assert_eq!(field("patients", "family_id").grade, Grade::C);
    assert_eq!(field("patients", "last_name").grade, Grade::B);
}

#[test]
fn recalls_have_the_live_field_list() {
    let recalls = resource("recalls");
    let expected = [
        "id",
        "patient_id",
        "appointment_id",
        "due_date",
        "recall_type",
        "recall_method",
        "status",
        "prebooked",
        "first_reminder_sent_at",
        "first_reminder_type",
        "second_reminder_sent_at",
        "second_reminder_type",
        "last_reminded_at",
        "latest_reminder_type",
        "times_contacted",
        "run_date",
        "workflow_status",
        "workflow_stage_id",
        "first_reminder_id",
        "second_reminder_id",
        "updated_at",
    ];
    assert_eq!(names(recalls), expected);
    assert_eq!(recalls.cursor, Some("updated_at"));
    assert!(matches!(
        field("recalls", "due_date").kind,
        FieldKind::Scalar(FieldType::Date)
    ));
}

#[test]
fn waiting_lists_are_list_definitions() {
    let lists = resource("waiting_lists");
    let fields: BTreeSet<_> = names(lists).into_iter().collect();
    for f in [
        "name",
        "site_id",
        "active",
        "default_appointment_reason",
        "default_treatment_reason",
        "default_notes",
        "default_status",
        "default_appointment_duration",
        "default_treatment_duration",
        "target_appointment_days",
        "target_treatment_days",
    ] {
        assert!(fields.contains(f), "{f}");
    }
    for invented in ["patient_id", "practitioner_id", "priority", "notes"] {
        assert!(!fields.contains(invented), "{invented} was invented");
    }
}

#[test]
fn rooms_and_treatment_categories_follow_the_evidence() {
    assert_eq!(
        names(resource("rooms")),
        [
            "id",
            "name",
            "site_id",
            "colour",
            "calendar_position",
            "created_at",
            "updated_at",
            "practice_id"
        ]
    );
    assert_eq!(names(resource("treatment_categories")), ["id", "name"]);
}

#[test]
fn invoices_embed_their_items_in_a_child_table() {
    let invoices = resource("invoices");
    let items = field("invoices", "invoice_items");
    let FieldKind::Children(sub) = items.kind else {
        panic!("invoice_items is not a child list: {:?}", items.kind);
    };
    let item_names: Vec<_> = sub.iter().map(|f| f.name).collect();
    assert_eq!(
        item_names,
        names(resource("invoice_items")),
        "the same fields"
    );
    assert_eq!(items.grade, Grade::CPlus);
    let tables = tables(invoices, &PiiPolicy::Keep);
    assert_eq!(tables.len(), 2);
    let child = &tables[1];
    assert_eq!(child.name, "invoices__invoice_items");
    assert_eq!(child.parent_key.as_deref(), Some("invoice_id"));
    let cols: Vec<&str> = child
        .schema
        .fields()
        .iter()
        .map(|f| f.name().as_str())
        .collect();
    assert_eq!(&cols[..3], ["invoice_id", "_idx", "id"]);
    assert_eq!(
        cols.iter().filter(|c| **c == "invoice_id").count(),
        1,
        "the element's invoice_id is the parent key column"
    );
    let amount = child.schema.field_with_name("total_price").unwrap();
    assert_eq!(
        amount.metadata()[META_JSON_PATH],
        "invoice_items[].total_price"
    );
}

#[test]
fn schema_and_resources_show_grades() {
    let text = describe(resource("recalls"), &PiiPolicy::Keep);
    // The grade is the last column but one (the JSON path, last, has no spaces; types may).
    let grade = |name: &str| {
        let words: Vec<_> = text
            .lines()
            .find(|l| l.split_whitespace().next() == Some(name))
            .unwrap_or_else(|| panic!("no line for {name} in\n{text}"))
            .split_whitespace()
            .collect();
        words[words.len() - 2].to_owned()
    };
    assert!(text.contains("GRADE"));
    assert_eq!(grade("id"), "D");
    assert_eq!(grade("due_date"), "C+");
    assert_eq!(grade("updated_at"), "B");
    assert_eq!(grade("_extra"), "-");

    let invoices = describe(resource("invoices"), &PiiPolicy::Keep);
    let quantity: Vec<_> = invoices
        .lines()
        .filter(|l| l.split_whitespace().next() == Some("quantity"))
        .collect();
    assert_eq!(quantity.len(), 1, "only the child table has items");
    assert!(quantity[0].split_whitespace().any(|w| w == "D"));
    let inside: Vec<_> = invoices
        .lines()
        .filter(|l| l.split_whitespace().next() == Some("total_price"))
        .collect();
    assert!(
        inside[0].split_whitespace().any(|w| w == "C+"),
        "a B field inside a C+ list is C+: {}",
        inside[0]
    );

    let list = list_text();
    let row = |name: &str| {
        list.lines()
            .find(|l| l.split_whitespace().next() == Some(name))
            .unwrap_or_else(|| panic!("no row for {name}"))
            .to_owned()
    };
    assert!(list.lines().next().unwrap().contains("GRADE"));
    assert!(row("recalls").split_whitespace().any(|w| w == "D"));
    assert!(row("payments").split_whitespace().any(|w| w == "B"));
}
