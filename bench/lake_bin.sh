# Sourced by the bench scripts: sets $lake to LAKE_BIN (a release binary built already) or builds
# one. Needs $repo.
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/lake-target}
if [ -n "${LAKE_BIN:-}" ]; then
  lake=$LAKE_BIN
else
  cargo build --release --bin lake --manifest-path "$repo/Cargo.toml"
  lake="$CARGO_TARGET_DIR/release/lake"
fi
