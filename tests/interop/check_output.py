#!/usr/bin/env python3
"""Reads a dentally-etl output with DuckDB, pyarrow and polars and checks that they agree.

Usage: check_output.py OUTPUT

OUTPUT is a local directory or an `s3://bucket/prefix` URL. For S3 the usual variables apply:
AWS_ENDPOINT_URL (e.g. http://127.0.0.1:9000), AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
AWS_REGION. DuckDB cannot read S3 here (its httpfs extension downloads from the internet), so for
S3 it reads a local copy fetched with pyarrow; pyarrow and polars read the bucket directly.

Every top-level folder of OUTPUT whose name does not start with `_` or `.` is a table: all its
`*.parquet` files are read as one dataset. Checks, per table (design §5, the type contract):

- the three readers count the same rows, and agree per column on nulls, min and max (numbers,
  decimals, dates, timestamps) or total list length (lists);
- every file has the same Arrow schema;
- `id` and `*_id` columns that are Int64 in Parquet are BIGINT / int64 / Int64;
- decimal columns are DECIMAL(18,2) (money) or DECIMAL(18,4) in all three readers;
- `created_at` / `updated_at` and every other timestamp are TIMESTAMP WITH TIME ZONE, UTC, µs;
- dates are DATE, lists are lists (of strings for `List<Utf8>`);
- never INT96, nanoseconds, unsigned integers, dictionary or large string/list types.

Prints one JSON object (`ok`, `errors`, `tables`) and exits 1 if any check failed, 2 on bad usage.
"""

import decimal
import json
import os
import sys
import tempfile

import duckdb
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.fs as pafs
import pyarrow.parquet as pq


class Output:
    """Where the tables are: a local directory or an S3 prefix, seen through a pyarrow filesystem."""

    def __init__(self, root):
        self.root = root
        if root.startswith("s3://"):
            endpoint = os.environ.get("AWS_ENDPOINT_URL") or os.environ.get("AWS_ENDPOINT")
            self.storage_options = {
                k: v
                for k, v in {
                    "aws_access_key_id": os.environ.get("AWS_ACCESS_KEY_ID"),
                    "aws_secret_access_key": os.environ.get("AWS_SECRET_ACCESS_KEY"),
                    "aws_region": os.environ.get("AWS_REGION", "us-east-1"),
                    "aws_endpoint_url": endpoint,
                    "aws_allow_http": "true" if endpoint and endpoint.startswith("http://") else None,
                }.items()
                if v
            }
            scheme, _, host = (endpoint or "").partition("://")
            self.fs = pafs.S3FileSystem(
                access_key=os.environ.get("AWS_ACCESS_KEY_ID"),
                secret_key=os.environ.get("AWS_SECRET_ACCESS_KEY"),
                region=os.environ.get("AWS_REGION", "us-east-1"),
                endpoint_override=host or None,
                scheme=scheme or "https",
            )
            self.base = root[len("s3://") :].rstrip("/")
        else:
            self.storage_options = None
            self.fs = pafs.LocalFileSystem()
            self.base = os.path.abspath(root)

    def tables(self):
        infos = self.fs.get_file_info(pafs.FileSelector(self.base, recursive=False))
        names = [i.base_name for i in infos if i.type == pafs.FileType.Directory]
        return sorted(n for n in names if not n.startswith(("_", ".")))

    def files(self, table):
        infos = self.fs.get_file_info(pafs.FileSelector(f"{self.base}/{table}", recursive=False))
        return sorted(
            i.path for i in infos if i.type == pafs.FileType.File and i.path.endswith(".parquet")
        )

    def polars_glob(self, table):
        prefix = "s3://" if self.storage_options else ""
        return f"{prefix}{self.base}/{table}/*.parquet"

    def local_copy(self, table, files, tmp):
        """A local directory with the table's files, for DuckDB."""
        if not self.storage_options:
            return f"{self.base}/{table}"
        local = os.path.join(tmp, table)
        os.makedirs(local, exist_ok=True)
        for path in files:
            dest = os.path.join(local, os.path.basename(path))
            pafs.copy_files(path, dest, source_filesystem=self.fs,
                            destination_filesystem=pafs.LocalFileSystem())
        return local


