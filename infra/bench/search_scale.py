"""search-items at catalog sizes: cold start and memory must not grow with the number of items.

The search now asks the table's vector index (SearchVectors) and loads nothing at cold start, so
its init, its first invocation, its CPU per request and its peak RSS should be the same at 1,000 and
at 50,000 items; only the store's own time to answer may differ. For each size N (BENCH_SCALE_SIZES,
default 1000,50000) this:
  - creates a fresh table from template.yaml (infra/table.py) and creates one item through the
    create-item function and indexes it through index-worker: their ITEM and VECTOR records are the
    templates of the records seeded next, so the shapes are exactly the functions' own;
  - seeds N more active items (public shelf, the template's owner) with BatchWriteItem: for each, the
    item record and its VECTOR record, with a new id and a random unit 256-dimension embedding;
  - asks the store once directly (the local store parses each vector on its first search, a cost
    DynamoDB has no counterpart of);
then, with every size's table in the one store, the sizes take turns: BENCH_SCALE_COLD_RUNS times
(default 5), for each size, the release search-items binary starts cold under the local Lambda
Runtime API of lambda_bench.py: init, the first invocation, then BENCH_SCALE_INVOCATIONS warm ones
(default 200). Its DynamoDB calls go through a proxy that times them, so the store's part of each
request (the time any call is at the store: SearchVectors, the re-check's BatchGetItem, the rate
limiter) can be told apart from the function's own.
Prints a table and writes target/bench/search_scale.json. Run through ./infra/bench.sh (BENCH_SCALE=0
skips it), or with moto running and AWS_ENDPOINT_URL set: python infra/bench/search_scale.py.
"""

import http.client
import json
import os
import pathlib
import random
import statistics
import subprocess
import sys
import time
import uuid

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "infra"))
sys.path.insert(0, str(ROOT / "infra" / "bench"))
from lambda_bench import (  # noqa: E402
    ENDPOINT,
    CountingProxy,
    ThreadingServer,
    api_event,
    function_env,
    percentile,
    proc_cpu_seconds,
    proc_peak_rss_mb,
    start_function,
    status_of,
    stop,
)
from mint_token import local_secret, mint  # noqa: E402

import numpy as np  # noqa: E402

DIMENSIONS = 256
QUERIES = ["desk lamp", "kettle", "bench chair", "wool rug", "oak table"]


_handle_error = ThreadingServer.handle_error


def _quiet_handle_error(self, request, client_address):
    if not isinstance(sys.exc_info()[1], ConnectionError):  # a stopped function's open connection
        _handle_error(self, request, client_address)


# In this process only: the Runtime API's and the proxy's servers, whose connections a stopped
# function leaves open, say nothing about their reset.
ThreadingServer.handle_error = _quiet_handle_error




CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


random_bits = random.Random(7)


def ulid(bits, millis):
    """A ULID (48 bits of milliseconds, 80 random bits) in its 26-character form, as item ids are."""
    value = (millis << 80) | bits.getrandbits(80)
    return "".join(CROCKFORD[(value >> shift) & 31] for shift in range(125, -1, -5))


def unit_vector(rng):
    """A random unit vector as the worker stores one: each f32 as the shortest decimal that reads back
    as that f32 (numpy's str of a float32, as Rust's to_string of an f32)."""
    values = rng.standard_normal(DIMENSIONS)
    values = (values / np.linalg.norm(values)).astype(np.float32)
    return [{"N": str(v)} for v in values]


def replace_id(value, old, new):
    """The record `value` (AttributeValue JSON) with every occurrence of the id `old` in a string made `new`."""
    if isinstance(value, dict):
        return {k: replace_id(v, old, new) for k, v in value.items()}
    if isinstance(value, list):
        return [replace_id(v, old, new) for v in value]
    if isinstance(value, str):
        return value.replace(old, new)
    return value


