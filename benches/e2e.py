#!/usr/bin/env python3
"""End-to-end benchmark of dentally-etl against the tools users would pick instead.

    python3 benches/e2e.py [--scale 5] [--latency-ms 20] [--runs 3] [--no-dlt] [--smoke]
    python3 benches/e2e.py --memory-scales 1,10,100 --scale 1      (the memory check only)

In one run it:

1. builds `dentally-etl` and `examples/ndjson_to_parquet` (release; `--profile dev` reuses the
   debug build that `cargo test` leaves, which `--smoke` does);
2. starts `dentally-etl sandbox` at the scale and latency asked (rate limit out of the way);
3. runs `dentally-etl run` on a pipeline of every resource, `--runs` times, recording wall time,
   rows/s, peak RSS (`/usr/bin/time -v`) and the requests the sandbox logged, against the
   minimum: the preflight plus ceil(rows/100) per resource and window slice (an empty slice
   still costs one request);
4. replays the run's slices against the sandbox API (per_page=100, every page) to dump the very
   same records as NDJSON, one file per resource, and checks the counts against the run;
5. times the same NDJSON → Parquet conversion with pyarrow, DuckDB, polars and our own flatten +
   sink (`examples/ndjson_to_parquet`), `--peer-runs` times each;
6. runs dlt's `rest_api` source (`benches/dlt_sandbox.py`) against the same sandbox, recording
   wall time, peak RSS and requests;
7. prints one table of ratios (ours/theirs) and writes everything as JSON (`--json`).

Python peers live in a virtualenv this script creates (`target/bench-venv`). `--smoke` is a tiny
run for CI (scale 0.05, no latency, one run each, no dlt: dlt takes about a minute to install and
tens of seconds to start); it fails only when something breaks (a run fails, the NDJSON does not
match the run, our converter fails), never on a missed target. Targets are reported, not
asserted. Standard library only; Linux (`/usr/bin/time -v`).
"""

import argparse
import concurrent.futures
import json
import math
import os
import shutil
import signal
import statistics
import subprocess
import sys
import time
import urllib.parse
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCHES = os.path.join(ROOT, "benches")
TOKEN = "sandbox-read"
WINDOW = ("-400d", "+90d")
PEERS = ["pyarrow", "duckdb", "polars"]


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--scale", type=float, default=5.0, help="sandbox scale (1 ≈ 1,000 patients)")
    p.add_argument("--latency-ms", type=int, default=20, help="latency added to every API answer")
    p.add_argument("--runs", type=int, default=3, help="runs of dentally-etl and of dlt")
    p.add_argument("--peer-runs", type=int, default=3, help="runs of each NDJSON converter")
    p.add_argument("--no-dlt", action="store_true", help="skip dlt")
    p.add_argument("--dlt-runs", type=int, default=None, help="runs of dlt (default: --runs)")
    p.add_argument("--profile", choices=["release", "dev"], default=None)
    p.add_argument("--no-build", action="store_true", help="use the binaries already built")
    p.add_argument("--memory-scales", default=None,
                   help="only the memory check: comma-separated multiples of --scale (1,10,100)")
    p.add_argument("--skip", default="",
                   help="comma-separated resources left out of the pipeline (e.g. fees)")
    p.add_argument("--out", default=os.path.join(ROOT, "target", "bench"), help="work folder")
    p.add_argument("--json", default=None, help="results file (default: OUT/e2e.json)")
    p.add_argument("--smoke", action="store_true", help="tiny CI run (see above)")
    args = p.parse_args()
    if args.smoke:
        args.scale, args.latency_ms, args.runs, args.peer_runs = 0.05, 0, 1, 1
        args.no_dlt = True
        args.profile = args.profile or "dev"
    args.profile = args.profile or "release"
    args.dlt_runs = args.runs if args.dlt_runs is None else args.dlt_runs
    args.json = args.json or os.path.join(args.out, "e2e.json")
    return args


