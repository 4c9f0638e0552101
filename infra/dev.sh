#!/usr/bin/env bash
# Runs the API locally on its real paths: moto (DynamoDB) on 127.0.0.1:${MOTO_PORT:-5000}, the
# table from template.yaml, the six functions behind `cargo lambda watch` on
# http://127.0.0.1:${API_PORT:-9000}, a few seeded items, and a ready dev token. Ctrl-C stops it all.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

API_PORT="${API_PORT:-9000}"
ensure_venv
start_moto "${MOTO_PORT:-5000}"
set -a
source infra/local.env
set +a
INDEX_QUEUE_URL="$(python infra/table.py "$TABLE_NAME" "$TABLE_NAME-index")"
export INDEX_QUEUE_URL

# cargo lambda compiles lazily on the first request; build first so that request is fast.
echo "==> building the functions"
cargo build --workspace --bins

echo "==> starting cargo lambda watch on 127.0.0.1:$API_PORT"
cargo lambda watch --invoke-address 127.0.0.1 --invoke-port "$API_PORT" --ignore-changes \
  --env-file infra/local.env \
  --env-var "AWS_ENDPOINT_URL=$AWS_ENDPOINT_URL,AWS_ACCESS_KEY_ID=test,AWS_SECRET_ACCESS_KEY=test,AWS_REGION=us-east-1" \
  --env-var "INDEX_QUEUE_URL=$INDEX_QUEUE_URL" \
  > target/watch.log 2>&1 &
WATCH_PID=$!
# Lambda's SQS event source mapping, locally: feeds index jobs to the index-worker function.
python infra/sqs_poller.py "$INDEX_QUEUE_URL" "http://127.0.0.1:$API_PORT" > target/poller.log 2>&1 &
POLLER_PID=$!
trap 'kill $POLLER_PID $WATCH_PID 2>/dev/null || true; wait $WATCH_PID 2>/dev/null || true; stop_moto' EXIT
trap 'exit 130' INT TERM

TOKEN="$(python infra/mint_token.py --sub dev-user --role user)"
MODERATOR_TOKEN="$(python infra/mint_token.py --sub dev-moderator --role moderator)"
ADMIN_TOKEN="$(python infra/mint_token.py --sub dev-admin --role admin)"
API="http://127.0.0.1:$API_PORT"
for _ in $(seq 1 300); do
  status="$(curl -s -o /dev/null -w '%{http_code}' -H "authorization: Bearer $TOKEN" "$API/api/items?limit=1" || true)"
  [ "$status" = "200" ] && break
  kill -0 "$WATCH_PID" 2>/dev/null || { echo "cargo lambda watch stopped; see target/watch.log" >&2; cat target/watch.log >&2; exit 1; }
  sleep 1
done
[ "$status" = "200" ] || { echo "the API did not answer; see target/watch.log" >&2; exit 1; }

if [ "$(curl -s -H "authorization: Bearer $TOKEN" "$API/api/items?limit=1&fields=id")" = '{"success":true,"data":[],"page":{"limit":1,"next_cursor":null}}' ]; then
  echo "==> seeding items"
  for item in \
    '{"name":"Desk lamp","description":"Warm white, dimmable","status":"active","price":4999,"stock":12}' \
    '{"name":"Notebook","status":"active","price":450,"stock":200}' \
    '{"name":"Fountain pen","status":"draft","price":8900,"stock":3}' \
    '{"name":"Old stapler","status":"archived","price":1200,"stock":0}'; do
    curl -s -o /dev/null -X POST "$API/api/items" -H "authorization: Bearer $TOKEN" \
      -H 'content-type: application/json' -d "$item"
  done
fi

cat <<MSG

The API is up on $API (logs: target/watch.log; indexing: target/poller.log). Dev tokens, valid 12 h:

  export TOKEN=$TOKEN
  export MODERATOR_TOKEN=$MODERATOR_TOKEN
  export ADMIN_TOKEN=$ADMIN_TOKEN

TOKEN is user "dev-user" (read, write own items); moderators and admins may also delete.

  curl -s -H "authorization: Bearer \$TOKEN" '$API/api/items?sort=price&order=asc'
  curl -s -X POST '$API/api/items' -H "authorization: Bearer \$TOKEN" \\
       -H 'content-type: application/json' -d '{"name":"Mug","price":1200,"stock":5}'

  curl -s -H "authorization: Bearer \$TOKEN" '$API/api/items/search?q=desk+lamp'

Other tokens: python3 infra/mint_token.py --sub alice --role admin --ttl 3600
Ctrl-C stops the API and moto.
MSG
wait "$WATCH_PID"
