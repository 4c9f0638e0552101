#!/usr/bin/env bash
# Benchmarks (separate from the tests). Starts its own moto, builds every function for release
# (x86_64, and arm64 through infra/package.sh unless BENCH_ARM64=0), then runs:
#   - infra/bench/lambda_bench.py: per function, under a local Lambda Runtime API: sizes, init time,
#     first and warm invocation latency, CPU per warm invocation, peak RSS, DynamoDB calls per request;
#     then cold starts as billed (TLS to the store, CPU quota of the memory size) against two reference
#     functions it builds (BENCH_COLD=0 skips them);
#   - infra/bench/heat.py (BENCH_HEAT=0 skips it): the DynamoDB partition key values a mixed load touches
#     and the units it spends there, through a proxy that reads the key schemas; the capacity model at
#     1k/10k/100k requests/s and the cost per million requests; a flash sale on one item, on the item
#     and split over counters (orders per second one item takes);
#   - infra/bench/warm_cost.py (with valgrind; BENCH_WARM=0 skips it): instructions and CPU per warm
#     GET of get-item against the two reference functions, the figure the warm-CPU target is set in;
#   - infra/bench/race.py (when BENCH_PEER_SRC names a checkout of aws-samples/serverless-rust-demo):
#     get-item against that sample's get-product, built from its source, as each is deployed: cold
#     starts as billed and CPU per warm GET, interleaved, next to the two reference functions;
#   - infra/bench/local_stack.py: latency through `cargo lambda watch` and 200 concurrent orders, then
#     infra/bench/local_load.py sweep: requests/s and p50/p99 at 1, 4, 16 and 64 concurrent clients
#     (BENCH_LOCAL=0 skips both);
#   - infra/deploy_build.sh twice (BENCH_SAM=0 skips it): `sam build` and its artefact check, with times;
#   - infra/bench/search_scale.py (BENCH_SCALE=0 skips it): search-items over 1,000 and 50,000 items
#     (BENCH_SCALE_SIZES) in a fresh store: init, first and warm invocations, CPU, peak RSS, and the
#     store's SearchVectors time apart; writes target/bench/search_scale.json (seeding 50,000 takes minutes);
#   - the long soak (BENCH_SOAK=0 skips it; SOAK_OPERATIONS, SOAK_CLIENTS, SOAK_SEED size it): random
#     operations under random store faults, every invariant checked (tests/api/soak.rs);
#   - the embedder's CPU per query and per item (shared/examples/static_embed_cost.rs), and search
#     relevance on Cranfield (infra/bench/relevance.py; BENCH_RELEVANCE=0 skips it, =all adds MiniLM);
# Prints tables and writes target/bench/lambda.json. Expect 20-25 minutes on a fresh clone (the reference functions build from scratch).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

ensure_venv
ensure_model
start_moto "$(free_port)"
echo "==> commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown), $(nproc) cores"
if [ "${BENCH_ARM64:-1}" != 0 ]; then
  bash infra/package.sh >/dev/null
fi
if [ "${BENCH_SAM:-1}" != 0 ]; then
  # The deploy build, checked: twice, as a user runs it (the second run must take seconds).
  for run in first second; do
    echo "==> deploy build ($run run): infra/deploy_build.sh"
    bash infra/deploy_build.sh 2>&1 | grep -E 'sam build took|MB|all functions|FAIL|Error' || true
  done
fi
echo "==> release build (x86_64)"
cargo build --release --workspace --bins 2>&1 | grep -vE '^\s+(Compiling|Finished)' || true
python infra/bench/lambda_bench.py
if [ "${BENCH_HEAT:-1}" != 0 ]; then
  echo "==> partition heat and the capacity model (infra/bench/heat.py)"
  python infra/bench/heat.py
fi
if [ "${BENCH_SOAK:-1}" != 0 ]; then
  # The long soak: the CI test with more operations and clients (README, Reliability).
  echo "==> the long soak: ${SOAK_OPERATIONS:-20000} random operations under random faults (tests/api/soak.rs)"
  [ -n "${REDIS_URL:-}" ] || start_redis "$(free_port)"
  SOAK_OPERATIONS="${SOAK_OPERATIONS:-20000}" SOAK_CLIENTS="${SOAK_CLIENTS:-48}" SOAK_WALKS="${SOAK_WALKS:-10}" \
    SOAK_PAGE="${SOAK_PAGE:-100}" RUST_MIN_STACK=8388608 \
    cargo test -q -p api-tests --test api soak -- --ignored --nocapture 2>&1 | grep -E '^soak:|violations|^test result' || true
fi
if [ "${BENCH_WARM:-1}" != 0 ] && command -v valgrind >/dev/null; then
  echo "==> instructions and CPU per warm GET (callgrind)"
  python infra/bench/warm_cost.py
fi
if [ -n "${BENCH_PEER_SRC:-}" ]; then
  echo "==> the race with serverless-rust-demo (infra/bench/race.py; peer from $BENCH_PEER_SRC)"
  python infra/bench/race.py
else
  echo "==> the race with serverless-rust-demo: skipped (BENCH_PEER_SRC names a checkout of it; README, Benchmarks)"
fi
if [ "${BENCH_LOCAL:-1}" != 0 ]; then
  echo "==> local stack through cargo lambda watch"
  local_port="$(free_port)"
  start_api "$local_port"
  python infra/bench/local_stack.py "http://127.0.0.1:$local_port"
  stop_api
  echo "==> local stack under 1, 4, 16 and 64 concurrent clients (a fresh store, so what ran before does not count)"
  stop_moto
  start_moto "$(free_port)"
  local_port="$(free_port)"
  start_api "$local_port"
  python infra/bench/local_load.py sweep "http://127.0.0.1:$local_port" --watch-log target/watch.log \
    || echo "==> local_load.py: some check failed (above); the benchmarks go on"
  stop_api
fi
if [ "${BENCH_SCALE:-1}" != 0 ]; then
  echo "==> search-items over catalogs of ${BENCH_SCALE_SIZES:-1000,50000} items (a fresh store)"
  stop_moto
  start_moto "$(free_port)"
  python infra/bench/search_scale.py
fi
echo "==> the embedder: build once per container, CPU per query and per item embedding"
cargo run --release --quiet -p shared --example static_embed_cost
if [ "${BENCH_RELEVANCE:-1}" != 0 ]; then
  # The whole table, MiniLM run in numpy included, with BENCH_RELEVANCE=all (~5 more minutes).
  echo "==> search relevance on Cranfield (infra/bench/relevance.py)"
  venv_from "$ROOT/.venv-bench" "$ROOT/infra/requirements-bench.txt" "the relevance bench's packages"
  embedders="static,hashing,bm25,bm25-stem,static-256,hybrid-static+hashing"
  [ "${BENCH_RELEVANCE:-1}" = all ] && embedders=""
  "$ROOT/.venv-bench/bin/python" infra/bench/relevance.py ${embedders:+--embedders "$embedders"} \
    --json target/bench/relevance.json
fi
