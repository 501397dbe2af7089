//! The polars side of a model: load the tables it names, run its SQL, write the result.
//!
//! Tables are read with polars-io's eager Parquet reader and registered as `LazyFrame`s over the
//! loaded frames. Polars' lazy file scan (`scan_parquet`) would read less, but in polars 0.55 it
//! runs on the streaming engine, which compiles in polars' cloud I/O and with it a second
//! `object_store` and `reqwest` (see `docs/DECISIONS.md`). To keep memory near what a query
//! touches, only the tables the SQL names are loaded, and of those only the columns it names,
//! unless it may select columns implicitly (`*`, `COLUMNS(…)`, `NATURAL` joins).
//!
//! Synchronous and CPU-bound (polars uses its own thread pool): called on a blocking thread.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use polars::prelude::{IntoLazy, LazyFrame, PolarsError, PolarsResult, UnionArgs, concat};
use polars::sql::SQLContext;
use polars_io::SerReader;
use polars_io::parquet::read::ParquetReader;
use polars_io::parquet::write::{ParquetCompression, ParquetWriter};

/// Runs `sql` over the `tables` it names (each a name and its Parquet files) and writes the
/// result to `out` as one Parquet file; returns its rows.
pub(super) fn execute(
    tables: &[(String, Vec<PathBuf>)],
    sql: &str,
    out: &Path,
) -> PolarsResult<u64> {
    let words = Words::of(sql);
    let mut ctx = SQLContext::new().with_function_registry(super::functions::Functions::registry());
    for (name, files) in tables.iter().filter(|(name, _)| words.has(name)) {
        ctx.register(name, load(files, &words)?);
    }
    let mut df = ctx.execute(sql)?.collect()?;
    let file = std::fs::File::create(out)?;
    ParquetWriter::new(file)
        .with_compression(ParquetCompression::Zstd(None))
        .finish(&mut df)?;
    Ok(df.height() as u64)
}

/// One table: its files read (the needed columns only) and stacked.
fn load(files: &[PathBuf], words: &Words) -> PolarsResult<LazyFrame> {
    let mut frames = Vec::with_capacity(files.len());
    for path in files {
        let mut reader = ParquetReader::new(std::fs::File::open(path)?);
        let columns = if words.implicit_columns {
            None
        } else {
            let names: Vec<String> = reader
                .schema()?
                .iter_names()
                .map(ToString::to_string)
                .collect();
            Some(words.columns_of(&names))
        };
        frames.push(reader.with_columns(columns).finish()?.lazy());
    }
    concat(frames, UnionArgs::default())
}

/// The words of a query, to tell which tables and columns it can reach.
struct Words {
    words: BTreeSet<String>,
    /// The query may reach columns without naming them.
    implicit_columns: bool,
}

impl Words {
    fn of(sql: &str) -> Self {
        let words: BTreeSet<String> = sql
            .split(|c: char| !(c.is_alphanumeric() || c == '_'))
            .filter(|w| !w.is_empty())
            .map(str::to_lowercase)
            .collect();
        let implicit_columns =
            sql.contains('*') || words.contains("columns") || words.contains("natural");
        Self {
            words,
            implicit_columns,
        }
    }

    fn has(&self, name: &str) -> bool {
        self.words.contains(&name.to_lowercase())
    }

    /// The columns of `names` the query names; at least one, so a `count(1)` still sees the rows.
    fn columns_of(&self, names: &[String]) -> Vec<String> {
        let named: Vec<String> = names.iter().filter(|n| self.has(n)).cloned().collect();
        if named.is_empty() {
            return names.iter().take(1).cloned().collect();
        }
        named
    }
}

/// A failure message naming the model and, when the SQL parser gave one, the position in its SQL.
pub(super) fn describe(model: &str, e: &PolarsError) -> String {
    let message = e.to_string();
    let message = message.trim();
    match position(message) {
        Some((line, column)) => {
            format!("model `{model}` failed at line {line}, column {column} of its SQL: {message}")
        }
        None => format!("model `{model}` failed: {message}"),
    }
}

/// `Line: 2, Column: 7` in a message of the SQL parser.
fn position(message: &str) -> Option<(u64, u64)> {
    let rest = &message[message.find("Line: ")? + "Line: ".len()..];
    let (line, rest) = rest.split_once(", Column: ")?;
    let column: String = rest.chars().take_while(char::is_ascii_digit).collect();
    Some((line.trim().parse().ok()?, column.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn position_is_read_from_parser_messages() {
        let msg = "SQLSyntax: sql parser error: Expected: end of statement, found: FORM at Line: 2, Column: 7";
        assert_eq!(position(msg), Some((2, 7)));
        assert_eq!(position("relation 'x' was not found"), None);
        assert_eq!(position("Line: x, Column: 3"), None);
    }

    #[test]
    fn only_named_columns_are_read_unless_some_may_be_implicit() {
        let names: Vec<String> = ["id", "amount", "dated_on", "paid_at"]
            .map(String::from)
            .to_vec();
        let w = Words::of("SELECT sum(Amount) FROM payments WHERE \"dated_on\" > '2026-01-01'");
        assert!(!w.implicit_columns && w.has("payments") && !w.has("patients"));
        assert_eq!(w.columns_of(&names), ["amount", "dated_on"]);
        assert_eq!(
            Words::of("SELECT count(1) FROM payments").columns_of(&names),
            ["id"]
        );
        for sql in [
            "SELECT count(*) FROM payments",
            "SELECT COLUMNS('^a.+$') FROM payments",
            "SELECT x FROM a NATURAL JOIN b",
        ] {
            assert!(Words::of(sql).implicit_columns, "{sql}");
        }
    }
}
