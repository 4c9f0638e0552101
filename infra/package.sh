#!/usr/bin/env bash
# Builds every function for AWS Lambda (arm64, provided.al2023): target/lambda/<function>/bootstrap.
# Cross-compiles with cargo-lambda and zig, both from PyPI, installed into .venv on first use.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

ensure_venv
ensure_zig
ensure_model
cargo lambda build --release --arm64 "$@"
echo "==> stripped arm64 binaries"
for bootstrap in target/lambda/*/bootstrap; do
  printf '%-14s %6.2f MB\n' "$(basename "$(dirname "$bootstrap")")" "$(echo "$(stat -c %s "$bootstrap") / 1048576" | bc -l)"
done
