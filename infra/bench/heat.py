"""Partition heat and capacity: which DynamoDB partition key values the API's requests load, and how much.

DynamoDB serves one partition key value with at most ~3,000 read units and ~1,000 write units per
second, on the table and on each GSI alike, whatever the table's capacity; moto enforces none of it.
This bench puts a proxy in front of moto that derives, from every request and the table's key schemas
(template.yaml), the partition key values it touches and the units it consumes by DynamoDB's rules:

- reads: GetItem, BatchGetItem, TransactGetItems and Query by the size of what they return (4 KB units,
  halved when eventually consistent; Query on the partition its key condition names);
- writes: PutItem, UpdateItem, DeleteItem and TransactWriteItems by the larger of the item's images
  before and after (1 KB units, doubled in a transaction), read from moto around the write; on each GSI,
  a write wherever the item's index key is (a key change writes the old partition and the new one) in
  projected-size units; a condition that fails still costs its write unit. Vector index writes are
  counted per HASH value (their meter is bytes, so only counts are given).

Then it runs the release functions under the bench's local Lambda Runtime API, two containers per
function, in two phases:
1. per route, PER_ROUTE requests one after another: operations, units and partitions per request;
2. a mixed load (MIX below) from 8 concurrent clients over a catalog of CATALOG items and 32 users, then
   the index worker over the jobs it left: the hottest partition key values of the table and of each
   index, with their share of the index's units.
From both it prints the capacity model: for 1k, 10k and 100k requests/s of the mix, the load on the
hottest partition of each index (units/s against the partition limit) and the cost per million requests.
3. a flash sale: FLASH_ORDERS single-unit orders from 8 clients for one item with FLASH_STOCK units, once
   with its stock on the item and once split over FLASH_BUCKETS counters: units per order on the
   hottest key value of the table and of each index, and the orders per second one item can take
   before that value reaches its write limit.

    python infra/bench/heat.py     # with moto running (AWS_ENDPOINT_URL) and release builds in target/release
"""

import collections
import http.client
import json
import math
import os
import pathlib
import queue
import random
import sys
import threading
import time
import uuid

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "infra"))
sys.path.insert(0, str(ROOT / "infra" / "bench"))
from cold_start import memory_sizes  # noqa: E402
from lambda_bench import (  # noqa: E402
    QuietHandler, ThreadingServer, api_event, free_port, function_env, proc_cpu_seconds, start_function, stop,
)
from mint_token import local_secret, mint  # noqa: E402
from table import create_queues, table_definition  # noqa: E402

ENDPOINT = os.environ["AWS_ENDPOINT_URL"]
# /proc counts CPU in 10 ms ticks: 100 requests per route resolve 0.1 ms per request.
PER_ROUTE = int(os.environ.get("HEAT_PER_ROUTE", "100"))
MIXED = int(os.environ.get("HEAT_REQUESTS", "1000"))
CATALOG = int(os.environ.get("HEAT_CATALOG", "200"))
CONTAINERS = 2
FLASH_ORDERS = int(os.environ.get("HEAT_FLASH_ORDERS", "400"))
FLASH_STOCK = 300
FLASH_BUCKETS = int(os.environ.get("HEAT_FLASH_BUCKETS", "16"))
# Requests per 100 of the stated traffic mix (a catalog API: reads dominate).
MIX = {
    "get-item": 40, "list-items": 20, "search-items": 10, "update-item": 10, "create-order": 10,
    "create-item": 5, "list-orders": 3, "cancel-order": 2,
}
PARTITION_LIMIT = {"read": 3000, "write": 1000}
# Published on-demand prices, us-east-1 (PRICES_DATE; see README, Scale).
PRICES = {
    "lambda_gb_second_arm64": 0.0000133334, "lambda_request": 0.20 / 1e6,
    "read_unit": 0.125 / 1e6, "write_unit": 0.625 / 1e6,
    "sqs_request": 0.40 / 1e6, "http_api_request": 1.00 / 1e6,
}


