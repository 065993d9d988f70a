#!/usr/bin/env bash
# Scan throughput on the large generated version (made by bench/promote.sh if missing).
#
#   bench/scan.sh
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/lake-target}
work="$repo/bench/work/promote"
[ -f "$work/lake.toml" ] || "$repo/bench/promote.sh"
cat "$work"/lake-data/bronze/orders/data/* > /dev/null   # warm the page cache
cargo bench --manifest-path "$repo/Cargo.toml" --bench scan -- "$work" bronze.orders@v1
