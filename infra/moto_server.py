"""Serve moto's DynamoDB + SQS on 127.0.0.1, single-threaded.

moto's own `moto_server` is multi-threaded and does not apply TransactWriteItems atomically
under concurrency; one request at a time makes conditional writes behave like DynamoDB's.

Three things are added to moto 5.2.5 here.

Vector indexes (CreateTable/UpdateTable/DescribeTable and SearchVectors), which moto does not have:
infra/vector_index.py, whose docstring lists the rules it follows and their sources.

ClientRequestToken of TransactWriteItems (moto ignores it), as DynamoDB documents it:
- A transaction that succeeded with a token is remembered for TOKEN_WINDOW_SECONDS after it
  completed: the token, a hash of every other request parameter, and the response.
- The same token with the same other parameters within the window is answered with success and
  changes nothing. The response is the first one, except that ConsumedCapacity (when asked for)
  counts the read units of reading the items instead of write units, as DynamoDB's is documented to.
- The same token with other parameters within the window is a 400
  IdempotentParameterMismatchException.
- A request that failed (TransactionCanceledException or any other error) is not remembered:
  DynamoDB made no change for it, so a later request with that token runs as a new one. This is
  our reading of "multiple identical calls have the same effect as one single call".
- After the window a token is forgotten and runs as new. Entries are expired oldest-first on every
  tokened request, so memory holds at most one window's worth of successful transactions.
- DynamoDB answers TransactionInProgressException to a repeat that arrives while the first request
  with that token is still running. That cannot happen here: one request is served at a time, so the
  first has always completed (and been remembered or not) before the repeat is read.
- Tokens are not scoped by account or region: this server has one of each.

Speed. Some of moto's operations cost time in proportion to the table's size, and under load
requests queued behind them until SDK attempts timed out. Two hot spots are patched, each keeping
moto's behaviour (same results, same errors, same cancellation reasons):
- transact_write_items deep-copied the whole table once per transaction item, to roll back a
  cancelled transaction: with 3,000 items, one of 3 to 7 items took about 1.3 s of CPU. It now
  copies only the items the transaction names and puts those back on failure (about 6 ms).
- Table.all_items (behind every Query and Scan) and Table.sorted_items (every GSI Query) sort all
  of a table's items comparing DynamoType objects in Python; they now sort on the same values as
  plain Python values (same order, same stability): a GSI Query on 3,000 items went from about
  130 ms of CPU to about 60 ms. A third of the rest is moto's generic response serializer (left
  as is).
The number of tables makes no difference to the cost of an operation on one of them.
"""

import copy
import hashlib
import json
import sys
import time
import types
import uuid
import zlib
from collections import OrderedDict
from io import BytesIO
from typing import Any, NamedTuple

import moto.dynamodb.models as dynamodb_models
import vector_index
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.table import Table
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import run_simple

# DynamoDB: "A client request token is valid for 10 minutes after the first request that uses it
# is completed."
TOKEN_WINDOW_SECONDS = 600
TRANSACT_WRITE_ITEMS = "DynamoDB_20120810.TransactWriteItems"
JSON_ERROR_PREFIX = "com.amazonaws.dynamodb.v20120810#"


class Completed(NamedTuple):
    at: float  # time.monotonic() when the transaction completed
    fingerprint: str
    status: str
    headers: list[tuple[str, str]]
    body: bytes


class TransactWriteTokens:
    """WSGI middleware in front of moto: ClientRequestToken idempotency for TransactWriteItems."""

    def __init__(self, app: Any) -> None:
        self.app = app
        # token -> Completed, in completion order (a token is only added when absent), so the oldest
        # entry is always first and expiry stops at the first entry still inside the window.
        self.completed: OrderedDict[str, Completed] = OrderedDict()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        if environ.get("HTTP_X_AMZ_TARGET") != TRANSACT_WRITE_ITEMS:
            return self.app(environ, start_response)
        body = _read_body(environ)
        try:
            request = json.loads(body)
            token = request.get("ClientRequestToken")
        except (ValueError, AttributeError):
            token = None
        if not isinstance(token, str):  # no token, or a body moto will answer for itself
            return self.app(environ, start_response)
        if not 1 <= len(token) <= 36:
            return _error(
                start_response,
                "com.amazon.coral.validate#ValidationException",
                f"1 validation error detected: Value '{token}' at 'clientRequestToken' failed to satisfy "
                "constraint: Member must have length between 1 and 36",
            )

        now = time.monotonic()
        while self.completed:
            oldest = next(iter(self.completed.values()))
            if now - oldest.at < TOKEN_WINDOW_SECONDS:
                break
            self.completed.popitem(last=False)

        fingerprint = _fingerprint(request)
        seen = self.completed.get(token)
        if seen is not None:
            if seen.fingerprint != fingerprint:
                return _error(
                    start_response,
                    JSON_ERROR_PREFIX + "IdempotentParameterMismatchException",
                    "The request uses the same client token as a previous, but non-identical request.",
                )
            return _replay(seen, request, start_response)

        status, headers, response = _call(self.app, environ)
        if status.startswith("200"):
            self.completed[token] = Completed(time.monotonic(), fingerprint, status, headers, response)
        start_response(status, headers)
        return [response]


