#!/usr/bin/env bash
# Streaming ingest from a pipe: NDJSON events fed to `lake ingest - --batch-rows B` for batches
# of 1,000, 10,000 and 100,000 events. Reports events/s over the whole run, commit latency per
# batch (p50, p99, from each batch's --json report) and how much the catalog file grows per
# 1,000 commits (after a WAL checkpoint; an append version lists every file it holds, so the
# growth per commit rises with the number of versions).
#
# The last row repeats batches of 1,000 with `[delta] log = false`: what writing each
# commit's Delta log costs.
#
#   bench/stream.sh [EVENTS]        (default 1000000)
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
events=${1:-1000000}
work="$repo/bench/work/stream"
source "$repo/bench/lake_bin.sh"   # LAKE_BIN: a release binary built already

printf '%-8s %6s %10s %12s %12s %12s %16s\n' batch delta versions events/s "p50 ms" "p99 ms" "catalog/1000"
for run in 1000:true 10000:true 100000:true 1000:false; do
  batch=${run%%:*} delta=${run##*:}
  rm -rf "$work" && "$lake" init "$work" -q > /dev/null
  sed -i "s/^log = true$/log = $delta/" "$work/lake.toml"
  before=$(stat -c %s "$work/.lake/catalog.sqlite")
  python3 - "$events" "$batch" "$lake" "$work" "$before" "$delta" <<'PY'
import json, os, subprocess, sys, time
events, batch, lake, work, before = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4], int(sys.argv[5])
delta = sys.argv[6]
p = subprocess.Popen([lake, "-C", work, "ingest", "-", "--into", "bronze.events", "--format", "ndjson",
                      "--batch-rows", str(batch), "--stream", "bench", "--json"],
                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
start = time.monotonic()
import threading
def feed():
    chunk = []
    for i in range(events):
        chunk.append('{"id":%d,"user":%d,"kind":"k%d","value":%d.25}\n' % (i, i % 9973, i % 7, i % 1000))
        if len(chunk) == 10000:
            p.stdin.write("".join(chunk).encode()); chunk = []
    p.stdin.write("".join(chunk).encode()); p.stdin.close()
t = threading.Thread(target=feed); t.start()
latencies = [json.loads(line)["elapsed_ms"] for line in p.stdout if line.strip()]
p.wait(); t.join()
wall = time.monotonic() - start
assert p.returncode == 0, p.returncode
db = os.path.join(work, ".lake", "catalog.sqlite")
import sqlite3
con = sqlite3.connect(db)
con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
con.close()
size = os.path.getsize(db)
latencies.sort()
q = lambda f: latencies[min(len(latencies) - 1, int(f * len(latencies)))]
growth = (size - before) / len(latencies) * 1000
print(f"{batch:<8} {delta:>6} {len(latencies):>10} {events / wall:>12,.0f} {q(0.5):>12} {q(0.99):>12} {growth / 2**20:>13.1f} MiB")
PY
done
