use super::*;
use crate::catalog::{all, find};
use crate::json::Doc;
use arrow::array::{
    Array, BooleanArray, Date32Array, Decimal128Array, Int64Array, ListArray, StringArray,
    TimestampMicrosecondArray,
};
use arrow::datatypes::{DataType, TimeUnit};
use serde_json::Value;
use serde_json::json;

fn flatten(name: &str, pii: PiiPolicy, records: Vec<Value>) -> FlatPage {
    let doc = Doc::from_value(&Value::Array(records));
    Flattener::new(find(name).unwrap(), pii).flatten(doc.root().items())
}

fn col<'a, T: 'static>(batch: &'a RecordBatch, name: &str) -> &'a T {
    let column = batch
        .column_by_name(name)
        .unwrap_or_else(|| panic!("no column {name}"));
    column.as_any().downcast_ref::<T>().unwrap()
}

fn text<'a>(batch: &'a RecordBatch, name: &str) -> &'a StringArray {
    col::<StringArray>(batch, name)
}

fn micros(rfc3339: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(rfc3339)
        .unwrap()
        .timestamp_micros()
}

fn patient() -> Value {
    serde_json::from_str(
        r#"{
        "id": 20605, "uuid": "6f1c2a9e-0d4b-4b8e-9a51-3f2f7f0c1a11", "account_id": 64700790,
        "active": true, "title": "Mrs", "first_name": "Ann", "middle_name": null,
        "last_name": "Smith", "preferred_name": "Annie", "date_of_birth": "1980-02-29",
        "gender": false, "ethnicity": null, "email_address": "ann@example.org",
        "home_phone": null, "mobile_phone": "07700 900123", "work_phone": null,
        "preferred_phone_number": "mobile", "use_email": true, "use_sms": true, "marketing": 0,
        "address_line_1": "1 High St", "address_line_2": null, "address_line_3": null,
        "town": "Leeds", "county": "West Yorkshire", "postcode": "LS1 1AA",
        "site_id": "0b7c7f8e-3d5e-4c8e-b1a2-5f6e7d8c9b0a", "dentist_id": 12,
        "hygienist_id": null, "dentist_recall_date": "2026-10-01",
        "hygienist_recall_date": null, "dentist_recall_interval": 6,
        "hygienist_recall_interval": null, "recall_method": "SMS", "payment_plan_id": 3,
        "acquisition_source_id": 7, "archived_reason": null, "nhs_number": "485 777 3456",
        "ni_number": null, "pps_number": null, "medical_alert": true,
        "medical_alert_text": "Penicillin allergy", "special_needs": null,
        "occupation": "Teacher", "school_name": null, "emergency_contact_name": "Bob Smith",
        "emergency_contact_phone": "07700 900456", "emergency_contact_phone_country": "GB",
        "emergency_contact_phone_normalized": "+447700900456",
        "emergency_contact_relationship": "Husband", "proof_of_identification": true,
        "suspicious_identity": false, "image_url": null,
        "custom_fields": [{"id": 1, "value": "Blue"}], "metadata": {"crm_id": "A-1"},
        "family_id": 881, "created_at": "2019-03-02T10:15:00.000+00:00",
        "updated_at": "2026-07-04T20:35:55.599+01:00", "portal_registered": true
    }"#,
    )
    .unwrap()
}