def templates(dynamodb, table, release, env, secret):
    """Creates one item through create-item and indexes it through index-worker; returns its id and
    its ITEM and VECTOR records as stored."""
    owner = mint(secret, "owner-0", "user", int(time.time()) + 7200)
    api, process, _ = start_function(release / "create-item", env, wrapped=False)
    body = {"name": "bench template lamp", "price": 1999, "stock": 1_000_000, "status": "active"}
    response = json.loads(api.invoke(api_event("POST", "/api/items", "/api/items", owner, body=body))[1])
    stop(process)
    api.close()
    item_id = json.loads(response["body"])["data"]["id"]
    item = dynamodb.get_item(TableName=table, Key={"pk": {"S": f"ITEM#{item_id}"}, "sk": {"S": "ITEM"}})["Item"]
    job = {"item_id": item_id, "version": int(item["version"]["N"]), "op": "upsert"}
    event = {"Records": [{
        "messageId": "m-0", "receiptHandle": "r-0", "body": json.dumps(job), "attributes": {},
        "messageAttributes": {}, "eventSource": "aws:sqs", "awsRegion": "us-east-1",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:bench",
    }]}
    api, process, _ = start_function(release / "index-worker", env, wrapped=False)
    api.invoke(event)
    stop(process)
    api.close()
    item = dynamodb.get_item(TableName=table, Key={"pk": {"S": f"ITEM#{item_id}"}, "sk": {"S": "ITEM"}})["Item"]
    vector = dynamodb.get_item(TableName=table, Key={"pk": {"S": f"ITEM#{item_id}"}, "sk": {"S": "VECTOR"}}).get("Item")
    if vector is None or len(vector.get("embedding", {}).get("L", [])) != DIMENSIONS:
        raise SystemExit(f"index-worker wrote no {DIMENSIONS}-dimension vector for the template item: {vector}")
    return item_id, item, vector


def seed(table, count, item_id, item, vector, rng):
    """count items like the template, each with its vector record, 12 items (24 records) per
    BatchWriteItem; returns the seconds it took. The requests go out as plain HTTP: botocore's checks
    and serializer would take about as long as the store on 6,000 numbers a request."""
    started = time.perf_counter()
    item = {k: v for k, v in item.items() if k != "index_pending"}  # indexed: no longer pending
    base_millis = int(time.time() * 1000) - count
    host, port = ENDPOINT.split("//", 1)[1].split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=600)
    headers = {
        "Content-Type": "application/x-amz-json-1.0",
        "X-Amz-Target": "DynamoDB_20120810.BatchWriteItem",
        # The local store reads the region from the credential scope and checks no signature.
        "Authorization": "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/dynamodb/aws4_request, "
                         "SignedHeaders=host;x-amz-date, Signature=0",
    }
    batch = []

    def flush():
        pending = {table: batch[:]}
        while pending:
            conn.request("POST", "/", body=json.dumps({"RequestItems": pending}), headers=headers)
            response = conn.getresponse()
            answer = json.loads(response.read())
            if response.status != 200:
                raise SystemExit(f"BatchWriteItem answered {response.status}: {str(answer)[:300]}")
            pending = answer.get("UnprocessedItems") or {}
        batch.clear()

    for n in range(count):
        new_id = ulid(random_bits, base_millis + n)
        record = replace_id(item, item_id, new_id)
        vector_record = replace_id({k: v for k, v in vector.items() if k != "embedding"}, item_id, new_id)
        vector_record["embedding"] = {"L": unit_vector(rng)}
        batch += [{"PutRequest": {"Item": record}}, {"PutRequest": {"Item": vector_record}}]
        if len(batch) >= 24:
            flush()
    if batch:
        flush()
    conn.close()
    return time.perf_counter() - started


def direct_search(dynamodb, table, rng):
    """One SearchVectors as search-items asks the public shelf, straight to the store; seconds."""
    query = unit_vector(rng)
    started = time.perf_counter()
    found = dynamodb.search_vectors(
        TableName=table, IndexName="item_vectors", SearchVector=query, TopK=60,
        SearchConditionExpression="#shelf = :shelf", ExpressionAttributeNames={"#shelf": "search_shelf", "#pk": "pk"},
        ExpressionAttributeValues={":shelf": {"S": "public"}}, ProjectionExpression="#pk",
    )["SearchResults"]
    return time.perf_counter() - started, len(found)


