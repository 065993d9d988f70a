#!/usr/bin/env bash
# Promote throughput on the large generated orders (bench/ingest.sh makes the CSV) and a
# customers dimension: a silver job that dedupes and filters, a gold group-by, and a gold join.
#
#   bench/promote.sh [SIZE_MB]      (default 1024)
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
size_mb=${1:-1024}
work="$repo/bench/work/promote"
data="$repo/bench/data"
csv="$data/orders-${size_mb}m.csv"
customers="$data/customers.csv"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/lake-target}
[ -x /usr/bin/time ] || { apt-get update -qq && apt-get install -y -qq time; }

mkdir -p "$data"
[ -f "$csv" ] || python3 "$repo/bench/gen_csv.py" "$csv" "$size_mb"
[ -f "$customers" ] || python3 "$repo/bench/gen_customers.py" "$customers"

cargo build --release --bin lake --manifest-path "$repo/Cargo.toml"
lake="$CARGO_TARGET_DIR/release/lake"
rm -rf "$work" && "$lake" init "$work" -q > /dev/null
cd "$work"
"$lake" ingest "$csv" --into bronze.orders --quiet > /dev/null
"$lake" ingest "$customers" --into bronze.customers --quiet > /dev/null
# The jobs, shared with the distributed promote test (tests/cli/worker.rs).
cp -r "$repo/bench/jobs" jobs

/usr/bin/time -v "$lake" promote --json > report.json 2> time.txt
peak_kb=$(awk -F': ' '/Maximum resident set size/ {print $2}' time.txt)
wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' time.txt)
input_bytes=$("$lake" show bronze.orders --json | python3 -c "import json,sys; print(json.load(sys.stdin)['bytes'])")
python3 - report.json "$peak_kb" "$input_bytes" "$(stat -c %s "$csv")" "$wall" <<'PY'
import json, sys
report = json.load(open(sys.argv[1]))
peak_kb, parquet_bytes, csv_bytes, wall = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
print(f"bronze.orders: {parquet_bytes / 1e6:.0f} MB Parquet ({csv_bytes / 1e6:.0f} MB as CSV)")
print(f"{'job':<24}{'status':<8}{'rows out':>12}{'seconds':>9}")
for j in report["jobs"]:
    print(f"{j['job']:<24}{j['status']:<8}{j['rows']:>12,}{j['duration_ms'] / 1000:>9.2f}")
silver = report["jobs"][0]
t = silver["duration_ms"] / 1000
rows_in = 9_960_000 * csv_bytes // 1075693021
print(f"silver dedupe+filter: {rows_in / t / 1e6:.2f} M input rows/s, "
      f"{parquet_bytes / t / 1e6:.0f} MB/s of Parquet, {csv_bytes / t / 1e6:.0f} MB/s of the CSV it came from")
print(f"whole promote: {wall} wall, peak RSS {peak_kb / 1024:.0f} MiB")
PY
