#!/usr/bin/env bash
# The main job, end to end on the bundled sample data: build lake, create a fresh local lake in
# ./demo, ingest the raw exports into bronze, promote them to silver and gold with the sample
# jobs, and show what landed and where it came from.
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
"$lake" ingest "$data/customers.csv" --into bronze.customers
# `NA` in the shop export means "no value".
"$lake" ingest "$data/orders/orders-2026-01.csv" --into bronze.orders --null-value NA
# February's export has a new column: recorded as schema drift, not refused.
"$lake" ingest "$data/orders/orders-2026-02.csv" --into bronze.orders --null-value NA
"$lake" ingest "$data/events.ndjson" --into bronze.events
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

step "lineage: where the gold features came from"
"$lake" lineage gold.customer_features --upstream

step "query: ad-hoc SQL over pinned versions"
"$lake" query "SELECT tier, count(*) AS customers, round(avg(net_revenue), 2) AS avg_revenue,
                      round(avg(refund_rate), 3) AS refund_rate
               FROM gold.customer_features GROUP BY tier ORDER BY tier"
