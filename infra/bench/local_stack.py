"""The local stack as a developer meets it: latency through `cargo lambda watch` (debug builds,
moto, the SQS poller running), and 200 concurrent orders through the local API.

    python infra/bench/local_stack.py http://127.0.0.1:9000

Run by ./infra/bench.sh after the Lambda benchmark (BENCH_LOCAL=0 skips it).
"""

import concurrent.futures
import json
import os
import pathlib
import statistics
import sys
import time
import urllib.request

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "infra"))
from mint_token import local_secret, mint  # noqa: E402

SAMPLES = 50
ORDERS = 200
# Clients in flight at once: all of them by default; LOCAL_CONCURRENCY lowers it. (Sent straight to
# `cargo lambda watch`, 200 at once stalled it for minutes; infra/local_gateway.py says why.)
CONCURRENCY = int(os.environ.get("LOCAL_CONCURRENCY", str(ORDERS)))


def call(api, token, method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(f"{api}{path}", data=data, method=method)
    request.add_header("authorization", f"Bearer {token}")
    if data is not None:
        request.add_header("content-type", "application/json")
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=600) as response:
            status, payload = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, payload = error.code, error.read()
    return status, (time.perf_counter() - started) * 1000, json.loads(payload or b"null")


def main():
    api = sys.argv[1]
    secret = local_secret()
    user = mint(secret, "local-bench", "user", int(time.time()) + 3600)
    seller = mint(secret, "local-seller", "user", int(time.time()) + 3600)
    status, _, created = call(api, seller, "POST", "/api/items", {"name": "bench stock", "price": 5, "stock": 1_000_000, "status": "active"})
    assert status == 201, created
    item = created["data"]["id"]

    routes = {
        "GET /api/items/{id}": lambda n: call(api, user, "GET", f"/api/items/{item}"),
        "GET /api/items?limit=5": lambda n: call(api, user, "GET", "/api/items?limit=5"),
        "POST /api/items": lambda n: call(api, user, "POST", "/api/items", {"name": f"local {n}", "price": n}),
        "POST /api/orders": lambda n: call(api, user, "POST", "/api/orders", {"lines": [{"item_id": item, "quantity": 1}]}),
    }
    rows = []
    for name, send in routes.items():
        send(0)  # the first call may still compile or start the function
        latencies = []
        for n in range(1, SAMPLES + 1):
            status, ms, body = send(n)
            assert status < 400, (name, status, body)
            latencies.append(ms)
        rows.append((name, statistics.median(latencies), max(latencies)))

    print(f"\nLocal stack (cargo lambda watch, debug builds, moto, SQS poller running), {SAMPLES} sequential calls each:\n")
    print("| route | p50 ms | max ms |")
    print("|---|---|---|")
    for name, p50, worst in rows:
        print(f"| {name} | {p50:.1f} | {worst:.1f} |", flush=True)

    # Ten buyers, twenty orders each: under the default per-user write limit (120/min).
    buyers = [mint(secret, f"local-buyer-{n}", "user", int(time.time()) + 3600) for n in range(10)]
    order = lambda n: call(api, buyers[n % len(buyers)], "POST", "/api/orders", {"lines": [{"item_id": item, "quantity": 1}]})[0]
    started = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(max_workers=CONCURRENCY) as pool:
        statuses = list(pool.map(order, range(ORDERS)))
    elapsed = time.perf_counter() - started
    _, _, stored = call(api, seller, "GET", f"/api/items/{item}")

    answered = {code: statuses.count(code) for code in sorted(set(statuses))}
    print(f"\n{ORDERS} orders, {CONCURRENCY} at a time: {elapsed:.1f} s, statuses {answered}, stock now {stored['data']['stock']}")


if __name__ == "__main__":
    main()
