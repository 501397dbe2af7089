//! SQL functions polars' SQL lacks and analysts expect: `date_trunc(unit, value)`.
//!
//! polars 0.55 has no `DATE_TRUNC`; the one here follows DuckDB and PostgreSQL: `unit` is one of
//! `year`, `quarter`, `month`, `week` (weeks start on Monday), `day`, `hour`, `minute`, `second`,
//! and the result has the type of `value` (a date stays a date, a UTC datetime stays one).
//! Datetimes are truncated in UTC, which is the zone of every timestamp we write.

use std::collections::HashMap;
use std::sync::Arc;

use polars::prelude::{
    AnonymousColumnsUdf, AnyValue, Column, ColumnsUdf, DataType, Field, IntoColumn,
    NewChunkedArray, PolarsResult, Schema, StringChunked, UserDefinedFunction, polars_bail,
};
use polars::sql::{FunctionOptions, FunctionRegistry};
use polars::time::PolarsTruncate;

/// The functions we add to every model's SQL.
pub(super) struct Functions(HashMap<String, UserDefinedFunction>);

impl Functions {
    pub(super) fn registry() -> Arc<dyn FunctionRegistry> {
        let mut date_trunc = UserDefinedFunction::new("date_trunc".into(), DateTrunc);
        date_trunc.options = FunctionOptions::elementwise();
        Arc::new(Self(HashMap::from([(
            "date_trunc".to_string(),
            date_trunc,
        )])))
    }
}

impl FunctionRegistry for Functions {
    fn register(&mut self, name: &str, fun: UserDefinedFunction) -> PolarsResult<()> {
        self.0.insert(name.to_string(), fun);
        Ok(())
    }

    fn get_udf(&self, name: &str) -> PolarsResult<Option<UserDefinedFunction>> {
        Ok(self.0.get(&name.to_ascii_lowercase()).cloned())
    }

    fn contains(&self, name: &str) -> bool {
        self.0.contains_key(&name.to_ascii_lowercase())
    }
}

/// `date_trunc(unit, value)`.
struct DateTrunc;

/// The polars duration of a `date_trunc` unit.
fn every(unit: &str) -> Option<&'static str> {
    Some(match unit.to_ascii_lowercase().as_str() {
        "year" => "1y",
        "quarter" => "1q",
        "month" => "1mo",
        "week" => "1w",
        "day" => "1d",
        "hour" => "1h",
        "minute" => "1m",
        "second" => "1s",
        _ => return None,
    })
}

impl ColumnsUdf for DateTrunc {
    fn call_udf(&self, s: &mut [Column]) -> PolarsResult<Column> {
        let [unit, value] = s else {
            polars_bail!(SQLSyntax: "date_trunc expects 2 arguments (unit, value), found {}", s.len())
        };
        let unit = match unit.get(0)? {
            AnyValue::String(u) => u.to_string(),
            AnyValue::StringOwned(u) => u.to_string(),
            other => {
                polars_bail!(SQLSyntax: "date_trunc: the unit must be a string such as 'month', found {other}")
            }
        };
        let Some(every) = every(&unit) else {
            polars_bail!(SQLSyntax: "date_trunc: unknown unit '{unit}'; use year, quarter, month, week, day, hour, minute or second")
        };
        let every = StringChunked::from_slice("every".into(), &[every]);
        let series = value.as_materialized_series();
        let out = match series.dtype() {
            DataType::Date => series.date()?.truncate(None, &every)?.into_column(),
            DataType::Datetime(_, _) => series.datetime()?.truncate(None, &every)?.into_column(),
            other => {
                polars_bail!(SQLSyntax: "date_trunc needs a date or a timestamp, found {other}")
            }
        };
        Ok(out.with_name(value.name().clone()))
    }
}

impl AnonymousColumnsUdf for DateTrunc {
    fn as_column_udf(self: Arc<Self>) -> Arc<dyn ColumnsUdf> {
        self
    }

    fn deep_clone(self: Arc<Self>) -> Arc<dyn AnonymousColumnsUdf> {
        self
    }

    fn get_field(&self, _input_schema: &Schema, fields: &[Field]) -> PolarsResult<Field> {
        match fields {
            [_, value] => Ok(value.clone()),
            _ => {
                polars_bail!(SQLSyntax: "date_trunc expects 2 arguments (unit, value), found {}", fields.len())
            }
        }
    }
}