def log(msg):
    print(f"[e2e] {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------
# Tools: build, venv, timed subprocesses


def build(profile):
    cmd = ["cargo", "build", "--bin", "dentally-etl", "--example", "ndjson_to_parquet"]
    if profile == "release":
        # Without the `models` feature (polars): nothing measured here runs a model, and it
        # takes the release build from about 30 minutes to about 7 on 2 cores.
        cmd[2:2] = ["--release", "--no-default-features"]
    log(" ".join(cmd))
    subprocess.run(cmd, cwd=ROOT, check=True)


def binaries(profile):
    folder = os.path.join(ROOT, "target", "release" if profile == "release" else "debug")
    return os.path.join(folder, "dentally-etl"), os.path.join(folder, "examples", "ndjson_to_parquet")


def venv(with_dlt):
    """target/bench-venv with the peers; returns its python."""
    path = os.path.join(ROOT, "target", "bench-venv")
    python = os.path.join(path, "bin", "python")
    if not os.path.exists(python):
        log(f"creating {path}")
        subprocess.run([sys.executable, "-m", "venv", path], check=True)
    wanted = {"pyarrow": "pyarrow", "duckdb": "duckdb", "polars": "polars"}
    if with_dlt:
        wanted["dlt"] = "dlt[parquet]"
    missing = [pkg for mod, pkg in wanted.items()
               if subprocess.run([python, "-c", f"import {mod}"], capture_output=True).returncode]
    if missing:
        log(f"pip install {' '.join(missing)}")
        subprocess.run([python, "-m", "pip", "install", "-q", *missing], check=True)
    return python


def ensure_time():
    if os.path.exists("/usr/bin/time"):
        return
    log("installing GNU time (apt)")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(["apt-get", "install", "-y", "-qq", "time"], check=True, env=env)


def timed(cmd, env=None, cwd=None):
    """Runs cmd under /usr/bin/time -v: (wall seconds, peak RSS MiB, stdout, returncode).

    The CPU seconds (user + system) of the last command are kept in `timed.cpu`."""
    started = time.perf_counter()
    proc = subprocess.run(["/usr/bin/time", "-v", *cmd], capture_output=True, text=True,
                          env=env, cwd=cwd)
    wall = time.perf_counter() - started
    rss_kb, timed.cpu = 0, 0.0
    for line in proc.stderr.splitlines():
        if "Maximum resident set size" in line:
            rss_kb = int(line.rsplit(":", 1)[1])
        elif "User time (seconds)" in line or "System time (seconds)" in line:
            timed.cpu += float(line.rsplit(":", 1)[1])
    if proc.returncode != 0:
        log(f"command failed ({proc.returncode}): {' '.join(cmd)}\n{proc.stderr[-3000:]}")
    return wall, rss_kb / 1024, proc.stdout, proc.returncode


def last_json(stdout):
    """The JSON document on stdout: all of it, or else its last line."""
    try:
        return json.loads(stdout)
    except json.JSONDecodeError:
        return json.loads(stdout.strip().splitlines()[-1])


def spread(values):
    values = [v for v in values if v is not None]
    if not values:
        return None
    return {"min": min(values), "median": statistics.median(values), "max": max(values),
            "runs": len(values)}


# ---------------------------------------------------------------------------------------------
# The sandbox


class Sandbox:
    def __init__(self, exe, scale, latency_ms, logfile):
        cmd = [exe, "sandbox", "--port", "0", "--scale", str(scale), "--latency-ms",
               str(latency_ms), "--rate-limit", "2000000000"]
        self.stderr = open(logfile, "w")
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=self.stderr, text=True)
        self.url = self.proc.stdout.readline().strip()
        if not self.url.startswith("http"):
            self.stop()
            raise RuntimeError(f"sandbox did not start (see {logfile})")
        log(f"sandbox at {self.url} (scale {scale}, latency {latency_ms} ms)")

    def get(self, path, query=None, token=True):
        url = self.url + path + ("?" + urllib.parse.urlencode(query) if query else "")
        headers = {"User-Agent": "dentally-etl-bench"}
        if token:
            headers["Authorization"] = f"Bearer {TOKEN}"
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers)) as r:
            return json.loads(r.read())

    def cpu(self):
        """CPU seconds (user + system) the sandbox has used so far."""
        with open(f"/proc/{self.proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def requests(self):
        return self.get("/_sandbox/requests", token=False)

    def clear(self):
        req = urllib.request.Request(self.url + "/_sandbox/requests", method="DELETE")
        urllib.request.urlopen(req).close()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.stderr.close()


# ---------------------------------------------------------------------------------------------
# dentally-etl run


def write_pipeline(path, catalog, out_dir):
    lines = [
        'name = "bench"',
        "[source]",
        'base_url = "${DENTALLY_BASE_URL}"',
        'token_env = "DENTALLY_API_TOKEN"',
        "[output]",
        f'url = "{out_dir}"',
        'format = "parquet"',
        'compression = "zstd"',
    ]
    for entry in catalog:
        lines += ["[[resources]]", f'name = "{entry["name"]}"']
        if isinstance(entry["window"], dict) and "after" in entry["window"]:
            lines.append(f'window = {{ from = "{WINDOW[0]}", to = "{WINDOW[1]}" }}')
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def run_ours(exe, sandbox, catalog, work, i):
    out_dir = os.path.join(work, f"ours-{i}")
    shutil.rmtree(out_dir, ignore_errors=True)
    pipeline = os.path.join(work, "pipeline.toml")
    write_pipeline(pipeline, catalog, out_dir)
    sandbox.clear()
    env = dict(os.environ, DENTALLY_API_TOKEN=TOKEN, DENTALLY_BASE_URL=sandbox.url)
    sandbox_cpu = sandbox.cpu()
    wall, rss, stdout, rc = timed([exe, "--quiet", "run", pipeline, "--json"], env=env)
    sandbox_cpu = sandbox.cpu() - sandbox_cpu
    if rc != 0:
        raise RuntimeError("dentally-etl run failed")
    manifest = last_json(stdout)
    failed = [r["name"] for r in manifest["resources"] if r["status"] == "failed"]
    rows = sum(r["rows"] for r in manifest["resources"])
    log(f"ours run {i}: {wall:.2f} s, {timed.cpu:.2f} CPU s (sandbox {sandbox_cpu:.2f}), "
        f"{rows} rows, {rss:.0f} MiB, status {manifest['status']}")
    return {"wall": wall, "cpu": timed.cpu, "sandbox_cpu": sandbox_cpu, "rss_mib": rss,
            "rows": rows, "rows_per_s": rows / wall, "rows_per_cpu_s": rows / max(timed.cpu, 1e-9),
            "requests": len(sandbox.requests()), "manifest": manifest, "failed": failed}


# ---------------------------------------------------------------------------------------------
# Requests against the minimum, and the NDJSON dump (both from the run's own slices)


def slices_of(entries, catalog):
    """The run's requests, classified: (preflight count, {(resource, slice query): pages})."""
    by_path = {e["path"]: e for e in catalog}
    preflight, slices = 0, {}
    for req in entries:
        query = urllib.parse.parse_qsl(req["query"])
        params = dict(query)
        resource = by_path.get(req["path"]) or by_path.get("/v1" + req["path"])
        if resource is None or params.get("per_page") == "1":
            preflight += 1  # GET /v1/user and the one-row probes of each resource
            continue
        key = (resource["name"], tuple(sorted((k, v) for k, v in query if k != "page")))
        slices[key] = slices.get(key, 0) + 1
    return preflight, slices


def fetch_slice(sandbox, resource, query):
    """Every record of one slice, paging as the API asks, and its total_count."""
    path = resource["path"]
    if resource["single"]:
        body = sandbox.get(path)
        return [body[resource["envelope"]]], 1
    params = dict(query)
    first = sandbox.get(path, {**params, "page": 1})
    total = first["meta"]["total_count"]
    pages = max(1, math.ceil(total / 100))
    records = list(first[resource["envelope"]])
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        rest = pool.map(lambda n: sandbox.get(path, {**params, "page": n}), range(2, pages + 1))
        for body in rest:
            records.extend(body[resource["envelope"]])
    return records, total


def dump_and_count(sandbox, catalog, entries, work):
    by_name = {e["name"]: e for e in catalog}
    preflight, slices = slices_of(entries, catalog)
    per_resource, files = {}, {}
    ndjson_dir = os.path.join(work, "ndjson")
    shutil.rmtree(ndjson_dir, ignore_errors=True)
    os.makedirs(ndjson_dir)
    handles = {}
    for (name, query), made in sorted(slices.items()):
        records, total = fetch_slice(sandbox, by_name[name], query)
        entry = per_resource.setdefault(name, {"slices": 0, "made": 0, "minimum": 0, "rows": 0})
        entry["slices"] += 1
        entry["made"] += made
        entry["minimum"] += max(1, math.ceil(total / 100))
        entry["rows"] += len(records)
        if records and name not in handles:
            files[name] = os.path.join(ndjson_dir, f"{name}.ndjson")
            handles[name] = open(files[name], "w")
        for record in records:
            handles[name].write(json.dumps(record, separators=(",", ":")) + "\n")
    for h in handles.values():
        h.close()
    made = preflight + sum(e["made"] for e in per_resource.values())
    minimum = preflight + sum(e["minimum"] for e in per_resource.values())
    return {"preflight": preflight, "made": made, "minimum": minimum,
            "per_resource": per_resource}, files


# ---------------------------------------------------------------------------------------------
# Peers


def run_converters(python, converter, files, work, runs):
    inputs = [f"{name}={path}" for name, path in sorted(files.items())]
    results = {}
    for tool in ["ours", *PEERS]:
        results[tool] = []
        for i in range(runs):
            out = os.path.join(work, "converted", tool)
            shutil.rmtree(out, ignore_errors=True)
            os.makedirs(out)
            if tool == "ours":
                cmd = [converter, out, *inputs]
            else:
                cmd = [python, os.path.join(BENCHES, "peers.py"), tool, out, *inputs]
            wall, rss, stdout, rc = timed(cmd)
            if rc != 0:
                if tool == "ours":
                    raise RuntimeError("ndjson_to_parquet failed")
                continue
            res = last_json(stdout)
            res.update(wall=wall, cpu=timed.cpu, rss_mib=rss,
                       rows_per_s=res["rows"] / max(res["seconds"], 1e-9))
            errors = {k: v["error"] for k, v in res["resources"].items() if "error" in v}
            log(f"{tool} run {i}: {res['seconds']:.2f} s in process, {res['rows']} rows, "
                f"{rss:.0f} MiB" + (f", failed on {sorted(errors)}" if errors else ""))
            results[tool].append(res)
    return results


def run_dlt(python, sandbox, catalog_path, work, i):
    out = os.path.join(work, f"dlt-{i}")
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    today = time.gmtime()
    day = time.mktime((today.tm_year, today.tm_mon, today.tm_mday, 12, 0, 0, 0, 0, 0))
    w_from = time.strftime("%Y-%m-%d", time.gmtime(day - 400 * 86400))
    w_to = time.strftime("%Y-%m-%d", time.gmtime(day + 90 * 86400))
    sandbox.clear()
    sandbox_cpu = sandbox.cpu()
    env = dict(os.environ, RUNTIME__DLTHUB_TELEMETRY="false")
    cmd = [python, os.path.join(BENCHES, "dlt_sandbox.py"), sandbox.url, out, catalog_path,
           w_from, w_to]
    wall, rss, stdout, rc = timed(cmd, env=env, cwd=out)
    if rc != 0:
        return None
    res = last_json(stdout)
    res.update(wall=wall, cpu=timed.cpu, sandbox_cpu=sandbox.cpu() - sandbox_cpu, rss_mib=rss,
               requests=len(sandbox.requests()))
    res["rows_per_s"] = res["rows"] / wall
    log(f"dlt run {i}: {wall:.2f} s, {res['rows']} rows, {rss:.0f} MiB, {res['requests']} requests")
    return res


# ---------------------------------------------------------------------------------------------
# Report


def ratio(a, b):
    return None if not a or not b else a / b


def common_rates(ours_runs, peer_runs):
    """Median rows/s of ours and of a peer over the resources the peer could convert."""
    if not peer_runs:
        return None, None
    done = set.intersection(*[{k for k, v in r["resources"].items() if "error" not in v}
                              for r in peer_runs])

    def rate(run):
        rows = sum(run["resources"][k]["rows"] for k in done)
        return rows / max(sum(run["resources"][k]["seconds"] for k in done), 1e-9)
    return (statistics.median(rate(r) for r in ours_runs),
            statistics.median(rate(r) for r in peer_runs))


def summarize(results):
    rows = []
    ours = results["ours_e2e"]
    req = results["requests"]
    rows.append(("requests (ours / minimum)", req["made"], req["minimum"],
                 ratio(req["made"], req["minimum"]), "= 1.0"))
    conv = results["ndjson_to_parquet"]
    for peer in PEERS:
        mine, theirs = common_rates(conv["ours"], conv.get(peer, []))
        target = ">= 1.5" if peer in ("pyarrow", "duckdb") else "(none)"
        rows.append((f"NDJSON→Parquet rows/s (ours / {peer})", mine, theirs,
                     ratio(mine, theirs), target))
    dlt = results.get("dlt_e2e")
    if dlt:
        ours_wall, dlt_wall = spread([r["wall"] for r in ours]), spread([r["wall"] for r in dlt])
        ours_rss, dlt_rss = spread([r["rss_mib"] for r in ours]), spread([r["rss_mib"] for r in dlt])
        rows.append(("end-to-end wall s (ours / dlt)", ours_wall["median"], dlt_wall["median"],
                     ratio(ours_wall["median"], dlt_wall["median"]), "<= 0.2"))
        ours_cpu, dlt_cpu = spread([r["cpu"] for r in ours]), spread([r["cpu"] for r in dlt])
        rows.append(("end-to-end CPU s (ours / dlt)", ours_cpu["median"], dlt_cpu["median"],
                     ratio(ours_cpu["median"], dlt_cpu["median"]), "(info)"))
        rows.append(("end-to-end peak RSS MiB (ours / dlt)", ours_rss["median"],
                     dlt_rss["median"], ratio(ours_rss["median"], dlt_rss["median"]), "<= 0.2"))
        dlt_req = spread([r["requests"] for r in dlt])
        rows.append(("requests (dlt / minimum)", dlt_req["median"], req["minimum"],
                     ratio(dlt_req["median"], req["minimum"]), "(info)"))
    return rows


def print_table(rows):
    def fmt(v):
        if v is None:
            return "—"
        return f"{v:,.3f}" if isinstance(v, float) and abs(v) < 100 else f"{v:,.0f}"
    head = ("metric", "ours", "theirs", "ratio", "target")
    table = [head] + [(m, fmt(a), fmt(b), fmt(r), t) for m, a, b, r, t in rows]
    widths = [max(len(row[c]) for row in table) for c in range(5)]
    for n, row in enumerate(table):
        print("  ".join(cell.ljust(widths[c]) if c == 0 else cell.rjust(widths[c])
                        for c, cell in enumerate(row)))
        if n == 0:
            print("  ".join("-" * w for w in widths))


def machine():
    cpu = ""
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem = subprocess.run(["free", "-h"], capture_output=True, text=True).stdout
    return {"nproc": os.cpu_count(), "cpu": cpu, "free": mem, "loadavg": loadavg()}


def loadavg():
    with open("/proc/loadavg") as f:
        return f.read().split()[:3]


# ---------------------------------------------------------------------------------------------


def memory_check(args, exe, catalog, work):
    results = []
    for mult in [float(m) for m in args.memory_scales.split(",")]:
        scale = args.scale * mult
        sandbox = Sandbox(exe, scale, args.latency_ms, os.path.join(work, "sandbox.log"))
        try:
            res = run_ours(exe, sandbox, catalog, work, f"mem-{mult:g}")
        finally:
            sandbox.stop()
        shutil.rmtree(os.path.join(work, f"ours-mem-{mult:g}"), ignore_errors=True)
        results.append({"multiple": mult, "scale": scale, "rows": res["rows"],
                        "wall": res["wall"], "rss_mib": res["rss_mib"],
                        "requests": res["requests"]})
    print(f"{'multiple':>8}  {'scale':>7}  {'rows':>12}  {'wall s':>8}  {'peak RSS MiB':>12}")
    for r in results:
        print(f"{r['multiple']:>8g}  {r['scale']:>7g}  {r['rows']:>12,}  {r['wall']:>8.1f}  "
              f"{r['rss_mib']:>12.1f}")
    return {"memory_check": results}


def main():
    args = parse_args()
    ensure_time()
    work = os.path.abspath(args.out)
    os.makedirs(work, exist_ok=True)
    if not args.no_build:
        build(args.profile)
    exe, converter = binaries(args.profile)
    catalog_path = os.path.join(work, "catalog.json")
    with open(catalog_path, "w") as f:
        f.write(subprocess.run([converter, "--catalog"], check=True, capture_output=True,
                               text=True).stdout)
    with open(catalog_path) as f:
        skipped = set(filter(None, args.skip.split(",")))
        catalog = [e for e in json.load(f) if e["name"] not in skipped]
        with open(catalog_path, "w") as out:
            json.dump(catalog, out)
    results = {"args": vars(args), "machine": machine(), "started": time.strftime("%FT%TZ", time.gmtime())}
    if args.memory_scales:
        results.update(memory_check(args, exe, catalog, work))
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
        log(f"wrote {args.json}")
        return 0
    python = venv(with_dlt=not args.no_dlt)
    sandbox = Sandbox(exe, args.scale, args.latency_ms, os.path.join(work, "sandbox.log"))
    problems = []
    try:
        runs = [run_ours(exe, sandbox, catalog, work, i) for i in range(args.runs)]
        first = runs[0]
        entries = sandbox.requests()
        for r in runs:
            problems += [f"run: resource {n} failed" for n in r["failed"]]
        requests, files = dump_and_count(sandbox, catalog, entries, work)
        for r in first["manifest"]["resources"]:
            dumped = requests["per_resource"].get(r["name"], {}).get("rows", 0)
            if dumped != r["rows"]:
                problems.append(f"{r['name']}: run has {r['rows']} rows, NDJSON {dumped}")
        for r in runs:
            manifest = r.pop("manifest")
            r["resources"] = {e["name"]: {k: e[k] for k in ("rows", "pages", "slices", "seconds")}
                              for e in manifest["resources"]}
        results.update(ours_e2e=runs, requests=requests)
        log(f"requests: {requests['made']} made, minimum {requests['minimum']} "
            f"(preflight {requests['preflight']})")
        results["ndjson_to_parquet"] = run_converters(python, converter, files, work,
                                                      args.peer_runs)
        ours_rows = {r["rows"] for r in results["ndjson_to_parquet"]["ours"]}
        if ours_rows != {first["rows"]}:
            problems.append(f"ndjson_to_parquet wrote {ours_rows} rows, the run {first['rows']}")
        if not args.no_dlt:
            dlt = [run_dlt(python, sandbox, catalog_path, work, i) for i in range(args.dlt_runs)]
            results["dlt_e2e"] = [d for d in dlt if d]
            if not results["dlt_e2e"]:
                results.pop("dlt_e2e")
                log("dlt failed on every run")
    finally:
        sandbox.stop()
    table = summarize(results)
    results["ratios"] = [dict(zip(("metric", "ours", "theirs", "ratio", "target"), row))
                         for row in table]
    results["problems"] = problems
    results["loadavg_after"] = loadavg()
    results["summary"] = {
        "ours_wall": spread([r["wall"] for r in results["ours_e2e"]]),
        "ours_rows_per_s": spread([r["rows_per_s"] for r in results["ours_e2e"]]),
        "ours_rss_mib": spread([r["rss_mib"] for r in results["ours_e2e"]]),
        "ours_cpu": spread([r["cpu"] for r in results["ours_e2e"]]),
        "ours_rows_per_cpu_s": spread([r["rows_per_cpu_s"] for r in results["ours_e2e"]]),
        "sandbox_cpu_during_ours": spread([r["sandbox_cpu"] for r in results["ours_e2e"]]),
        "rows": first["rows"],
        "converters_rows_per_s": {t: spread([r["rows_per_s"] for r in v])
                                  for t, v in results["ndjson_to_parquet"].items()},
        "converters_rss_mib": {t: spread([r["rss_mib"] for r in v])
                               for t, v in results["ndjson_to_parquet"].items()},
    }
    if "dlt_e2e" in results:
        results["summary"]["dlt_wall"] = spread([r["wall"] for r in results["dlt_e2e"]])
        results["summary"]["dlt_rss_mib"] = spread([r["rss_mib"] for r in results["dlt_e2e"]])
        results["summary"]["dlt_cpu"] = spread([r["cpu"] for r in results["dlt_e2e"]])
        results["summary"]["sandbox_cpu_during_dlt"] = spread(
            [r["sandbox_cpu"] for r in results["dlt_e2e"]])
    with open(args.json, "w") as f:
        json.dump(results, f, indent=2)
    print(f"\n{first['rows']:,} rows, scale {args.scale}, latency {args.latency_ms} ms, "
          f"{args.profile} build")
    print_table(table)
    log(f"wrote {args.json}")
    for p in problems:
        print(f"PROBLEM: {p}")
    if problems:
        return 1
    print("e2e: 1 passed, 0 failed" if args.smoke else "e2e: done")
    return 0


if __name__ == "__main__":
    sys.exit(main())
