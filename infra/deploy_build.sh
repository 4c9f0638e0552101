#!/usr/bin/env bash
# The deploy build: `sam build` as template.yaml and samconfig.toml set it up (each function built by
# cargo lambda for arm64 in its own package directory, into the workspace's one target/), with the SAM CLI,
# cargo-lambda and zig installed into project-local virtualenvs on first use. Then checks every artefact
# SAM will upload: .aws-sam/build/<Function>/bootstrap is an arm64 ELF binary identical to the one cargo
# just built for this tree, and prints its size zipped as `sam deploy` uploads it.
#   ./infra/deploy_build.sh            # then: sam deploy --guided (PATH as printed at the end)
# Extra arguments go to `sam build`.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

ensure_venv
ensure_zig
ensure_sam
ensure_model
export SAM_CLI_TELEMETRY=0
started=$(date +%s)
echo "==> sam build"
sam build "$@"
echo "==> sam build took $(( $(date +%s) - started )) s"
python infra/check_build.py
