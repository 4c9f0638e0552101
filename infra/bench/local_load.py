"""Load driver and checker for the local API (loopback only).

    python infra/bench/local_load.py mixed http://127.0.0.1:9000 [--clients 16] [--requests 600]
    python infra/bench/local_load.py sweep http://127.0.0.1:9000 [--levels 1,4,16,64]

mixed: N concurrent clients (each its own user) share M requests. An owner (moderator) creates 6 active
items with 1,000 in stock; then each client picks at random, over and over:
  - 35 %: a keyed order of 1-3 lines, 1-3 units each (Idempotency-Key unique per logical order; on a
    timeout or 5xx it retries once with the same key and body, as a real client would; both answers kept);
  - 10 %: a cancel of one of its placed orders (retried once the same way; `already_cancelled` on the
    retry means the first attempt took effect), or an order when it has none to cancel;
  - 15 %: a read of an item, then a PATCH of its description or price with If-Match of the ETag just read
    (as the owner; a 412 means another client wrote in between; a price change makes orders priced
    before it fail with 409 `price_changed`, which is fine);
  - 40 %: a read (an item, the active listing, its orders, one of its orders).
Before the clock starts, one call to each function warms it up, on an item of its own. Afterwards it
checks, and exits 1 if a check fails:
  - no 5xx and no client-side timeouts;
  - per item, stock (read as admin) == 1,000 - units of the orders the clients were told were placed
    (201) and not told were cancelled (200), exactly;
  - per client, the orders stored (GET /api/orders, every page) == the orders it was told about, with
    the status it was told;
  - with --watch-log, no SDK timeout and no "failing open" line appeared in that log during the run.

sweep: requests/s and p50/p99 latency at each number of concurrent clients, each level bounded in count
(--sweep-requests, at least 4 per client) and time (--sweep-seconds). Mix (--mix): `mixed` (default) is
70 % GET /api/items/{id}, 20 % PATCH (description, If-Match of the last ETag seen, so 412s are part of it)
and 10 % keyed single-line orders, on 6 shared items; `reads` is GET /api/items/{id} only.

Every request and answer is written to --record (JSON lines, default target/bench/local_load-<mode>.jsonl).
Tokens are minted with infra/mint_token.py's code and the local secret. Identities carry a per-run
suffix, so runs against one stack do not see each other's orders.
"""

import argparse
import collections
import http.client
import ipaddress
import json
import math
import os
import pathlib
import random
import re
import socket
import sys
import threading
import time
import urllib.parse

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "infra"))
from mint_token import local_secret, mint  # noqa: E402

ITEMS = 6
ULID = re.compile(r"/[0-7][0-9A-HJKMNP-TV-Z]{25}(?=/|$)", re.IGNORECASE)
# An SDK timeout or the rate limiter's fail-open, as the functions log them (target/watch.log).
LOG_PATTERNS = {"timeout": re.compile(r"timeout", re.IGNORECASE), "failing open": re.compile(r"failing open")}


def route_of(method, path):
    return f"{method} {ULID.sub('/{id}', path.split('?', 1)[0])}"


def percentile(values, p):
    if not values:
        return float("nan")
    ordered = sorted(values)  # nearest rank
    return ordered[min(len(ordered) - 1, max(0, math.ceil(p / 100 * len(ordered)) - 1))]


class Answer:
    __slots__ = ("status", "body", "headers", "ms", "error")

    def __init__(self, status, body, headers, ms, error=None):
        self.status, self.body, self.headers, self.ms, self.error = status, body, headers, ms, error

    @property
    def label(self):  # an int status, or "timeout" / "error" when no HTTP answer came
        return self.status if self.status is not None else self.error.split(":", 1)[0]

    @property
    def code(self):
        if isinstance(self.body, dict) and isinstance(self.body.get("error"), dict):
            return self.body["error"].get("code")
        return None

    @property
    def failed(self):  # what a client would retry: no answer, or a 5xx
        return self.status is None or self.status >= 500


