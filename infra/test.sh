#!/usr/bin/env bash
# Runs every check: formatting, lints, unit and integration tests (against a real moto server it
# starts and stops itself), and the CloudFormation template lint. `.ci/run` calls exactly this.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

ensure_venv
start_moto "$(free_port)"

echo "==> cargo fmt --check"
cargo fmt --all -- --check
echo "==> cfn-lint template.yaml"
cfn-lint template.yaml
echo "==> cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "==> cargo test"
cargo test --workspace --locked
