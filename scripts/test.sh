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
cargo clippy --workspace --all-targets --quiet -- -D warnings
echo "== the library's documentation: no rustdoc warnings, and its examples run"
RUSTDOCFLAGS="-D warnings" cargo doc --no-deps --lib -p lake --quiet
cargo test --doc --quiet

echo "== a local S3-compatible server (SeaweedFS) for the S3 tests"
source "$repo/scripts/seaweedfs.sh"
seaweed_install
s3dir=$(mktemp -d)
cleanup() { seaweed_stop; rm -rf "$s3dir"; }
trap cleanup EXIT
seaweed_start "$s3dir"
seaweed_bucket lake-test
seaweed_bucket lake-archive-test
export LAKE_TEST_S3_URL=s3://lake-test
export LAKE_TEST_S3_ARCHIVE_URL=s3://lake-archive-test
export LAKE_TEST_S3_ENDPOINT=$SEAWEED_ENDPOINT
export LAKE_TEST_WEED=$LAKE_VENV/bin/weed
export AWS_ACCESS_KEY_ID=$SEAWEED_ACCESS_KEY
export AWS_SECRET_ACCESS_KEY=$SEAWEED_SECRET_KEY
export AWS_REGION=us-east-1
echo "SeaweedFS $SEAWEED_ENDPOINT (pid $SEAWEED_PID)"

echo "== Azure Blob and Google Cloud Storage emulators (Azurite, fake-gcs-server) for az:// and gs://"
source "$repo/scripts/clouds.sh"
azurite_install
gcs_install
cleanup() { seaweed_stop; clouds_stop; rm -rf "$s3dir"; }
azurite_start "$s3dir"
azurite_container lake-test
azurite_container lake-archive-test
gcs_start "$s3dir"
gcs_bucket lake-test
gcs_bucket lake-archive-test
# The standard variables a user sets: the emulator's account, and a key file naming the server.
export AZURE_STORAGE_USE_EMULATOR=true
export AZURITE_BLOB_STORAGE_URL=$AZURITE_ENDPOINT
printf '{"gcs_base_url": "%s", "disable_oauth": true, "client_email": "", "private_key": "", "private_key_id": ""}' \
  "$GCS_ENDPOINT" > "$s3dir/gcs-key.json"
export GOOGLE_SERVICE_ACCOUNT=$s3dir/gcs-key.json
export LAKE_TEST_AZURE_URL=az://lake-test LAKE_TEST_AZURE_ARCHIVE_URL=az://lake-archive-test
export LAKE_TEST_GCS_URL=gs://lake-test LAKE_TEST_GCS_ARCHIVE_URL=gs://lake-archive-test
export LAKE_TEST_GCS_ENDPOINT=$GCS_ENDPOINT
echo "Azurite $AZURITE_ENDPOINT (pid $AZURITE_PID), fake-gcs-server $GCS_ENDPOINT (pid $GCS_PID)"

echo "== pyarrow, DuckDB, Polars and deltalake, for reading versions with no lake installed"
"$LAKE_VENV/bin/python" -c "import pyarrow, duckdb, polars, deltalake" 2>/dev/null \
  || "$LAKE_VENV/bin/pip" install --quiet --disable-pip-version-check pyarrow duckdb polars deltalake
export LAKE_TEST_PYTHON=$LAKE_VENV/bin/python

echo "== the Python reader (python/, lake-reader) as a wheel: into that venv and a fresh one"
"$LAKE_VENV/bin/pip" wheel --quiet --disable-pip-version-check --no-deps -w "$s3dir/wheels" "$repo/python"
reader_wheel=$(ls "$s3dir"/wheels/lake_reader-*.whl)
"$LAKE_VENV/bin/pip" install --quiet --disable-pip-version-check --force-reinstall --no-deps "$reader_wheel"
python3 -m venv "$s3dir/reader-venv"
"$s3dir/reader-venv/bin/pip" install --quiet --disable-pip-version-check "$reader_wheel"
export LAKE_TEST_READER_PYTHON=$s3dir/reader-venv/bin/python
echo "a fresh venv holds: $("$LAKE_TEST_READER_PYTHON" -m pip list --disable-pip-version-check --format=freeze 2>/dev/null | tr "\n" " ")"

echo "== DuckDB with its delta extension (the PyPI build of the extension is for DuckDB 1.4.4)"
duckdb_delta=$HOME/.cache/lake-venv-duckdb-delta
[ -x "$duckdb_delta/bin/python" ] || python3 -m venv "$duckdb_delta"
"$duckdb_delta/bin/python" -c "import duckdb, duckdb_ext, pyarrow" 2>/dev/null \
  && ls "$duckdb_delta"/lib/python*/site-packages/duckdb_ext/extensions/*/*/httpfs.duckdb_extension > /dev/null 2>&1 \
  || "$duckdb_delta/bin/pip" install --quiet --disable-pip-version-check \
       duckdb==1.4.4 duckdb-ext-delta==1.4.4.20260205 duckdb-ext-httpfs==1.4.4.20260205 pyarrow
export LAKE_TEST_DUCKDB_DELTA_PYTHON=$duckdb_delta/bin/python

echo "== Chromium, for the browser test of lake serve"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
if ! command -v chromium > /dev/null; then
  $sudo apt-get install -y -q chromium > /dev/null 2>&1 \
    || { $sudo apt-get update -q > /dev/null && $sudo apt-get install -y -q chromium > /dev/null; }
fi
export LAKE_TEST_CHROMIUM=$(command -v chromium)

echo "== zsh and fish, to load the completion scripts in them"
for sh in zsh fish; do
  command -v $sh > /dev/null || $sudo apt-get install -y -q $sh > /dev/null 2>&1 \
    || { $sudo apt-get update -q > /dev/null && $sudo apt-get install -y -q $sh > /dev/null; }
done
export LAKE_TEST_ZSH=$(command -v zsh) LAKE_TEST_FISH=$(command -v fish)

echo "== tests"
cargo build --bin lake
# A crate of its own that uses the library without the CLI (built with its own features, so the
# first build compiles the DataFusion stack a second time).
cargo build -p pinned-read
cargo test --lib --test cli
