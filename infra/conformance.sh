#!/usr/bin/env bash
# Conformance: serves the API locally (moto + cargo lambda watch) and runs schemathesis against
# openapi.yaml with an admin token: property-based requests for every operation, checking for
# server errors, undocumented status codes, content types, headers and response schemas.
# Bounded: EXAMPLES (default 25) examples per operation and phase. .ci/run calls it via test.sh.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

ensure_venv
[ -n "${AWS_ENDPOINT_URL:-}" ] || start_moto "$(free_port)"
API_PORT="$(free_port)"
# Rate limits would turn a fuzzing run into a wall of 429s; they have their own tests.
EXTRA_ENV="RATE_LIMITS=off,METRICS=off" start_api "$API_PORT"
TOKEN="$(python infra/mint_token.py --sub conformance --role admin --ttl 3600)"

echo "==> schemathesis against http://127.0.0.1:$API_PORT"
PYTHONPATH="$ROOT/infra" SCHEMATHESIS_HOOKS=schemathesis_hooks schemathesis run openapi.yaml \
  --url "http://127.0.0.1:$API_PORT" \
  --header "Authorization: Bearer $TOKEN" \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance \
  --phases examples,coverage,fuzzing \
  --max-examples "${EXAMPLES:-25}" \
  --seed 20261125 \
  --workers 1 \
  --suppress-health-check all
