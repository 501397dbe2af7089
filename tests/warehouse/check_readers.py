#!/usr/bin/env python3
"""Reads every table of a dentally-etl output with readers outside the Arrow family (Spark's
parquet-java, fastparquet) and compares each with pyarrow's read.

Usage: check_readers.py OUTPUT plain|delta

plain: a table's files are the ones `_runs/latest.json` names (the completion marker).
delta: a table's files are those of its Delta snapshot (read with the `deltalake` package); Spark
       reads those Parquet files (its Delta reader needs jars from Maven, which tests do not
       download) and the `deltalake` read itself is compared too.

Per table and reader: the row count, the type of every column (mapped to one vocabulary), and a
checksum of every column's values (order-independent: a hash of the sorted, normalised values)
must equal pyarrow's. Spark starts once (local[1]) for all tables.

Prints one JSON object (`ok`, `errors`, `tables`) and exits 1 if any check failed.
"""

import datetime as dt
import decimal
import glob
import hashlib
import json
import math
import os
import sys

import pyarrow as pa
import pyarrow.parquet as pq

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)


def arrow_kind(t):
    """One type vocabulary for every reader."""
    if pa.types.is_boolean(t):
        return "boolean"
    if pa.types.is_integer(t):
        return "integer"
    if pa.types.is_floating(t):
        return "float"
    if pa.types.is_decimal(t):
        return f"decimal({t.precision},{t.scale})"
    if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t):
        return "string"
    if pa.types.is_date(t):
        return "date"
    if pa.types.is_timestamp(t):
        return "timestamp_utc" if t.tz is not None else "timestamp"
    if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_list_view(t):
        return f"list<{arrow_kind(t.value_type)}>"
    return str(t)


def spark_kind(t):
    from pyspark.sql import types as T

    if isinstance(t, T.BooleanType):
        return "boolean"
    if isinstance(t, (T.ByteType, T.ShortType, T.IntegerType, T.LongType)):
        return "integer"
    if isinstance(t, (T.FloatType, T.DoubleType)):
        return "float"
    if isinstance(t, T.DecimalType):
        return f"decimal({t.precision},{t.scale})"
    if isinstance(t, T.StringType):
        return "string"
    if isinstance(t, T.DateType):
        return "date"
    if isinstance(t, T.TimestampType):
        return "timestamp_utc"  # Spark's TIMESTAMP is an instant (LTZ)
    if isinstance(t, T.ArrayType):
        return f"list<{spark_kind(t.elementType)}>"
    return t.simpleString()


def fastparquet_kind(dtype, arrow_type):
    """fastparquet returns pandas dtypes: check the family that holds the Arrow type's values."""
    kind = getattr(dtype, "kind", "O")
    tz = getattr(dtype, "tz", None)
    a = arrow_kind(arrow_type)
    if a == "timestamp_utc":
        # fastparquet gives UTC instants as naive datetime64 unless pandas metadata names a zone
        return a if kind == "M" and (tz is None or str(tz) in ("UTC", "utc")) else f"{dtype}"
    if a == "date":
        return a if kind in ("M", "O") else str(dtype)
    if a == "integer":
        return a if kind in ("i", "u", "f") or str(dtype) in ("Int64", "Int32") else str(dtype)
    if a == "boolean":
        return a if kind in ("b", "O") or str(dtype) == "boolean" else str(dtype)
    if a.startswith("decimal"):
        return a if kind in ("f", "O") else str(dtype)
    if a == "string" or a.startswith("list"):
        return a if kind == "O" or str(dtype) == "string" else str(dtype)
    return a


