#!/usr/bin/env bash
# Erasing one customer from an orders dataset of 10 versions (10 appends of the generated
# orders, about SIZE_MB in all), side by side with delta-rs on the same rows in the same run.
#
#   lake latest        `lake erase --where … --dataset bronze.orders`: a new version without
#                      the rows; earlier versions keep them (what a Delta DELETE does)
#   lake all versions  `… --all-versions`: every version amended, the old files deleted
#   delta-rs DELETE    `DeltaTable.delete(predicate)` on a table of the same 10 appends
#   delta-rs + VACUUM  DELETE, then VACUUM with no retention: the only way Delta removes the
#                      rows from storage, and it ends time travel to every earlier version
#
# Each row is the median of 3 runs on a fresh copy; the ratio is against delta-rs DELETE.
#
#   bench/erase.sh [SIZE_MB]        (default 256)
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
size_mb=${1:-256}
work="$repo/bench/work/erase"
data="$repo/bench/data"
csv="$data/orders-${size_mb}m.csv"
python=${LAKE_BENCH_PYTHON:-$HOME/.cache/lake-venv/bin/python}
mkdir -p "$data"
[ -f "$csv" ] || python3 "$repo/bench/gen_csv.py" "$csv" "$size_mb"
source "$repo/bench/lake_bin.sh"   # LAKE_BIN: a release binary built already

rm -rf "$work" && mkdir -p "$work/parts"
# Ten parts of the orders, one append each.
python3 - "$csv" "$work/parts" <<'PY'
import sys
src, out = sys.argv[1], sys.argv[2]
with open(src) as f:
    header = f.readline()
    lines = f.readlines()
n = len(lines)
for p in range(10):
    with open(f"{out}/part{p}.csv", "w") as g:
        g.write(header)
        g.writelines(lines[p * n // 10:(p + 1) * n // 10])
PY
"$lake" init "$work/base" -q > /dev/null
for p in $(seq 0 9); do
  "$lake" -C "$work/base" ingest "$work/parts/part$p.csv" --into bronze.orders --quiet > /dev/null
done
# The customer with the most orders, so that every version holds some.
customer=$("$lake" -C "$work/base" query "SELECT customer_id FROM bronze.orders GROUP BY customer_id ORDER BY count(*) DESC, customer_id LIMIT 1" --format csv | tail -1)
"$python" - "$work" <<'PY'
import sys, pyarrow.csv as pv, deltalake
work = sys.argv[1]
for p in range(10):
    t = pv.read_csv(f"{work}/parts/part{p}.csv")
    deltalake.write_deltalake(f"{work}/delta-base", t, mode="append")
PY

"$python" - "$lake" "$work" "$customer" <<'PY'
import json, shutil, statistics, subprocess, sys, time
lake, work, customer = sys.argv[1], sys.argv[2], sys.argv[3]
where = f"customer_id = {customer}"

def fresh(name):
    dst = f"{work}/{name}"
    shutil.rmtree(dst, ignore_errors=True)
    shutil.copytree(f"{work}/base" if name.startswith("lake") else f"{work}/delta-base", dst)
    return dst

def lake_erase(extra):
    d = fresh("lake-run")
    start = time.monotonic()
    out = subprocess.run([lake, "-C", d, "erase", "--where", where, "--dataset", "bronze.orders", "--json", *extra],
                         capture_output=True, text=True)
    wall = time.monotonic() - start
    assert out.returncode == 0, out.stderr
    r = json.loads(out.stdout)
    return wall, r["rows"], f'{r["files_scanned"]} scanned, {r["files_skipped_by_statistics"]} skipped by stats, {r["files_rewritten"]} rewritten'

def delta(vacuum):
    d = fresh("delta-run")
    code = f"""
import deltalake, time
t = deltalake.DeltaTable({d!r})
start = time.monotonic()
m = t.delete({where!r})
if {vacuum}:
    t.vacuum(retention_hours=0, enforce_retention_duration=False, dry_run=False)
print(time.monotonic() - start, m.get("num_deleted_rows"))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    wall, rows = out.stdout.split()
    return float(wall), int(rows), "latest version only" if not vacuum else "history gone"

rows = {}
def row(label, f):
    runs = [f() for _ in range(3)]
    rows[label] = (statistics.median(r[0] for r in runs), runs[0][1], runs[0][2])

row("lake latest", lambda: lake_erase([]))
row("lake all versions", lambda: lake_erase(["--all-versions"]))
row("delta-rs DELETE", lambda: delta(False))
row("delta-rs + VACUUM", lambda: delta(True))
base = rows["delta-rs DELETE"][0]
total = subprocess.run([lake, "-C", f"{work}/base", "show", "bronze.orders", "--json"], capture_output=True, text=True)
print(f"bronze.orders: {json.loads(total.stdout)['rows']} rows in 10 versions; erasing customer {customer}")
print(f"{'':<20}{'seconds':>9}{'rows':>8}{'x delta DELETE':>16}  notes")
for label, (wall, n, note) in rows.items():
    print(f"{label:<20}{wall:>9.2f}{n:>8}{wall / base:>16.2f}  {note}")
PY
