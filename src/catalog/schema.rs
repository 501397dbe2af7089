//! From catalog fields to Arrow schemas: one main table per resource, one child table per
//! array-of-objects field (`docs/design.md` §5).
//!
//! Nested objects become `parent__child` columns (recursively), arrays of objects become child
//! tables `<resource>__<field>` keyed by `<singular>_id` and `_idx`, and every table ends with an
//! `_extra` column holding the fields the catalog does not know. The flattener builds its
//! column builders from the same [`Layout`]s, so batches always match these schemas.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::datatypes::{DataType, Field as ArrowField, Schema, SchemaRef, TimeUnit};

use super::pii::PiiPolicy;
use super::types::{Field, FieldKind, FieldType, Grade, Pii, Resource};

/// Name of the column holding unknown fields as JSON text, last in every table.
pub const EXTRA_COLUMN: &str = "_extra";
/// Name of the position column of a child table.
pub const INDEX_COLUMN: &str = "_idx";
/// Field metadata key: where the column's value comes from in the record (`user.first_name`,
/// `explanations[].amount`).
pub const META_JSON_PATH: &str = "dentally.json_path";
/// Field metadata key: the column's PII tag (`none`, `direct`, `direct:hashed`).
pub const META_PII: &str = "dentally.pii";

/// One output table of a resource, with its exact Arrow schema.
#[derive(Debug, Clone)]
pub struct Table {
    /// `payments`, or `payments__explanations` for a child table.
    pub name: String,
    /// The schema every batch of this table has, in every run.
    pub schema: SchemaRef,
    /// For a child table, the column holding the parent's primary key (`payment_id`).
    pub parent_key: Option<String>,
}

/// One leaf column derived from the catalog (before the PII policy applies).
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    /// Column name: the JSON path joined with `__` (`opening_hours__Monday__open`).
    pub name: String,
    /// JSON keys from the table's record down to the value.
    pub path: Vec<&'static str>,
    /// The value's type.
    pub ty: FieldType,
    /// The PII tag (inherited by all columns of a tagged object).
    pub pii: Pii,
    /// The evidence grade: the least sure of the field's own and its enclosing objects' (a
    /// B field inside a C+ embedded list is C+).
    pub grade: Grade,
}

/// Leaf columns of a list of fields, in catalog order: objects are flattened recursively,
/// children (arrays of objects) are skipped because they become tables of their own.
pub fn columns(fields: &'static [Field]) -> Vec<Column> {
    columns_within(fields, Grade::A)
}

/// [`columns`] of fields found inside a container graded `grade` (a child list).
fn columns_within(fields: &'static [Field], grade: Grade) -> Vec<Column> {
    let mut out = Vec::new();
    push_columns(fields, &mut Vec::new(), (Pii::None, grade), &mut out);
    out
}

fn push_columns(
    fields: &'static [Field],
    prefix: &mut Vec<&'static str>,
    (inherited, within): (Pii, Grade),
    out: &mut Vec<Column>,
) {
    for field in fields {
        let pii = if inherited == Pii::Direct {
            Pii::Direct
        } else {
            field.pii
        };
        let grade = within.max(field.grade);
        prefix.push(field.name);
        match field.kind {
            FieldKind::Scalar(ty) => {
                out.push(Column {
                    name: prefix.join("__"),
                    path: prefix.clone(),
                    ty,
                    pii,
                    grade,
                });
            }
            FieldKind::Object(sub) => push_columns(sub, prefix, (pii, grade), out),
            FieldKind::Children(_) => {}
        }
        prefix.pop();
    }
}

/// The Arrow type of a field type when its value is kept (`docs/design.md` §5).
pub fn arrow_type(ty: FieldType) -> DataType {
    match ty {
        FieldType::Int => DataType::Int64,
        FieldType::Guid
        | FieldType::Text
        | FieldType::IdText
        | FieldType::TimeOfDay
        | FieldType::Json => DataType::Utf8,
        FieldType::Bool => DataType::Boolean,
        FieldType::Money => DataType::Decimal128(18, 2),
        FieldType::Decimal => DataType::Decimal128(18, 4),
        FieldType::Timestamp => DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
        FieldType::Date => DataType::Date32,
        FieldType::TextList => {
            DataType::List(Arc::new(ArrowField::new("item", DataType::Utf8, true)))
        }
    }
}

