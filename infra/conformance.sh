#!/usr/bin/env bash
# Conformance: serves the API locally (moto + cargo lambda watch) and runs schemathesis against
# openapi.yaml, once with a user token and once with an admin token: property-based requests for
# every operation with every check (server errors, status codes, content types, headers, response
# schemas, schema-valid requests accepted and schema-violating ones refused, auth, ...), and the
# stateful phase, which follows the spec's links (items created, then read, changed, ordered;
# orders read and cancelled; list pages followed by their cursors). Settings:
# infra/schemathesis.toml; hooks: infra/schemathesis_hooks.py. Bounded: EXAMPLES (default 25)
# examples per operation and phase. .ci/run calls it via test.sh.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

ensure_venv
[ -n "${AWS_ENDPOINT_URL:-}" ] || start_moto "$(free_port)"
API_PORT="$(free_port)"
# Rate limits would turn a fuzzing run into a wall of 429s; they have their own tests.
EXTRA_ENV="RATE_LIMITS=off,METRICS=off" start_api "$API_PORT"
# Undeclared methods (TRACE, ...) never reach a function: API Gateway answers them (README,
# "Contract"), so the unsupported_method check tests the gateway, not the API, and is left out.
# Two callers: a user (what most traffic is; admin-only operations answer 403) and an admin.
for role in user admin; do
  TOKEN="$(python infra/mint_token.py --sub "conformance-$role" --role "$role" --ttl 3600)"
  echo "==> schemathesis as $role against http://127.0.0.1:$API_PORT"
  PYTHONPATH="$ROOT/infra" SCHEMATHESIS_HOOKS=schemathesis_hooks schemathesis \
    --config-file infra/schemathesis.toml run openapi.yaml \
    --url "http://127.0.0.1:$API_PORT" \
    --header "Authorization: Bearer $TOKEN" \
    --checks all --exclude-checks unsupported_method \
    --phases examples,coverage,fuzzing,stateful \
    --max-examples "${EXAMPLES:-25}" \
    --seed 20261125 \
    --workers 1 \
    --suppress-health-check all
done
