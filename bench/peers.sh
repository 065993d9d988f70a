#!/usr/bin/env bash
# lake beside DuckDB, Polars, pyarrow and delta-rs on the same 5 M-row data, paired run by run.
#
#   bench/peers.sh [--runs N] [--only ingest-csv,ingest-ndjson,promote-agg,promote-join,read,scan-csv,archive]
#
# Builds lake in release mode, installs the peers (pinned) into a venv under ~/.cache, generates
# the data once (bench/gen_orders.py, deterministic; ROWS=5000000 by default, about 2 GB), then
# prints, per job, lake's wall time and peak RSS beside each peer's and the paired ratio
# lake / peer (median of N runs; below 1, lake is faster). Nothing is timed while cargo builds.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/lake-target}
cache=${LAKE_BENCH_CACHE:-$HOME/.cache/lake-peers}
rows=${ROWS:-5000000}
venv=$cache/venv
data=$cache/data-$rows

cargo build --release --bin lake --manifest-path "$repo/Cargo.toml"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet duckdb==2.0.0 polars==2.1.0 pyarrow==26.0.1 deltalake==1.6.6 numpy==2.4.6
fi
if [ ! -f "$data/delta/customers/_delta_log/00000000000000000000.json" ]; then
  "$venv/bin/python" "$repo/bench/gen_orders.py" "$data" "$rows"
  "$venv/bin/python" "$repo/bench/prepare.py" "$data"
fi
cat "$data"/orders.csv "$data"/orders.ndjson > /dev/null   # warm the page cache
"$venv/bin/python" -c 'import duckdb, polars, pyarrow, deltalake
print(f"duckdb {duckdb.__version__}, polars {polars.__version__}, pyarrow {pyarrow.__version__}, deltalake {deltalake.__version__}")' >&2
exec "$venv/bin/python" "$repo/bench/peers.py" "$CARGO_TARGET_DIR/release/lake" "$data" "$cache/work" "$@"
