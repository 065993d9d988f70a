#!/usr/bin/env bash
# Catalog search at scale: 10,000 datasets x 20 versions x 30 columns (3 schemas per dataset),
# labels, column docs and job SQL, then 100 varied `lake search` queries. Reports the search's
# own latency (median, p95, from --json) beside the whole command's, and the catalog's size.
#
#   bench/search.sh [DATASETS]      (default 10000)
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
n=${1:-10000}
work="$repo/bench/work/search"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/lake-target}
cargo build --release --bin lake --manifest-path "$repo/Cargo.toml"
lake="$CARGO_TARGET_DIR/release/lake"
rm -rf "$work" && "$lake" init "$work" -q > /dev/null
cd "$work"

python3 "$repo/bench/fill_catalog.py" .lake/catalog.sqlite "$n"
"$lake" reindex > /dev/null

python3 - "$lake" <<'PY'
import json, random, statistics, subprocess, sys, time, os
lake = sys.argv[1]
rng = random.Random(3)
words = ("orders customers events payments refunds shipments invoices sessions clicks carts products "
         "inventory suppliers returns reviews coupons campaigns leads accounts").split()
queries = []
for i in range(100):
    kind = i % 5
    if kind == 0: queries.append([rng.choice(words)])
    elif kind == 1: queries.append([f"{rng.choice(words)} {rng.choice(words)}"])
    elif kind == 2: queries.append([rng.choice(words)[:4] + "*"])
    elif kind == 3: queries.append([rng.choice(words), "--zone", "silver"])
    else: queries.append(["email", "--label", "pii"])
inner, outer = [], []
for q in queries:
    t = time.perf_counter()
    out = subprocess.run([lake, "search", *q, "--json"], capture_output=True, check=True)
    outer.append((time.perf_counter() - t) * 1000)
    inner.append(json.loads(out.stdout)["took_ms"])
def p95(xs): return sorted(xs)[int(len(xs) * 0.95) - 1]
size = os.path.getsize(".lake/catalog.sqlite") + (os.path.getsize(".lake/catalog.sqlite-wal") if os.path.exists(".lake/catalog.sqlite-wal") else 0)
print(f"100 queries over {sys.argv[1] and 'the filled catalog'}")
print(f"search itself:  median {statistics.median(inner):.2f} ms, p95 {p95(inner):.2f} ms")
print(f"whole command:  median {statistics.median(outer):.1f} ms, p95 {p95(outer):.1f} ms")
print(f"catalog size:   {size / 1e6:.0f} MB")
PY
