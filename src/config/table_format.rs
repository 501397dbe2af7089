//! The `[output]` keys that say how current tables are published for warehouses: the table
//! format (plain Parquet files or Delta Lake tables), how long a Delta table keeps old versions,
//! and which Parquet profile the files are written for.
//!
//! Kept apart from the rest of `[output]` because they are checked against each other (Delta
//! needs Parquet files; retention means nothing without Delta), with the line and column of the
//! key at fault.

use super::model::{OutputFormat, ParquetProfileChoice, TableFormat};
use super::parse::pick;
use super::reader::{Ctx, Section};

/// Default days a Delta table keeps the files of replaced versions readable (Delta's own default
/// for `delta.deletedFileRetentionDuration`).
pub const DEFAULT_DELTA_RETENTION_DAYS: u64 = 7;

/// The warehouse settings of `[output]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TableSettings {
    /// `table_format`: plain Parquet files (default) or Delta Lake tables.
    pub table_format: TableFormat,
    /// `delta_retention_days`: how long replaced versions stay readable (time travel).
    pub delta_retention_days: u64,
    /// `parquet_profile`: `compatible` (default) or `fast`.
    pub parquet_profile: ParquetProfileChoice,
}

/// Reads `table_format`, `delta_retention_days` and `parquet_profile` from `[output]`.
pub(super) fn read_table_settings(
    ctx: &mut Ctx<'_>,
    s: &Section<'_, '_>,
    format: OutputFormat,
) -> TableSettings {
    let table_format = pick(
        ctx,
        s,
        "table_format",
        &[
            ("parquet", TableFormat::Parquet),
            ("delta", TableFormat::Delta),
        ],
    )
    .unwrap_or(TableFormat::Parquet);
    if table_format == TableFormat::Delta
        && format == OutputFormat::Csv
        && let Some(span) = s.span_of("table_format")
    {
        ctx.diags.error_with_hint(
            span,
            "`table_format = \"delta\"` needs Parquet files, but `format = \"csv\"`",
            "remove `format = \"csv\"` (Delta tables hold Parquet files)",
        );
    }
    let delta_retention_days = s
        .uint(ctx, "delta_retention_days", 3650)
        .unwrap_or(DEFAULT_DELTA_RETENTION_DAYS);
    if table_format != TableFormat::Delta
        && let Some(span) = s.span_of("delta_retention_days")
    {
        ctx.diags.error_with_hint(
            span,
            "`delta_retention_days` applies only to Delta tables",
            "add `table_format = \"delta\"`, or remove `delta_retention_days`",
        );
    }
    let parquet_profile = pick(
        ctx,
        s,
        "parquet_profile",
        &[
            ("compatible", ParquetProfileChoice::Compatible),
            ("fast", ParquetProfileChoice::Fast),
        ],
    )
    .unwrap_or(ParquetProfileChoice::Compatible);
    TableSettings {
        table_format,
        delta_retention_days,
        parquet_profile,
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::config::parse;

    fn output(keys: &str) -> String {
        format!(
            "name = \"p\"\n[source]\nregion = \"sandbox\"\ntoken_env = \"T\"\n[output]\nurl = \"./out\"\n{keys}\n[[resources]]\nname = \"patients\"\n"
        )
    }

    fn errors(text: &str) -> Vec<(usize, usize, String)> {
        parse(Path::new("p.toml"), text, &|_| None)
            .unwrap_err()
            .into_iter()
            .map(|d| (d.line, d.column, d.message))
            .collect()
    }

    #[test]
    fn defaults_are_plain_compatible_parquet() {
        let p = parse(Path::new("p.toml"), &output(""), &|_| None).unwrap();
        assert_eq!(
            p.output.tables,
            TableSettings {
                table_format: TableFormat::Parquet,
                delta_retention_days: DEFAULT_DELTA_RETENTION_DAYS,
                parquet_profile: ParquetProfileChoice::Compatible,
            }
        );
        assert_eq!(p.output.dictionary, None);
    }

    #[test]
    fn delta_with_retention_and_fast_profile() {
        let text = output(
            "table_format = \"delta\"\ndelta_retention_days = 30\nparquet_profile = \"fast\"",
        );
        let p = parse(Path::new("p.toml"), &text, &|_| None).unwrap();
        assert_eq!(p.output.tables.table_format, TableFormat::Delta);
        assert_eq!(p.output.tables.delta_retention_days, 30);
        assert_eq!(p.output.tables.parquet_profile, ParquetProfileChoice::Fast);
    }

    #[test]
    fn wrong_values_and_combinations_are_errors_with_positions() {
        assert_eq!(
            errors(&output("table_format = \"iceberg\"")),
            [(7, 16, "unknown table_format `iceberg`".to_string())]
        );
        assert_eq!(
            errors(&output("parquet_profile = \"small\"")),
            [(7, 19, "unknown parquet_profile `small`".to_string())]
        );
        assert_eq!(
            errors(&output("delta_retention_days = 3")),
            [(
                7,
                24,
                "`delta_retention_days` applies only to Delta tables".to_string()
            )]
        );
        assert_eq!(
            errors(&output("format = \"csv\"\ntable_format = \"delta\"")),
            [(
                8,
                16,
                "`table_format = \"delta\"` needs Parquet files, but `format = \"csv\"`"
                    .to_string()
            )]
        );
    }
}