def _read_body(environ: dict[str, Any]) -> bytes:
    """Reads the request body and puts it back as a fresh stream for moto."""
    stream = environ["wsgi.input"]
    length = environ.get("CONTENT_LENGTH")
    body = stream.read(int(length)) if length else stream.read()
    environ["wsgi.input"] = BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))
    environ.pop("wsgi.input_terminated", None)
    return body


def _fingerprint(request: dict[str, Any]) -> str:
    """A hash of every parameter but the token: map keys sorted, list order kept."""
    others = {k: v for k, v in request.items() if k != "ClientRequestToken"}
    canonical = json.dumps(others, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _call(app: Any, environ: dict[str, Any]) -> tuple[str, list[tuple[str, str]], bytes]:
    captured: dict[str, Any] = {}
    chunks: list[bytes] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        captured["status"], captured["headers"] = status, list(headers)
        return chunks.append

    result = app(environ, start_response)
    try:
        chunks.extend(result)
    finally:
        if hasattr(result, "close"):
            result.close()
    return captured["status"], captured["headers"], b"".join(chunks)


def _respond(start_response: Any, status: str, headers: list[tuple[str, str]], body: bytes) -> list[bytes]:
    """Sends `body` with `headers`; its length, CRC32 (DynamoDB clients check it) and request id new."""
    replaced = {"content-length", "x-amz-crc32", "x-amzn-requestid"}
    headers = [(k, v) for k, v in headers if k.lower() not in replaced] + [
        ("Content-Length", str(len(body))),
        ("x-amz-crc32", str(zlib.crc32(body))),
        ("x-amzn-RequestId", uuid.uuid4().hex.upper()),
    ]
    start_response(status, headers)
    return [body]


def _error(start_response: Any, error_type: str, message: str) -> list[bytes]:
    body = json.dumps({"__type": error_type, "message": message}).encode()
    return _respond(start_response, "400 Bad Request", [("Content-Type", "application/x-amz-json-1.0")], body)


def _replay(seen: Completed, request: dict[str, Any], start_response: Any) -> list[bytes]:
    response = json.loads(seen.body)
    asked = request.get("ReturnConsumedCapacity", "NONE")
    if asked in ("TOTAL", "INDEXES"):
        # A repeat only reads the items: a transactional read of an item up to 4 KB is 2 read units.
        units: dict[str, float] = {}
        for entry in request.get("TransactItems", []):
            for op in entry.values():
                units[op["TableName"]] = units.get(op["TableName"], 0.0) + 2.0
        response["ConsumedCapacity"] = [
            {"TableName": table, "CapacityUnits": n, "ReadCapacityUnits": n}
            | ({"Table": {"CapacityUnits": n, "ReadCapacityUnits": n}} if asked == "INDEXES" else {})
            for table, n in units.items()
        ]
    return _respond(start_response, seen.status, seen.headers, json.dumps(response).encode())


# --- Speed -------------------------------------------------------------------------------------

_moto_transact_write_items = DynamoDBBackend.transact_write_items


def _deepcopy_except_tables(value: Any, memo: Any = None) -> Any:
    return value if isinstance(value, Table) else copy.deepcopy(value, memo)


def transact_write_items(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
    """moto's transact_write_items, rolled back by putting back the items it names, not whole tables.

    moto backs up each table with copy.deepcopy before applying the items and, if any item fails,
    puts the copies back. Every operation of a transaction (Put, Update, Delete, ConditionCheck)
    reads or writes only the item at its own key, and moto keeps no per-table state besides the
    items and the stream records that writes append, so a copy of those items (and of the list of
    stream records) taken first restores exactly what the table copies did. Here moto's deepcopy of
    a Table returns the table itself (its rollback then reassigns the same object), and on any
    exception the snapshot is put back, first-named item last so a key named twice gets its
    original value.
    If a key cannot be read from the request (moto will reject it anyway), moto's own copy is used.
    """
    try:
        snapshot = _snapshot(self, transact_items)
    except Exception:
        return _moto_transact_write_items(self, transact_items)
    dynamodb_models.copy = types.SimpleNamespace(deepcopy=_deepcopy_except_tables)
    try:
        return _moto_transact_write_items(self, transact_items)
    except BaseException:
        _restore(snapshot)
        raise
    finally:
        dynamodb_models.copy = copy


def _snapshot(backend: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> list[tuple]:
    saved: list[tuple] = []
    streams = {}
    for entry in transact_items:
        for op in entry.values():
            table = backend.tables.get(op.get("TableName"))
            if table is None:  # moto fails the item, and there is nothing of it to restore
                continue
            hash_key, range_key = backend.get_keys_value(table, op["Item"] if "Item" in op else op["Key"])
            bucket_existed = hash_key in table.items
            if range_key is None:
                before = table.items.get(hash_key)
            else:
                before = table.items[hash_key].get(range_key) if bucket_existed else None
            saved.append((table, hash_key, range_key, bucket_existed, copy.deepcopy(before)))
            if table.stream_shard is not None:
                streams.setdefault(id(table), (table, list(table.stream_shard.items)))
    return saved + list(streams.values())


def _restore(snapshot: list[tuple]) -> None:
    for saved in reversed(snapshot):
        if len(saved) == 2:  # a table's stream records
            table, records = saved
            table.stream_shard.items = records
            continue
        table, hash_key, range_key, bucket_existed, before = saved
        if range_key is None:
            if before is None:
                table.items.pop(hash_key, None)
            else:
                table.items[hash_key] = before
        elif before is not None:
            table.items[hash_key][range_key] = before
        elif hash_key in table.items:
            bucket = table.items[hash_key]
            bucket.pop(range_key, None)
            if not bucket and not bucket_existed:
                del table.items[hash_key]


_PLAIN = ("S", "B")


def _sort_natively(items: list, columns: Any) -> bool:
    """Sorts `items` in place as `items.sort(key=lambda x: tuple(columns(x)))` would, where columns
    returns DynamoType values, but comparing their plain values: DynamoType's == compares type and
    value and its < compares values, so within one type per column the order (and the stability)
    is the same. Returns False, leaving items alone, when a column mixes types or lengths differ."""
    rows = [columns(x) for x in items]
    if rows:
        width = len(rows[0])
        if any(len(row) != width for row in rows):
            return False
        for i in range(width):
            if len({row[i].type for row in rows}) > 1:
                return False
    # cast_value of a string or binary is its value; skip the property's type tests for those.
    keys = [tuple([v.value if v.type in _PLAIN else v.cast_value for v in row]) for row in rows]
    order = sorted(range(len(items)), key=keys.__getitem__)
    items[:] = [items[i] for i in order]
    return True


_moto_all_items = Table.all_items
_moto_sorted_items = Table.sorted_items


def all_items(self: Table) -> list:
    items = []
    for hash_set in self.items.values():
        if self.range_key_attr:
            items.extend(hash_set.values())
        else:
            items.append(hash_set)
    # moto's key: (hash_key, range_key) if x.range_key else hash_key
    def columns(x: Any) -> tuple:
        return (x.hash_key, x.range_key) if x.range_key is not None else (x.hash_key,)

    if _sort_natively(items, columns):
        return items
    return _moto_all_items(self)


def sorted_items(self: Table, hash_key_attrs: list, range_key_attrs: list, items: list) -> list:
    attrs = self._generate_attr_to_sort_by(hash_key_attrs, range_key_attrs)
    try:
        if _sort_natively(items, lambda x: [x.attrs[key] for key in attrs]):
            return items
    except KeyError:  # moto's own sort raises it too
        pass
    return _moto_sorted_items(self, hash_key_attrs, range_key_attrs, items)


def patch_moto() -> None:
    DynamoDBBackend.transact_write_items = transact_write_items
    Table.all_items = all_items
    Table.sorted_items = sorted_items
    vector_index.patch_moto()


def main() -> None:
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 5000
    patch_moto()
    app = TransactWriteTokens(DomainDispatcherApplication(create_backend_app))
    run_simple("127.0.0.1", port, app, threaded=False, use_reloader=False, use_debugger=False)


if __name__ == "__main__":
    main()