#[test]
fn realistic_patient_record() {
    let page = flatten("patients", PiiPolicy::Keep, vec![patient()]);
    assert!(page.rejects.is_empty(), "{:?}", page.rejects);
    let (name, batch) = &page.tables[0];
    assert_eq!(name, "patients");
    assert_eq!(batch.num_rows(), 1);
    assert_eq!(col::<Int64Array>(batch, "id").value(0), 20605);
    assert_eq!(text(batch, "last_name").value(0), "Smith");
    assert!(text(batch, "middle_name").is_null(0));
    let dob = col::<Date32Array>(batch, "date_of_birth")
        .value_as_date(0)
        .unwrap();
    assert_eq!(dob.to_string(), "1980-02-29");
    assert!(!col::<BooleanArray>(batch, "marketing").value(0));
    assert_eq!(text(batch, "acquisition_source_id").value(0), "7");
    assert_eq!(
        text(batch, "custom_fields").value(0),
        r#"[{"id":1,"value":"Blue"}]"#
    );
    assert_eq!(text(batch, "metadata").value(0), r#"{"crm_id":"A-1"}"#);
    let updated = col::<TimestampMicrosecondArray>(batch, "updated_at").value(0);
    assert_eq!(updated, micros("2026-07-04T19:35:55.599Z"));
}

#[test]
fn unknown_field_goes_to_extra() {
    let page = flatten(
        "patients",
        PiiPolicy::Keep,
        vec![patient(), json!({"id": 2})],
    );
    let batch = &page.tables[0].1;
    assert_eq!(
        text(batch, "_extra").value(0),
        r#"{"portal_registered":true}"#
    );
    assert!(
        text(batch, "_extra").is_null(1),
        "a record without unknown keys has no _extra"
    );
    assert!(batch.column_by_name("portal_registered").is_none());
    assert_eq!(
        page.unknown_fields.into_iter().collect::<Vec<_>>(),
        ["portal_registered"]
    );
}

#[test]
fn extra_keeps_numbers_as_the_digits_sent() {
    // Through the tape, not serde_json::Value: no float on the way.
    let text =
        r#"[{"id": 1, "huge": 1e400, "big": 123456789012345678901234567890, "exact": 0.10}]"#;
    let doc = Doc::parse(text.to_string()).unwrap();
    let page =
        Flattener::new(find("patients").unwrap(), PiiPolicy::Keep).flatten(doc.root().items());
    assert_eq!(
        text_of(&page.tables[0].1, "_extra"),
        r#"{"huge":1e400,"big":123456789012345678901234567890,"exact":0.10}"#
    );
}

fn text_of(batch: &RecordBatch, name: &str) -> String {
    text(batch, name).value(0).to_string()
}

fn payment() -> Value {
    json!({
        "id": 501, "account_id": 64700790, "patient_id": 20605,
        "site_id": "0b7c7f8e-3d5e-4c8e-b1a2-5f6e7d8c9b0a", "user_id": 4, "practitioner_id": 12,
        "payment_plan_id": null, "amount": "-76.0", "amount_unexplained": "0.0",
        "dated_on": "2026-07-04", "method": "Card", "reference": "PAY-501", "status": "Paid",
        "transaction_number": "TX9", "deleted": false, "fully_explained": true,
        "created_at": "2026-07-04T09:00:00.000+01:00",
        "updated_at": "2026-07-04T20:35:55.599+01:00",
        "explanations": [
            {"id": 1, "amount": "-50.0", "comments": null, "invoice_id": 900,
             "invoice_reference": "INV-900", "payment_reference": "PAY-501", "user_id": 4},
            {"id": 2, "amount": "-26", "comments": "refund, Mrs Smith", "invoice_id": 901,
             "invoice_reference": "INV-901", "payment_reference": "PAY-501", "user_id": 4,
             "allocated_by": "system"}
        ]
    })
}

#[test]
fn payment_with_explanations_fills_the_child_table() {
    let page = flatten("payments", PiiPolicy::Keep, vec![payment()]);
    assert!(page.rejects.is_empty(), "{:?}", page.rejects);
    let names: Vec<_> = page.tables.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["payments", "payments__explanations"]);
    let main = &page.tables[0].1;
    let amount = col::<Decimal128Array>(main, "amount");
    assert_eq!(
        (amount.value(0), amount.scale()),
        (-7600, 2),
        "-76.0 at scale 2"
    );
    let child = &page.tables[1].1;
    assert_eq!(child.num_rows(), 2);
    assert_eq!(col::<Int64Array>(child, "payment_id").values(), &[501, 501]);
    assert_eq!(col::<Int64Array>(child, "_idx").values(), &[0, 1]);
    assert_eq!(col::<Decimal128Array>(child, "amount").value(1), -2600);
    assert_eq!(
        text(child, "_extra").value(1),
        r#"{"allocated_by":"system"}"#
    );
    assert!(page.unknown_fields.contains("explanations[].allocated_by"));
}

