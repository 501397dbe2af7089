//! The Delta schema (`metaData.schemaString`) of a current table, from its Arrow schema.
//!
//! Delta names its types after Spark SQL's; the mapping follows the Delta protocol's "Schema
//! Serialization Format". Timestamps with a time zone are Delta `timestamp` (UTC instants);
//! our current tables have no time-zone-less timestamps, which would need the `timestampNtz`
//! table feature, so such a column is refused with its name rather than mislabelled.

use arrow::datatypes::{DataType, Field, Schema};
use serde_json::{Value, json};

/// The `schemaString` value: the table's columns, then the partition columns (strings).
pub fn schema_string(schema: &Schema, partition_columns: &[&str]) -> Result<String, String> {
    let mut fields: Vec<Value> = schema
        .fields()
        .iter()
        .map(|f| field(f))
        .collect::<Result<_, _>>()?;
    for name in partition_columns {
        fields.push(json!({"name": name, "type": "string", "nullable": true, "metadata": {}}));
    }
    Ok(json!({"type": "struct", "fields": fields}).to_string())
}

fn field(f: &Field) -> Result<Value, String> {
    Ok(json!({
        "name": f.name(),
        "type": data_type(f.name(), f.data_type())?,
        "nullable": f.is_nullable(),
        "metadata": {},
    }))
}

fn data_type(name: &str, t: &DataType) -> Result<Value, String> {
    Ok(match t {
        DataType::Boolean => json!("boolean"),
        DataType::Int8 => json!("byte"),
        DataType::Int16 | DataType::UInt8 => json!("short"),
        DataType::Int32 | DataType::UInt16 => json!("integer"),
        DataType::Int64 | DataType::UInt32 => json!("long"),
        DataType::Float32 => json!("float"),
        DataType::Float64 => json!("double"),
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => json!("string"),
        DataType::Binary | DataType::LargeBinary | DataType::BinaryView => json!("binary"),
        DataType::Date32 | DataType::Date64 => json!("date"),
        DataType::Timestamp(_, Some(_)) => json!("timestamp"),
        DataType::Decimal128(p, s) => json!(format!("decimal({p},{s})")),
        DataType::Dictionary(_, values) => data_type(name, values)?,
        DataType::List(item) | DataType::LargeList(item) => json!({
            "type": "array",
            "elementType": data_type(name, item.data_type())?,
            "containsNull": item.is_nullable(),
        }),
        DataType::Struct(children) => json!({
            "type": "struct",
            "fields": children.iter().map(|c| field(c)).collect::<Result<Vec<_>, _>>()?,
        }),
        other => {
            return Err(format!(
                "column `{name}` has type {other}, which this Delta writer does not map; \
                 use `table_format = \"parquet\"` for this pipeline, or report the column"
            ));
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::datatypes::TimeUnit;
    use std::sync::Arc;

    #[test]
    fn contract_types_map_to_delta_types() {
        let schema = Schema::new(vec![
            Field::new("id", DataType::Int64, false),
            Field::new("name", DataType::Utf8, true),
            Field::new("balance", DataType::Decimal128(18, 2), true),
            Field::new("born", DataType::Date32, true),
            Field::new(
                "at",
                DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
                true,
            ),
            Field::new(
                "teeth",
                DataType::List(Arc::new(Field::new("item", DataType::Utf8, true))),
                true,
            ),
        ]);
        let s: Value =
            serde_json::from_str(&schema_string(&schema, &["practice"]).unwrap()).unwrap();
        let types: Vec<String> = s["fields"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["type"].to_string())
            .collect();
        assert_eq!(
            types,
            [
                "\"long\"",
                "\"string\"",
                "\"decimal(18,2)\"",
                "\"date\"",
                "\"timestamp\"",
                r#"{"type":"array","elementType":"string","containsNull":true}"#,
                "\"string\"",
            ]
        );
        assert_eq!(s["fields"][0]["nullable"], false);
        assert_eq!(s["fields"][6]["name"], "practice");
    }

    #[test]
    fn a_timestamp_without_zone_is_refused_by_name() {
        let schema = Schema::new(vec![Field::new(
            "local",
            DataType::Timestamp(TimeUnit::Microsecond, None),
            true,
        )]);
        let err = schema_string(&schema, &[]).unwrap_err();
        assert!(err.contains("`local`"), "{err}");
    }
}