class Api:
    """HTTP/1.1 to a loopback address, one connection per request; every call is recorded."""

    def __init__(self, url, timeout, record_path):
        parsed = urllib.parse.urlsplit(url)
        if parsed.scheme != "http" or not parsed.hostname:
            raise SystemExit(f"expected http://<loopback address>:<port>, got {url!r}")
        for info in socket.getaddrinfo(parsed.hostname, parsed.port or 80, proto=socket.IPPROTO_TCP):
            if not ipaddress.ip_address(info[4][0]).is_loopback:
                raise SystemExit(f"{parsed.hostname} resolves to {info[4][0]}: this driver only talks to loopback addresses")
        self.host, self.port, self.timeout = parsed.hostname, parsed.port or 80, timeout
        self.prefix = parsed.path.rstrip("/")
        self.started = time.monotonic()
        self.records = []
        self.lock = threading.Lock()
        record_path.parent.mkdir(parents=True, exist_ok=True)
        self.record_file = record_path.open("w")
        self.record_path = record_path

    def call(self, who, token, method, path, body=None, headers=None, phase="load"):
        data = json.dumps(body).encode() if body is not None else None
        sent = {"authorization": f"Bearer {token}", **(headers or {})}
        if data is not None:
            sent["content-type"] = "application/json"
        started = time.perf_counter()
        connection = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        try:
            connection.request(method, self.prefix + path, body=data, headers=sent)
            response = connection.getresponse()
            raw = response.read()
            answer = Answer(response.status, None, {k.lower(): v for k, v in response.getheaders()}, 0)
            try:
                answer.body = json.loads(raw) if raw else None
            except ValueError:
                answer.body = raw.decode(errors="replace")
        except (socket.timeout, TimeoutError) as error:
            answer = Answer(None, None, {}, 0, f"timeout: no answer within {self.timeout} s ({error})")
        except OSError as error:
            answer = Answer(None, None, {}, 0, f"error: {type(error).__name__}: {error}")
        finally:
            connection.close()
        answer.ms = (time.perf_counter() - started) * 1000
        entry = {
            "t": round(time.monotonic() - self.started, 4),
            "phase": phase,
            "client": who,
            "method": method,
            "path": path,
            "route": route_of(method, path),
            "request_headers": {k: v for k, v in (headers or {}).items()},
            "request_body": body,
            "status": answer.label,
            "code": answer.code,
            "ms": round(answer.ms, 1),
            "request_id": answer.headers.get("x-request-id"),
            "replayed": answer.headers.get("idempotent-replayed"),
            "etag": answer.headers.get("etag"),
            "response_body": answer.body,
            "error": answer.error,
        }
        with self.lock:
            self.records.append(entry)
            self.record_file.write(json.dumps(entry) + "\n")
        return answer

    def close(self):
        self.record_file.close()


class Budget:
    """Requests left for the run, and a deadline after which no new request starts."""

    def __init__(self, requests, seconds):
        self.left, self.deadline, self.lock = requests, time.monotonic() + seconds, threading.Lock()

    def take(self, n=1, force=False):
        with self.lock:
            if not force and (self.left < n or time.monotonic() > self.deadline):
                return False
            self.left -= n
            return True


class WatchLog:
    """Counts the lines matching LOG_PATTERNS that a log gained since `mark()`."""

    def __init__(self, path):
        self.path = pathlib.Path(path) if path else None
        self.offset = 0

    def mark(self):
        if self.path and self.path.exists():
            self.offset = self.path.stat().st_size

    def counts(self):
        if not self.path or not self.path.exists():
            return None
        with self.path.open("rb") as log:
            log.seek(self.offset)
            lines = log.read().decode(errors="replace").splitlines()
        counts = {name: sum(1 for line in lines if pattern.search(line)) for name, pattern in LOG_PATTERNS.items()}
        handler_ms = []  # each request's time inside its function, as the function logged it
        for line in lines:
            if '"request completed"' in line and "{" in line:
                try:
                    handler_ms.append(json.loads(line[line.index("{"):])["latency_ms"])
                except (ValueError, KeyError):
                    pass
        counts["handler_ms"] = handler_ms
        return counts


def create_items(api, owner, run, stock):
    items = {}
    for k in range(ITEMS):
        body = {"name": f"load {run} item {k}", "status": "active", "price": 100 * (k + 1), "stock": stock}
        answer = api.call("setup", owner, "POST", "/api/items", body, phase="setup")
        if answer.status != 201:
            raise SystemExit(f"setup: creating an item answered {answer.label}: {answer.body or answer.error}")
        items[answer.body["data"]["id"]] = answer.headers.get("etag")
    return items


