#!/usr/bin/env bash
# Benchmarks (separate from the tests): starts its own moto, then runs every `cargo bench` target,
# which print their figures. Release builds; expect a few minutes on a fresh clone.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

ensure_venv
start_moto "$(free_port)"
echo "==> commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown), $(nproc) cores"
cargo bench --workspace 2>&1 | grep -vE '^\s+(Compiling|Finished|Running)'
