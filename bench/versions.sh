#!/usr/bin/env bash
# Read latency against history: a dataset fed 10 rows at a time by a stream, read at 1, 100 and
# 10,000 versions. Each read resolves its version in the catalog and reads that version's one
# manifest (no chain of earlier manifests), so what it costs follows the files the version
# holds. With `[maintain] compact_small_files` (64 by default) streams compact as they go and
# the latest version holds at most about 64 files; with it off every append adds a file to the
# latest version, to its manifest, and to the catalog's version_files (the off run stops at
# 1,000 versions: at 10,000 its manifests alone would be about 15 GB).
#
# Reports, per run: versions, files in the latest version, the median of 5 runs of
# `lake query "SELECT count(*), sum(value) …"`, of `lake scan … --format json`, of a query of
# the middle version (time travel), and the catalog size.
#
#   bench/versions.sh [VERSIONS…]        (default 1 100 10000)
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
source "$repo/bench/lake_bin.sh"   # LAKE_BIN: a release binary built already
work="$repo/bench/work/versions"
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(1 100 10000)

printf '%-10s %9s %6s %10s %10s %12s %10s %10s\n' compaction versions files "query ms" "scan ms" "v/2 query" catalog build
for mode in on off; do
  for n in "${sizes[@]}"; do
    if [ "$mode" = off ] && [ "$n" -gt 1000 ]; then
      continue
    fi
    python3 - "$lake" "$work" "$n" "$mode" <<'PY'
import json, os, sqlite3, statistics, subprocess, sys, time
lake, work, n, mode = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
subprocess.run(["rm", "-rf", work], check=True)
subprocess.run([lake, "init", work, "-q"], check=True, stdout=subprocess.DEVNULL)
if mode == "off":
    toml = os.path.join(work, "lake.toml")
    text = open(toml).read().replace("compact_small_files = 64", "compact_small_files = 0")
    open(toml, "w").write(text)
rows = 10 * n
body = "".join('{"id":%d,"user":%d,"value":%d.5}\n' % (i, i % 97, i % 1000) for i in range(rows))
start = time.monotonic()
subprocess.run([lake, "-C", work, "ingest", "-", "--into", "bronze.events", "--format", "ndjson",
                "--batch-rows", "10"], input=body.encode(), check=True,
               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
build = time.monotonic() - start
log = json.loads(subprocess.run([lake, "-C", work, "log", "bronze.events", "--json"],
                                check=True, capture_output=True).stdout)
versions = len(log)
files = log[0]["file_count"] if "file_count" in log[0] else log[0]["files"]
ingests = [v for v in log if v["operation"] == "ingest"]
middle = ingests[len(ingests) // 2]["ref"]

def median_ms(args, out=subprocess.DEVNULL):
    times = []
    for _ in range(5):
        t = time.monotonic()
        subprocess.run([lake, "-C", work] + args, check=True, stdout=out, stderr=subprocess.DEVNULL)
        times.append((time.monotonic() - t) * 1000)
    return statistics.median(times)

sql = "SELECT count(*), sum(value) FROM bronze.events"
q = median_ms(["query", sql])
s = median_ms(["scan", "bronze.events", "--format", "json"])
m = median_ms(["query", sql, "--at", middle])
db = os.path.join(work, ".lake", "catalog.sqlite")
con = sqlite3.connect(db); con.execute("PRAGMA wal_checkpoint(TRUNCATE)"); con.close()
size = os.path.getsize(db) / 2**20
print(f"{mode:<10} {versions:>9} {files:>6} {q:>10.0f} {s:>10.0f} {m:>12.0f} {size:>7.1f} MiB {build:>8.1f}s")
PY
  done
done