#[test]
fn appointment_with_null_patient_is_a_diary_block() {
    let block = json!({
        "id": 77, "patient_id": null, "practitioner_id": 12, "reason": "Bank Holiday",
        "state": "Pending", "room_id": "R2", "start_time": "2026-08-31T09:00:00.000+01:00",
        "finish_time": "2026-08-31T17:00:00.000+01:00", "duration": 480
    });
    let page = flatten("appointments", PiiPolicy::Keep, vec![block]);
    assert!(page.rejects.is_empty());
    let batch = &page.tables[0].1;
    assert!(col::<Int64Array>(batch, "patient_id").is_null(0));
    assert_eq!(text(batch, "room_id").value(0), "R2");
    let start = col::<TimestampMicrosecondArray>(batch, "start_time").value(0);
    assert_eq!(
        start,
        micros("2026-08-31T08:00:00Z"),
        "BST +01:00 converted to UTC"
    );
}

#[test]
fn misfit_values_are_nulled_counted_and_kept_in_extra() {
    let mut bad = payment();
    bad["id"] = json!(502);
    bad["explanations"][1]["amount"] = json!("76.005");
    bad["amount_unexplained"] = json!("lots");
    bad["user_id"] = json!(4.5);
    let page = flatten("payments", PiiPolicy::Keep, vec![payment(), bad]);
    assert!(page.rejects.is_empty(), "{:?}", page.rejects);
    let main = &page.tables[0].1;
    assert_eq!(col::<Int64Array>(main, "id").values(), &[501, 502]);
    assert!(col::<Decimal128Array>(main, "amount_unexplained").is_null(1));
    assert!(col::<Int64Array>(main, "user_id").is_null(1));
    assert_eq!(
        text(main, "_extra").value(1),
        r#"{"user_id":4.5,"amount_unexplained":"lots"}"#,
        "values as sent, in the order sent"
    );
    let child = &page.tables[1].1;
    assert_eq!(
        col::<Int64Array>(child, "payment_id").values(),
        &[501, 501, 502, 502]
    );
    assert!(col::<Decimal128Array>(child, "amount").is_null(3));
    assert_eq!(
        text(child, "_extra").value(3),
        r#"{"amount":"76.005","allocated_by":"system"}"#
    );
    let counts: Vec<_> = page
        .mismatches
        .iter()
        .map(|(k, n)| (k.table.as_str(), k.column.as_str(), k.json_type, *n))
        .collect();
    assert_eq!(
        counts,
        [
            ("payments", "amount_unexplained", "string", 1),
            ("payments", "user_id", "number", 1),
            ("payments__explanations", "amount", "string", 1),
        ]
    );
}