def warm_up(api, token, run):
    """One call to each function the load uses, before the clock starts: the first call of a function
    starts its process, which is not what is measured. On an item of its own and as the owner, so it
    leaves nothing the checks count."""
    created = api.call("warmup", token, "POST", "/api/items", {"name": f"load {run} warm-up", "status": "active", "price": 1, "stock": 10}, phase="warmup")
    if created.status != 201:
        return
    item = created.body["data"]["id"]
    order = api.call("warmup", token, "POST", "/api/orders", {"lines": [{"item_id": item, "quantity": 1}]}, {"idempotency-key": f"load-{run}-warmup"}, phase="warmup")
    if order.status == 201:
        api.call("warmup", token, "GET", f"/api/orders/{order.body['data']['id']}", phase="warmup")
        api.call("warmup", token, "POST", f"/api/orders/{order.body['data']['id']}/cancel", phase="warmup")
    api.call("warmup", token, "GET", "/api/orders?limit=1", phase="warmup")
    api.call("warmup", token, "GET", "/api/items?limit=1", phase="warmup")
    answer = api.call("warmup", token, "GET", f"/api/items/{item}", phase="warmup")
    api.call("warmup", token, "PATCH", f"/api/items/{item}", {"description": "warm"}, {"if-match": answer.headers.get("etag", "*")}, phase="warmup")


# ---------------------------------------------------------------------------------------------- mixed


class Client:
    def __init__(self, n, run, token, items, seed):
        self.n, self.name, self.token = n, f"c{n:02d}", token
        self.rng = random.Random(seed)
        self.etags = dict(items)  # the ETag this client last saw per item
        self.orders = []  # every logical order: key, lines, answers, outcome, id
        self.cancels = []  # every logical cancel: order id, answers, outcome
        self.sequence = 0


def answered(answer):
    """What a client learnt from one attempt: status, and the error code or whether a 201 was replayed."""
    return (answer.label, answer.code or ("replayed" if answer.headers.get("idempotent-replayed") else None))


def place_order(api, budget, client, run, items):
    client.sequence += 1
    key = f"load-{run}-{client.name}-{client.sequence}"
    chosen = client.rng.sample(list(items), client.rng.randint(1, 3))
    body = {"lines": [{"item_id": item, "quantity": client.rng.randint(1, 3)} for item in chosen]}
    answers = [api.call(client.name, client.token, "POST", "/api/orders", body, {"idempotency-key": key})]
    if answers[0].failed:  # a real client retries once, same key, same body
        budget.take(force=True)
        answers.append(api.call(client.name, client.token, "POST", "/api/orders", body, {"idempotency-key": key}))
    final = answers[-1]
    if final.status == 201:
        outcome, order_id = "placed", final.body["data"]["id"]
    elif final.failed:
        outcome, order_id = "unknown", None
    else:
        outcome, order_id = "rejected", None
    client.orders.append(
        {"key": key, "lines": body["lines"], "answers": [answered(a) for a in answers], "outcome": outcome, "id": order_id, "cancel": None}
    )


def cancel_order(api, budget, client):
    open_orders = [o for o in client.orders if o["outcome"] == "placed" and o["cancel"] is None]
    order = client.rng.choice(open_orders)
    path = f"/api/orders/{order['id']}/cancel"
    answers = [api.call(client.name, client.token, "POST", path)]
    if answers[0].failed:
        budget.take(force=True)
        answers.append(api.call(client.name, client.token, "POST", path))
    final = answers[-1]
    if final.status == 200:
        outcome = "cancelled"
    elif len(answers) == 2 and final.status == 409 and final.code == "already_cancelled":
        outcome = "cancelled"  # only this client cancels this order: its first attempt took effect
    elif final.failed:
        outcome = "unknown"
    else:
        outcome = "rejected"
    order["cancel"] = outcome
    client.cancels.append({"order": order["id"], "answers": [answered(a) for a in answers], "outcome": outcome})


