//! Rendering a record batch as CSV text, column types included.
//!
//! `arrow_csv::Writer` cannot write list or struct columns, and its default timestamp text
//! (`…+00:00`, variable fractions) is not what the type contract asks for. So before a batch
//! reaches it, nested columns (`teeth`: `List<Utf8>`) become JSON text (`["UR1","UL2"]`), and
//! zoned timestamps are relabelled as UTC (a metadata-only change: Arrow stores them as UTC
//! instants) so the fixed `…Z` format below is true for every value. Dates are `YYYY-MM-DD`,
//! decimals plain text at their scale (`-76.00`), nulls empty fields, quoting per RFC 4180 with
//! CRLF line ends.
//!
//! Formula guard (security review D13): a spreadsheet runs a cell that starts with `=`, `+`,
//! `-`, `@`, TAB or CR as a formula, and patient-entered text reaches people who open these
//! files in Excel. With the guard on (the default, `[output] csv_guard`), such cells of *text*
//! columns get a leading `'`, which spreadsheets hide and treat as "this is text". Numbers,
//! decimals (`-76.00`) and dates are never touched, so typed readers see the same values.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, StringArray, StringBuilder};
use arrow::compute::cast;
use arrow::csv::WriterBuilder;
use arrow::csv::writer::Terminator;
use arrow::datatypes::{DataType, Field, FieldRef, Schema};
use arrow::error::ArrowError;
use arrow::json::writer::{EncoderOptions, make_encoder};
use arrow::record_batch::RecordBatch;

/// `2026-07-04T19:35:55.599000Z`: RFC 3339, UTC, always six fractional digits.
pub(crate) const TIMESTAMP_UTC_FORMAT: &str = "%Y-%m-%dT%H:%M:%S%.6fZ";
/// Timestamps without a zone (outside the type contract, but rendered without a false `Z`).
const TIMESTAMP_NAIVE_FORMAT: &str = "%Y-%m-%dT%H:%M:%S%.6f";
/// `2026-07-04`.
const DATE_FORMAT: &str = "%Y-%m-%d";

/// Encodes `batch` as CSV bytes, preceded by the header row when `header` is true; `guard`
/// neutralises spreadsheet formulas in text cells.
pub(crate) fn encode(
    batch: &RecordBatch,
    header: bool,
    guard: bool,
) -> Result<Vec<u8>, ArrowError> {
    let batch = csv_ready(batch, guard)?;
    let mut out = Vec::with_capacity(batch.get_array_memory_size() / 2 + 256);
    let mut writer = WriterBuilder::new()
        .with_header(header)
        .with_line_terminator(Terminator::CRLF)
        .with_date_format(DATE_FORMAT.to_string())
        .with_timestamp_tz_format(TIMESTAMP_UTC_FORMAT.to_string())
        .with_timestamp_format(TIMESTAMP_NAIVE_FORMAT.to_string())
        .build(&mut out);
    writer.write(&batch)?;
    drop(writer);
    Ok(out)
}

/// `batch` with nested columns as JSON text and zoned timestamps in UTC.
fn csv_ready(batch: &RecordBatch, guard: bool) -> Result<RecordBatch, ArrowError> {
    let schema = batch.schema();
    let mut fields = Vec::with_capacity(schema.fields().len());
    let mut columns = Vec::with_capacity(batch.num_columns());
    for (field, column) in schema.fields().iter().zip(batch.columns()) {
        let (field, column) = match field.data_type() {
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View if guard => {
                let text = cast(column, &DataType::Utf8)?;
                let guarded: ArrayRef = Arc::new(guard_formulas(text.as_string::<i32>()));
                (retyped(field, DataType::Utf8), guarded)
            }
            _ => csv_column(field, column)?,
        };
        fields.push(field);
        columns.push(column);
    }
    RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)
}

fn csv_column(field: &FieldRef, column: &ArrayRef) -> Result<(FieldRef, ArrayRef), ArrowError> {
    match field.data_type() {
        data_type if data_type.is_nested() => {
            let text: ArrayRef = Arc::new(json_text(field, column.as_ref())?);
            Ok((retyped(field, DataType::Utf8), text))
        }
        DataType::Timestamp(unit, Some(tz)) if tz.as_ref() != "UTC" => {
            let utc = DataType::Timestamp(*unit, Some("UTC".into()));
            Ok((retyped(field, utc.clone()), cast(column, &utc)?))
        }
        _ => Ok((field.clone(), column.clone())),
    }
}

/// Whether a spreadsheet would read `cell` as a formula.
pub(crate) fn looks_like_formula(cell: &str) -> bool {
    cell.starts_with(['=', '+', '-', '@', '\t', '\r'])
}

