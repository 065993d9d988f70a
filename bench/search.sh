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

python3 - .lake/catalog.sqlite "$n" <<'PY'
import random, sqlite3, sys
db, n = sys.argv[1], int(sys.argv[2])
rng = random.Random(11)
words = ("orders customers events payments refunds shipments invoices sessions clicks carts products "
         "inventory suppliers returns reviews coupons campaigns leads accounts subscriptions churn "
         "revenue margin fraud risk ledger tickets agents devices sensors trips drivers").split()
cols = ("id customer_id order_id email phone ssn address city country zip amount currency price "
        "quantity status created_at updated_at ts device browser ip url referrer campaign channel "
        "score label weight region segment tier").split()
con = sqlite3.connect(db)
con.execute("PRAGMA journal_mode=WAL")
cur = con.cursor()
zones = ["bronze", "silver", "gold"]
now = "2026-11-01T00:00:00.000000Z"
schema_id = 0
for d in range(1, n + 1):
    zone = zones[d % 3]
    name = f"{rng.choice(words)}_{rng.choice(words)}_{d}"
    desc = " ".join(rng.choice(words) for _ in range(12))
    cur.execute("INSERT INTO datasets (id, zone, name, description, owner, created_at) VALUES (?,?,?,?,?,?)",
                (d, zone, name, desc.capitalize(), f"team-{d % 40}", now))
    schemas = []
    for s in range(3):
        schema_id += 1
        chosen = rng.sample(cols, 30) if len(cols) >= 30 else cols
        cur.execute("INSERT INTO schemas (id, fingerprint, schema_json) VALUES (?,?,?)",
                    (schema_id, f"{d}-{s}", "{}"))
        cur.executemany("INSERT INTO schema_columns (schema_id, position, name, data_type, nullable) VALUES (?,?,?,?,1)",
                        [(schema_id, i, c if not (s == 0 and i == 0) else "legacy_" + c, "string") for i, c in enumerate(chosen)])
        schemas.append(schema_id)
    cur.executemany(
        "INSERT INTO versions (dataset_id, version, digest, manifest_key, schema_id, operation, rows, bytes, file_count, created_at, created_by) "
        "VALUES (?,?,?,?,?,?,?,?,?,?,?)",
        [(d, v, f"{d:032x}{v:032x}", f"m/{d}/{v}", schemas[min(v // 7, 2)], "ingest", 1000, 100000, 1, now, "bench")
         for v in range(1, 21)])
    if d % 5 == 0:
        cur.execute("INSERT INTO dataset_labels (dataset_id, key, value) VALUES (?, 'pii', NULL)", (d,))
    cur.execute("INSERT INTO dataset_labels (dataset_id, key, value) VALUES (?, 'domain', ?)", (d, rng.choice(words)))
    if d % 3 == 0:
        cur.execute("INSERT INTO column_docs (dataset_id, column_name, doc) VALUES (?, ?, ?)",
                    (d, rng.choice(cols), " ".join(rng.choice(words) for _ in range(8))))
    if zone != "bronze":
        cur.execute("INSERT INTO runs (job, job_path, sql_digest, sql_text, inputs_key, status, started_at, finished_at, duration_ms, actor) "
                    "VALUES (?,?,?,?,?,?,?,?,?,?)",
                    (f"{zone}.{name}", f"jobs/{zone}/{name}.sql", "x",
                     f"SELECT {', '.join(rng.sample(cols, 6))} FROM bronze.{rng.choice(words)}_{rng.choice(words)} WHERE status = 'paid'",
                     "", "success", now, now, 1, "bench"))
con.commit()
PY
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