def patch_item(api, budget, client, items, owner_token):
    item = client.rng.choice(list(items))
    if client.rng.random() < 0.5:
        change = {"description": f"{client.name} edit {client.sequence} {client.rng.randrange(10**6)}"}
    else:
        change = {"price": client.rng.randint(100, 999)}
    client.sequence += 1
    read_item(api, client, item)  # read, then write with the ETag just seen (412 if someone wrote between)
    if not budget.take():
        return
    answer = api.call(client.name, owner_token, "PATCH", f"/api/items/{item}", change, {"if-match": client.etags[item]})
    if answer.status == 200:
        client.etags[item] = answer.headers.get("etag", client.etags[item])


def read_item(api, client, item):
    answer = api.call(client.name, client.token, "GET", f"/api/items/{item}")
    if answer.status == 200 and answer.headers.get("etag"):
        client.etags[item] = answer.headers["etag"]


def read_something(api, client, items):
    roll = client.rng.random()
    placed = [o for o in client.orders if o["outcome"] == "placed"]
    if roll < 0.5:
        read_item(api, client, client.rng.choice(list(items)))
    elif roll < 0.7:
        api.call(client.name, client.token, "GET", "/api/items?status=active&limit=10")
    elif roll < 0.85 or not placed:
        api.call(client.name, client.token, "GET", "/api/orders?limit=10")
    else:
        api.call(client.name, client.token, "GET", f"/api/orders/{client.rng.choice(placed)['id']}")


def run_client(api, budget, client, run, items, owner_token):
    while budget.take():
        roll = client.rng.random()
        can_cancel = any(o["outcome"] == "placed" and o["cancel"] is None for o in client.orders)
        if roll < 0.35 or (roll < 0.45 and not can_cancel):
            place_order(api, budget, client, run, items)
        elif roll < 0.45:
            cancel_order(api, budget, client)
        elif roll < 0.60:
            patch_item(api, budget, client, items, owner_token)
        else:
            read_something(api, client, items)


def status_table(records, title):
    by_route = collections.defaultdict(collections.Counter)
    for r in records:
        by_route[r["route"]][str(r["status"])] += 1
    print(f"\n{title}\n")
    print("| route | requests | statuses |")
    print("|---|---|---|")
    for route in sorted(by_route):
        counts = by_route[route]
        print(f"| {route} | {sum(counts.values())} | {', '.join(f'{s}: {n}' for s, n in sorted(counts.items()))} |")


def list_orders(api, client):
    stored, cursor = {}, None
    for _ in range(1000):  # bounded: 100 a page
        path = "/api/orders?limit=100" + (f"&cursor={urllib.parse.quote(cursor)}" if cursor else "")
        answer = api.call(client.name, client.token, "GET", path, phase="check")
        if answer.status != 200:
            raise SystemExit(f"check: listing {client.name}'s orders answered {answer.label}: {answer.body or answer.error}")
        for order in answer.body["data"]:
            stored[order["id"]] = order["status"]
        cursor = answer.body["page"]["next_cursor"]
        if not cursor:
            return stored
    raise SystemExit(f"check: {client.name}'s orders did not end after 1000 pages")