/// `values` with `'` before every cell that looks like a formula; nulls stay null.
fn guard_formulas(values: &StringArray) -> StringArray {
    values
        .iter()
        .map(|cell| {
            cell.map(|c| {
                if looks_like_formula(c) {
                    format!("'{c}")
                } else {
                    c.to_string()
                }
            })
        })
        .collect()
}

fn retyped(field: &FieldRef, data_type: DataType) -> FieldRef {
    Arc::new(Field::new(field.name(), data_type, true))
}

/// Each value of a nested column as JSON text; a null value stays null (an empty CSV field),
/// a null inside a list is JSON `null`.
fn json_text(field: &FieldRef, array: &dyn Array) -> Result<arrow::array::StringArray, ArrowError> {
    let options = EncoderOptions::default().with_explicit_nulls(true);
    let mut encoder = make_encoder(field, array, &options)?;
    let mut builder = StringBuilder::with_capacity(array.len(), array.len() * 16);
    let mut buf = Vec::with_capacity(64);
    for row in 0..array.len() {
        if encoder.is_null(row) {
            builder.append_null();
            continue;
        }
        buf.clear();
        encoder.encode(row, &mut buf);
        let text = std::str::from_utf8(&buf).map_err(|e| {
            ArrowError::CsvError(format!("Column `{}` is not UTF-8 JSON: {e}", field.name()))
        })?;
        builder.append_value(text);
    }
    Ok(builder.finish())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sink::test_data::sample_batch;
    use arrow::array::TimestampMicrosecondArray;

    #[test]
    fn sample_batch_renders_exactly() {
        let text = String::from_utf8(encode(&sample_batch(), true, true).unwrap()).unwrap();
        assert_eq!(
            text,
            "id,name,active,amount,updated_at,born_on,teeth\r\n\
             1,\"Ann \"\"Nan\"\" Lee\",true,-76.00,2026-07-04T19:35:55.599000Z,2026-07-04,\"[\"\"UR1\"\",\"\"UL2\"\"]\"\r\n\
             -2,\"Bo, Jr\",false,123.45,1970-01-01T00:00:00.000000Z,1969-12-31,\r\n\
             9007199254740993,,,,,,\"[null,\"\"LL8\"\"]\"\r\n"
        );
    }

    #[test]
    fn header_only_for_an_empty_batch() {
        let empty = sample_batch().slice(0, 0);
        let text = String::from_utf8(encode(&empty, true, true).unwrap()).unwrap();
        assert_eq!(text, "id,name,active,amount,updated_at,born_on,teeth\r\n");
        assert!(encode(&empty, false, true).unwrap().is_empty());
    }

    #[test]
    fn zoned_timestamps_are_rendered_in_utc() {
        let values = TimestampMicrosecondArray::from(vec![0]).with_timezone("+02:00");
        let field = Field::new("t", values.data_type().clone(), false);
        let batch =
            RecordBatch::try_new(Arc::new(Schema::new(vec![field])), vec![Arc::new(values)])
                .unwrap();
        let text = String::from_utf8(encode(&batch, false, true).unwrap()).unwrap();
        assert_eq!(text, "1970-01-01T00:00:00.000000Z\r\n");
    }

    #[test]
    fn formulas_in_text_cells_are_guarded_and_numbers_are_not() {
        use arrow::array::Int64Array;
        let schema = Arc::new(Schema::new(vec![
            Field::new("n", DataType::Int64, true),
            Field::new("t", DataType::Utf8, true),
        ]));
        let cells = [
            "=HYPERLINK(\"x\")",
            "+1",
            "-2",
            "@SUM(A1)",
            "\tx",
            "\rx",
            "ok",
            "a=b",
        ];
        let batch = RecordBatch::try_new(
            schema,
            vec![
                Arc::new(Int64Array::from(vec![-1; cells.len()])),
                Arc::new(StringArray::from(cells.to_vec())),
            ],
        )
        .unwrap();
        let guarded = String::from_utf8(encode(&batch, false, true).unwrap()).unwrap();
        let lines: Vec<&str> = guarded.split("\r\n").collect();
        assert_eq!(lines[0], "-1,\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(&lines[1..4], ["-1,'+1", "-1,'-2", "-1,'@SUM(A1)"]);
        assert!(
            guarded.contains("-1,\"'\tx\"") || guarded.contains("-1,'\tx"),
            "{guarded:?}"
        );
        assert!(guarded.contains("-1,ok\r\n-1,a=b"), "{guarded:?}");
        let plain = String::from_utf8(encode(&batch, false, false).unwrap()).unwrap();
        assert!(plain.starts_with("-1,\"=HYPERLINK"), "{plain:?}");
    }
}
