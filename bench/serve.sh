#!/usr/bin/env bash
# `lake serve` at scale: a catalog of 10,000 datasets x 20 versions (bench/fill_catalog.py), then
# 50 requests each of the home page, searches, a dataset page, the whole-lake lineage and the
# JSON listing. Reports the server's own time per page (its Server-Timing header: median, p95,
# max) beside the whole request as curl sees it, and the page size.
#
#   bench/serve.sh [DATASETS]      (default 10000; LAKE_BIN: a release binary built already)
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
n=${1:-10000}
work="$repo/bench/work/serve"
source "$repo/bench/lake_bin.sh"   # LAKE_BIN: a release binary built already
rm -rf "$work" && "$lake" init "$work" -q > /dev/null
cd "$work"
python3 "$repo/bench/fill_catalog.py" .lake/catalog.sqlite "$n"
"$lake" reindex > /dev/null

"$lake" serve --bind 127.0.0.1:0 --json > serve.out 2> serve.err &
pid=$!
trap 'kill "$pid" 2>/dev/null || true' EXIT
for _ in $(seq 100); do grep -q url serve.out 2>/dev/null && break; sleep 0.1; done
url=$(python3 -c 'import json,sys; print(json.load(open("serve.out"))["url"].rstrip("/"))')
one=$(python3 -c 'import sqlite3; c=sqlite3.connect(".lake/catalog.sqlite"); print("%s.%s" % c.execute("SELECT zone, name FROM datasets WHERE id = 42").fetchone())')

python3 - "$url" "$one" <<'PY'
import statistics, sys, time, urllib.request
url, one = sys.argv[1], sys.argv[2]
pages = [("home", "/"), ("search", "/search?q=orders+revenue"), ("search zone", "/search?q=fraud&zone=gold"),
         ("dataset", f"/dataset/{one}"), ("lineage", "/lineage"), ("api/ls", "/api/ls")]
print(f"{'page':<12} {'server p50':>11} {'p95':>8} {'max':>8} {'request p50':>12} {'size':>10}")
for name, path in pages:
    server, whole, size = [], [], 0
    for i in range(51):
        t = time.monotonic()
        with urllib.request.urlopen(url + path) as r:
            body = r.read()
            timing = r.headers["Server-Timing"]
        if i == 0:
            continue  # the first request warms the catalog's page cache
        whole.append((time.monotonic() - t) * 1000)
        server.append(float(timing.split("dur=")[1]))
        size = len(body)
    server.sort()
    p95 = server[int(0.95 * len(server)) - 1]
    print(f"{name:<12} {statistics.median(server):>9.1f}ms {p95:>6.1f}ms {server[-1]:>6.1f}ms "
          f"{statistics.median(whole):>10.1f}ms {size / 1024:>8.0f} KiB")
PY
