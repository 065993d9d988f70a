"""A catalog of N datasets x 20 versions x 30 columns (3 schemas per dataset), with labels,
column docs and job runs, written straight into a fresh lake's SQLite catalog: what
bench/search.sh and bench/serve.sh measure against.

    python3 bench/fill_catalog.py CATALOG.sqlite N
"""
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
