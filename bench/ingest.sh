#!/usr/bin/env bash
# Ingest throughput beside the machine's physical limits.
#
#   bench/ingest.sh [SIZE_MB] [local|s3]      (defaults: 1024 local)
#
# With `s3`, the lake's root is a bucket on a SeaweedFS server started here on 127.0.0.1 (see
# scripts/seaweedfs.sh) and stopped at the end.
#
# Generates a deterministic CSV (12 mixed columns) once, builds lake in release mode, then times
# `cat` (read bandwidth), `sha256sum` and `openssl dgst -sha256` (hash bandwidth without and with
# the CPU's SHA instructions, which lake's sha256 uses) and `lake ingest` of the same file into a
# fresh lake, reporting MB/s, rows/s and peak RSS.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
size_mb=${1:-1024}
target=${2:-local}
work="$repo/bench/work"
data="$repo/bench/data"
csv="$data/orders-${size_mb}m.csv"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/lake-target}

need() { command -v "$1" >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq "$2"; }; }
need hyperfine hyperfine
[ -x /usr/bin/time ] || { apt-get update -qq && apt-get install -y -qq time; }

mkdir -p "$data" "$work"
if [ ! -f "$csv" ]; then
  python3 "$repo/bench/gen_csv.py" "$csv" "$size_mb"
fi
bytes=$(stat -c %s "$csv")
rows=$(( $(wc -l < "$csv") - 1 ))
mb=$(python3 -c "print(f'{$bytes/1e6:.1f}')")

cargo build --release --bin lake --manifest-path "$repo/Cargo.toml"
lake="$CARGO_TARGET_DIR/release/lake"

echo "input: $csv, $mb MB, $rows rows; $(nproc) cores; lake root: $target"
cat "$csv" > /dev/null   # warm the page cache so every command reads from memory

hyperfine --warmup 1 --runs 3 --export-json "$work/limits.json" \
  "cat '$csv' > /dev/null" "sha256sum '$csv'" "openssl dgst -sha256 '$csv'"

init_args=()
if [ "$target" = s3 ]; then
  source "$repo/scripts/seaweedfs.sh"
  seaweed_install
  s3dir=$(mktemp -d)
  trap 'seaweed_stop; rm -rf "$s3dir"' EXIT
  seaweed_start "$s3dir"
  seaweed_bucket lake-bench
  export AWS_ACCESS_KEY_ID=$SEAWEED_ACCESS_KEY AWS_SECRET_ACCESS_KEY=$SEAWEED_SECRET_KEY
  init_args=(--s3-endpoint "$SEAWEED_ENDPOINT" --s3-allow-http)
fi
# Every run gets a fresh lake: a new folder locally, a new prefix of the bucket on S3.
root='lake-data'
[ "$target" = s3 ] && root='s3://lake-bench/run-$(date +%s%N)'
prepare="rm -rf '$work/lake' && '$lake' init '$work/lake' -q --root $root ${init_args[*]} > /dev/null"

hyperfine --runs 3 --export-json "$work/ingest.json" --prepare "$prepare" \
  "'$lake' -C '$work/lake' ingest '$csv' --into bronze.orders --quiet"

rm -rf "$work/lake" && eval "'$lake' init '$work/lake' -q --root $root ${init_args[*]}" > /dev/null
/usr/bin/time -v "$lake" -C "$work/lake" ingest "$csv" --into bronze.orders --json \
  > "$work/report.json" 2> "$work/time.txt"
peak_kb=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$work/time.txt")

python3 - "$work" "$bytes" "$rows" "$peak_kb" <<'PY'
import json, sys
work, size, rows, peak_kb = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
limits = json.load(open(f"{work}/limits.json"))["results"]
ingest = json.load(open(f"{work}/ingest.json"))["results"][0]
report = json.load(open(f"{work}/report.json"))
print()
print(f"{'command':<16}{'mean s':>9}{'MB/s':>9}{'Mrows/s':>9}")
rows_of = [("cat", limits[0]), ("sha256sum", limits[1]), ("openssl sha256", limits[2]), ("lake ingest", ingest)]
for name, r in rows_of:
    t = r["mean"]
    print(f"{name:<16}{t:>9.2f}{size / t / 1e6:>9.0f}{rows / t / 1e6:>9.2f}")
print(f"lake ingest peak RSS: {peak_kb / 1024:.0f} MiB")
print(f"output: {report['files_written']} files, {report['bytes_written'] / 1e6:.1f} MB "
      f"({report['bytes_written'] / size:.1%} of the input), {report['rows']} rows")
PY