#[test]
fn only_rows_that_cannot_be_keyed_are_rejects() {
    let records = vec![
        json!("not a record"),
        json!({"id": 1, "explanations": {"id": 1}}),
        json!({"id": 2, "explanations": [1, {"id": 7}]}),
        json!({"amount": "1.0"}),
        json!({"id": 3, "explanations": null}),
        json!({"id": "three", "amount": "1.0"}),
    ];
    let page = flatten("payments", PiiPolicy::Keep, records);
    let fields: Vec<_> = page.rejects.iter().map(|r| r.field.as_str()).collect();
    assert_eq!(fields, ["", "id", "id"]);
    assert!(page.rejects[2].reason.contains("integer"));
    let main = &page.tables[0].1;
    assert_eq!(col::<Int64Array>(main, "id").values(), &[1, 2, 3]);
    assert_eq!(
        text(main, "_extra").value(0),
        r#"{"explanations":{"id":1}}"#
    );
    assert_eq!(text(main, "_extra").value(1), r#"{"explanations[0]":1}"#);
    let child = &page.tables[1].1;
    assert_eq!(col::<Int64Array>(child, "_idx").values(), &[1]);
    let types: Vec<_> = page.mismatches.keys().map(|k| k.json_type).collect();
    assert_eq!(types, ["integer", "object"]);
    assert!(page.mismatches.keys().all(|k| k.column == "explanations"));
}

#[test]
fn drop_removes_direct_columns_and_their_values_everywhere() {
    let page = flatten("patients", PiiPolicy::Drop, vec![patient()]);
    let batch = &page.tables[0].1;
    for gone in [
        "first_name",
        "date_of_birth",
        "nhs_number",
        "emergency_contact_name",
    ] {
        assert!(batch.column_by_name(gone).is_none(), "{gone}");
    }
    assert_eq!(col::<Int64Array>(batch, "family_id").value(0), 881);
    let mut odd = patient();
    odd["dentist_id"] = json!("twelve");
    odd["first_name"] = json!({"given": "Ann"});
    let page = flatten("patients", PiiPolicy::Drop, vec![odd]);
    assert!(page.rejects.is_empty());
    let extra = text(&page.tables[0].1, "_extra").value(0);
    assert!(
        !extra.contains("twelve"),
        "under drop a misfit is counted, never kept in clear: {extra}"
    );
    assert!(!extra.contains("Ann"), "{extra}");
    assert_eq!(page.mismatches.len(), 1, "dropped columns are not read");
    let mut keyless = patient();
    keyless.as_object_mut().unwrap().remove("id");
    let page = flatten("patients", PiiPolicy::Drop, vec![keyless]);
    assert_eq!(page.rejects.len(), 1);
    let record: serde_json::Value = serde_json::from_str(page.rejects[0].record.get()).unwrap();
    assert!(record.get("first_name").is_none());
    assert!(!page.rejects[0].record.get().contains("Smith"));
}

#[test]
fn misfit_personal_values_are_hashed_like_their_column() {
    let key = b"k1".to_vec();
    let hasher = Hasher::new(&key);
    let mut odd = patient();
    odd["last_name"] = json!(["Smith", "Jones"]);
    let page = flatten(
        "patients",
        PiiPolicy::Hash { key: key.clone() },
        vec![odd.clone()],
    );
    let extra = text(&page.tables[0].1, "_extra").value(0);
    assert!(
        !extra.contains("Smith") && !extra.contains("Jones"),
        "{extra}"
    );
    let digest = hasher.digest(r#"["Smith","Jones"]"#);
    assert!(
        extra.contains(&format!(r#""last_name":"{digest}""#)),
        "{extra}"
    );
    let kept = flatten("patients", PiiPolicy::Keep, vec![odd]);
    let extra = text(&kept.tables[0].1, "_extra").value(0);
    assert!(
        extra.contains(r#""last_name":["Smith","Jones"]"#),
        "{extra}"
    );
    let leaky = [
        ("practitioners", json!({"id": 1, "user": "Dr Leaky String"})),
        (
            "payments",
            json!({"id": 1, "explanations": "refund to Mrs Leak"}),
        ),
        ("payments", json!({"id": 1, "explanations": ["Mrs Leak"]})),
    ];
    for policy in [PiiPolicy::Drop, PiiPolicy::Hash { key: key.clone() }] {
        for (name, record) in &leaky {
            let page = flatten(name, policy.clone(), vec![record.clone()]);
            assert_eq!(page.mismatches.len(), 1, "{name}");
            let extra = text(&page.tables[0].1, "_extra");
            assert!(
                extra.is_null(0) || !extra.value(0).contains("Leak"),
                "{name}: {}",
                extra.value(0)
            );
        }
    }
}

#[test]
fn hash_is_keyed_and_stable_across_resources() {
    let key = |k: &[u8]| PiiPolicy::Hash { key: k.to_vec() };
    let patients = flatten("patients", key(b"k1"), vec![patient()]);
    let accounts = flatten(
        "accounts",
        key(b"k1"),
        vec![json!({"id": 1, "patient_name": "Smith"})],
    );
    let other_key = flatten("patients", key(b"k2"), vec![patient()]);
    let surname = text(&patients.tables[0].1, "last_name").value(0);
    assert_eq!(surname.len(), 64);
    assert_ne!(surname, "Smith");
    assert_eq!(
        surname,
        text(&accounts.tables[0].1, "patient_name").value(0)
    );
    assert_ne!(surname, text(&other_key.tables[0].1, "last_name").value(0));
    let dob = &patients.tables[0]
        .1
        .column_by_name("date_of_birth")
        .unwrap();
    assert_eq!(dob.data_type(), &DataType::Utf8);
    assert_eq!(
        col::<Int64Array>(&patients.tables[0].1, "id").value(0),
        20605
    );
    let practitioner = json!({"id": 1, "user": {"id": 9, "last_name": "Smith"}});
    let nested = flatten("practitioners", key(b"k1"), vec![practitioner]);
    assert_eq!(
        text(&nested.tables[0].1, "user__last_name").value(0),
        surname
    );
}

#[test]
fn lists_objects_and_opening_hours() {
    let item = json!({"id": 1, "teeth": ["UL1", "UR2"], "surfaces": null});
    let page = flatten("treatment_plan_items", PiiPolicy::Keep, vec![item]);
    let teeth = col::<ListArray>(&page.tables[0].1, "teeth");
    assert_eq!(teeth.value_length(0), 2);
    assert!(col::<ListArray>(&page.tables[0].1, "surfaces").is_null(0));
    let site =
        json!({"id": "s1", "opening_hours": {"Monday": {"open": "08:30", "close": "17:00"}}});
    let page = flatten("sites", PiiPolicy::Keep, vec![site]);
    let batch = &page.tables[0].1;
    assert_eq!(text(batch, "opening_hours__Monday__open").value(0), "08:30");
    assert!(
        text(batch, "opening_hours__Sunday__open").is_null(0),
        "closed days are null"
    );
}

#[test]
fn every_resource_flattens_to_its_catalog_schema() {
    for resource in all() {
        for pii in [
            PiiPolicy::Keep,
            PiiPolicy::Drop,
            PiiPolicy::Hash { key: vec![1] },
        ] {
            let mut flattener = Flattener::new(resource, pii.clone());
            let expected = crate::catalog::tables(resource, &pii);
            let key = resource.primary_key;
            for records in [vec![], vec![json!({ key: 1 })]] {
                let doc = Doc::from_value(&Value::Array(records.clone()));
                let page = flattener.flatten(doc.root().items());
                assert!(
                    page.rejects.is_empty(),
                    "{}: {:?}",
                    resource.name,
                    page.rejects
                );
                assert_eq!(page.tables.len(), expected.len());
                for ((name, batch), table) in page.tables.iter().zip(&expected) {
                    assert_eq!(name, &table.name);
                    assert_eq!(batch.schema(), table.schema);
                    assert_eq!(
                        batch.num_rows(),
                        records.len() * usize::from(table.parent_key.is_none())
                    );
                    for field in batch.schema().fields() {
                        let forbidden = matches!(
                            field.data_type(),
                            DataType::Dictionary(..)
                                | DataType::LargeUtf8
                                | DataType::UInt64
                                | DataType::Timestamp(TimeUnit::Nanosecond, _)
                        );
                        assert!(!forbidden, "{}.{}", name, field.name());
                    }
                }
            }
        }
    }
}