/// The shape of one output table, independent of the PII policy.
#[derive(Debug, Clone)]
pub(crate) struct Layout {
    /// Table name.
    pub(crate) name: String,
    /// The array-of-objects field this child table comes from; `None` for the main table.
    pub(crate) source: Option<&'static Field>,
    /// The fields known at the root of each row (the record, or one array element).
    pub(crate) fields: &'static [Field],
    /// Child tables: the parent key column and the parent key's type.
    pub(crate) parent_key: Option<(String, FieldType)>,
    /// Leaf columns, in order.
    pub(crate) columns: Vec<Column>,
}

/// The layouts of a resource: the main table first, then one per children field.
pub(crate) fn layouts(resource: &'static Resource) -> Vec<Layout> {
    let mut out = vec![Layout {
        name: resource.name.to_owned(),
        source: None,
        fields: resource.fields,
        parent_key: None,
        columns: columns(resource.fields),
    }];
    let key_ty = match resource.field(resource.primary_key).map(|f| f.kind) {
        Some(FieldKind::Scalar(ty)) => ty,
        _ => FieldType::Text,
    };
    for field in resource.fields {
        if let FieldKind::Children(sub) = field.kind {
            let parent_key = format!("{}_id", resource.singular());
            // An embedded element that repeats its parent's key (an invoice's items carry
            // `invoice_id`) would give the table that column twice: the parent key column
            // already holds it, so the element's copy is known but not written.
            let columns = columns_within(sub, field.grade)
                .into_iter()
                .filter(|c| c.name != parent_key)
                .collect();
            out.push(Layout {
                name: format!("{}__{}", resource.name, field.name),
                source: Some(field),
                fields: sub,
                parent_key: Some((parent_key, key_ty)),
                columns,
            });
        }
    }
    out
}

impl Layout {
    /// The Arrow field of a column under `pii`, or `None` when the policy drops it.
    pub(crate) fn arrow_field(&self, column: &Column, pii: &PiiPolicy) -> Option<ArrowField> {
        let (data_type, tag) = match (column.pii, pii) {
            (Pii::None, _) => (arrow_type(column.ty), "none"),
            (Pii::Direct, PiiPolicy::Keep) => (arrow_type(column.ty), "direct"),
            (Pii::Direct, PiiPolicy::Drop) => return None,
            (Pii::Direct, PiiPolicy::Hash { .. }) => (DataType::Utf8, "direct:hashed"),
        };
        let json_path = match self.source {
            Some(source) => format!("{}[].{}", source.name, column.path.join(".")),
            None => column.path.join("."),
        };
        let metadata = HashMap::from([
            (META_JSON_PATH.to_owned(), json_path),
            (META_PII.to_owned(), tag.to_owned()),
        ]);
        Some(ArrowField::new(&column.name, data_type, true).with_metadata(metadata))
    }

    /// The table's schema under `pii`: parent key and `_idx` (child tables), the kept columns,
    /// then `_extra`.
    pub(crate) fn schema(&self, pii: &PiiPolicy) -> SchemaRef {
        let mut fields = Vec::with_capacity(self.columns.len() + 3);
        if let Some((key, ty)) = &self.parent_key {
            fields.push(ArrowField::new(key, arrow_type(*ty), true));
            fields.push(ArrowField::new(INDEX_COLUMN, DataType::Int64, false));
        }
        fields.extend(self.columns.iter().filter_map(|c| self.arrow_field(c, pii)));
        fields.push(ArrowField::new(EXTRA_COLUMN, DataType::Utf8, true));
        Arc::new(Schema::new(fields))
    }

    /// The public description of this table under `pii`.
    pub(crate) fn table(&self, pii: &PiiPolicy) -> Table {
        Table {
            name: self.name.clone(),
            schema: self.schema(pii),
            parent_key: self.parent_key.as_ref().map(|(key, _)| key.clone()),
        }
    }
}

