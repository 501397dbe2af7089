#!/bin/bash
# What a read of appointments (a 490-day window, sandbox scale 2) costs when the API ignores one
# of its filters: ./benches/ignored_filter_costs.sh LABEL [sandbox flags], e.g.
#   ./benches/ignored_filter_costs.sh normal
#   ./benches/ignored_filter_costs.sh after-ignored --ignore-filter appointments:after
# Needs a built binary (cargo build); writes under /tmp/meas. Prints rows, requests, slices and
# the filters the run found ignored, from the run's manifest.
bin=${DENTALLY_ETL:-$(cd "$(dirname "$0")/.." && pwd)/target/debug/dentally-etl}
mkdir -p /tmp/meas && cd /tmp/meas || exit 1
label=$1; shift
rm -rf "out-$label"
"$bin" sandbox --port 18791 --scale 2 "$@" > /dev/null 2>&1 &
pid=$!; sleep 2
cat > p-$label.toml <<P
name = "meas"
[source]
base_url = "http://127.0.0.1:18791"
token_env = "DENTALLY_API_TOKEN"
[output]
url = "/tmp/meas/out-$label"
[[resources]]
name = "appointments"
window = { from = "-400d", to = "+90d" }
P
DENTALLY_API_TOKEN=sandbox-read "$bin" --quiet run p-$label.toml --json > m-$label.json 2> e-$label.log
echo "$label exit $?"
kill $pid; wait $pid 2>/dev/null
python3 -c "import json; m=json.load(open('m-$label.json')); r=m['resources'][0]; print('$label', r['rows'], 'rows', r['requests'], 'requests', r['slices'], 'slices', r['paging'].get('ignored_filters'))"
