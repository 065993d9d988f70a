#!/usr/bin/env bash
# The main job, end to end on the bundled sample data: build lake, create a fresh local lake in
# ./demo, ingest the raw exports into bronze, promote them to silver and gold with the sample
# jobs, show what landed and where it came from, archive old raw versions to the cold tier
# under a lifecycle rule, and restore one; last, write the catalog as web pages and say how to
# browse it with `lake serve`.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/lake-target}
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "build"
cargo build --manifest-path "$repo/Cargo.toml" --bin lake
lake="$CARGO_TARGET_DIR/debug/lake"
data="$repo/examples/data"
demo="$repo/demo"

step "a fresh lake in $demo"
rm -rf "$demo"
"$lake" init "$demo"
cd "$demo"

step "ingest: raw exports become versioned bronze datasets"
# The exports arrived over two months; LAKE_NOW stamps each version with its day.
LAKE_NOW=2026-01-02T06:00:00Z "$lake" ingest "$data/customers.csv" --into bronze.customers
# `NA` in the shop export means "no value".
LAKE_NOW=2026-02-01T06:00:00Z "$lake" ingest "$data/orders/orders-2026-01.csv" --into bronze.orders --null-value NA
# February's export has a new column: recorded as schema drift, not refused.
LAKE_NOW=2026-03-01T06:00:00Z "$lake" ingest "$data/orders/orders-2026-02.csv" --into bronze.orders --null-value NA
LAKE_NOW=2026-03-01T07:00:00Z "$lake" ingest "$data/events.ndjson" --into bronze.events
# The CRM sends a full re-export each month (the same rows here): --force takes it even though
# its content is already there, and overwrite makes it the whole new version.
LAKE_NOW=2026-03-01T08:00:00Z "$lake" ingest "$data/customers.csv" --into bronze.customers --mode overwrite --force
# Ingesting the same content again changes nothing.
"$lake" ingest "$data/orders" --into bronze.orders --null-value NA

step "what landed in bronze"
"$lake" log bronze.orders
echo
"$lake" show bronze.orders

step "promote: SQL jobs clean bronze into silver and build gold features, gated by checks"
cp -r "$repo/examples/jobs" "$demo/jobs"
"$lake" promote
# Nothing changed since: every job is up to date.
"$lake" promote

step "the lake now"
"$lake" ls

step "Delta: every version is a Delta table too (Spark, DuckDB, Polars, delta-rs read it)"
"$lake" export delta
# e.g. python -c "import deltalake; print(deltalake.DeltaTable('demo/lake-data/bronze/orders', version=0).to_pandas())"

step "lineage: where the gold features came from"
"$lake" lineage gold.customer_features --upstream

step "query: ad-hoc SQL over pinned versions"
"$lake" query "SELECT tier, count(*) AS customers, round(avg(net_revenue), 2) AS avg_revenue,
                      round(avg(refund_rate), 3) AS refund_rate
               FROM gold.customer_features GROUP BY tier ORDER BY tier"

step "lifecycle: pin the training data, archive old raw versions, restore one"
"$lake" tag gold.customer_features@v1 train-2026-03
"$lake" rule add --zone bronze --archive-after 30d --expire-after 365d
# As of mid-April, the January customers export and orders@v1 are over 30 days old and not the
# latest. The customers file moves to the cold tier; orders@v1's file stays hot because v2, an
# append, still uses it.
LAKE_NOW=2026-04-15T00:00:00Z "$lake" archive --dry-run
LAKE_NOW=2026-04-15T00:00:00Z "$lake" archive
"$lake" log bronze.customers
"$lake" du bronze.customers bronze.orders
# Reading an archived version fails fast and says how to bring it back.
"$lake" query "SELECT count(*) FROM bronze.customers" --at bronze.customers=v1 || true
"$lake" restore bronze.customers@v1
"$lake" query "SELECT count(*) AS january_export FROM bronze.customers" --at bronze.customers=v1
"$lake" check --verify-hashes

step "pinned reads: lock the training data, verify it, train on it twice"
"$lake" pin gold.customer_features@train-2026-03
"$lake" verify
cargo run --quiet --manifest-path "$repo/Cargo.toml" --example train -- "$demo"
cargo run --quiet --manifest-path "$repo/Cargo.toml" --example train -- "$demo"
"$lake" scan gold.customer_features@train-2026-03 --shard 0/2 --columns customer_id,orders | head -4

step "catalog: describe, search, compare"
"$lake" annotate bronze.customers --owner crm-team --label pii --label domain=sales \
    --column email="Customer email as typed in the CRM"
"$lake" search email
"$lake" search --column channel --ever
"$lake" diff bronze.orders@v1 bronze.orders@v2

step "the catalog in a browser"
"$lake" docs build -o "$demo/site"
echo "Browse the catalog: $lake -C $demo serve, then open http://127.0.0.1:8642/"
