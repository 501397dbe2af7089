//! JSON records → typed Arrow record batches, one per output table of a resource.
//!
//! The flatten stage sits between extraction (pages of JSON records) and the
//! sinks (Parquet/CSV writers of `RecordBatch`es). It enforces the type contract of
//! `docs/design.md` §5 with the types the catalog declares: nested objects become
//! `parent__child` columns, arrays of objects become child tables, unknown fields go to
//! `_extra`, personal data is kept, dropped or hashed by the [`PiiPolicy`]. A value that does
//! not fit its column is never rounded or coerced: its cell is null, the value is kept in the
//! row's `_extra` under its key, and it is counted per column ([`Mismatches`]); the row stays
//! (one odd value must not drop a patient). Only a record that cannot be keyed (not an object,
//! primary key missing, null or not fitting) is left out, with its children, and reported as a
//! [`Reject`]. Columns that `pii = drop` removes are not read, so they cannot misfit.
//!
//! Columns are built directly with Arrow builders from the page's JSON tape ([`crate::json`]),
//! skipping arrow-json's decoder: the types here (money strings → Decimal128, offsets → UTC, 0/1
//! booleans, rejects with the record's key) are stricter and richer than its coercions. Each
//! record is walked once, key by key; values are converted straight from the text the API sent.

mod builder;
mod convert;
mod decimal;
mod hash;
mod invalid;
mod mismatch;
mod shape;
mod table;

use std::borrow::Cow;
use std::collections::BTreeSet;

use arrow::record_batch::RecordBatch;
use serde::Serialize;

pub use crate::catalog::{PiiPolicy, Table};
use crate::catalog::{Resource, schema};
use crate::json::{Kind, Node};
use convert::Cell;
use hash::{Hasher, redact};
use invalid::Invalid;
pub use mismatch::{ColumnCounts, MismatchKey, Mismatches, add_by_column};
use mismatch::{add_to_extra, json_type, kept_json};
use shape::Misfit;
use table::{RowOut, TableFlattener};

/// A record that cannot be keyed, once per problem. Written to
/// `_rejects/<table>/<run_id>.jsonl`; PII in `value` and `record` follows the policy.
#[derive(Debug, Clone, Serialize)]
pub struct Reject {
    /// The table the offending value belongs to (`payments__explanations`).
    pub table: String,
    /// The record's primary key as text, when it has one.
    pub key: Option<String>,
    /// JSON path of the value (`amount`, `explanations[1].amount`; empty for the whole record).
    pub field: String,
    /// The offending JSON value as compact JSON text.
    pub value: String,
    /// Why it does not fit.
    pub reason: String,
    /// The whole record as received, as JSON text: under `keep` exactly the text the API sent
    /// (digits of numbers included, review D18); under `drop` and `hash` with what is not
    /// allowed in clear dropped or hashed.
    pub record: Box<serde_json::value::RawValue>,
}

/// Rows worth turning into one batch: pushing pages until about this many rows are buffered,
/// then taking them as one batch per table, costs a fifth less CPU than a batch per 100-row page
/// (builders and the Parquet encoder pay per batch and per column; BENCHMARKS.md).
pub const BATCH_ROWS: usize = 1000;

/// What pushing one page found besides its rows.
#[derive(Debug, Default)]
pub struct PageReport {
    /// Records left out, one entry per offending field.
    pub rejects: Vec<Reject>,
    /// Dotted paths of fields the catalog does not know, seen in this page.
    pub unknown_fields: BTreeSet<String>,
    /// Values kept out of their columns (in `_extra`) in the rows kept.
    pub mismatches: Mismatches,
}

/// The result of flattening one page.
#[derive(Debug)]
pub struct FlatPage {
    /// One batch per table of the resource, in [`Flattener::tables`] order, each with exactly
    /// that table's schema (possibly zero rows).
    pub tables: Vec<(String, RecordBatch)>,
    /// Records left out, one entry per offending field.
    pub rejects: Vec<Reject>,
    /// Dotted paths of fields the catalog does not know (`portal_registered`,
    /// `explanations[].note`), seen in this page.
    pub unknown_fields: BTreeSet<String>,
    /// Values kept out of their columns (in `_extra`) in the rows kept.
    pub mismatches: Mismatches,
}

/// Turns pages of one resource's JSON records into record batches.
#[derive(Debug)]
pub struct Flattener {
    resource: &'static Resource,
    pii: PiiPolicy,
    hasher: Option<Hasher>,
    tables: Vec<TableFlattener>,
    key_index: Option<usize>,
    /// Main-table rows pushed since the last [`Flattener::take`].
    buffered: usize,
}

/// A problem, tagged with the index of its table.
type Problem<'a> = (usize, Misfit<'a>);

