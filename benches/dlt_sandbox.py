"""dlt's declarative `rest_api` source against the Dentally sandbox, to a local Parquet folder.

    python dlt_sandbox.py BASE_URL OUT_DIR CATALOG.json WINDOW_FROM WINDOW_TO

This is how a user would point dlt at Dentally: one client with the bearer token and a
`page_number` paginator reading `meta.total_pages`, `per_page=100` on every list, the envelope
key as data selector, `fees` resolved per treatment id (as the API requires), the windowed
resources (`appointments`, `rota_practitioner_diaries`) asked once for the whole window
(dlt has no slicing of its own; the sandbox accepts any window length), `practice` as a single
page. Destination: `filesystem` at `file://OUT_DIR`, `loader_file_format="parquet"`, replace.
The last stdout line is JSON: {"seconds", "rows", "tables": {table: rows}}.
"""

import json
import os
import sys
import time

os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")

import dlt  # noqa: E402
from dlt.sources.rest_api import rest_api_source  # noqa: E402


def resource_config(entry, window_from, window_to):
    config = {
        "name": entry["name"],
        "primary_key": entry["primary_key"],
        "endpoint": {
            "path": entry["path"].removeprefix("/v1/"),
            "data_selector": entry["envelope"],
            "params": {"per_page": 100},
        },
    }
    endpoint = config["endpoint"]
    window = entry["window"]
    if entry["single"]:
        endpoint["paginator"] = "single_page"
        endpoint["params"] = {}
    elif isinstance(window, dict) and "parent" in window:
        endpoint["params"][window["param"]] = "{resources." + window["parent"] + ".id}"
    elif isinstance(window, dict):
        endpoint["params"][window["after"]] = window_from
        endpoint["params"][window["before"]] = window_to
    return config


def main():
    base_url, out, catalog_path, window_from, window_to = sys.argv[1:6]
    with open(catalog_path) as f:
        catalog = json.load(f)
    source = rest_api_source(
        {
            "client": {
                "base_url": base_url.rstrip("/") + "/v1/",
                "headers": {
                    "Authorization": "Bearer sandbox-read",
                    "User-Agent": "dlt-benchmark",
                },
                "paginator": {
                    "type": "page_number",
                    "page_param": "page",
                    "base_page": 1,
                    "total_path": "meta.total_pages",
                },
            },
            "resource_defaults": {"write_disposition": "replace"},
            "resources": [resource_config(e, window_from, window_to) for e in catalog],
        }
    )
    pipeline = dlt.pipeline(
        pipeline_name="dentally_bench",
        pipelines_dir=os.path.join(out, "_dlt_pipelines"),
        destination=dlt.destinations.filesystem(bucket_url="file://" + os.path.abspath(out)),
        dataset_name="dentally",
        progress="log" if os.environ.get("DLT_PROGRESS") else None,
    )
    started = time.perf_counter()
    pipeline.run(source, loader_file_format="parquet")
    seconds = time.perf_counter() - started
    counts = pipeline.last_trace.last_normalize_info.row_counts
    tables = {t: n for t, n in counts.items() if not t.startswith("_dlt")}
    rows = sum(n for t, n in tables.items() if "__" not in t)
    print(json.dumps({"seconds": seconds, "rows": rows, "tables": tables}))


if __name__ == "__main__":
    main()