/// The output tables of a resource under a PII policy: the main table (named like the
/// resource) first, then one child table per array-of-objects field.
pub fn tables(resource: &'static Resource, pii: &PiiPolicy) -> Vec<Table> {
    layouts(resource)
        .iter()
        .map(|layout| layout.table(pii))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::{all, find};

    fn forbidden(dt: &DataType) -> bool {
        match dt {
            DataType::Dictionary(..)
            | DataType::LargeUtf8
            | DataType::LargeList(_)
            | DataType::UInt8
            | DataType::UInt16
            | DataType::UInt32
            | DataType::UInt64
            | DataType::Timestamp(TimeUnit::Nanosecond, _) => true,
            DataType::List(item) => forbidden(item.data_type()),
            _ => false,
        }
    }

    #[test]
    fn every_resource_builds_allowed_schemas_ending_in_extra() {
        let policies = [
            PiiPolicy::Keep,
            PiiPolicy::Drop,
            PiiPolicy::Hash { key: vec![1] },
        ];
        for resource in all() {
            for pii in &policies {
                for table in tables(resource, pii) {
                    let fields = table.schema.fields();
                    assert_eq!(fields.last().unwrap().name(), EXTRA_COLUMN);
                    for f in fields {
                        assert!(!forbidden(f.data_type()), "{}.{}", table.name, f.name());
                        assert_eq!(f.is_nullable(), f.name() != INDEX_COLUMN);
                    }
                    let names: std::collections::BTreeSet<_> =
                        fields.iter().map(|f| f.name()).collect();
                    assert_eq!(
                        names.len(),
                        fields.len(),
                        "duplicate column in {}",
                        table.name
                    );
                }
            }
        }
    }

    #[test]
    fn nested_objects_and_child_tables() {
        let sites = tables(find("sites").unwrap(), &PiiPolicy::Keep);
        let open = sites[0]
            .schema
            .field_with_name("opening_hours__Monday__open")
            .unwrap();
        assert_eq!(open.metadata()[META_JSON_PATH], "opening_hours.Monday.open");

        let payments = tables(find("payments").unwrap(), &PiiPolicy::Keep);
        assert_eq!(payments.len(), 2);
        let child = &payments[1];
        assert_eq!(child.name, "payments__explanations");
        assert_eq!(child.parent_key.as_deref(), Some("payment_id"));
        let names: Vec<_> = child
            .schema
            .fields()
            .iter()
            .map(|f| f.name().as_str())
            .collect();
        assert_eq!(&names[..3], ["payment_id", "_idx", "id"]);
        assert_eq!(child.schema.field(0).data_type(), &DataType::Int64);
        let amount = child.schema.field_with_name("amount").unwrap();
        assert_eq!(amount.data_type(), &DataType::Decimal128(18, 2));
        assert_eq!(amount.metadata()[META_JSON_PATH], "explanations[].amount");
        assert!(payments[0].schema.field_with_name("explanations").is_err());
    }

    #[test]
    fn pii_policy_shapes_the_schema() {
        let patients = find("patients").unwrap();
        let keep = &tables(patients, &PiiPolicy::Keep)[0].schema;
        let drop = &tables(patients, &PiiPolicy::Drop)[0].schema;
        let hash = &tables(patients, &PiiPolicy::Hash { key: vec![7] })[0].schema;
        assert_eq!(
            keep.field_with_name("date_of_birth").unwrap().data_type(),
            &DataType::Date32
        );
        assert!(drop.field_with_name("date_of_birth").is_err());
        assert!(drop.field_with_name("id").is_ok());
        let dob = hash.field_with_name("date_of_birth").unwrap();
        assert_eq!(dob.data_type(), &DataType::Utf8);
        assert_eq!(dob.metadata()[META_PII], "direct:hashed");
        assert_eq!(keep.fields().len(), hash.fields().len());
    }

    #[test]
    fn practitioner_user_names_are_direct_through_nesting() {
        let practitioners = find("practitioners").unwrap();
        let drop = &tables(practitioners, &PiiPolicy::Drop)[0].schema;
        assert!(drop.field_with_name("user__first_name").is_err());
        assert!(drop.field_with_name("user__role").is_ok());
        assert!(
            drop.field_with_name("site__opening_hours__Sunday__close")
                .is_ok()
        );
    }
}
