//! One output table being filled: which JSON path feeds which column, and the column builders.
//!
//! Rows are first *staged* as [`Cell`]s (borrowing from the page's JSON), because a record is
//! written only if it can be keyed; the staged cells of an accepted record are then appended to
//! the builders in one go. A value that does not fit its column is staged as null and kept in
//! the row's `_extra` ([`super::mismatch`]).

use std::collections::BTreeSet;

use arrow::record_batch::RecordBatch;

use super::builder::ColumnBuilder;
use super::convert::{Cell, canonical_text, convert};
use super::hash::Hasher;
use super::mismatch::{json_type, kept_json, member};
use super::shape::{Level, Misfit, Slot};
use crate::catalog::schema::Layout;
use crate::catalog::{Column, Field, Pii, PiiPolicy, Table};
use crate::json::{Kind, Node};

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
    /// Known keys of each row and what they feed.
    level: Level,
    /// Kept columns, in schema order (after the parent key and `_idx` of a child table).
    plans: Vec<ColumnPlan>,
    /// One builder per schema field.
    builders: Vec<ColumnBuilder>,
    /// Prefix of unknown-field paths (`explanations[].` for a child table).
    unknown_prefix: String,
    /// Whether personal data is dropped or hashed (`pii` is not `keep`).
    redact: bool,
}

/// Where one row's walk puts what it finds.
pub(crate) struct RowOut<'s, 'a> {
    /// Problems that make the record unusable (its key does not fit).
    pub(crate) misfits: &'s mut Vec<Misfit<'a>>,
    /// Values kept out of their columns: (column or field name, JSON type that arrived).
    pub(crate) mismatches: &'s mut Vec<(String, &'static str)>,
    /// Dotted paths of unknown fields seen in the page.
    pub(crate) unknown: &'s mut BTreeSet<String>,
    /// Child-table values met in a main row, by table index.
    pub(crate) children: &'s mut [Option<Node<'a>>],
    /// A column (the primary key's) whose presence the caller wants to know.
    pub(crate) watch: Option<usize>,
}

impl TableFlattener {
    /// The flattener of `layout`'s table under `pii`; `child` gives the table index of each
    /// children field of a main table.
    pub(crate) fn new(
        layout: &Layout,
        pii: &PiiPolicy,
        child: &dyn Fn(&'static str) -> Option<usize>,
    ) -> Self {
        let table = layout.table(pii);
        let hashing = matches!(pii, PiiPolicy::Hash { .. });
        let plans: Vec<ColumnPlan> = layout
            .columns
            .iter()
            .filter(|c| layout.arrow_field(c, pii).is_some())
            .map(|c| ColumnPlan {
                column: c.clone(),
                hash: hashing && c.pii == Pii::Direct,
                rel_path: c.path.join("."),
            })
            .collect();
        let column = |path: &[&'static str]| plans.iter().position(|p| p.column.path == path);
        let level = Level::new(layout.fields, &mut Vec::new(), &column, child);
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
            level,
            plans,
            builders,
            unknown_prefix,
            redact: !matches!(pii, PiiPolicy::Keep),
        }
    }

    /// Cells per row: every schema field.
    pub(crate) fn width(&self) -> usize {
        self.builders.len()
    }

    /// Position, in a staged main-table row, of the column filled from the top-level `key`.
    pub(crate) fn column_index(&self, key: &str) -> Option<usize> {
        self.plans.iter().position(|p| p.column.path == [key])
    }

    /// Stages one row of `row`'s values onto `stage` (a row of [`Self::width`] cells is
    /// appended). `parent` is the parent key cell and the row's position for a child table.
    /// A value that does not fit is staged as null, kept in the row's `_extra` and reported in
    /// `out.mismatches`, except in the watched (key) column: that one is a `out.misfits`
    /// problem, and the caller rejects the record. Returns whether the column `out.watch` held
    /// a non-null value.
    pub(crate) fn stage<'a>(
        &self,
        row: Node<'a>,
        parent: Option<(Cell<'a>, usize)>,
        hasher: Option<&Hasher>,
        stage: &mut Vec<Cell<'a>>,
        out: RowOut<'_, 'a>,
    ) -> bool {
        let start = stage.len();
        stage.resize(start + self.width(), Cell::Null);
        let index = parent.as_ref().map(|(_, idx)| *idx);
        let mut first = start;
        if let Some((key, idx)) = parent {
            stage[start] = key;
            stage[start + 1] = Cell::Int(i64::try_from(idx).unwrap_or(i64::MAX));
            first += 2;
        }
        let (cells, extra_cell) = stage[first..].split_at_mut(self.plans.len());
        let mut walk = Walk {
            table: self,
            hasher,
            index,
            cells,
            out,
            path: self.unknown_prefix.clone(),
            watched: false,
        };
        let mut extra = String::new();
        walk.level(&self.level, row, &mut extra);
        if !extra.is_empty() {
            extra_cell[0] = Cell::Owned(format!("{{{extra}}}"));
        }
        walk.watched
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

/// One row's walk over its keys.
struct Walk<'t, 's, 'a> {
    table: &'t TableFlattener,
    hasher: Option<&'t Hasher>,
    /// The row's position in its parent's list (child tables).
    index: Option<usize>,
    /// The row's cells for the table's plans, filled in place.
    cells: &'s mut [Cell<'a>],
    out: RowOut<'s, 'a>,
    /// Dotted path of the current level, after the table's unknown-field prefix
    /// (`explanations[].user.`), for unknown-field names.
    path: String,
    /// Whether the watched column held a non-null value.
    watched: bool,
}

impl TableFlattener {
    /// Whether personal data is dropped or hashed.
    pub(crate) fn redacts(&self) -> bool {
        self.redact
    }
}

impl<'a> Walk<'_, '_, 'a> {
    /// Walks one object level; unknown members are appended to `extra` as JSON members.
    fn level(&mut self, level: &Level, object: Node<'a>, extra: &mut String) {
        for (key, value) in object.entries() {
            match level.find(&key) {
                None => self.unknown(&key, value, extra),
                Some(Slot::Column(i)) => self.column(*i, &key, value, extra),
                Some(Slot::Object(inner)) => match value.kind() {
                    Kind::Object => {
                        let depth = self.path.len();
                        self.path.push_str(&key);
                        self.path.push('.');
                        let mut nested = String::new();
                        self.level(inner, value, &mut nested);
                        self.path.truncate(depth);
                        if !nested.is_empty() {
                            member(extra, &key, &format!("{{{nested}}}"));
                        }
                    }
                    Kind::Null => {}
                    _ => {
                        let name = format!("{}{key}", self.path);
                        let name = name
                            .strip_prefix(&self.table.unknown_prefix)
                            .unwrap_or(&name);
                        self.mismatch(name.replace('.', "__"), &key, value, extra);
                    }
                },
                Some(Slot::Child(t)) => {
                    if let Some(slot) = self.out.children.get_mut(*t) {
                        *slot = Some(value);
                    }
                }
                Some(Slot::Skip) => {}
            }
        }
    }

