#!/usr/bin/env bash
# Distributed promote on a loopback cluster: the promote benchmark's jobs (bench/jobs) over the
# generated orders, run in one process, with one `lake worker` and with two, all on this
# machine and one local root. On a 2-core machine the workers share the coordinator's cores,
# so this measures what planning stages out and moving batches over Arrow Flight costs, not a
# speed-up. With one worker every stage is one task, which the planner keeps in the promoting
# process: that row is the planner's own overhead.
#
#   bench/workers.sh [SIZE_MB]      (default 256)
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
size_mb=${1:-256}
work="$repo/bench/work/workers"
data="$repo/bench/data"
csv="$data/orders-${size_mb}m.csv"
customers="$data/customers.csv"
mkdir -p "$data"
[ -f "$csv" ] || python3 "$repo/bench/gen_csv.py" "$csv" "$size_mb"
[ -f "$customers" ] || python3 "$repo/bench/gen_customers.py" "$customers"
source "$repo/bench/lake_bin.sh"   # LAKE_BIN: a release binary built already

rm -rf "$work" && "$lake" init "$work" -q > /dev/null
cd "$work"
"$lake" ingest "$csv" --into bronze.orders --quiet > /dev/null
"$lake" ingest "$customers" --into bronze.customers --quiet > /dev/null
cp -r "$repo/bench/jobs" jobs

# Workers are stopped by the pids they leave in w*.pid, whatever ends the script.
stop() { for f in "$work"/w*.pid; do [ -f "$f" ] && kill "$(cat "$f")" 2> /dev/null || true; done; }
trap stop EXIT
worker() {
  LAKE_LOG=lake=info "$lake" worker --bind 127.0.0.1:0 --json > "w$1.json" 2> "w$1.log" &
  echo $! > "w$1.pid"
  until [ -s "w$1.json" ]; do sleep 0.1; done
  python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['bind'])" "w$1.json"
}

run() {  # label, then promote's extra arguments
  local label=$1; shift
  python3 - "$lake" "$label" "$@" <<'PY'
import json, subprocess, sys, time
lake, label, extra = sys.argv[1], sys.argv[2], sys.argv[3:]
start = time.monotonic()
out = subprocess.run([lake, "promote", "--full-refresh", "--json", *extra], capture_output=True, text=True)
wall = time.monotonic() - start
assert out.returncode == 0, out.stderr
jobs = {j["job"]: j["duration_ms"] / 1000 for j in json.loads(out.stdout)["jobs"]}
print(f"{label:<12}" + "".join(f"{jobs[j]:>16.2f}" for j in sorted(jobs)) + f"{wall:>10.2f}")
with open("times.json", "a") as f:
    f.write(json.dumps({"label": label, "jobs": jobs, "wall": wall}) + "\n")
PY
}

rows=$("$lake" show bronze.orders --json | python3 -c "import json,sys; print(json.load(sys.stdin)['rows'])")
echo "bronze.orders: $rows rows; seconds per job and for the whole promote"
printf '%-12s%16s%16s%16s%10s\n' "" gold.revenue gold.segment silver.orders wall
rm -f times.json
run local
a=$(worker a)
run "1 worker" --workers "$a"
echo "  (tasks the worker ran: $(grep -c 'running a task' wa.log || true))"
b=$(worker b)
run "2 workers" --workers "$a,$b"
echo "  (tasks the workers ran: $(cat wa.log wb.log | grep -c 'running a task' || true), counting the 1-worker run's)"
python3 - <<'PY'
import json
runs = [json.loads(l) for l in open("times.json")]
local = runs[0]["wall"]
print("wall vs local: " + ", ".join(f"{r['label']} {r['wall'] / local:.2f}x" for r in runs[1:]))
PY