def norm(v, t):
    """A value as the same plain Python value whichever reader produced it."""
    if v is None:
        return None
    try:
        import pandas as pd

        if v is pd.NaT or (not isinstance(v, (list, tuple, str, bytes)) and hasattr(v, "__len__") is False and pd.isna(v)):
            return None
    except (ImportError, TypeError, ValueError):
        pass
    if isinstance(v, float) and math.isnan(v):
        return None
    if pa.types.is_boolean(t):
        return bool(v)
    if pa.types.is_integer(t):
        return int(v)
    if pa.types.is_decimal(t):
        q = decimal.Decimal(1).scaleb(-t.scale)
        d = v if isinstance(v, decimal.Decimal) else decimal.Decimal(repr(float(v)))
        return str(d.quantize(q))
    if pa.types.is_timestamp(t):
        if hasattr(v, "to_pydatetime"):
            v = v.to_pydatetime()
        if isinstance(v, dt.datetime):
            if v.tzinfo is None:
                v = v.replace(tzinfo=dt.timezone.utc)  # readers run with TZ=UTC
            delta = v - EPOCH
            return (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds
        return int(v)
    if pa.types.is_date(t):
        if hasattr(v, "date") and callable(v.date):
            v = v.date()
        return v.isoformat()
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        return tuple(norm(x, t.value_type) for x in list(v))
    if isinstance(v, bytes):
        return v.decode()
    return str(v)


def checksum(values, t):
    normed = sorted((repr(norm(v, t)) for v in values))
    return hashlib.sha256("\n".join(normed).encode()).hexdigest()[:16]


def summary(columns, schema):
    """columns: name -> list of values; schema: the pyarrow schema giving each column's type."""
    return {f.name: checksum(columns[f.name], f.type) for f in schema}


def delta_files(table):
    """The data files of a Delta snapshot, relative to the table folder."""
    return pa.table(table.get_add_actions(flatten=True)).column("path").to_pylist()


def tables_plain(root):
    latest = json.load(open(os.path.join(root, "_runs", "latest.json")))
    return {t["name"]: [os.path.join(root, f) for f in t["files"]] for t in latest["tables"]}


def tables_delta(root):
    from deltalake import DeltaTable

    out = {}
    for log in sorted(glob.glob(os.path.join(root, "*", "_delta_log"))):
        table_dir = os.path.dirname(log)
        dt_ = DeltaTable(table_dir)
        files = [os.path.join(table_dir, f) for f in delta_files(dt_)]
        out[os.path.basename(table_dir)] = files
    return out


def main():
    if len(sys.argv) != 3 or sys.argv[2] not in ("plain", "delta"):
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    root, mode = sys.argv[1], sys.argv[2]
    tables = tables_plain(root) if mode == "plain" else tables_delta(root)
    errors, report = [], {}

    expected = {}
    for name, files in tables.items():
        table = pa.concat_tables([pq.read_table(f) for f in files]) if files else None
        if table is None:
            errors.append(f"{name}: no files")
            continue
        expected[name] = (
            table.schema,
            table.num_rows,
            {f.name: arrow_kind(f.type) for f in table.schema},
            summary({c: table.column(c).to_pylist() for c in table.column_names}, table.schema),
        )
        report[name] = {"files": len(files), "rows": table.num_rows}

    def compare(reader, name, rows, kinds, sums):
        schema, want_rows, want_kinds, want_sums = expected[name]
        if rows != want_rows:
            errors.append(f"{name}: {reader} counts {rows} rows, pyarrow {want_rows}")
        for col, k in want_kinds.items():
            if kinds.get(col) != k:
                errors.append(f"{name}.{col}: {reader} type {kinds.get(col)}, pyarrow {k}")
            elif sums.get(col) != want_sums[col]:
                errors.append(f"{name}.{col}: {reader} values differ from pyarrow's")
        report[name][reader] = rows

    # fastparquet
    import fastparquet

    for name, files in tables.items():
        if name not in expected:
            continue
        schema = expected[name][0]
        try:
            frames = [fastparquet.ParquetFile(f).to_pandas() for f in files]
            import pandas as pd

            df = pd.concat(frames) if len(frames) > 1 else frames[0]
            kinds = {f.name: fastparquet_kind(df[f.name].dtype, f.type) for f in schema}
            cols = {f.name: df[f.name].tolist() for f in schema}
            compare("fastparquet", name, len(df), kinds, summary(cols, schema))
        except Exception as e:  # a reader that refuses a file is the failure we look for
            errors.append(f"{name}: fastparquet cannot read it: {type(e).__name__}: {e}")

    # Spark (parquet-java), one JVM for every table
    from pyspark.sql import SparkSession

    spark = (
        SparkSession.builder.master("local[1]")
        .appName("dentally-etl-readers")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.driver.memory", "1g")
        .config("spark.sql.shuffle.partitions", "1")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    for name, files in tables.items():
        if name not in expected:
            continue
        schema = expected[name][0]
        try:
            df = spark.read.parquet(*files)
            rows = df.collect()
            kinds = {f.name: spark_kind(f.dataType) for f in df.schema.fields}
            cols = {f.name: [r[f.name] for r in rows] for f in schema}
            compare("spark", name, len(rows), kinds, summary(cols, schema))
        except Exception as e:
            errors.append(f"{name}: Spark cannot read it: {type(e).__name__}: {str(e)[:500]}")
    versions = {"spark": spark.version, "fastparquet": fastparquet.__version__, "pyarrow": pa.__version__}
    spark.stop()

    # deltalake's own read of the snapshot (Delta only)
    if mode == "delta":
        from deltalake import DeltaTable

        for name in expected:
            schema = expected[name][0]
            t = DeltaTable(os.path.join(root, name)).to_pyarrow_table()
            kinds = {f.name: arrow_kind(f.type) for f in t.schema}
            cols = {c: t.column(c).to_pylist() for c in t.column_names}
            compare("deltalake", name, t.num_rows, kinds, summary(cols, schema))

    print(json.dumps({"ok": not errors, "errors": errors, "versions": versions, "tables": report}))
    sys.exit(1 if errors else 0)


if __name__ == "__main__":
    # deltalake's native threads can abort the interpreter at exit ("terminate called without an
    # active exception", SIGABRT) after the answer is printed; leave without running finalisers.
    try:
        main()
        CODE = 0
    except SystemExit as e:
        CODE = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(CODE)
