#!/usr/bin/env python3
"""Count-guided reconciliation against a full re-read, on a large `patients` table.

    python3 benches/reconcile_scale.py [--scale 1000] [--binary target/debug/dentally-etl]

Starts `dentally-etl sandbox` at `--scale` (1000: about 1,000,000 patients; the rate limit out
of the way, the default harsh behaviour otherwise: the 413 wall, ignored filters, newest-first
order), then keeps two outputs of the same incremental pipeline: one with
`reconcile_deletes = "counts"`, one with `"always"` (a full reconciling re-read every run).
After the first full read of each, for k = 0, 10, 100, 1000 it deletes k scattered patients in
the sandbox and runs the counting pipeline (the full re-read, whose cost does not depend on k,
runs in the last round only unless `--all-rounds`), recording the requests the run made (the manifest's `api.requests`),
its wall time, and the rows marked deleted (which must be exactly the k of that round plus
those before). Prints a markdown table and writes the figures as JSON (`--json`).
Standard library only.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request


def post(url):
    req = urllib.request.Request(url, method="POST")
    with urllib.request.urlopen(req) as r:
        return json.load(r)


def latest_manifest(out):
    with open(os.path.join(out, "_runs", "latest.json")) as f:
        latest = json.load(f)
    with open(os.path.join(out, latest["manifest"])) as f:
        return json.load(f)


def pipeline(dirname, base, mode):
    out = os.path.join(dirname, mode)
    text = f"""name = "bench"
[source]
base_url = "{base}"
token_env = "DENTALLY_API_TOKEN"
requests_per_hour = 100000
[output]
url = "{out}"
[defaults]
mode = "incremental"
reconcile_deletes = "{mode}"

[[resources]]
name = "patients"
"""
    path = os.path.join(dirname, f"{mode}.toml")
    with open(path, "w") as f:
        f.write(text)
    return path, out


def run(binary, path, out):
    env = dict(os.environ, DENTALLY_API_TOKEN="sandbox-read")
    started = time.monotonic()
    done = subprocess.run([binary, "--quiet", "run", path], env=env, capture_output=True, text=True)
    seconds = time.monotonic() - started
    if done.returncode != 0:
        sys.exit(f"run of {path} failed ({done.returncode}):\n{done.stderr}")
    m = latest_manifest(out)
    entry = next(r for r in m["resources"] if r["name"] == "patients")
    marked = (entry.get("reconcile") or {}).get("rows_marked")
    return {"requests": m["api"]["requests"], "seconds": round(seconds, 1), "marked": marked,
            "rows": entry["rows"], "mode": entry["mode"]}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--scale", type=float, default=1000)
    ap.add_argument("--binary", default="target/debug/dentally-etl")
    ap.add_argument("--port", type=int, default=18791)
    ap.add_argument("--json", default="target/bench/reconcile_scale.json")
    ap.add_argument("--all-rounds", action="store_true")
    args = ap.parse_args()
    base = f"http://127.0.0.1:{args.port}"
    sandbox = subprocess.Popen(
        [args.binary, "sandbox", "--port", str(args.port), "--scale", str(args.scale),
         "--rate-limit", "100000000"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(600):
            try:
                urllib.request.urlopen(base + "/_sandbox/faults")
                break
            except OSError:
                time.sleep(0.5)
        results = {"scale": args.scale, "rounds": []}
        with tempfile.TemporaryDirectory() as d:
            counts, counts_out = pipeline(d, base, "counts")
            always, always_out = pipeline(d, base, "always")
            results["first_read"] = {"counts": run(args.binary, counts, counts_out),
                                     "always": run(args.binary, always, always_out)}
            print("first full read:", results["first_read"], flush=True)
            for k in [0, 10, 100, 1000]:
                post(f"{base}/_sandbox/advance?resource=patients&count={k}")
                row = {"k": k, "counts": run(args.binary, counts, counts_out)}
                # A full re-read costs the same whatever k is: measured once, in the last round
                # (`--all-rounds` measures it in every round).
                if args.all_rounds or k == 1000:
                    row["always"] = run(args.binary, always, always_out)
                results["rounds"].append(row)
                print(row, flush=True)
        print()
        print(f"| deletions | counts: requests | counts: seconds | full re-read: requests | full re-read: seconds | rows marked by counts |")
        print("|---|---|---|---|---|---|")
        for r in results["rounds"]:
            c, a = r["counts"], r.get("always")
            full = f"{a['requests']:,} | {a['seconds']}" if a else "(as below) | "
            print(f"| {r['k']} | {c['requests']:,} | {c['seconds']} | {full} | {c['marked']} |")
        os.makedirs(os.path.dirname(args.json), exist_ok=True)
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
    finally:
        sandbox.terminate()
        sandbox.wait()


if __name__ == "__main__":
    main()