# ------------------------------------------------------------------------------- DynamoDB rules

def value_size(value: dict) -> int:
    """Bytes of one attribute value, by DynamoDB's item size rules."""
    (kind, v), = value.items()
    if kind == "S":
        return len(v.encode())
    if kind == "N":
        digits = v.lstrip("-").replace(".", "").strip("0") or "0"
        return (len(digits) + 1) // 2 + 1
    if kind == "B":
        return len(v) * 3 // 4
    if kind in ("BOOL", "NULL"):
        return 1
    if kind in ("SS", "NS", "BS"):
        return sum(value_size({kind[0]: e}) for e in v)
    if kind == "L":
        return 3 + sum(1 + value_size(e) for e in v)
    if kind == "M":
        return 3 + sum(1 + len(k.encode()) + value_size(e) for k, e in v.items())
    raise ValueError(kind)


def item_size(item: dict | None) -> int:
    return sum(len(k.encode()) + value_size(v) for k, v in (item or {}).items())


def read_units(size: int, consistent: bool) -> float:
    return max(1, math.ceil(size / 4096)) * (1.0 if consistent else 0.5)


def write_units(size: int) -> int:
    return max(1, math.ceil(size / 1024))


class Schema:
    """The table's key schemas from template.yaml: table, GSIs (with projections) and vector indexes."""

    def __init__(self):
        spec = table_definition()
        keys = lambda schema: tuple(k["AttributeName"] for k in sorted(schema, key=lambda k: k["KeyType"]))
        self.table = keys(spec["KeySchema"])  # (pk, sk): HASH sorts before RANGE
        self.indexes = {i["IndexName"]: (keys(i["KeySchema"]), i["Projection"]) for i in spec["GlobalSecondaryIndexes"]}
        self.vectors = {
            v["IndexName"]: (v["VectorAttribute"]["AttributeName"],
                             next(e["AttributeName"] for e in v["SearchSchema"] if e["SearchSchemaElementType"] == "HASH"))
            for v in spec.get("VectorIndexes", [])
        }

    def projected_size(self, item: dict, index: str) -> int:
        (hash_key, range_key), projection = self.indexes[index]
        kept = set(self.table) | {hash_key, range_key}
        if projection["ProjectionType"] == "ALL":
            return item_size(item)
        if projection["ProjectionType"] == "INCLUDE":
            kept |= set(projection.get("NonKeyAttributes", []))
        return item_size({k: v for k, v in item.items() if k in kept})


def key_value(item: dict | None, attributes) -> str | None:
    """The index key of `item` as a display string, or None when the item is not in that index."""
    if not item or any(a not in item for a in attributes):
        return None
    return "|".join(next(iter(item[a].values())) for a in attributes)


# -------------------------------------------------------------------------------------- proxy

Touch = collections.namedtuple("Touch", "route index partition kind units")


