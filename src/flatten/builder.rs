//! Arrow column builders fed with [`Cell`]s.
//!
//! A builder is created from the Arrow field of the table's schema, so its array always has the
//! schema's exact type (precision, scale, time zone, list item field); `RecordBatch::try_new`
//! then cannot disagree with [`crate::catalog::tables`].

use std::sync::Arc;

use arrow::array::{
    ArrayRef, BooleanBuilder, Date32Builder, Decimal128Builder, Int64Builder, ListBuilder,
    StringBuilder, TimestampMicrosecondBuilder,
};
use arrow::datatypes::{DataType, Field as ArrowField};

use super::convert::Cell;

/// One column being built.
#[derive(Debug)]
pub(crate) enum ColumnBuilder {
    /// Int64.
    Int(Int64Builder),
    /// Utf8.
    Text(StringBuilder),
    /// Boolean.
    Bool(BooleanBuilder),
    /// Decimal128 with the schema's precision and scale.
    Decimal(Decimal128Builder),
    /// Timestamp(Microsecond, "UTC").
    Micros(TimestampMicrosecondBuilder),
    /// Date32.
    Days(Date32Builder),
    /// List<Utf8>.
    List(ListBuilder<StringBuilder>),
}

impl ColumnBuilder {
    /// A builder for `field`'s type. Only the types the catalog produces are possible; anything
    /// else falls back to Utf8 (and a unit test checks every catalog schema round-trips).
    pub(crate) fn new(field: &ArrowField) -> Self {
        let data_type = field.data_type().clone();
        match field.data_type() {
            DataType::Int64 => Self::Int(Int64Builder::new()),
            DataType::Boolean => Self::Bool(BooleanBuilder::new()),
            DataType::Decimal128(..) => {
                Self::Decimal(Decimal128Builder::new().with_data_type(data_type))
            }
            DataType::Timestamp(..) => {
                Self::Micros(TimestampMicrosecondBuilder::new().with_data_type(data_type))
            }
            DataType::Date32 => Self::Days(Date32Builder::new()),
            DataType::List(item) => {
                Self::List(ListBuilder::new(StringBuilder::new()).with_field(Arc::clone(item)))
            }
            _ => Self::Text(StringBuilder::new()),
        }
    }

    /// Appends one cell. A cell of another type than the column is a bug in the flattener's
    /// plan: debug builds panic, release builds append null rather than corrupt the column.
    pub(crate) fn append(&mut self, cell: &Cell<'_>) {
        match (self, cell) {
            (Self::Int(b), Cell::Null) => b.append_null(),
            (Self::Text(b), Cell::Null) => b.append_null(),
            (Self::Bool(b), Cell::Null) => b.append_null(),
            (Self::Decimal(b), Cell::Null) => b.append_null(),
            (Self::Micros(b), Cell::Null) => b.append_null(),
            (Self::Days(b), Cell::Null) => b.append_null(),
            (Self::List(b), Cell::Null) => b.append_null(),
            (Self::Int(b), Cell::Int(v)) => b.append_value(*v),
            (Self::Text(b), Cell::Str(v)) => b.append_value(v),
            (Self::Text(b), Cell::Owned(v)) => b.append_value(v),
            (Self::Bool(b), Cell::Bool(v)) => b.append_value(*v),
            (Self::Decimal(b), Cell::Decimal(v)) => b.append_value(*v),
            (Self::Micros(b), Cell::Micros(v)) => b.append_value(*v),
            (Self::Days(b), Cell::Days(v)) => b.append_value(*v),
            (Self::List(b), Cell::List(items)) => {
                for item in items {
                    b.values().append_option(item.as_deref());
                }
                b.append(true);
            }
            (builder, cell) => {
                debug_assert!(false, "cell {cell:?} does not fit column {builder:?}");
                builder.append_null();
            }
        }
    }

    fn append_null(&mut self) {
        self.append(&Cell::Null);
    }

    /// The column built so far; the builder is left empty for the next page.
    pub(crate) fn finish(&mut self) -> ArrayRef {
        match self {
            Self::Int(b) => Arc::new(b.finish()),
            Self::Text(b) => Arc::new(b.finish()),
            Self::Bool(b) => Arc::new(b.finish()),
            Self::Decimal(b) => Arc::new(b.finish()),
            Self::Micros(b) => Arc::new(b.finish()),
            Self::Days(b) => Arc::new(b.finish()),
            Self::List(b) => Arc::new(b.finish()),
        }
    }
}
