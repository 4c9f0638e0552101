#!/usr/bin/env bash
# Runs the API locally on its real paths: moto (DynamoDB + SQS) on 127.0.0.1:${MOTO_PORT:-5000}, the
# table and queues from template.yaml, every function behind `cargo lambda watch` on
# http://127.0.0.1:${API_PORT:-9000}, the local SQS poller, a few seeded items, and ready dev
# tokens. Ctrl-C stops it all.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

API_PORT="${API_PORT:-9000}"
ensure_venv
start_moto "${MOTO_PORT:-5000}"
start_api "$API_PORT"
TOKEN="$(python infra/mint_token.py --sub dev-user --role user)"
MODERATOR_TOKEN="$(python infra/mint_token.py --sub dev-moderator --role moderator)"
ADMIN_TOKEN="$(python infra/mint_token.py --sub dev-admin --role admin)"
API="http://127.0.0.1:$API_PORT"

if [ "$(curl -s -H "authorization: Bearer $TOKEN" "$API/api/items?limit=1&fields=id")" = '{"success":true,"data":[],"page":{"limit":1,"next_cursor":null}}' ]; then
  echo "==> seeding items"
  for item in \
    '{"name":"Desk lamp","description":"Warm white, dimmable","status":"active","price":4999,"stock":12}' \
    '{"name":"Notebook","status":"active","price":450,"stock":200}' \
    '{"name":"Leather sofa","description":"Three seats, cognac brown","status":"active","price":89900,"stock":2}' \
    '{"name":"Ceramic mug","description":"350 ml, dishwasher safe","status":"active","price":1400,"stock":40}' \
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

  curl -s -H "authorization: Bearer \$TOKEN" '$API/api/items/search?q=couch'    # finds the Leather sofa

Other tokens: python3 infra/mint_token.py --sub alice --role admin --ttl 3600
Ctrl-C stops the API and moto.
MSG
wait "$WATCH_PID"