class HeatProxy:
    """Forwards to moto and records a Touch per partition a request reads or writes."""

    def __init__(self, upstream: str, schema: Schema):
        host, port = upstream.split("//", 1)[1].split(":")
        self.host, self.port_upstream, self.schema = host, int(port), schema
        self.touches: list[Touch] = []
        self.lock = threading.Lock()
        self.route = "setup"
        proxy = self

        class Handler(QuietHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                target = self.headers.get("X-Amz-Target", "")
                headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
                operation = target.split(".", 1)[-1] if target.startswith("DynamoDB") else None
                request = json.loads(body or b"{}") if operation else {}
                before = proxy.images(operation, request) if operation else {}
                status, response_headers, data = proxy.forward(body, headers, self.path)
                if target.startswith("AmazonSQS"):
                    with proxy.lock:  # SQS is billed per request (64 KB chunks; ours are far smaller)
                        proxy.touches.append(Touch(proxy.route, "sqs", target.split(".", 1)[-1], "request", 1))
                if operation:
                    with proxy.lock:
                        proxy.touches.append(Touch(proxy.route, "dynamodb", operation, "call", 1))
                    try:
                        proxy.record(operation, request, status, json.loads(data or b"{}"), before)
                    except Exception as error:  # a measurement never breaks the request it watches
                        print(f"heat: could not account {operation}: {error!r}", file=sys.stderr)
                self.send_response(status)
                for k, v in response_headers:
                    if k.lower() not in ("content-length", "connection", "transfer-encoding"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.port = free_port()
        self.server = ThreadingServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.port}"

    def forward(self, body, headers, path="/"):
        conn = http.client.HTTPConnection(self.host, self.port_upstream, timeout=30)
        conn.request("POST", path, body=body, headers=headers)
        response = conn.getresponse()
        data = response.read()
        conn.close()
        return response.status, response.getheaders(), data

    def get(self, table: str, key: dict) -> dict | None:
        """The item's current image, read straight from moto (not recorded)."""
        body = json.dumps({"TableName": table, "Key": key, "ConsistentRead": True}).encode()
        headers = {"X-Amz-Target": "DynamoDB_20120810.GetItem", "Content-Type": "application/x-amz-json-1.0",
                   "Authorization": "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/dynamodb/aws4_request, "
                                    "SignedHeaders=host, Signature=0"}
        status, _, data = self.forward(body, headers)
        return json.loads(data).get("Item") if status == 200 else None

    def writes(self, operation: str, request: dict):
        """(table, key, transactional, new item if a Put) of each item the write operation touches."""
        if operation == "PutItem":
            item = request["Item"]
            return [(request["TableName"], {a: item[a] for a in self.schema.table}, False, item)]
        if operation in ("UpdateItem", "DeleteItem"):
            return [(request["TableName"], request["Key"], False, None)]
        if operation == "TransactWriteItems":
            out = []
            for entry in request["TransactItems"]:
                (kind, spec), = entry.items()
                key = spec.get("Key") or {a: spec["Item"][a] for a in self.schema.table}
                out.append((spec["TableName"], key, True, spec.get("Item") if kind == "Put" else None))
            return out
        return []

    def images(self, operation: str, request: dict) -> dict:
        return {json.dumps(key, sort_keys=True): self.get(table, key)
                for table, key, _, _ in self.writes(operation, request)}

    def add(self, index, item_or_key, kind, units):
        if index == "table":
            hash_key = self.schema.table[0]
        elif index in self.schema.indexes:
            hash_key = self.schema.indexes[index][0][0]
        elif index in self.schema.vectors:
            hash_key = self.schema.vectors[index][1]
        else:  # a Scan reads every partition
            hash_key = None
        partition = (key_value(item_or_key, (hash_key,)) if hash_key else "(every partition)") or "?"
        with self.lock:
            self.touches.append(Touch(self.route, index, partition, kind, units))

    def record(self, operation, request, status, response, before):
        if operation == "GetItem" and status == 200:
            item = response.get("Item")
            self.add("table", request["Key"], "read", read_units(item_size(item), request.get("ConsistentRead", False)))
        elif operation == "BatchGetItem" and status == 200:
            for table, spec in request["RequestItems"].items():
                found = {key_value(i, self.schema.table): i for i in response.get("Responses", {}).get(table, [])}
                for key in spec["Keys"]:
                    item = found.get(key_value(key, self.schema.table))
                    self.add("table", key, "read", read_units(item_size(item), spec.get("ConsistentRead", False)))
        elif operation == "TransactGetItems" and status == 200:
            for entry, got in zip(request["TransactItems"], response.get("Responses", [])):
                self.add("table", entry["Get"]["Key"], "read", 2 * read_units(item_size(got.get("Item")), True))
        elif operation == "Query" and status == 200:
            index = request.get("IndexName", "table")
            size = sum(item_size(i) for i in response.get("Items", []))
            self.add(index, self.query_partition(request, index), "read", read_units(size, request.get("ConsistentRead", False)))
        elif operation == "Scan" and status == 200:
            size = sum(item_size(i) for i in response.get("Items", []))
            self.add("scan", {}, "read", read_units(size, request.get("ConsistentRead", False)))
        elif operation in ("PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems"):
            self.record_writes(operation, request, status, response, before)

    def query_partition(self, request: dict, index: str) -> dict:
        """{hash attribute: value} from the key condition `<hash> = :value` (names resolved)."""
        hash_key = self.schema.table[0] if index == "table" else self.schema.indexes[index][0][0]
        names = request.get("ExpressionAttributeNames", {})
        for clause in request["KeyConditionExpression"].split(" AND "):
            left, _, right = (part.strip(" ()") for part in clause.partition("="))
            if names.get(left, left) == hash_key and right in request.get("ExpressionAttributeValues", {}):
                return {hash_key: request["ExpressionAttributeValues"][right]}
        return {}

    def record_writes(self, operation, request, status, response, before):
        failed_condition = status != 200 and "ConditionalCheckFailed" in json.dumps(response)
        if status != 200 and not (failed_condition and operation != "TransactWriteItems"):
            return  # a cancelled transaction or another error: nothing written (its reads are not modelled)
        for table, key, transactional, put in self.writes(operation, request):
            old = before.get(json.dumps(key, sort_keys=True))
            new = old if failed_condition else (put if operation == "PutItem" else self.get(table, key))
            factor = 2 if transactional else 1
            self.add("table", key, "write", factor * write_units(max(item_size(old), item_size(new))))
            if failed_condition or old == new:
                continue
            for index, (attributes, _) in self.schema.indexes.items():
                old_key, new_key = key_value(old, attributes), key_value(new, attributes)
                if old_key and old_key != new_key:
                    self.add(index, old, "write", write_units(self.schema.projected_size(old, index)))
                if new_key:
                    self.add(index, new, "write", write_units(self.schema.projected_size(new, index)))
            for index, (vector, shelf) in self.schema.vectors.items():
                indexed = [i for i in (new, old) if i and vector in i and shelf in i]
                changed = any((old or {}).get(a) != (new or {}).get(a) for a in (vector, shelf))
                if changed and indexed:
                    self.add(index, indexed[0], "vector write", 1)

    def take(self) -> list[Touch]:
        with self.lock:
            taken, self.touches = self.touches, []
        return taken

    def close(self):
        self.server.shutdown()


# ----------------------------------------------------------------------------------- the load

class Containers:
    """CONTAINERS processes of one function, each taking one event at a time, as Lambda runs them."""

    def __init__(self, function: str, env: dict):
        binary = ROOT / "target" / "release" / function
        self.idle: queue.Queue = queue.Queue()
        self.running = []
        for _ in range(CONTAINERS):
            api, process, _ = start_function(binary, env)
            self.running.append((api, process))
            self.idle.put(api)

    def cpu_seconds(self) -> float:
        return sum(proc_cpu_seconds(process.pid) for _, process in self.running)

    def invoke(self, event: dict) -> dict:
        api = self.idle.get()
        try:
            _, body = api.invoke(event)
        finally:
            self.idle.put(api)
        response = json.loads(body)
        if "statusCode" in response:
            response["json"] = json.loads(response.get("body") or "null")
        return response

    def close(self):
        for api, process in self.running:
            stop(process)
            api.close()


class Load:
    """The API's routes as a client calls them, against a seeded catalog."""

    def __init__(self, env: dict, proxy: HeatProxy, queue_url: str):
        self.secret, self.proxy, self.queue_url = local_secret(), proxy, queue_url
        self.functions = {name: Containers(name, env) for name in [*MIX, "index-worker"]}
        expires = int(time.time()) + 7200
        self.users = [mint(self.secret, f"heat-user-{n}", "user", expires) for n in range(32)]
        self.items: list[str] = []
        self.orders: list[tuple[str, str]] = []  # (owner token, order id)
        self.lock = threading.Lock()

    def call(self, route: str, method: str, path_route: str, path: str, token: str, **kwargs) -> dict:
        response = self.functions[route].invoke(api_event(method, path_route, path, token, **kwargs))
        if response.get("statusCode", 500) >= 500:
            raise RuntimeError(f"{route}: {response.get('statusCode')} {response.get('body', '')[:300]}")
        return response

    def seed(self):
        for n in range(CATALOG):
            body = {"name": f"{random.choice(['oak', 'steel', 'linen', 'glass'])} {random.choice(['desk', 'lamp', 'chair', 'rug', 'kettle'])} {n}",
                    "price": 100 + n, "stock": 1_000_000, "status": "active", "description": "heat bench item " * 8}
            created = self.call("create-item", "POST", "/api/items", "/api/items", self.users[n % len(self.users)], body=body)
            self.items.append(created["json"]["data"]["id"])
        self.drain_index_queue()

    def request(self, route: str, n: int):
        token = random.choice(self.users)
        item = random.choice(self.items)
        if route == "get-item":
            self.call(route, "GET", "/api/items/{id}", f"/api/items/{item}", token, path_params={"id": item})
        elif route == "list-items":
            query = [{"limit": "20"}, {"limit": "20", "sort": "price", "order": "asc"},
                     {"limit": "20", "status": "active"}, {"limit": "20", "status": "active", "sort": "price"}][n % 4]
            self.call(route, "GET", "/api/items", "/api/items", token, query=query)
        elif route == "search-items":
            self.call(route, "GET", "/api/items/search", "/api/items/search", token,
                      query={"q": random.choice(["oak desk", "steel lamp", "linen chair", "glass kettle"]), "limit": "20"})
        elif route == "update-item":
            owner = self.users[self.items.index(item) % len(self.users)]
            self.call(route, "PATCH", "/api/items/{id}", f"/api/items/{item}", owner,
                      body={"description": f"updated {n} " + "heat bench item " * 8}, path_params={"id": item})
        elif route == "create-item":
            created = self.call(route, "POST", "/api/items", "/api/items", token,
                                body={"name": f"new item {n}", "price": 500, "stock": 1_000_000, "status": "active"})
            with self.lock:
                self.items.append(created["json"]["data"]["id"])
        elif route == "create-order":
            placed = self.call(route, "POST", "/api/orders", "/api/orders", token,
                               body={"lines": [{"item_id": item, "quantity": 1}]})
            if placed.get("statusCode") == 201:
                with self.lock:
                    self.orders.append((token, placed["json"]["data"]["id"]))
        elif route == "list-orders":
            self.call(route, "GET", "/api/orders", "/api/orders", token, query={"limit": "20"})
        elif route == "cancel-order":
            with self.lock:
                picked = self.orders.pop(random.randrange(len(self.orders))) if self.orders else None
            if picked is None:
                return self.request("create-order", n)
            owner, order = picked
            self.call(route, "POST", "/api/orders/{id}/cancel", f"/api/orders/{order}/cancel", owner, path_params={"id": order})

    def flash_sale(self, buckets: int) -> tuple[int, list[Touch]]:
        """FLASH_ORDERS concurrent single-unit orders for one new item: (orders placed, their touches)."""
        body = {"name": f"flash console {buckets}", "price": 49_900, "stock": FLASH_STOCK, "status": "active",
                "stock_buckets": buckets}
        created = self.call("create-item", "POST", "/api/items", "/api/items", self.users[0], body=body)
        item = created["json"]["data"]["id"]
        self.proxy.take()
        work: queue.Queue = queue.Queue()
        for n in range(FLASH_ORDERS):
            work.put(n)
        placed = []

        def buyer():
            while True:
                try:
                    n = work.get_nowait()
                except queue.Empty:
                    return
                response = self.call("create-order", "POST", "/api/orders", "/api/orders", self.users[n % len(self.users)],
                                     body={"lines": [{"item_id": item, "quantity": 1}]})
                placed.append(response.get("statusCode") == 201)

        threads = [threading.Thread(target=buyer) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return sum(placed), self.proxy.take()

    def drain_index_queue(self):
        """Lambda's SQS event source, as infra/sqs_poller.py plays it: batches of 10 to the worker."""
        import boto3

        sqs = boto3.client("sqs", endpoint_url=ENDPOINT, region_name="us-east-1")
        route, self.proxy.route = self.proxy.route, "index-worker"
        while True:
            messages = sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10).get("Messages", [])
            if not messages:
                break
            records = [{"messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"],
                        "attributes": {}, "messageAttributes": {}, "eventSource": "aws:sqs", "awsRegion": "us-east-1",
                        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:heat"} for m in messages]
            self.functions["index-worker"].invoke({"Records": records})
            sqs.delete_message_batch(QueueUrl=self.queue_url, Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)])
        self.proxy.route = route

    def close(self):
        for containers in self.functions.values():
            containers.close()


