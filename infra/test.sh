#!/usr/bin/env bash
# Runs every check: formatting, lints, unit and integration tests (against a real moto server and
# redis-server it starts and stops itself), the CloudFormation template lint and SAM transform, and
# the schemathesis conformance run against the locally served API. `.ci/run` calls exactly this.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

ensure_venv
# The static embedding table that `shared` compiles in (seconds when cached).
ensure_model
start_moto "$(free_port)"
start_redis "$(free_port)"

echo "==> cargo fmt --check"
cargo fmt --all -- --check
echo "==> cfn-lint template.yaml"
cfn-lint template.yaml
# cfn-lint checks SAM resources against schemas but does not run the SAM transform that CloudFormation
# runs at deploy; this does, offline, once per AuthMode, and checks each route's authorizer.
echo "==> SAM transform of template.yaml (AuthMode=verify, AuthMode=gateway)"
python infra/sam_transform.py
echo "==> cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
# The optional Bedrock embedder is compiled and linted too, so it cannot rot.
cargo clippy -p shared --features bedrock --locked -- -D warnings
echo "==> cargo test"
# Debug builds of the AWS SDK poll through deep, large stack frames: the tests pass down to ~1.6 MB
# of the default 2 MB per test thread; give them room rather than a margin that a toolchain bump eats.
# The functions package is only binaries of wiring (tests/api runs their handlers); its bins would
# each link a test harness with nothing in it.
RUST_MIN_STACK="${RUST_MIN_STACK:-8388608}" cargo test --workspace --exclude functions --locked 2>&1 \
  | tee target/test-output.log
# The load tests (the flash sale's 1,000 buyers, the soak) run alone: their load on the one-request-at-a-
# time moto would otherwise slow the timing-sensitive tests beside them.
echo "==> cargo test: the load tests, alone"
RUST_MIN_STACK="${RUST_MIN_STACK:-8388608}" cargo test -p api-tests --test api --locked -- --ignored 2>&1 \
  | tee -a target/test-output.log
echo "==> conformance: schemathesis against the locally served API"
EXAMPLES="${EXAMPLES:-20}" bash infra/conformance.sh
# One closing line for the whole run: the sum over every test binary.
awk '/^test result:/ { passed += $4; failed += $6 } END { printf "all tests: %d passed, %d failed\n", passed, failed }' \
  target/test-output.log