    fn unknown(&mut self, key: &str, value: Node<'a>, extra: &mut String) {
        let depth = self.path.len();
        self.path.push_str(key);
        if !self.out.unknown.contains(self.path.as_str()) {
            self.out.unknown.insert(self.path.clone());
        }
        self.path.truncate(depth);
        if let Some(json) = kept_json(value, self.table.redact, self.hasher) {
            member(extra, key, &json);
        }
    }

    fn column(&mut self, i: usize, key: &str, value: Node<'a>, extra: &mut String) {
        let plan = &self.table.plans[i];
        let watched = self.out.watch == Some(i);
        if watched {
            // The last occurrence of a key given twice is the one the cell keeps, so it alone
            // says whether the row has its key (review D17: `{"id": 5, …, "id": null}`).
            self.watched = !value.is_null();
        }
        self.cells[i] = match convert(plan.column.ty, value) {
            Ok(cell) if plan.hash => digest(plan, &cell, self.hasher),
            Ok(cell) => cell,
            Err(reason) if watched => {
                self.out.misfits.push(Misfit {
                    path: self.table.problem_path(self.index, &plan.rel_path),
                    value: Some(value),
                    reason,
                });
                Cell::Null
            }
            Err(_) => {
                let name = plan.column.name.clone();
                self.mismatch(name, key, value, extra);
                Cell::Null
            }
        };
    }

    /// Counts a value kept out of its column and keeps it in `_extra` under `key`.
    fn mismatch(&mut self, column: String, key: &str, value: Node<'a>, extra: &mut String) {
        self.out.mismatches.push((column, json_type(value)));
        if let Some(json) = kept_json(value, self.table.redact, self.hasher) {
            member(extra, key, &json);
        }
    }
}

/// The digest cell of a converted PII value (null stays null).
fn digest<'a>(plan: &ColumnPlan, cell: &Cell<'_>, hasher: Option<&Hasher>) -> Cell<'a> {
    match (canonical_text(plan.column.ty, cell), hasher) {
        (Some(text), Some(h)) => Cell::Owned(h.digest(&text)),
        _ => Cell::Null,
    }
}
