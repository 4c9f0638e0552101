"""Regenerate the API Gateway (HTTP API, payload v2) fixtures in events/.

Fixture tokens are signed with the public local secret (infra/local.env) and expire in 2100, so
`cargo lambda invoke <fn> --data-file events/<fn>.<case>.json` works against the local stack.
"""

import json
import pathlib

from mint_token import local_secret, mint

EVENTS = pathlib.Path(__file__).resolve().parent.parent / "events"
FIXTURE_ID = "01JDQ3G9X2V0Y8M6K4T5R7N3PA"
FIXTURE_ORDER_ID = "01JDQ3G9X2V0Y8M6K4T5R7N3QR"
TOKEN = mint(local_secret(), "fixture-user", "user", 4102444800)
# Deleting needs the delete permission, which the user role lacks.
MODERATOR_TOKEN = mint(local_secret(), "fixture-moderator", "moderator", 4102444800)
ADMIN_TOKEN = mint(local_secret(), "fixture-admin", "admin", 4102444800)


def event(method, route, path, *, query=None, path_params=None, body=None, token=TOKEN, headers=None):
    all_headers = {"host": "localhost:9000", "user-agent": "curl/8.5.0", "accept": "application/json"}
    if token:
        all_headers["authorization"] = f"Bearer {token}"
    if body is not None:
        all_headers["content-type"] = "application/json"
    all_headers.update(headers or {})
    raw_query = "&".join(f"{k}={v}" for k, v in (query or {}).items())
    out = {
        "version": "2.0",
        "routeKey": f"{method} {route}",
        "rawPath": path,
        "rawQueryString": raw_query,
        "headers": all_headers,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "local",
            "domainName": "localhost",
            "domainPrefix": "localhost",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": "curl/8.5.0",
            },
            "requestId": "fixture-request-id",
            "routeKey": f"{method} {route}",
            "stage": "$default",
            "time": "25/Nov/2026:13:44:56 +0000",
            "timeEpoch": 1795614296000,
        },
        "isBase64Encoded": False,
    }
    if query:
        out["queryStringParameters"] = query
    if path_params:
        out["pathParameters"] = path_params
    if body is not None:
        out["body"] = json.dumps(body)
    return out


def item_event(method, *, body=None, headers=None, query=None, token=TOKEN):
    return event(method, "/api/items/{id}", f"/api/items/{FIXTURE_ID}",
                 path_params={"id": FIXTURE_ID}, body=body, headers=headers, query=query, token=token)


FIXTURES = {
    "list-items.ok": event("GET", "/api/items", "/api/items"),
    "list-items.filtered": event("GET", "/api/items", "/api/items",
                                 query={"status": "active", "sort": "price", "order": "asc", "limit": "5",
                                        "fields": "id,name,price"}),
    "list-items.offset": event("GET", "/api/items", "/api/items", query={"offset": "20"}),
    "get-item.ok": item_event("GET"),
    "get-item.fields": item_event("GET", query={"fields": "id,name,price"}),
    "get-item.no-token": event("GET", "/api/items/{id}", f"/api/items/{FIXTURE_ID}",
                               path_params={"id": FIXTURE_ID}, token=None),
    "create-item.ok": event("POST", "/api/items", "/api/items",
                            body={"name": "Desk lamp", "description": "Warm white, dimmable",
                                  "status": "active", "price": 4999, "stock": 12}),
    "create-item.invalid": event("POST", "/api/items", "/api/items",
                                 body={"name": "", "price": -1, "status": "sold", "owner_id": "someone-else"}),
    "replace-item.ok": item_event("PUT", body={"name": "Desk lamp (v2)", "price": 5499, "stock": 10,
                                               "status": "active"}),
    "update-item.ok": item_event("PATCH", body={"stock": 7}),
    "update-item.if-match": item_event("PATCH", body={"price": 3999}, headers={"if-match": "\"1\""}),
    "delete-item.ok": item_event("DELETE", token=MODERATOR_TOKEN),
    "search-items.ok": event("GET", "/api/items/search", "/api/items/search", query={"q": "desk lamp", "limit": "5"}),
    "reindex.ok": event("POST", "/api/admin/reindex", "/api/admin/reindex", token=ADMIN_TOKEN),
    "create-order.ok": event("POST", "/api/orders", "/api/orders",
                             body={"lines": [{"item_id": FIXTURE_ID, "quantity": 2}]},
                             headers={"idempotency-key": "fixture-order-1"}),
    "list-orders.ok": event("GET", "/api/orders", "/api/orders", query={"limit": "10"}),
    "get-order.ok": event("GET", "/api/orders/{id}", f"/api/orders/{FIXTURE_ORDER_ID}",
                          path_params={"id": FIXTURE_ORDER_ID}),
    "cancel-order.ok": event("POST", "/api/orders/{id}/cancel", f"/api/orders/{FIXTURE_ORDER_ID}/cancel",
                             path_params={"id": FIXTURE_ORDER_ID}),
    "delete-item.forbidden": item_event("DELETE"),
}


def sqs_record(message_id, body):
    return {
        "messageId": message_id,
        "receiptHandle": f"receipt-{message_id}",
        "body": body,
        "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1795614296000"},
        "messageAttributes": {},
        "md5OfBody": "",
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:items-index",
        "awsRegion": "us-east-1",
    }


# The worker's SQS event: one real job and one poison message, to show partial batch failure.
SQS_FIXTURES = {
    "index-worker.batch": {"Records": [
        sqs_record("job-1", json.dumps({"item_id": FIXTURE_ID, "version": 1, "op": "upsert"})),
        sqs_record("poison-1", "this is not a job"),
    ]},
}


def main() -> None:
    EVENTS.mkdir(exist_ok=True)
    for name, fixture in SQS_FIXTURES.items():
        (EVENTS / f"{name}.json").write_text(json.dumps(fixture, indent=2) + "\n")
    for name, fixture in FIXTURES.items():
        (EVENTS / f"{name}.json").write_text(json.dumps(fixture, indent=2) + "\n")
    print(f"wrote {len(FIXTURES)} fixtures to {EVENTS}")


if __name__ == "__main__":
    main()