def count_hits(response_body):
    """How many items a search answer holds (its JSON body: a list, or an object with a list)."""
    page = json.loads(json.loads(response_body)["body"])
    if isinstance(page, dict):
        page = next((v for v in page.values() if isinstance(v, list)), [])
    return len(page)


def busy_ms(calls, only=None):
    """Milliseconds during which at least one of the calls (of operation `only`, if given) was at the
    store: the union of their intervals (search-items sends its two searches at once)."""
    intervals = sorted((start, end) for operation, start, end in calls if only is None or operation == only)
    total, reach = 0.0, float("-inf")
    for start, end in intervals:
        if end > reach:
            total += end - max(start, reach)
            reach = end
    return total * 1000


def count(calls, only):
    return sum(operation == only for operation, _, _ in calls)


def by_operation(calls, requests):
    """Per operation: calls per request, and the mean ms a call took at the store."""
    return {
        operation: {
            "per_request": round(count(calls, operation) / requests, 3),
            "ms_per_call": round(statistics.fmean((end - start) * 1000 for op, start, end in calls if op == operation), 3),
        }
        for operation in sorted({op for op, _, _ in calls})
    }


class Catalog:
    """One size: its fresh table, seeded, and asked once straight (see the module's docstring)."""

    def __init__(self, size, release, secret):
        import boto3
        from botocore.config import Config
        from table import create_queues, table_definition

        self.size = size
        dynamodb = boto3.client("dynamodb", endpoint_url=ENDPOINT, region_name="us-east-1",
                                config=Config(read_timeout=600, retries={"max_attempts": 1}))
        self.dynamodb = dynamodb
        self.table = f"scale-{size}-{uuid.uuid4().hex[:6]}"
        definition = table_definition()
        if not definition.get("VectorIndexes"):
            raise SystemExit("template.yaml's ItemsTable has no VectorIndexes: this search does not use SearchVectors")
        dynamodb.create_table(TableName=self.table, **definition)
        self.env = function_env(self.table, secret, create_queues(f"{self.table}-index"), ENDPOINT)
        rng = np.random.default_rng(size)
        item_id, item, vector = templates(dynamodb, self.table, release, self.env, secret)
        self.seed_seconds = seed(self.table, size, item_id, item, vector, rng)
        print(f"  {size} items seeded in {self.seed_seconds:.0f} s", flush=True)
        self.prime_seconds, _ = direct_search(dynamodb, self.table, rng)
        self.direct = [direct_search(dynamodb, self.table, rng)[0] for _ in range(5)]
        print(f"  store, straight: first SearchVectors (parses every vector) {self.prime_seconds * 1000:.0f} ms, "
              f"then {statistics.median(self.direct) * 1000:.1f} ms", flush=True)
        self.runs = []

    def drop(self):
        self.dynamodb.delete_table(TableName=self.table)  # moto frees the items (and their parsed vectors)


