"""SearchVectors of the local store (infra/vector_index.py): same answers as the pure-Python search, and its speed.

Both run in this process on moto's in-memory backend (moto's mock_aws, with infra/moto_server.py's
patches), through boto3, so a search is parsed and answered as the server does it.

  equivalence [--rounds N] [--seed S]
      Random tables (1 to 256 dimensions, every distance function, HASH and INLINE_FILTER elements of
      each type, a range key or not) with random items: vectors from a few values (many exact ties),
      duplicates, zero vectors, huge and tiny magnitudes, invalid vectors (wrong length, a non-number
      element, a value that is infinite at f32), items without the HASH attribute or with another type.
      Each round runs random searches (TopK, conditions, projections, zero and stored query vectors,
      invalid requests) with the current search and with the reference, then changes items (UpdateItem
      SET of one element of a vector in place, SET of a whole vector, REMOVE, PutItem, DeleteItem,
      BatchWriteItem) and searches again. Every answer must be identical: the same items in the same
      order, the same scores to the last bit, the same error type and message.
  timing [--sizes 1000,10000,50000] [--runs R]
      N items of 256 dimensions in one HASH value (the app's item_vectors index: COSINE, search_shelf
      HASH, search_status and search_owner INLINE_FILTER, KEYS_ONLY), TopK 60: the time of one search
      with the reference, and with the current search the first one (which parses every vector), the
      next ones (median, max), the same with an inline filter, with ProjectionExpression pk (as
      search-items asks), and the first one after a write to an item with a vector.

The reference is infra/vector_index.py as of REFERENCE_COMMIT (the last one whose search scored every
item in Python), read with `git show`; --reference REV picks another.
"""

import argparse
import array
import json
import math
import os
import pathlib
import random
import statistics
import subprocess
import sys
import time
import types

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "infra"))

REFERENCE_COMMIT = "194dfc2"
# SearchVectors resolves to another host than the other operations, one moto's mock does not route.
MOCK_ENDPOINT = "https://dynamodb.us-east-1.amazonaws.com"

for key, value in {
    "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
}.items():
    os.environ[key] = value
os.environ.pop("AWS_ENDPOINT_URL", None)
os.environ.pop("AWS_PROFILE", None)

import boto3  # noqa: E402
from botocore.config import Config  # noqa: E402
from botocore.exceptions import ClientError  # noqa: E402
from moto import mock_aws  # noqa: E402
from moto.dynamodb.models import dynamodb_backends  # noqa: E402
from moto.dynamodb.responses import DynamoHandler  # noqa: E402

import moto_server  # noqa: E402
import vector_index  # noqa: E402


