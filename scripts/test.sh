#!/usr/bin/env bash
# The whole test suite, from a fresh machine: lint, unit tests, and the CLI integration tests
# (the real binary against real SQLite catalogs and real Parquet).
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/lake-target}
export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-never}

echo "== format and lint"
cargo fmt --all -- --check
cargo clippy --all-targets --quiet -- -D warnings

echo "== tests"
cargo test --lib --test cli