def cold_run(catalog, proxy, release, invocations, user):
    """search-items started cold on the catalog's table: init, first invocation, warm invocations."""
    def event(n):
        query = {"q": QUERIES[n % len(QUERIES)], "limit": "50"}
        return api_event("GET", "/api/items/search", "/api/items/search", user, query=query)

    proxy.take()
    api, process, init_ms = start_function(release / "search-items", dict(catalog.env, AWS_ENDPOINT_URL=proxy.url))
    first_seconds, body = api.invoke(event(0))
    status = status_of(body)
    assert status == 200, f"search-items answered {status}: {body[:300]!r}"
    hits = count_hits(body)
    first_calls = proxy.take()
    cpu_before = proc_cpu_seconds(process.pid)
    latencies = []
    for n in range(1, invocations + 1):
        seconds, body = api.invoke(event(n))
        latencies.append(seconds * 1000)
    warm_calls = proxy.take()
    cpu_seconds = proc_cpu_seconds(process.pid) - cpu_before
    peak = proc_peak_rss_mb(process.pid)
    stop(process)
    api.close()
    first_ms = first_seconds * 1000
    run = {
        "init_ms": init_ms,
        "first_ms": first_ms,
        "first_store_ms": busy_ms(first_calls),
        "first_store_search_ms": busy_ms(first_calls, "SearchVectors"),
        "first_function_ms": first_ms - busy_ms(first_calls),
        "first_calls": len(first_calls),
        "hits": hits,
        "warm_p50_ms": percentile(latencies, 0.5),
        "warm_p99_ms": percentile(latencies, 0.99),
        "warm_mean_ms": statistics.fmean(latencies),
        "warm_store_ms": busy_ms(warm_calls) / invocations,
        "warm_store_search_ms": busy_ms(warm_calls, "SearchVectors") / invocations,
        "warm_function_ms": statistics.fmean(latencies) - busy_ms(warm_calls) / invocations,
        "warm_searches_per_request": count(warm_calls, "SearchVectors") / invocations,
        "warm_calls_per_request": len(warm_calls) / invocations,
        # Per operation: calls per request and mean ms at the store per call.
        "first_operations": by_operation(first_calls, 1),
        "warm_operations": by_operation(warm_calls, invocations),
        "cpu_seconds": cpu_seconds,
        "peak_rss_mb": peak,
    }
    print(f"    {catalog.size} items: init {init_ms:.1f} ms, first {first_ms:.1f} ms (store busy "
          f"{busy_ms(first_calls):.1f} ms, SearchVectors {busy_ms(first_calls, 'SearchVectors'):.1f} ms), "
          f"warm p50 {percentile(latencies, 0.5):.1f} ms, peak RSS {peak:.1f} MB, {hits} hits", flush=True)
    return run


def summary(catalog, invocations):
    runs = catalog.runs

    def median(key):
        return round(statistics.median(r[key] for r in runs), 3)

    return {
        "items": catalog.size,
        "cold_runs": len(runs),
        "warm_invocations_per_run": invocations,
        "seed_seconds": round(catalog.seed_seconds, 1),
        "store_first_search_ms": round(catalog.prime_seconds * 1000, 1),
        "store_direct_search_ms": round(statistics.median(catalog.direct) * 1000, 2),
        "hits": median("hits"),
        "init_ms": median("init_ms"),
        "first_invocation_ms": median("first_ms"),
        "cold_start_ms": round(statistics.median(r["init_ms"] + r["first_ms"] for r in runs), 3),
        "first_store_ms": median("first_store_ms"),
        "first_store_search_ms": median("first_store_search_ms"),
        "first_function_ms": median("first_function_ms"),
        "warm_p50_ms": median("warm_p50_ms"),
        "warm_p99_ms": median("warm_p99_ms"),
        "warm_store_ms": median("warm_store_ms"),
        "warm_store_search_ms": median("warm_store_search_ms"),
        "warm_function_ms": median("warm_function_ms"),
        "searches_per_request": median("warm_searches_per_request"),
        "calls_per_request": median("warm_calls_per_request"),
        # Over every run: /proc counts CPU in clock ticks (10 ms).
        "cpu_us_per_invocation": round(sum(r["cpu_seconds"] for r in runs) / (invocations * len(runs)) * 1e6, 1),
        "peak_rss_mb": median("peak_rss_mb"),
        "peak_rss_mb_max": round(max(r["peak_rss_mb"] for r in runs), 1),
        **{
            name: {
                operation: {key: round(statistics.median(r[name].get(operation, {}).get(key, 0.0) for r in runs), 3)
                            for key in ("per_request", "ms_per_call")}
                for operation in sorted({op for r in runs for op in r[name]})
            }
            for name in ("first_operations", "warm_operations")
        },
        "runs": [{k: round(v, 3) if isinstance(v, float) else v for k, v in r.items()} for r in runs],
    }