def load_reference(rev):
    source = subprocess.run(
        ["git", "show", f"{rev}:infra/vector_index.py"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    module = types.ModuleType("vector_index_reference")
    module.__file__ = f"{rev}:infra/vector_index.py"
    exec(compile(source, module.__file__, "exec"), module.__dict__)
    return module


class Searcher:
    """Runs one SearchVectors request with a given implementation of the operation."""

    def __init__(self, client, reference):
        self.client = client
        self.implementations = {"current": vector_index.search_vectors, "reference": reference.search_vectors}

    def __call__(self, which, request):
        DynamoHandler.search_vectors = self.implementations[which]
        try:
            response = self.client.search_vectors(**request)
            return {"SearchResults": response["SearchResults"]}
        except ClientError as error:
            return {"Error": error.response["Error"].get("Code"), "Message": error.response["Error"].get("Message")}
        finally:
            DynamoHandler.search_vectors = vector_index.search_vectors


# --- equivalence -------------------------------------------------------------------------------

PALETTES = [
    lambda rng: rng.choice([0, 1, -1, 2, 0.5]),
    lambda rng: rng.gauss(0, 1),
    lambda rng: rng.choice([0, 1, 2, 3]) * rng.choice([1, 1e-20, 1e20]),
    lambda rng: rng.gauss(0, 1) * 1e37,   # products overflow f32
    lambda rng: rng.gauss(0, 1) * 1e-40,  # f32 subnormals
    lambda rng: rng.uniform(-1, 1),
]


def number(value):
    text = repr(float(value))
    return text[:-2] if text.endswith(".0") else text


def random_vector(rng, dims, palette):
    return [palette(rng) for _ in range(dims)]


def as_list(values):
    return {"L": [{"N": number(v)} for v in values]}


def random_table(client, rng, name):
    dims = rng.choice([1, 2, 3, 4, 8, 16, 64, 256])
    function = rng.choice(["COSINE", "EUCLIDEAN", "DOT_PRODUCT"])
    hash_type = rng.choice(["S", "N", "B", None])
    filter_types = rng.sample(["S", "N", "B"], rng.randint(0, 3))
    ranged = rng.random() < 0.5
    attrs = [{"AttributeName": "pk", "AttributeType": "S"}]
    key_schema = [{"AttributeName": "pk", "KeyType": "HASH"}]
    if ranged:
        attrs.append({"AttributeName": "sk", "AttributeType": "S"})
        key_schema.append({"AttributeName": "sk", "KeyType": "RANGE"})
    schema = []
    if hash_type:
        attrs.append({"AttributeName": "h", "AttributeType": hash_type})
        schema.append({"AttributeName": "h", "SearchSchemaElementType": "HASH"})
    for i, kind in enumerate(filter_types):
        attrs.append({"AttributeName": f"f{i}", "AttributeType": kind})
        schema.append({"AttributeName": f"f{i}", "SearchSchemaElementType": "INLINE_FILTER"})
    projection = rng.choice([{"ProjectionType": "ALL"}, {"ProjectionType": "KEYS_ONLY"},
                             {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["extra"]}])
    index = {
        "IndexName": "vectors", "VectorAttribute": {"AttributeName": "v"}, "Dimensions": dims,
        "DistanceFunction": function, "Projection": projection,
    }
    if schema:
        index["SearchSchema"] = schema
    # The index comes after the first items (add_index): only then can the table hold items the write
    # checks refuse (a vector of another length, one infinite at f32, a HASH value of another type).
    client.create_table(TableName=name, KeySchema=key_schema, AttributeDefinitions=attrs[:len(key_schema)],
                        BillingMode="PAY_PER_REQUEST")
    return {"name": name, "dims": dims, "function": function, "hash_type": hash_type,
            "filter_types": filter_types, "ranged": ranged, "attrs": attrs, "index": index}


def add_index(client, spec):
    client.update_table(TableName=spec["name"], AttributeDefinitions=spec["attrs"],
                        VectorIndexUpdates=[{"Create": spec["index"]}])


TEXT_RNG = random.Random(0)


def typed(kind, choice):
    number_text = str(choice) if TEXT_RNG.random() < 0.7 else f"{choice}.0"  # equal numbers, other text
    return {"S": {"S": f"s{choice}"}, "N": {"N": number_text}, "B": {"B": bytes([choice])}}[kind]


def random_item(rng, spec, n, vectors, palette):
    item = {"pk": {"S": f"p{rng.randint(0, max(1, n))}"}, "extra": {"S": "x"}, "misc": {"N": str(n)}}
    if spec["ranged"]:
        item["sk"] = {"S": f"r{rng.randint(0, 3)}"}
    dims = spec["dims"]
    roll = rng.random()
    if roll < 0.05:
        pass  # no vector
    elif roll < 0.08:
        item["v"] = {"S": "not a vector"}
    elif roll < 0.10:
        item["v"] = as_list(random_vector(rng, dims + 1, palette))  # another length
    elif roll < 0.11:
        item["v"] = {"L": [{"N": "1e39"}] + as_list(random_vector(rng, dims - 1, palette))["L"]}  # inf at f32
    elif roll < 0.18 and vectors:
        item["v"] = as_list(rng.choice(vectors))  # an exact duplicate
    else:
        values = random_vector(rng, dims, palette)
        if rng.random() < 0.05:
            values = [0.0] * dims
        vectors.append(values)
        item["v"] = as_list(values)
    if spec["hash_type"]:
        roll = rng.random()
        if roll < 0.85:
            item["h"] = typed(spec["hash_type"], rng.randint(0, 2))
        elif roll < 0.92:
            other = next(t for t in ("S", "N", "B") if t != spec["hash_type"])
            item["h"] = typed(other, 1)  # another type: written (no check on a non-key), not indexed
    for i, kind in enumerate(spec["filter_types"]):
        roll = rng.random()
        if roll < 0.85:
            item[f"f{i}"] = typed(kind, rng.randint(0, 2))
        elif roll < 0.9:
            item[f"f{i}"] = {"BOOL": rng.random() < 0.5}  # an inline filter attribute need not have its type
        elif roll < 0.95:
            item[f"f{i}"] = typed(next(t for t in ("S", "N", "B") if t != kind), 1)
    return item


def store(client, spec, items):
    """Writes items 25 at a time with BatchWriteItem; a batch the write checks refuse is written one
    item at a time, and the refused items are left out (as DynamoDB refuses them)."""
    for start in range(0, len(items), 25):
        chunk = items[start:start + 25]
        try:
            client.batch_write_item(RequestItems={spec["name"]: [{"PutRequest": {"Item": it}} for it in chunk]})
        except ClientError:
            for item in chunk:
                try:
                    client.put_item(TableName=spec["name"], Item=item)
                except ClientError:
                    pass


def random_request(rng, spec, vectors, stored_queries):
    dims = spec["dims"]
    roll = rng.random()
    if roll < 0.05:
        query = [0.0] * dims
    elif roll < 0.35 and stored_queries:
        query = rng.choice(stored_queries)
    else:
        query = random_vector(rng, dims, rng.choice(PALETTES))
    request = {"TableName": spec["name"], "IndexName": "vectors",
               "SearchVector": as_list(query)["L"], "TopK": rng.choice([1, 2, 3, 5, 10, 60, 100])}
    names, values, clauses = {}, {}, []
    if spec["hash_type"] and rng.random() < 0.97:
        values[":h"] = typed(spec["hash_type"], rng.randint(0, 2))
        if rng.random() < 0.5:
            names["#h"] = "h"
            clauses.append("#h = :h")
        else:
            clauses.append(":h = h" if rng.random() < 0.2 else "h = :h")
    for i, kind in enumerate(spec["filter_types"]):
        if rng.random() < 0.4:
            values[f":f{i}"] = typed(kind, rng.randint(0, 2)) if rng.random() < 0.9 else {"BOOL": True}
            clauses.append(f"f{i} = :f{i}")
    if clauses:
        request["SearchConditionExpression"] = " AND ".join(clauses)
    if rng.random() < 0.3:
        request["ProjectionExpression"] = rng.choice(["pk", "pk, v", "v[0], extra", "misc, h, pk"])
    if names:
        request["ExpressionAttributeNames"] = names
    if values:
        request["ExpressionAttributeValues"] = values
    roll = rng.random()
    if roll < 0.02:
        request["TopK"] = rng.choice([0, 101])
    elif roll < 0.04:
        request["SearchVector"] = request["SearchVector"][:-1] or [{"N": "1"}, {"N": "2"}]
    elif roll < 0.05:
        request["SearchVector"] = [{"N": "1e39"}] * dims
    elif roll < 0.06:
        request["IndexName"] = "missing"
    elif roll < 0.07 and "SearchConditionExpression" in request:
        request["SearchConditionExpression"] = request["SearchConditionExpression"].replace("=", "<>", 1)
    return request


def mutate(client, rng, spec, vectors, palette):
    """One random write through the API (or a raw put of an item the write checks would refuse)."""
    name, dims = spec["name"], spec["dims"]
    backend = dynamodb_backends["123456789012"]["us-east-1"]
    items = [item.to_json()["Attributes"] for item in vector_index._items(backend.get_table(name))]
    roll = rng.random()
    key_of = (lambda it: {k: it[k] for k in ("pk", "sk") if k in it})
    if items and roll < 0.3:
        victim = rng.choice([it for it in items if "v" in it and "L" in it["v"]] or items)
        if "v" in victim and "L" in victim["v"]:
            position = rng.randrange(dims)
            client.update_item(TableName=name, Key=key_of(victim), UpdateExpression=f"SET v[{position}] = :x",
                               ExpressionAttributeValues={":x": {"N": number(palette(rng))}})
            return "update one element in place"
    if items and roll < 0.45:
        victim = rng.choice(items)
        values = random_vector(rng, dims, palette)
        vectors.append(values)
        client.update_item(TableName=name, Key=key_of(victim), UpdateExpression="SET v = :v",
                           ExpressionAttributeValues={":v": as_list(values)})
        return "update whole vector"
    if items and roll < 0.5:
        client.update_item(TableName=name, Key=key_of(rng.choice(items)), UpdateExpression="REMOVE v")
        return "remove vector"
    if items and roll < 0.6:
        client.delete_item(TableName=name, Key=key_of(rng.choice(items)))
        return "delete"
    if items and roll < 0.65:
        victim = rng.choice(items)
        attribute = rng.choice(["misc", "extra"] + (["h"] if spec["hash_type"] else [])
                               + [f"f{i}" for i in range(len(spec["filter_types"]))])
        kind = {"misc": "N", "extra": "S", "h": spec["hash_type"]}.get(attribute) or spec["filter_types"][int(attribute[1:])]
        client.update_item(TableName=name, Key=key_of(victim), UpdateExpression="SET #a = :x",
                           ExpressionAttributeNames={"#a": attribute}, ExpressionAttributeValues={":x": typed(kind, rng.randint(0, 2))})
        return "update another attribute"
    if roll < 0.68:
        item = random_item(rng, spec, 300, vectors, palette)
        item["v"] = {"L": [{"N": "1e39"}] + as_list([1.0] * (dims - 1))["L"]}
        client.put_item(TableName=name, Item=item)
        return "put"
    if roll < 0.8:
        batch = {}
        for _ in range(rng.randint(1, 10)):
            item = random_item(rng, spec, 300, vectors, palette)
            batch[json.dumps(key_of(item), sort_keys=True)] = item
        store(client, spec, list(batch.values()))
        return "batch put"
    if roll < 0.75:
        item = random_item(rng, spec, 300, vectors, palette)
        item.pop("v", None)  # an item no index holds, as the rate limiter's
        client.put_item(TableName=name, Item=item)
        return "put without a vector"
    client.put_item(TableName=name, Item=random_item(rng, spec, 300, vectors, palette))
    return "put"


def equivalence(args):
    reference = load_reference(args.reference)
    rng = random.Random(args.seed)
    checked = errors = results = 0
    with mock_aws():
        moto_server.patch_moto()
        # No client-side validation: out-of-range TopK values reach the store.
        client = boto3.client("dynamodb", region_name="us-east-1", endpoint_url=MOCK_ENDPOINT,
                              config=Config(parameter_validation=False))
        search = Searcher(client, reference)
        for round_number in range(args.rounds):
            spec = random_table(client, rng, f"eq-{round_number}")
            palette = rng.choice(PALETTES)
            vectors = []
            count = rng.choice([0, 1, 5, 40, 150, 400])
            items = {}
            for n in range(count):
                item = random_item(rng, spec, count, vectors, palette)
                items[json.dumps({k: item[k] for k in ("pk", "sk") if k in item}, sort_keys=True)] = item
            store(client, spec, list(items.values()))
            add_index(client, spec)
            for phase in range(6):
                for _ in range(8):
                    request = random_request(rng, spec, vectors, vectors)
                    want = search("reference", request)
                    got = search("current", request)
                    again = search("current", request)  # the cache filled by the first one
                    for answer in (got, again):
                        if answer != want:
                            print(json.dumps({"round": round_number, "spec": spec, "request": request,
                                              "want": want, "got": answer}, default=str)[:4000])
                            raise SystemExit("FAIL: the current search answered differently from the reference")
                    checked += 1
                    errors += "Error" in want
                    results += len(want.get("SearchResults", []))
                for _ in range(rng.randint(1, 6)):
                    try:
                        mutate(client, rng, spec, vectors, palette)
                    except ClientError:
                        pass  # refused by the write checks (a vector of another length, say): nothing changed
            client.delete_table(TableName=spec["name"])
            if (round_number + 1) % 10 == 0:
                print(f"  {round_number + 1} rounds, {checked} searches compared", flush=True)
    print(f"equivalence: {checked} searches over {args.rounds} random tables identical to {args.reference} "
          f"({errors} of them errors, {results} results compared to the last bit)")


# --- timing ------------------------------------------------------------------------------------

APP_INDEX = {
    "IndexName": "item_vectors", "VectorAttribute": {"AttributeName": "embedding"}, "Dimensions": 256,
    "DistanceFunction": "COSINE", "Projection": {"ProjectionType": "KEYS_ONLY"},
    "SearchSchema": [
        {"AttributeName": "search_shelf", "SearchSchemaElementType": "HASH"},
        {"AttributeName": "search_status", "SearchSchemaElementType": "INLINE_FILTER"},
        {"AttributeName": "search_owner", "SearchSchemaElementType": "INLINE_FILTER"},
    ],
}


def unit_vector(rng, dims):
    values = [rng.gauss(0, 1) for _ in range(dims)]
    norm = math.sqrt(sum(v * v for v in values))
    return [float(array.array("f", [v / norm])[0]) for v in values]


def timing(args):
    reference = load_reference(args.reference)
    rng = random.Random(7)
    sizes = [int(s) for s in args.sizes.split(",")]
    rows = []
    with mock_aws():
        moto_server.patch_moto()
        client = boto3.client("dynamodb", region_name="us-east-1", endpoint_url=MOCK_ENDPOINT)
        search = Searcher(client, reference)
        client.create_table(
            TableName="timing",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            AttributeDefinitions=[{"AttributeName": n, "AttributeType": "S"} for n in
                                  ("pk", "sk", "search_shelf", "search_status", "search_owner")],
            BillingMode="PAY_PER_REQUEST", VectorIndexes=[APP_INDEX],
        )
        table_backend = dynamodb_backends["123456789012"]["us-east-1"]
        table = table_backend.get_table("timing")
        have = 0
        for size in sizes:
            started = time.perf_counter()
            while have < size:
                # Straight into moto's table (the write checks pass for these): the API would take minutes.
                vector_index._moto_put_item(table, {
                    "pk": {"S": f"ITEM#{have:08d}"}, "sk": {"S": "VECTOR"}, "id": {"S": f"{have:08d}"},
                    "version": {"N": "1"}, "embedder": {"S": "bench"},
                    "embedding": as_list(unit_vector(rng, 256)), "search_shelf": {"S": "public"},
                    "search_status": {"S": "active"}, "search_owner": {"S": f"owner-{have % 50}"},
                })
                have += 1
            seeded = time.perf_counter() - started
            query = unit_vector(rng, 256)
            request = {
                "TableName": "timing", "IndexName": "item_vectors", "SearchVector": as_list(query)["L"], "TopK": 60,
                "SearchConditionExpression": "search_shelf = :scope", "ExpressionAttributeValues": {":scope": {"S": "public"}},
            }

            def timed(which, this=None):
                started = time.perf_counter()
                answer = search(which, this or request)
                return (time.perf_counter() - started) * 1000, answer

            def handler_ms(implementation, runs):
                """The operation alone: no request parsing, no response serializing, no client."""
                handler = types.SimpleNamespace(body=request, dynamodb_backend=table_backend)
                times = []
                for _ in range(runs):
                    started = time.perf_counter()
                    implementation(handler)
                    times.append((time.perf_counter() - started) * 1000)
                return round(statistics.median(times), 1)

            reference_runs = [timed("reference") for _ in range(args.reference_runs)]
            reference_handler_ms = handler_ms(reference.search_vectors, args.reference_runs)
            # Drop the cache so the first current search parses every vector, as after a restart.
            table.__dict__.pop("vector_state", None)
            first_ms, first = timed("current")
            warm = [timed("current") for _ in range(args.runs)]
            assert all(a == reference_runs[0][1] for a in [first] + [w[1] for w in warm]), "answers differ"
            assert len(first["SearchResults"]) == min(60, size)
            # With an inline filter too (every item matches it), and as search-items asks (only pk back).
            filtered_request = dict(request, SearchConditionExpression="search_shelf = :scope AND search_status = :status",
                                    ExpressionAttributeValues={":scope": {"S": "public"}, ":status": {"S": "active"}})
            current_handler_ms = handler_ms(vector_index.search_vectors, args.runs)
            filtered = [timed("current", filtered_request) for _ in range(args.runs)]
            keys_only = [timed("current", dict(request, ProjectionExpression="pk")) for _ in range(args.runs)]
            # The first search after a write to an item with a vector finds the index's items again.
            after_write = []
            for n in range(3):
                client.update_item(TableName="timing", Key={"pk": {"S": f"ITEM#{n:08d}"}, "sk": {"S": "VECTOR"}},
                                   UpdateExpression="SET search_owner = :o", ExpressionAttributeValues={":o": {"S": "owner-0"}})
                after_write.append(timed("current")[0])
            row = {
                "items": size,
                "reference_ms": round(statistics.median(ms for ms, _ in reference_runs), 1),
                "current_first_ms": round(first_ms, 1),
                "current_warm_p50_ms": round(statistics.median(ms for ms, _ in warm), 1),
                "current_warm_max_ms": round(max(ms for ms, _ in warm), 1),
                "current_filtered_p50_ms": round(statistics.median(ms for ms, _ in filtered), 1),
                "current_pk_only_p50_ms": round(statistics.median(ms for ms, _ in keys_only), 1),
                "current_after_a_vector_write_ms": round(statistics.median(after_write), 1),
                "reference_operation_only_ms": reference_handler_ms,
                "current_operation_only_p50_ms": current_handler_ms,
            }
            rows.append(row)
            print(f"  {size} items (seeded in {seeded:.0f} s): {row}", flush=True)
    print("\nSearchVectors in moto, 256 dimensions, COSINE, all items in one HASH value, TopK 60 (ms, in-process through boto3)\n")
    print("| items | reference (every vector parsed and scored in Python) | current: first search (parses every vector) "
          "| next searches p50 | max | + inline filter p50 | ProjectionExpression pk p50 | first search after a vector write |")
    print("|---|---|---|---|---|---|---|---|")
    for row in rows:
        print(f"| {row['items']} | {row['reference_ms']} | {row['current_first_ms']} | {row['current_warm_p50_ms']} "
              f"| {row['current_warm_max_ms']} | {row['current_filtered_p50_ms']} | {row['current_pk_only_p50_ms']} "
              f"| {row['current_after_a_vector_write_ms']} |")
    print("\nThe operation alone (moto's request parsing and response serializer, and the client, left out): "
          "reference vs current p50, ms")
    for row in rows:
        print(f"  {row['items']} items: {row['reference_operation_only_ms']} -> {row['current_operation_only_p50_ms']}")
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reference", default=REFERENCE_COMMIT)
    commands = parser.add_subparsers(dest="command", required=True)
    check = commands.add_parser("equivalence")
    check.add_argument("--rounds", type=int, default=60)
    check.add_argument("--seed", type=int, default=1)
    bench = commands.add_parser("timing")
    bench.add_argument("--sizes", default="1000,10000,50000")
    bench.add_argument("--runs", type=int, default=20)
    bench.add_argument("--reference-runs", type=int, default=3)
    args = parser.parse_args()
    {"equivalence": equivalence, "timing": timing}[args.command](args)


if __name__ == "__main__":
    main()