/// Where staging one record puts what it finds.
struct Staging<'s, 'a> {
    /// Staged cells, per table.
    stages: &'s mut [Vec<Cell<'a>>],
    /// Problems that reject the record.
    problems: &'s mut Vec<Problem<'a>>,
    /// Unknown field paths of the page.
    unknown: &'s mut BTreeSet<String>,
    /// Values kept out of their columns: (table index, column, JSON type).
    mismatches: &'s mut Vec<(usize, String, &'static str)>,
}

impl Flattener {
    /// A flattener for `resource` under the PII policy `pii`.
    pub fn new(resource: &'static Resource, pii: PiiPolicy) -> Self {
        let hasher = match &pii {
            PiiPolicy::Hash { key } => Some(Hasher::new(key)),
            PiiPolicy::Keep | PiiPolicy::Drop => None,
        };
        let layouts = schema::layouts(resource);
        let child = |name: &'static str| {
            layouts
                .iter()
                .position(|l| l.source.is_some_and(|f| f.name == name))
        };
        let tables: Vec<_> = layouts
            .iter()
            .enumerate()
            .map(|(i, l)| {
                let main_only = |name: &'static str| if i == 0 { child(name) } else { None };
                TableFlattener::new(l, &pii, &main_only)
            })
            .collect();
        let key_index = tables[0].column_index(resource.primary_key);
        Self {
            resource,
            pii,
            hasher,
            tables,
            key_index,
            buffered: 0,
        }
    }

    /// The resource being flattened.
    pub fn resource(&self) -> &'static Resource {
        self.resource
    }

    /// The output tables: the main table, then one per child table (as [`crate::catalog::tables`]).
    pub fn tables(&self) -> Vec<Table> {
        self.tables.iter().map(|t| t.table.clone()).collect()
    }

    /// Flattens one page of records (nodes of the page's [`crate::json::Doc`]) into one batch
    /// per table: [`Self::push`] then [`Self::take`].
    pub fn flatten<'d>(&mut self, records: impl IntoIterator<Item = Node<'d>>) -> FlatPage {
        let report = self.push(records);
        FlatPage {
            tables: self.take(),
            rejects: report.rejects,
            unknown_fields: report.unknown_fields,
            mismatches: report.mismatches,
        }
    }

    /// Main-table rows pushed and not yet taken.
    pub fn buffered_rows(&self) -> usize {
        self.buffered
    }

    /// One batch per table (in [`Self::tables`] order, each with exactly that table's schema,
    /// possibly empty) of every row pushed since the last call.
    pub fn take(&mut self) -> Vec<(String, RecordBatch)> {
        self.buffered = 0;
        self.tables
            .iter_mut()
            .map(|t| (t.table.name.clone(), t.finish()))
            .collect()
    }

    /// Appends the rows of one page of records to the tables' builders (taken with
    /// [`Self::take`]); returns the page's rejects and unknown fields.
    pub fn push<'d>(&mut self, records: impl IntoIterator<Item = Node<'d>>) -> PageReport {
        let mut stages: Vec<Vec<Cell<'d>>> = self.tables.iter().map(|_| Vec::new()).collect();
        let mut problems: Vec<Problem<'d>> = Vec::new();
        let mut rejects = Vec::new();
        let mut unknown_fields = BTreeSet::new();
        let mut mismatches = Mismatches::new();
        let mut row_mismatches: Vec<(usize, String, &'static str)> = Vec::new();
        for record in records {
            stages.iter_mut().for_each(Vec::clear);
            problems.clear();
            row_mismatches.clear();
            if !record.is_object() {
                let misfit = Misfit {
                    path: String::new(),
                    value: Some(record),
                    reason: Invalid::NotARecord,
                };
                rejects.push(self.reject(record, 0, &misfit));
                continue;
            }
            let mut out = Staging {
                stages: &mut stages,
                problems: &mut problems,
                unknown: &mut unknown_fields,
                mismatches: &mut row_mismatches,
            };
            self.stage_record(record, &mut out);
            if problems.is_empty() {
                for (table, stage) in self.tables.iter_mut().zip(&stages) {
                    table.commit(stage);
                }
                for (t, column, json_type) in row_mismatches.drain(..) {
                    let key = MismatchKey {
                        table: self.tables[t].table.name.clone(),
                        column,
                        json_type,
                    };
                    *mismatches.entry(key).or_default() += 1;
                }
                self.buffered += 1;
            } else {
                rejects.extend(problems.iter().map(|(t, m)| self.reject(record, *t, m)));
            }
        }
        PageReport {
            rejects,
            unknown_fields,
            mismatches,
        }
    }

    /// Stages the main row and every child row of one record.
    fn stage_record<'a>(&self, record: Node<'a>, out: &mut Staging<'_, 'a>) {
        let hasher = self.hasher.as_ref();
        let mut misfits = Vec::new();
        let mut found = Vec::new();
        let mut children: Vec<Option<Node<'a>>> = vec![None; self.tables.len()];
        let main = &self.tables[0];
        let row = RowOut {
            misfits: &mut misfits,
            mismatches: &mut found,
            unknown: out.unknown,
            children: &mut children,
            watch: self.key_index,
        };
        let key_present = main.stage(record, None, hasher, &mut out.stages[0], row);
        out.problems.extend(misfits.drain(..).map(|m| (0, m)));
        out.mismatches
            .extend(found.drain(..).map(|(c, j)| (0, c, j)));
        let key_present = match self.key_index {
            Some(_) => key_present,
            None => record
                .get(self.resource.primary_key)
                .is_some_and(|v| !v.is_null()),
        };
        if !key_present {
            let misfit = Misfit {
                path: self.resource.primary_key.to_owned(),
                value: None,
                reason: Invalid::MissingKey,
            };
            out.problems.push((0, misfit));
        }
        let key_cell = self
            .key_index
            .map_or(Cell::Null, |i| out.stages[0][i].clone());
        for (t, child) in self.tables.iter().enumerate().skip(1) {
            let (Some(source), Some(list)) = (child.source, children[t]) else {
                continue;
            };
            match list.kind() {
                Kind::Null => {}
                Kind::Array => {
                    for (idx, item) in list.items().enumerate() {
                        if !item.is_object() {
                            let key = format!("{}[{idx}]", source.name);
                            self.misshapen_child(out, source.name, &key, item);
                            continue;
                        }
                        let parent = Some((key_cell.clone(), idx));
                        let row = RowOut {
                            misfits: &mut misfits,
                            mismatches: &mut found,
                            unknown: out.unknown,
                            children: &mut [],
                            watch: None,
                        };
                        child.stage(item, parent, hasher, &mut out.stages[t], row);
                        out.mismatches
                            .extend(found.drain(..).map(|(c, j)| (t, c, j)));
                    }
                }
                _ => self.misshapen_child(out, source.name, source.name, list),
            }
        }
    }

    /// A child list that is not a list, or an item of it that is not an object: counted
    /// against the main table's `field`, kept in the main row's `_extra` under `key`.
    fn misshapen_child<'a>(
        &self,
        out: &mut Staging<'_, 'a>,
        field: &str,
        key: &str,
        value: Node<'a>,
    ) {
        out.mismatches.push((0, field.to_owned(), json_type(value)));
        let redact = self.tables[0].redacts();
        if let Some(json) = kept_json(value, redact, self.hasher.as_ref())
            && let Some(extra) = out.stages[0].last_mut()
        {
            add_to_extra(extra, key, &json);
        }
    }

    /// The reject entry of one problem, with PII redacted by the policy.
    fn reject(&self, record: Node<'_>, table: usize, misfit: &Misfit<'_>) -> Reject {
        let key = record
            .get(self.resource.primary_key)
            .filter(|v| !v.is_null())
            .map(node_text);
        let value_json = misfit.value.map_or(Cow::Borrowed("null"), Node::json);
        // Under drop and hash a value that did not fit is never kept in clear, personal column
        // or not (the allowlist rule of `mismatch::kept_json`).
        let value = match (&self.hasher, &self.pii) {
            (_, PiiPolicy::Keep) => value_json.into_owned(),
            (Some(h), _) => h.digest(&misfit.value.map_or_else(|| "null".into(), node_text)),
            (None, _) => "<dropped>".to_owned(),
        };
        Reject {
            table: self.tables[table].table.name.clone(),
            key,
            field: misfit.path.clone(),
            value,
            reason: misfit.reason.to_string(),
            record: record_text(
                record,
                self.resource.fields,
                &self.pii,
                self.hasher.as_ref(),
            ),
        }
    }
}

/// A rejected record as JSON text: exact under `keep`, redacted otherwise (the values kept in
/// clear there fit their columns, so nothing of them is lost by the round trip).
fn record_text(
    record: Node<'_>,
    fields: &'static [crate::catalog::Field],
    policy: &PiiPolicy,
    hasher: Option<&Hasher>,
) -> Box<serde_json::value::RawValue> {
    let text = match policy {
        PiiPolicy::Keep => record.exact_json(),
        _ => redact(&record.to_value(), fields, policy, hasher).to_string(),
    };
    serde_json::value::RawValue::from_string(text).unwrap_or_else(|_| {
        serde_json::value::RawValue::from_string("null".into()).unwrap_or_default()
    })
}

/// The text of a value: a string's contents, or compact JSON for anything else (what
/// `pii = hash` digests in a reject).
fn node_text(node: Node<'_>) -> String {
    match node.as_str() {
        Some(s) => s.into_owned(),
        None => node.json().into_owned(),
    }
}

#[cfg(test)]
mod tests {
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
}
