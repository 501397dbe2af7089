//! One output table being filled: which JSON path feeds which column, and the column builders.
//!
//! Rows are first *staged* as [`Cell`]s (borrowing from the page's JSON), because a record is
//! written only if every one of its values, in every table, fits the type contract; the staged
//! cells of an accepted record are then appended to the builders in one go.

use std::collections::BTreeSet;

use arrow::record_batch::RecordBatch;
use serde_json::{Map, Value};

use super::builder::ColumnBuilder;
use super::convert::{Cell, canonical_text, convert};
use super::hash::Hasher;
use super::shape::{Misfit, Shape};
use crate::catalog::schema::Layout;
use crate::catalog::{Column, Field, Pii, PiiPolicy, Table};

/// How one kept column is filled.
#[derive(Debug)]
struct ColumnPlan {
    /// The catalog column (path, type, PII tag).
    column: Column,
    /// Whether the value is replaced by its digest (`pii = hash` on a Direct column).
    hash: bool,
    /// The column's dotted JSON path relative to the row (`user.first_name`).
    rel_path: String,
}

/// One table of a resource: its schema, fill plan and builders.
#[derive(Debug)]
pub(crate) struct TableFlattener {
    /// The table as published by the catalog.
    pub(crate) table: Table,
    /// For a child table, the array-of-objects field it comes from.
    pub(crate) source: Option<&'static Field>,
    /// Known keys of each row.
    shape: Shape,
    /// Kept columns, in schema order.
    plans: Vec<ColumnPlan>,
    /// One builder per schema field.
    builders: Vec<ColumnBuilder>,
    /// Prefix of unknown-field paths (`explanations[].` for a child table).
    unknown_prefix: String,
}

impl TableFlattener {
    /// The flattener of `layout`'s table under `pii`.
    pub(crate) fn new(layout: &Layout, pii: &PiiPolicy) -> Self {
        let table = layout.table(pii);
        let hashing = matches!(pii, PiiPolicy::Hash { .. });
        let plans = layout
            .columns
            .iter()
            .filter(|c| layout.arrow_field(c, pii).is_some())
            .map(|c| ColumnPlan {
                column: c.clone(),
                hash: hashing && c.pii == Pii::Direct,
                rel_path: c.path.join("."),
            })
            .collect();
        let builders = table
            .schema
            .fields()
            .iter()
            .map(|f| ColumnBuilder::new(f))
            .collect();
        let unknown_prefix = layout
            .source
            .map_or_else(String::new, |f| format!("{}[].", f.name));
        Self {
            table,
            source: layout.source,
            shape: Shape::new(layout.fields),
            plans,
            builders,
            unknown_prefix,
        }
    }

    /// Position, in a staged main-table row, of the column filled from the top-level `key`.
    pub(crate) fn column_index(&self, key: &str) -> Option<usize> {
        self.plans.iter().position(|p| p.column.path == [key])
    }

    /// Stages one row of `row`'s values onto `stage`. `parent` is the parent key cell and the
    /// row's position for a child table. Values that do not fit are reported in `misfits` (and
    /// staged as null; the caller then discards the record).
    pub(crate) fn stage<'a>(
        &self,
        row: &'a Map<String, Value>,
        parent: Option<(Cell<'a>, usize)>,
        hasher: Option<&Hasher>,
        stage: &mut Vec<Cell<'a>>,
        misfits: &mut Vec<Misfit<'a>>,
        unknown: &mut BTreeSet<String>,
    ) {
        let index = parent.as_ref().map(|(_, idx)| *idx);
        if let Some((key, idx)) = parent {
            stage.push(key);
            stage.push(Cell::Int(i64::try_from(idx).unwrap_or(i64::MAX)));
        }
        for plan in &self.plans {
            let Some(value) = lookup(row, &plan.column.path) else {
                stage.push(Cell::Null);
                continue;
            };
            match convert(plan.column.ty, value) {
                Ok(cell) if plan.hash => stage.push(digest(plan, &cell, hasher)),
                Ok(cell) => stage.push(cell),
                Err(reason) => {
                    let path = self.problem_path(index, &plan.rel_path);
                    let direct = plan.column.pii == Pii::Direct;
                    misfits.push(Misfit {
                        path,
                        value,
                        reason,
                        direct,
                    });
                    stage.push(Cell::Null);
                }
            }
        }
        let extra = self.shape.scan(row, &self.unknown_prefix, unknown, misfits);
        stage.push(extra.map_or(Cell::Null, |m| Cell::Owned(Value::Object(m).to_string())));
    }

    /// `explanations[3].amount` for a child row, `user.first_name` for a main row.
    fn problem_path(&self, index: Option<usize>, rel_path: &str) -> String {
        match (self.source, index) {
            (Some(source), Some(i)) => format!("{}[{i}].{rel_path}", source.name),
            _ => rel_path.to_owned(),
        }
    }

    /// Appends the staged rows of an accepted record.
    pub(crate) fn commit(&mut self, stage: &[Cell<'_>]) {
        let width = self.builders.len();
        for row in stage.chunks_exact(width) {
            for (builder, cell) in self.builders.iter_mut().zip(row) {
                builder.append(cell);
            }
        }
    }

    /// The batch of every committed row since the last call.
    pub(crate) fn finish(&mut self) -> RecordBatch {
        let columns = self
            .builders
            .iter_mut()
            .map(ColumnBuilder::finish)
            .collect();
        RecordBatch::try_new(self.table.schema.clone(), columns).unwrap_or_else(|e| {
            unreachable!(
                "builders are made from the schema of `{}`: {e}",
                self.table.name
            )
        })
    }
}

/// The value at `path` under `row`; `None` when missing, or when an intermediate value is not
/// an object (the shape scan reports that).
fn lookup<'a>(row: &'a Map<String, Value>, path: &[&'static str]) -> Option<&'a Value> {
    let (first, rest) = path.split_first()?;
    let mut value = row.get(*first)?;
    for key in rest {
        value = value.as_object()?.get(*key)?;
    }
    Some(value)
}

/// The digest cell of a converted PII value (null stays null).
fn digest<'a>(plan: &ColumnPlan, cell: &Cell<'_>, hasher: Option<&Hasher>) -> Cell<'a> {
    match (canonical_text(plan.column.ty, cell), hasher) {
        (Some(text), Some(h)) => Cell::Owned(h.digest(&text)),
        _ => Cell::Null,
    }
}