def mixed(api, args, run):
    secret, expires = local_secret(), int(time.time()) + 6 * 3600
    owner = mint(secret, f"load-{run}-owner", "moderator", expires)  # owns the items, makes every PATCH
    admin = mint(secret, f"load-{run}-admin", "admin", expires)  # reads the stock at the end
    items = create_items(api, owner, run, args.stock)
    clients = [Client(n, run, mint(secret, f"load-{run}-c{n:02d}", "user", expires), items, args.seed * 1000 + n) for n in range(args.clients)]
    warm_up(api, owner, run)
    watch = WatchLog(args.watch_log)
    watch.mark()
    budget = Budget(args.requests, args.max_seconds)
    threads = [threading.Thread(target=run_client, args=(api, budget, c, run, items, owner), daemon=True) for c in clients]
    print(f"==> mixed: {args.clients} clients, {args.requests} requests, 6 items with {args.stock} in stock (run {run})", flush=True)
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    sdk_log = watch.counts()

    load = [r for r in api.records if r["phase"] == "load"]
    ms = [r["ms"] for r in load]
    print(f"\n{len(load)} requests from {args.clients} clients in {elapsed:.1f} s ({len(load) / elapsed:.1f}/s), latency p50 {percentile(ms, 50):.0f} ms, p99 {percentile(ms, 99):.0f} ms, max {max(ms):.0f} ms")
    status_table(load, "Answers by route (load phase):")
    failures = []

    server_errors = [r for r in load if not isinstance(r["status"], int) or r["status"] >= 500]
    print(f"\n5xx and unanswered requests: {len(server_errors)}")
    for r in server_errors:
        message = r["response_body"]["error"].get("message") if isinstance(r["response_body"], dict) and "error" in r["response_body"] else r["error"]
        print(f"  t={r['t']:.1f}s {r['client']} {r['route']} -> {r['status']} {r['code']} ({message}) request_id={r['request_id']} {r['ms']:.0f} ms")
    if server_errors:
        failures.append(f"{len(server_errors)} requests answered 5xx or not at all")
    if sdk_log is not None:
        handler = sdk_log["handler_ms"]
        print(f"{args.watch_log} during the run: {sdk_log['timeout']} lines with 'timeout', {sdk_log['failing open']} with 'failing open'; "
              f"time inside the functions p50 {percentile(handler, 50):.0f} ms, p99 {percentile(handler, 99):.0f} ms, max {max(handler, default=float('nan')):.0f} ms "
              f"(the SDK's timers: 1.5 s an attempt, 4 s an operation)")
        if sdk_log["timeout"] or sdk_log["failing open"]:
            failures.append(f"the functions logged {sdk_log['timeout']} timeouts and {sdk_log['failing open']} fail-opens")

    orders = [o for c in clients for o in c.orders]
    cancels = [x for c in clients for x in c.cancels]
    outcome = lambda xs: dict(collections.Counter(x["outcome"] for x in xs))
    retried = [o for o in orders if len(o["answers"]) > 1]
    print(f"\nlogical orders: {len(orders)} {outcome(orders)}; retried once: {len(retried)}")
    for o in retried:
        print(f"  {o['key']}: answers {o['answers']} -> {o['outcome']} {o['id'] or ''}")
    print(f"cancels: {len(cancels)} {outcome(cancels)}")
    for x in cancels:
        if len(x["answers"]) > 1 or x["outcome"] != "cancelled":
            print(f"  {x['order']}: answers {x['answers']} -> {x['outcome']}")
    rejected = collections.Counter(str(o["answers"][-1]) for o in orders if o["outcome"] == "rejected")
    if rejected:
        print(f"rejected orders by final answer: {dict(rejected)}")

    # Orders stored per client against what each client was told.
    stored_all = {}
    order_problems = []
    for c in clients:
        stored = list_orders(api, c)
        stored_all.update({oid: (c, status) for oid, status in stored.items()})
        told = {o["id"]: ("cancelled" if o["cancel"] == "cancelled" else "placed") for o in c.orders if o["outcome"] == "placed"}
        uncertain = {o["id"] for o in c.orders if o["cancel"] == "unknown"}
        for oid in sorted(set(told) - set(stored)):
            order_problems.append(f"{c.name}: order {oid} was answered 201 but is not stored")
        for oid in sorted(set(stored) - set(told)):
            order_problems.append(f"{c.name}: order {oid} is stored ({stored[oid]}) but the client was never told it was placed")
        for oid in sorted(set(told) & set(stored)):
            if told[oid] != stored[oid] and oid not in uncertain:
                order_problems.append(f"{c.name}: order {oid} is {stored[oid]}, the client was told {told[oid]}")
            elif oid in uncertain:
                order_problems.append(f"{c.name}: order {oid}'s cancel got no definite answer; it is stored as {stored[oid]}")
    print(f"\norders stored: {len(stored_all)} ({dict(collections.Counter(s for _, s in stored_all.values()))}); told placed: {sum(1 for o in orders if o['outcome'] == 'placed')}")
    for p in order_problems:
        print(f"  MISMATCH {p}")
    if order_problems:
        failures.append(f"{len(order_problems)} order mismatches")

    # Stock per item: what the clients were told, and (to explain a mismatch) what the stored orders say.
    told_units = collections.Counter()
    for o in orders:
        if o["outcome"] == "placed" and o["cancel"] != "cancelled":
            for line in o["lines"]:
                told_units[line["item_id"]] += line["quantity"]
    stored_units = None
    if order_problems:
        stored_units = collections.Counter()
        for oid, (c, status) in stored_all.items():
            if status != "placed":
                continue
            answer = api.call(c.name, c.token, "GET", f"/api/orders/{oid}", phase="check")
            for line in answer.body["data"]["lines"] if answer.status == 200 else []:
                stored_units[line["item_id"]] += line["quantity"]
    print("\n| item | stock now | expected from answers | difference |" + (" expected from stored orders |" if stored_units is not None else ""))
    print("|---|---|---|---|" + ("---|" if stored_units is not None else ""))
    stock_ok = True
    for item in items:
        answer = api.call("check", admin, "GET", f"/api/items/{item}", phase="check")
        if answer.status != 200:
            raise SystemExit(f"check: reading item {item} as admin answered {answer.label}")
        now, expected = answer.body["data"]["stock"], args.stock - told_units[item]
        stock_ok &= now == expected
        extra = f" {args.stock - stored_units[item]} |" if stored_units is not None else ""
        print(f"| {item} | {now} | {expected} | {now - expected:+d} |{extra}")
    if not stock_ok:
        failures.append("stock differs from the answers the clients were given")

    print(f"\nrecord of every request: {api.record_path}")
    print("\nCHECKS: " + ("all passed" if not failures else "FAILED: " + "; ".join(failures)))
    return 1 if failures else 0