def canonical(value):
    """A JSON-friendly value that compares equal across readers."""
    if value is None:
        return None
    if isinstance(value, decimal.Decimal):
        return str(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def sql_name(name):
    return '"' + name.replace('"', '""') + '"'


def stats_kind(arrow_type):
    """How a column is summarised: `range` (min/max), `list` (total length) or `nulls` only."""
    t = arrow_type
    if pa.types.is_integer(t) or pa.types.is_decimal(t) or pa.types.is_date(t) \
            or pa.types.is_boolean(t):
        return "range"
    if pa.types.is_timestamp(t):
        return "timestamp"
    if pa.types.is_list(t):
        return "list"
    return "nulls"


def pyarrow_stats(table, name, kind):
    col = table[name]
    out = {"nulls": col.null_count}
    if kind == "timestamp":
        # µs since the epoch, as `epoch_us` (DuckDB) and `dt.epoch("us")` (polars) count.
        micros = pa.timestamp("us", tz=col.type.tz)
        col = pc.cast(pc.cast(col, micros, safe=False), pa.int64())
    if kind in ("range", "timestamp"):
        mm = pc.min_max(col)
        out["min"], out["max"] = canonical(mm["min"].as_py()), canonical(mm["max"].as_py())
    if kind == "list":
        out["items"] = pc.sum(pc.list_value_length(col)).as_py() or 0
    return out


def duckdb_stats(con, source, name, kind):
    c = sql_name(name)
    exprs = [f"count(*) - count({c})"]
    if kind == "range":
        exprs += [f"min({c})", f"max({c})"]
    elif kind == "timestamp":
        exprs += [f"epoch_us(min({c}))", f"epoch_us(max({c}))"]
    elif kind == "list":
        exprs += [f"coalesce(sum(len({c})), 0)"]
    row = con.execute(f"SELECT {', '.join(exprs)} FROM {source}").fetchone()
    out = {"nulls": row[0]}
    if kind in ("range", "timestamp"):
        out["min"], out["max"] = canonical(row[1]), canonical(row[2])
    if kind == "list":
        out["items"] = int(row[1])
    return out


def polars_stats(frame, name, kind):
    col = pl.col(name)
    exprs = [col.null_count().alias("nulls")]
    if kind == "timestamp":
        col = col.dt.epoch("us")
    if kind in ("range", "timestamp"):
        exprs += [col.min().alias("min"), col.max().alias("max")]
    if kind == "list":
        exprs += [col.list.len().sum().alias("items")]
    row = frame.select(exprs).collect().row(0, named=True)
    return {k: canonical(v) for k, v in row.items()}


def expected_types(name, t, errors, table):
    """What DuckDB and polars must call a column of Arrow type `t`, after the contract checks."""
    where = f"{table}.{name}"
    if pa.types.is_unsigned_integer(t) or pa.types.is_dictionary(t) \
            or pa.types.is_large_string(t) or pa.types.is_large_list(t):
        errors.append(f"{where}: {t} is outside the type contract")
    if (name == "id" or name.endswith("_id")) and pa.types.is_integer(t) and t != pa.int64():
        errors.append(f"{where}: integer ids must be int64, found {t}")
    if name in ("created_at", "updated_at") and not pa.types.is_timestamp(t):
        errors.append(f"{where}: must be a timestamp, found {t}")
    if pa.types.is_timestamp(t):
        if t.unit != "us" or t.tz != "UTC":
            errors.append(f"{where}: timestamps must be µs UTC, found {t}")
        return "TIMESTAMP WITH TIME ZONE", pl.Datetime("us", "UTC")
    if pa.types.is_decimal(t):
        if (t.precision, t.scale) not in ((18, 2), (18, 4)):
            errors.append(f"{where}: decimals must be (18,2) or (18,4), found {t}")
        return f"DECIMAL({t.precision},{t.scale})", pl.Decimal(t.precision, t.scale)
    if t == pa.int64():
        return "BIGINT", pl.Int64
    if pa.types.is_date32(t):
        return "DATE", pl.Date
    if t == pa.list_(pa.string()) or (pa.types.is_list(t) and t.value_type == pa.string()):
        return "VARCHAR[]", pl.List(pl.String)
    if pa.types.is_list(t):
        errors.append(f"{where}: lists must hold strings, found {t}")
        return None, None
    simple = {
        pa.string(): ("VARCHAR", pl.String),
        pa.bool_(): ("BOOLEAN", pl.Boolean),
        pa.float64(): ("DOUBLE", pl.Float64),
        pa.int32(): ("INTEGER", pl.Int32),
    }
    return simple.get(t, (None, None))


def check_table(out, table, tmp, errors):
    files = out.files(table)
    report = {"files": len(files)}
    if not files:
        report["note"] = "no parquet files"
        return report

    # pyarrow: the reference schema, and every file must carry the same one.
    dataset = ds.dataset(files, format="parquet", filesystem=out.fs)
    schema = dataset.schema
    for fragment in dataset.get_fragments():
        if not fragment.physical_schema.equals(schema):
            errors.append(f"{table}: {fragment.path} has a different schema")
        for column in fragment.metadata.schema:
            if column.physical_type == "INT96":
                errors.append(f"{table}: {fragment.path} stores {column.name} as INT96")
    arrow_table = dataset.to_table()

    con = duckdb.connect()
    local = out.local_copy(table, files, tmp)
    source = f"read_parquet('{local}/*.parquet')"
    duck_types = dict(
        (row[0], row[1]) for row in con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()
    )
    frame = pl.scan_parquet(out.polars_glob(table), storage_options=out.storage_options,
                            hive_partitioning=False)
    polars_schema = frame.collect_schema()

    rows = {
        "duckdb": con.execute(f"SELECT count(*) FROM {source}").fetchone()[0],
        "pyarrow": dataset.count_rows(),
        "polars": frame.select(pl.len()).collect().item(),
    }
    report["rows"] = rows
    if len(set(rows.values())) != 1:
        errors.append(f"{table}: row counts differ {rows}")

    columns = {}
    for field in schema:
        name, t = field.name, field.type
        want_duck, want_polars = expected_types(name, t, errors, table)
        got = {"arrow": str(t), "duckdb": duck_types.get(name),
               "polars": str(polars_schema.get(name))}
        if want_duck and got["duckdb"] != want_duck:
            errors.append(f"{table}.{name}: DuckDB reads {got['duckdb']}, expected {want_duck}")
        if want_polars is not None and polars_schema.get(name) != want_polars:
            errors.append(f"{table}.{name}: polars reads {got['polars']}, expected {want_polars}")
        kind = stats_kind(t)
        stats = {
            "pyarrow": pyarrow_stats(arrow_table, name, kind),
            "duckdb": duckdb_stats(con, source, name, kind),
            "polars": polars_stats(frame, name, kind),
        }
        if not stats["pyarrow"] == stats["duckdb"] == stats["polars"]:
            errors.append(f"{table}.{name}: readers disagree {stats}")
        got["stats"] = stats["pyarrow"]
        columns[name] = got
    report["columns"] = columns
    return report


def main(argv):
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    out = Output(argv[1])
    errors, tables = [], {}
    with tempfile.TemporaryDirectory() as tmp:
        try:
            names = out.tables()
        except Exception as e:  # noqa: BLE001: reported, not raised
            names = []
            errors.append(f"cannot list {argv[1]}: {type(e).__name__}: {e}")
        for table in names:
            try:
                tables[table] = check_table(out, table, tmp, errors)
            except Exception as e:  # noqa: BLE001: one table's failure must not hide the others
                errors.append(f"{table}: {type(e).__name__}: {e}")
    if not names and not errors:
        errors.append(f"no table folders in {argv[1]}")
    summary = {
        "root": argv[1],
        "ok": not errors,
        "errors": errors,
        "versions": {"duckdb": duckdb.__version__, "pyarrow": pa.__version__,
                     "polars": pl.__version__},
        "tables": tables,
    }
    print(json.dumps(summary, indent=2, default=str))
    return 0 if not errors else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
