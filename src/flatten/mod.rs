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
mod tests;