# ---------------------------------------------------------------------------------------------- sweep


def sweep(api, args, run):
    secret, expires = local_secret(), int(time.time()) + 6 * 3600
    owner = mint(secret, f"load-{run}-owner", "moderator", expires)
    items = create_items(api, owner, run, 1_000_000)
    item_ids = list(items)
    watch = WatchLog(args.watch_log)
    warm_up(api, owner, run)
    mix = "70 % GET /api/items/{id}, 20 % PATCH with If-Match, 10 % keyed 1-line orders" if args.mix == "mixed" else "GET /api/items/{id} only"
    print(f"==> sweep: {mix}; 6 items; per level at most max({args.sweep_requests}, 4 x clients) requests or {args.sweep_seconds} s (run {run})", flush=True)
    rows = []
    for level in args.levels:
        # Staff identities (moderator: 1,200 reads and 600 writes a minute), new per level, so rate
        # limits stay out of the figures; PATCHes need staff, as the items are the owner's.
        tokens = [mint(secret, f"load-{run}-l{level}-c{n}", "moderator", expires) for n in range(level)]
        budget = Budget(max(args.sweep_requests, 4 * level), args.sweep_seconds)
        phase = f"level-{level}"
        counter = iter(range(10**9))
        counter_lock = threading.Lock()

        def work(n):
            rng = random.Random(args.seed * 1000 + level * 100 + n)
            etags = dict(items)
            while budget.take():
                item = rng.choice(item_ids)
                roll = rng.random() if args.mix == "mixed" else 0.0
                if roll < 0.7:
                    answer = api.call(f"l{level}c{n}", tokens[n], "GET", f"/api/items/{item}", phase=phase)
                    if answer.status == 200:
                        etags[item] = answer.headers.get("etag", etags[item])
                elif roll < 0.9:
                    with counter_lock:
                        k = next(counter)
                    answer = api.call(f"l{level}c{n}", tokens[n], "PATCH", f"/api/items/{item}", {"description": f"sweep {k}"}, {"if-match": etags[item]}, phase=phase)
                    if answer.status == 200:
                        etags[item] = answer.headers.get("etag", etags[item])
                else:
                    with counter_lock:
                        k = next(counter)
                    api.call(f"l{level}c{n}", tokens[n], "POST", "/api/orders", {"lines": [{"item_id": item, "quantity": 1}]}, {"idempotency-key": f"load-{run}-l{level}-{k}"}, phase=phase)

        watch.mark()
        threads = [threading.Thread(target=work, args=(n,), daemon=True) for n in range(level)]
        started = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - started
        records = [r for r in api.records if r["phase"] == phase]
        ms = [r["ms"] for r in records]
        statuses = collections.Counter(str(r["status"]) for r in records)
        bad = sum(1 for r in records if not isinstance(r["status"], int) or r["status"] >= 500)
        log = watch.counts()
        rows.append((level, len(records), elapsed, percentile(ms, 50), percentile(ms, 99), max(ms), statuses, bad, log))
        print(f"  {level} clients: {len(records)} requests in {elapsed:.1f} s, {len(records) / elapsed:.1f}/s, p50 {percentile(ms, 50):.0f} ms, p99 {percentile(ms, 99):.0f} ms, statuses {dict(sorted(statuses.items()))}", flush=True)

    print(f"\nSweep ({mix}):\n")
    header = "| clients | requests | s | requests/s | p50 ms | p99 ms | max ms | statuses | 5xx or unanswered |"
    if args.watch_log:
        header += " SDK timeouts / fail-opens logged | max ms inside a function |"
    print(header)
    print("|---|---|---|---|---|---|---|---|---|" + ("---|---|" if args.watch_log else ""))
    for level, n, elapsed, p50, p99, worst, statuses, bad, log in rows:
        line = f"| {level} | {n} | {elapsed:.1f} | {n / elapsed:.1f} | {p50:.0f} | {p99:.0f} | {worst:.0f} | {', '.join(f'{s}: {c}' for s, c in sorted(statuses.items()))} | {bad} |"
        if args.watch_log:
            line += f" {log['timeout']} / {log['failing open']} | {max(log['handler_ms'], default=float('nan')):.0f} |" if log else " (no log) | |"
        print(line)
    print(f"\nrecord of every request: {api.record_path}")
    failed = any(bad or (log and (log["timeout"] or log["failing open"])) for *_, bad, log in rows)
    print("\nCHECKS: " + ("FAILED: 5xx, unanswered requests or SDK timeouts at some level" if failed else "all passed (no 5xx, no unanswered request)"))
    return 1 if failed else 0


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("mode", choices=["mixed", "sweep"])
    parser.add_argument("url", help="the API, e.g. http://127.0.0.1:9000 (loopback only)")
    parser.add_argument("--clients", type=int, default=16, help="mixed: concurrent clients (default 16)")
    parser.add_argument("--requests", type=int, default=600, help="mixed: requests in total (default 600; retries may add a few)")
    parser.add_argument("--stock", type=int, default=1000, help="mixed: initial stock of each item (default 1000)")
    parser.add_argument("--max-seconds", type=float, default=600, help="mixed: no request starts after this (default 600)")
    parser.add_argument("--levels", type=lambda s: [int(x) for x in s.split(",")], default=[1, 4, 16, 64], help="sweep: clients per level (default 1,4,16,64)")
    parser.add_argument("--mix", choices=["mixed", "reads"], default="mixed", help="sweep: request mix (default mixed)")
    parser.add_argument("--sweep-requests", type=int, default=240, help="sweep: requests per level (at least 4 per client; default 240)")
    parser.add_argument("--sweep-seconds", type=float, default=90, help="sweep: no request starts after this many seconds of a level (default 90)")
    parser.add_argument("--timeout", type=float, default=30, help="client timeout per request, s (default 30, API Gateway's limit)")
    parser.add_argument("--seed", type=int, default=27)
    parser.add_argument("--watch-log", help="the functions' log (target/watch.log) to count SDK timeouts and fail-opens in")
    parser.add_argument("--record", type=pathlib.Path, help="JSON lines of every request (default target/bench/local_load-<mode>.jsonl)")
    args = parser.parse_args()
    if not 1 <= args.clients <= 256 or not 1 <= args.requests <= 100_000 or any(not 1 <= n <= 256 for n in args.levels):
        raise SystemExit("clients 1-256, requests 1-100000")
    run = os.urandom(3).hex()
    api = Api(args.url, args.timeout, args.record or ROOT / "target" / "bench" / f"local_load-{args.mode}.jsonl")
    try:
        code = mixed(api, args, run) if args.mode == "mixed" else sweep(api, args, run)
    finally:
        api.close()
    sys.exit(code)


if __name__ == "__main__":
    main()