def main():
    sizes = [int(s) for s in os.environ.get("BENCH_SCALE_SIZES", "1000,50000").split(",") if s]
    cold_runs = int(os.environ.get("BENCH_SCALE_COLD_RUNS", "5"))
    invocations = int(os.environ.get("BENCH_SCALE_INVOCATIONS", "200"))
    release = ROOT / "target" / os.environ.get("BENCH_PROFILE", "release")
    for name in ("search-items", "create-item", "index-worker"):
        if not (release / name).exists():
            raise SystemExit(f"{release / name} is missing: cargo build --release --bin {name}")
    secret = local_secret()
    catalogs = []
    for size in sizes:
        print(f"==> a table of {size} items", flush=True)
        catalogs.append(Catalog(size, release, secret))
    # The sizes take turns, in one store holding them all: what changes between them is only the
    # table searched, not the store's state nor what else runs on the machine meanwhile.
    user = mint(secret, "bench-user", "user", int(time.time()) + 7200)
    proxy = CountingProxy(ENDPOINT, timeout=120)
    for run in range(cold_runs):
        print(f"==> cold run {run + 1} of {cold_runs}", flush=True)
        for catalog in catalogs:
            catalog.runs.append(cold_run(catalog, proxy, release, invocations, user))
    proxy.close()
    rows = [summary(catalog, invocations) for catalog in catalogs]
    for catalog in catalogs:
        catalog.drop()

    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT).stdout.strip()
    report = {
        "commit": commit, "cores": os.cpu_count(), "dynamodb": "moto (single-threaded, infra/vector_index.py)",
        "event": "GET /api/items/search?q=...&limit=50 as a user (2 SearchVectors: public shelf, own drafts)",
        "sizes": rows,
    }
    out = ROOT / "target" / "bench"
    out.mkdir(parents=True, exist_ok=True)
    (out / "search_scale.json").write_text(json.dumps(report, indent=2))

    print(f"\ncommit {commit}, {os.cpu_count()} cores; median of {cold_runs} cold starts per size, "
          f"{invocations} warm invocations each; store = moto through a timing proxy\n")
    header = ("| items | init ms | first inv. ms | init + first ms | first: store busy ms (SearchVectors) "
              "| first: function ms | warm p50 ms | warm p99 ms | warm: store busy ms/req (SearchVectors) "
              "| warm: function ms/req | CPU µs/inv | peak RSS MB | DynamoDB calls/req | hits |")
    print(header)
    print("|" + "---|" * (header.count("|") - 1))
    for r in rows:
        print(f"| {r['items']} | {r['init_ms']} | {r['first_invocation_ms']} | {r['cold_start_ms']} "
              f"| {r['first_store_ms']} ({r['first_store_search_ms']}) | {r['first_function_ms']} | {r['warm_p50_ms']} "
              f"| {r['warm_p99_ms']} | {r['warm_store_ms']} ({r['warm_store_search_ms']}) | {r['warm_function_ms']} "
              f"| {r['cpu_us_per_invocation']} | {r['peak_rss_mb']} | {r['calls_per_request']} | {r['hits']} |")
    print("\nstore busy = time with at least one DynamoDB call of the function at the store (moto, through the "
          "proxy); function = the invocation's latency less that. Warm calls per request and ms at the store per call:")
    for r in rows:
        for name in ("first_operations", "warm_operations"):
            operations = ", ".join(f"{op} {v['per_request']} x {v['ms_per_call']} ms" for op, v in r[name].items())
            print(f"  {r['items']} items, {name.split('_')[0]}: {operations}")
    print("\nThe store's own first search after seeding (it parses every vector once; DynamoDB has no such step), "
          "and one straight SearchVectors after it:")
    for r in rows:
        print(f"  {r['items']} items: seeded in {r['seed_seconds']} s, first search {r['store_first_search_ms']} ms, "
              f"then {r['store_direct_search_ms']} ms")
    print(f"\nwrote {out / 'search_scale.json'}")


if __name__ == "__main__":
    main()