# --------------------------------------------------------------------------------- the report

# What a DynamoDB call costs in wall time on AWS (single-digit milliseconds, AWS's own claim): an
# assumption, stated, since moto's times say nothing about DynamoDB's. Lambda bills wall time.
AWS_CALL_MS = 5.0
MB_PER_VCPU = 1769


def per_request(touches: list[Touch], requests: int) -> dict:
    """{(index, kind): units per request} and {operation: calls per request} of one route's touches."""
    units, sqs, calls = collections.Counter(), collections.Counter(), collections.Counter()
    for t in touches:
        if t.index == "sqs":
            sqs[t.partition] += 1 / requests
        elif t.index == "dynamodb":
            calls[t.partition] += 1 / requests
        else:
            units[(t.index, t.kind)] += t.units / requests
    return {"units": units, "sqs": sqs, "calls": calls}


def heat(touches: list[Touch]) -> dict:
    """{(index, kind): (total units, Counter of units per partition value)}."""
    by = collections.defaultdict(collections.Counter)
    for t in touches:
        if t.index not in ("sqs", "dynamodb"):
            by[(t.index, t.kind)][t.partition] += t.units
    return {key: (sum(counter.values()), counter) for key, counter in by.items()}


def main():
    import boto3

    schema = Schema()
    table = f"heat-{uuid.uuid4().hex[:8]}"
    boto3.client("dynamodb", endpoint_url=ENDPOINT, region_name="us-east-1").create_table(TableName=table, **table_definition())
    queue_url = create_queues(f"{table}-index")
    proxy = HeatProxy(ENDPOINT, schema)
    env = dict(function_env(table, local_secret(), queue_url, proxy.url), AWS_ENDPOINT_URL=proxy.url)
    random.seed(7)
    load = Load(env, proxy, queue_url)
    try:
        load.seed()
        proxy.take()

        # 1. Each route alone: units, calls and CPU per request.
        routes = {}
        for route in MIX:
            proxy.route = route
            cpu = load.functions[route].cpu_seconds()
            for n in range(PER_ROUTE):
                load.request(route, n)
            routes[route] = per_request(proxy.take(), PER_ROUTE)
            routes[route]["cpu_ms"] = (load.functions[route].cpu_seconds() - cpu) * 1000 / PER_ROUTE
            if route in ("create-item", "update-item"):
                # The index job each write leaves: the worker's share of the write's cost.
                cpu = load.functions["index-worker"].cpu_seconds()
                load.drain_index_queue()
                routes[route]["worker"] = per_request(proxy.take(), PER_ROUTE)
                routes[route]["worker_cpu_ms"] = (load.functions["index-worker"].cpu_seconds() - cpu) * 1000 / PER_ROUTE

        # 2. The mix from concurrent clients, then the worker over the jobs it left.
        proxy.route = "mixed"
        weights = list(MIX.values())
        plan = random.choices(list(MIX), weights=weights, k=MIXED)
        work: queue.Queue = queue.Queue()
        for n, route in enumerate(plan):
            work.put((n, route))
        errors = []

        def client():
            while True:
                try:
                    n, route = work.get_nowait()
                except queue.Empty:
                    return
                try:
                    load.request(route, n)
                except Exception as error:
                    errors.append(repr(error))

        threads = [threading.Thread(target=client) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        load.drain_index_queue()
        mixed = heat(proxy.take())

        # 3. A flash sale on one item, its stock on the item, then split.
        proxy.route = "flash"
        flash = {buckets: load.flash_sale(buckets) for buckets in (1, FLASH_BUCKETS)}
    finally:
        load.close()
        proxy.close()
    if errors:
        print(f"{len(errors)} requests failed, e.g. {errors[:3]}", file=sys.stderr)
    report(routes, mixed)
    report_flash(flash)


def report_flash(flash: dict):
    print(f"\nFlash sale: {FLASH_ORDERS} single-unit orders from 8 clients for one item with {FLASH_STOCK} units "
          "(write units per order on the hottest key value; limit 1,000 per second per value):\n")
    print("| stock kept | sold | hottest table value | its write units per order | hottest GSI value | its write units per order | orders/s one item can take |")
    print("|---|---|---|---|---|---|---|")
    for buckets, (sold, touches) in flash.items():
        by = heat(touches)
        table_total, table = by.get(("table", "write"), (0, collections.Counter()))
        gsi = collections.Counter()
        for (index, kind), (_, counter) in by.items():
            if kind == "write" and index not in ("table", "scan"):
                for value, units in counter.items():
                    gsi[f"{index}: {value}"] += units
        hottest_table = table.most_common(1)[0] if table else ("—", 0)
        hottest_gsi = gsi.most_common(1)[0] if gsi else ("—", 0)
        per_order = [hottest_table[1] / FLASH_ORDERS, hottest_gsi[1] / FLASH_ORDERS]
        ceiling = min(PARTITION_LIMIT["write"] / units for units in per_order if units > 0)
        kept = "on the item" if buckets == 1 else f"{buckets} counters"
        print(f"| {kept} | {sold} | {hottest_table[0]} | {per_order[0]:.2f} | {hottest_gsi[0]} | {per_order[1]:.2f} | {ceiling:,.0f} |")


def report(routes: dict, mixed: dict):
    print(f"\nPer request, each route alone ({PER_ROUTE} requests; units by DynamoDB's rules, from item sizes):\n")
    print("| route | table read | table write | GSI read | GSI write | vector writes | SQS requests | CPU ms | + worker per request (units, CPU ms) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for route, r in routes.items():
        u = r["units"]
        sum_of = lambda pred: sum(v for (index, kind), v in u.items() if pred(index, kind))
        worker = r.get("worker")
        worker_text = "—"
        if worker:
            w = worker["units"]
            worker_text = (f"{sum(v for (i, k), v in w.items() if k == 'read'):.1f} R, "
                           f"{sum(v for (i, k), v in w.items() if k == 'write'):.1f} W, {r['worker_cpu_ms']:.2f} ms")
        print(f"| {route} | {sum_of(lambda i, k: i == 'table' and k == 'read'):.2f} | {sum_of(lambda i, k: i == 'table' and k == 'write'):.2f} "
              f"| {sum_of(lambda i, k: i not in ('table', 'scan') and k == 'read'):.2f} | {sum_of(lambda i, k: i not in ('table', 'scan') and k == 'write'):.2f} "
              f"| {sum_of(lambda i, k: k == 'vector write'):.2f} | {sum(r['sqs'].values()):.2f} | {r['cpu_ms']:.2f} | {worker_text} |")

    print(f"\nHeat of the mixed load ({MIXED} requests, 8 clients, {CONTAINERS} containers per function, "
          f"{CATALOG}+ items, 32 users), hottest partition key values per index:\n")
    print("| index | kind | units | partition values | hottest | its share | next |")
    print("|---|---|---|---|---|---|---|")
    hottest_share = {}
    for (index, kind), (total, counter) in sorted(mixed.items()):
        top = counter.most_common(2)
        hottest_share[(index, kind)] = top[0][1] / total
        nxt = f"{top[1][0]} {100 * top[1][1] / total:.1f} %" if len(top) > 1 else "—"
        print(f"| {index} | {kind} | {total:.0f} | {len(counter)} | {top[0][0]} | {100 * top[0][1] / total:.1f} % | {nxt} |")

    # The capacity model: the mix's units per request on each index, times the hottest value's share.
    total_weight = sum(MIX.values())
    mix_units = collections.Counter()
    for route, weight in MIX.items():
        for key, v in routes[route]["units"].items():
            mix_units[key] += v * weight / total_weight
        for key, v in routes[route].get("worker", {"units": {}})["units"].items():
            mix_units[key] += v * weight / total_weight
    print("\nHottest partition at 1k / 10k / 100k requests/s of the mix (units/s; limit 3,000 read, 1,000 write per key value):\n")
    print("| index | kind | units per request | hottest share | 1k rps | 10k rps | 100k rps |")
    print("|---|---|---|---|---|---|---|")
    for (index, kind), units in sorted(mix_units.items()):
        if kind == "vector write" or (index, kind) not in hottest_share:
            continue
        limit = PARTITION_LIMIT[kind]
        loads = [rps * units * hottest_share[(index, kind)] for rps in (1_000, 10_000, 100_000)]
        cells = " | ".join(f"{load:,.0f}{' **over**' if load > limit else ''}" for load in loads)
        print(f"| {index} | {kind} | {units:.3f} | {100 * hottest_share[(index, kind)]:.1f} % | {cells} |")

    sizes, default_mb = memory_sizes()
    print(f"\nCost per million requests of the mix (prices: on-demand us-east-1, {PRICES_DATE}; Lambda arm64 at its "
          f"template memory, wall time = CPU at its share + {AWS_CALL_MS:g} ms per DynamoDB/SQS call):\n")
    totals = collections.Counter()
    for route, weight in MIX.items():
        share = weight / total_weight
        r = routes[route]
        memory = sizes.get(route, default_mb)
        calls = sum(r["calls"].values()) + sum(r["sqs"].values())
        ms = r["cpu_ms"] / min(1.0, memory / MB_PER_VCPU) + AWS_CALL_MS * calls
        totals["lambda"] += share * (memory / 1024 * ms / 1000 * PRICES["lambda_gb_second_arm64"] + PRICES["lambda_request"]) * 1e6
        reads = sum(v for (i, k), v in r["units"].items() if k == "read")
        writes = sum(v for (i, k), v in r["units"].items() if k == "write")
        totals["dynamodb"] += share * (reads * PRICES["read_unit"] + writes * PRICES["write_unit"]) * 1e6
        totals["sqs"] += share * sum(r["sqs"].values()) * PRICES["sqs_request"] * 1e6
        totals["api gateway"] += share * PRICES["http_api_request"] * 1e6
        if "worker" in r:
            w = r["worker"]
            worker_mb = sizes.get("index-worker", default_mb)
            worker_calls = sum(w["calls"].values()) + sum(w["sqs"].values())
            worker_ms = r["worker_cpu_ms"] / min(1.0, worker_mb / MB_PER_VCPU) + AWS_CALL_MS * worker_calls
            totals["lambda (worker)"] += share * (worker_mb / 1024 * worker_ms / 1000 * PRICES["lambda_gb_second_arm64"]
                                                  + PRICES["lambda_request"] / 10) * 1e6
            totals["dynamodb"] += share * (sum(v for (i, k), v in w["units"].items() if k == "read") * PRICES["read_unit"]
                                           + sum(v for (i, k), v in w["units"].items() if k == "write") * PRICES["write_unit"]) * 1e6
            totals["sqs"] += share * sum(w["sqs"].values()) * PRICES["sqs_request"] * 1e6
    print("| part | $ per million requests |")
    print("|---|---|")
    for part, dollars in totals.items():
        print(f"| {part} | {dollars:.2f} |")
    print(f"| **total** | **{sum(totals.values()):.2f}** |")


PRICES_DATE = "published since 2024-11, the latest this project could check"

if __name__ == "__main__":
    main()
