#!/usr/bin/env bash
# Starts the local DynamoDB + SQS (moto) on 127.0.0.1:${MOTO_PORT:-5000} until Ctrl-C, for running
# `cargo test` by hand:  export AWS_ENDPOINT_URL=... (printed below) && cargo test --workspace
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
ensure_venv
start_moto "${MOTO_PORT:-5000}"
cat <<MSG
In another shell:
  export AWS_ENDPOINT_URL=$AWS_ENDPOINT_URL AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1
  cargo test --workspace
Ctrl-C stops moto.
MSG
wait "$MOTO_PID"
