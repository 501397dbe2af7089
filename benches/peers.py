"""NDJSON -> Parquet with the tools users would pick instead of dentally-etl.

    python peers.py TOOL OUT_DIR RESOURCE=FILE.ndjson...     (TOOL: pyarrow | duckdb | polars)

Each tool reads every file with its own JSON reader (schema inferred, as a user would) and writes
`OUT_DIR/<resource>.parquet` with Zstd, the compression dentally-etl writes. The last stdout line
is JSON: {"seconds", "rows", "resources": {name: {"rows", "seconds"} | {"error"}}}, timed in
process (reading, parsing, encoding, writing; not interpreter start or imports). A file the tool
cannot read is reported with its error and left out of "rows" and "seconds".
"""

import json
import os
import sys
import time


def pyarrow_convert(src, dst):
    import pyarrow.json as pj
    import pyarrow.parquet as pq

    table = pj.read_json(src)
    pq.write_table(table, dst, compression="zstd")
    return table.num_rows


def duckdb_convert(src, dst):
    import duckdb

    con = duckdb.connect()
    con.execute(
        f"COPY (SELECT * FROM read_json('{src}', format = 'newline_delimited')) "
        f"TO '{dst}' (FORMAT parquet, COMPRESSION zstd)"
    )
    rows = con.execute(f"SELECT count(*) FROM read_parquet('{dst}')").fetchone()[0]
    con.close()
    return rows


def polars_convert(src, dst):
    import polars as pl

    frame = pl.read_ndjson(src, infer_schema_length=None)
    frame.write_parquet(dst, compression="zstd")
    return frame.height


TOOLS = {"pyarrow": pyarrow_convert, "duckdb": duckdb_convert, "polars": polars_convert}


def main():
    tool, out, inputs = sys.argv[1], sys.argv[2], sys.argv[3:]
    convert = TOOLS[tool]
    __import__({"pyarrow": "pyarrow.json", "duckdb": "duckdb", "polars": "polars"}[tool])
    os.makedirs(out, exist_ok=True)
    total_rows, total_seconds, per = 0, 0.0, {}
    for item in inputs:
        name, path = item.split("=", 1)
        started = time.perf_counter()
        try:
            rows = convert(path, os.path.join(out, f"{name}.parquet"))
        except Exception as err:  # noqa: BLE001 - a failure is a result here
            per[name] = {"error": f"{type(err).__name__}: {str(err).splitlines()[0][:200]}"}
            continue
        seconds = time.perf_counter() - started
        per[name] = {"rows": rows, "seconds": seconds}
        total_rows += rows
        total_seconds += seconds
    print(json.dumps({"seconds": total_seconds, "rows": total_rows, "resources": per}))


if __name__ == "__main__":
    main()
