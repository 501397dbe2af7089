#!/usr/bin/env python3
"""Reads the Delta tables of a dentally-etl output with the `deltalake` package (delta-rs), and
with polars and DuckDB through it.

Usage:
  delta_versions.py snapshot OUTPUT
      Prints {table: {"version": v, "files": [paths relative to OUTPUT], "rows": n}} for the
      newest version of every table.
  delta_versions.py check OUTPUT LATEST.json...
      Each LATEST.json is a copy of `_runs/latest.json` taken right after a run. For every table
      it names, version `version` (opened now, however many runs later) must hold exactly the
      files the run published, and its contents read by deltalake, polars and DuckDB must equal
      pyarrow's read of those files. Prints {"ok", "errors", "checked"}; exits 1 on any error.
"""

import glob
import json
import os
import sys

import duckdb
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
from deltalake import DeltaTable

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from check_readers import delta_files, summary  # noqa: E402


def snapshot(root):
    out = {}
    for log in sorted(glob.glob(os.path.join(root, "*", "_delta_log"))):
        table_dir = os.path.dirname(log)
        name = os.path.basename(table_dir)
        t = DeltaTable(table_dir)
        out[name] = {
            "version": t.version(),
            "files": sorted(f"{name}/{f}" for f in delta_files(t)),
            "rows": t.to_pyarrow_table().num_rows,
        }
    return out


def contents(table, schema):
    cols = {f.name: table.column(f.name).to_pylist() for f in schema}
    return summary(cols, schema)


def check(root, latests):
    errors, checked = [], 0
    for path in latests:
        latest = json.load(open(path))
        for t in latest["tables"]:
            name, version = t["name"], t.get("version")
            if version is None:
                errors.append(f"{path}: {name} has no Delta version")
                continue
            table_dir = os.path.join(root, name)
            dt = DeltaTable(table_dir, version=version)
            got = sorted(f"{name}/{f}" for f in delta_files(dt))
            if got != sorted(t["files"]):
                errors.append(f"{name} v{version}: files {got} != run {latest['run_id']}'s {sorted(t['files'])}")
                continue
            plain = pa.concat_tables([pq.read_table(os.path.join(root, f)) for f in t["files"]])
            schema = plain.schema
            want = contents(plain, schema)
            delta = dt.to_pyarrow_table()
            readers = {"deltalake": delta}
            readers["polars"] = pl.read_delta(table_dir, version=version).to_arrow()
            con = duckdb.connect()
            con.register("snap", dt.to_pyarrow_dataset())
            readers["duckdb"] = con.sql("select * from snap").to_arrow_table()
            for reader, got_table in readers.items():
                if got_table.num_rows != plain.num_rows:
                    errors.append(f"{name} v{version}: {reader} {got_table.num_rows} rows, files {plain.num_rows}")
                    continue
                sums = contents(got_table.select([f.name for f in schema]), schema)
                bad = [c for c in want if sums[c] != want[c]]
                if bad:
                    errors.append(f"{name} v{version}: {reader} differs in {bad}")
            checked += 1
    return errors, checked


def main():
    if len(sys.argv) >= 3 and sys.argv[1] == "snapshot":
        print(json.dumps(snapshot(sys.argv[2])))
        return
    if len(sys.argv) >= 4 and sys.argv[1] == "check":
        errors, checked = check(sys.argv[2], sys.argv[3:])
        print(json.dumps({"ok": not errors, "errors": errors, "checked": checked}))
        sys.exit(1 if errors else 0)
    print(__doc__, file=sys.stderr)
    sys.exit(2)


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
