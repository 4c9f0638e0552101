"""Lambda benchmark: each function's release binary run under a minimal local Lambda Runtime API.

For every function it measures: stripped binary size (x86_64 and arm64 builds), init time (process
start -> the runtime's first request for an event), first-invocation latency, warm latency p50/p99
over N invocations of a real API Gateway v2 (or SQS) event against the local moto, CPU time per warm
invocation (user+sys of the function process only, from /proc), and peak RSS. Separately, through a
counting proxy in front of moto, the DynamoDB calls each route makes per request.

Prints a table and writes target/bench/lambda.json. Run through ./infra/bench.sh.
"""

import http.client
import http.server
import json
import os
import pathlib
import queue
import socket
import socketserver
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
import uuid

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "infra"))
from mint_token import local_secret, mint  # noqa: E402

sys.path.insert(0, str(ROOT / "infra" / "bench"))
import cold_start  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")
ENDPOINT = os.environ["AWS_ENDPOINT_URL"]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ThreadingServer(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address):
        # A function stopped while it waits for its next event resets that connection: expected.
        if not isinstance(sys.exc_info()[1], ConnectionResetError):
            super().handle_error(request, client_address)


class QuietHandler(http.server.BaseHTTPRequestHandler):
    """Keep-alive HTTP/1.1, no access log, and Nagle off: headers and body go out in two writes, and
    with Nagle on the body would wait for the peer's delayed ACK (40 ms on Linux) on every call."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, *args):
        pass


# BENCH_XRAY=unsampled|sampled runs the functions as Lambda does with active tracing: the runtime
# hands each invocation a trace header with a Parent, Sampled=0 or 1, and AWS_XRAY_DAEMON_ADDRESS
# names a daemon (here a UDP socket of the benchmark's, counting what arrives). Unset: a bare Root.
XRAY = os.environ.get("BENCH_XRAY", "")
ROOT_ONLY_TRACE = "Root=1-00000000-000000000000000000000000"
XRAY_TRACES = {
    "unsampled": "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0",
    "sampled": "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
}


class XRayDaemon:
    """Receives the functions' subsegment datagrams and counts them, as a stand-in for the daemon."""

    def __init__(self):
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.socket.bind(("127.0.0.1", 0))
        self.address = f"127.0.0.1:{self.socket.getsockname()[1]}"
        self.received = 0
        threading.Thread(target=self._count, daemon=True).start()

    def _count(self):
        while True:
            packet = self.socket.recv(65536)
            if packet.startswith(b'{"format": "json", "version": 1}\n'):
                self.received += 1


class RuntimeApi:
    """The three calls a Lambda runtime makes: next event, response, error."""

    def __init__(self):
        self.events = queue.Queue()
        self.responses = queue.Queue()
        self.first_next_at = None
        api = self

        class Handler(QuietHandler):
            def do_GET(self):
                if api.first_next_at is None:
                    api.first_next_at = time.perf_counter()
                request_id, body = api.events.get()
                payload = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Lambda-Runtime-Aws-Request-Id", request_id)
                self.send_header("Lambda-Runtime-Deadline-Ms", str(int(time.time() * 1000) + 30_000))
                self.send_header("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:us-east-1:123456789012:function:bench")
                self.send_header("Lambda-Runtime-Trace-Id", XRAY_TRACES.get(XRAY, ROOT_ONLY_TRACE))
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def do_POST(self):
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                self.send_response(202)
                self.send_header("Content-Length", "0")
                self.end_headers()
                api.responses.put((time.perf_counter(), self.path, body))

        self.port = free_port()
        self.server = ThreadingServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def invoke(self, event):
        started = time.perf_counter()
        self.events.put((str(uuid.uuid4()), event))
        finished, path, body = self.responses.get(timeout=30)
        if path.endswith("/error"):
            raise RuntimeError(f"invocation failed: {body[:300]!r}")
        return finished - started, body

    def close(self):
        self.server.shutdown()


class CountingProxy:
    """Forwards to moto and counts DynamoDB operations (by X-Amz-Target) in `calls`; `timed` also
    records each one as (operation, start, end), from sending the request upstream to having read the
    whole answer (perf_counter seconds), so a bench can tell the store's time from the function's."""

    def __init__(self, upstream, timeout=30):
        host, port = upstream.split("//", 1)[1].split(":")
        self.calls = []
        self.timed = []
        self.lock = threading.Lock()
        proxy = self

        class Handler(QuietHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                target = self.headers.get("X-Amz-Target", "")
                conn = http.client.HTTPConnection(host, int(port), timeout=timeout)
                headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
                started = time.perf_counter()
                conn.request("POST", self.path, body=body, headers=headers)
                upstream_response = conn.getresponse()
                data = upstream_response.read()
                ended = time.perf_counter()
                if target.startswith("DynamoDB"):
                    operation = target.split(".", 1)[-1]
                    with proxy.lock:
                        proxy.calls.append(operation)
                        proxy.timed.append((operation, started, ended))
                self.send_response(upstream_response.status)
                for k, v in upstream_response.getheaders():
                    if k.lower() not in ("content-length", "connection", "transfer-encoding"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                conn.close()

        self.port = free_port()
        self.server = ThreadingServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.port}"

    def take(self):
        """The timed calls recorded since the last take."""
        with self.lock:
            timed, self.timed = self.timed, []
        return timed

    def close(self):
        self.server.shutdown()


def proc_cpu_ticks(pid):
    """(user, system) clock ticks of one process, from /proc."""
    fields = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]), int(fields[12])


def proc_cpu_seconds(pid):
    return sum(proc_cpu_ticks(pid)) / TICKS


def proc_peak_rss_mb(pid):
    for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def start_function(binary, env_overrides, wrapped=True, launcher=(), base_env=None):
    """Starts `binary` under its own Runtime API and returns once it asks for its first event.
    Its environment is `base_env` (default: this process's) plus `env_overrides` and Lambda's own.
    `launcher` is a command that ends by exec'ing its last argument, the binary (see cold_start.py)."""
    api = RuntimeApi()
    env = dict(os.environ if base_env is None else base_env)
    env.update(env_overrides)
    env.update({
        "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{api.port}",
        "AWS_LAMBDA_FUNCTION_NAME": binary.parent.name if binary.name == "bootstrap" else binary.name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_LOG_LEVEL": "WARN",
        "METRICS": "off",
    })
    started = time.perf_counter()
    wrapper = os.environ.get("BENCH_WRAPPER", "").split() if wrapped else []
    process = subprocess.Popen(
        [*wrapper, *launcher, str(binary)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    while api.first_next_at is None:
        if process.poll() is not None:
            raise RuntimeError(f"{binary} exited: {process.stderr.read().decode()[:500]}")
        time.sleep(0.0002)
    return api, process, (api.first_next_at - started) * 1000


def stop(process):
    # SIGTERM, not SIGKILL, so a profiler wrapping the function can write its output.
    process.terminate()
    process.wait()


def api_event(method, route, path, token, body=None, query=None, path_params=None):
    event = json.loads((ROOT / "events" / "list-items.ok.json").read_text())
    raw_query = urllib.parse.urlencode(query or {})
    event.update({"routeKey": f"{method} {route}", "rawPath": path, "rawQueryString": raw_query})
    event["headers"]["authorization"] = f"Bearer {token}"
    event["requestContext"]["http"].update({"method": method, "path": path})
    event["requestContext"]["routeKey"] = f"{method} {route}"
    if query:
        event["queryStringParameters"] = query
    if path_params:
        event["pathParameters"] = path_params
    if body is not None:
        event["headers"]["content-type"] = "application/json"
        event["body"] = json.dumps(body)
    return event


def status_of(response_body):
    return json.loads(response_body).get("statusCode")


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round((len(ordered) - 1) * p))]


def size_mb(path):
    return round(path.stat().st_size / 1048576, 2) if path.exists() else None


def function_env(table, secret, queue_url, endpoint):
    """The production settings every measured function runs with (also used by init_cost.py)."""
    return {
        "TABLE_NAME": table,
        "JWT_SECRET": secret,
        "INDEX_QUEUE_URL": queue_url,
        "AWS_ENDPOINT_URL": endpoint,
        # As deployed: without AWS_ENDPOINT_URL a function trusts only the compiled-in Amazon roots
        # (moto is plain HTTP, so this changes only the init work, not the connection).
        "AWS_TLS_ROOTS": "amazon",
        # The limiter stays on (its DynamoDB call is part of every request) but never refuses here.
        "RATE_LIMITS": ",".join(f"{a}:{g}=100000000/60" for a in ("user", "admin") for g in ("read", "write", "search", "admin")),
    }


def main():
    invocations = int(os.environ.get("BENCH_INVOCATIONS", "2000"))
    functions = sorted(p.stem for p in (ROOT / "functions" / "src" / "bin").glob("*.rs"))
    # BENCH_FUNCTIONS=get-item,list-items narrows a run; BENCH_PROFILE=profiling measures another
    # cargo profile's binaries (with BENCH_WRAPPER="valgrind --tool=callgrind" for a profile).
    only = [name for name in os.environ.get("BENCH_FUNCTIONS", "").split(",") if name]
    functions = [name for name in functions if not only or name in only]
    release = ROOT / "target" / os.environ.get("BENCH_PROFILE", "release")
    import boto3
    from table import create_queues, table_definition

    table = f"bench-{uuid.uuid4().hex[:8]}"
    boto3.client("dynamodb", endpoint_url=ENDPOINT, region_name="us-east-1").create_table(TableName=table, **table_definition())
    queue_url = create_queues(f"{table}-index")
    secret = local_secret()
    if XRAY and XRAY not in XRAY_TRACES:
        raise SystemExit(f"BENCH_XRAY must be unsampled or sampled, not {XRAY!r}")
    daemon = XRayDaemon() if XRAY else None
    env = {
        **function_env(table, secret, queue_url, ENDPOINT),
        **({"AWS_XRAY_DAEMON_ADDRESS": daemon.address} if daemon else {}),
    }
    user = mint(secret, "bench-user", "user", int(time.time()) + 7200)
    admin = mint(secret, "bench-admin", "admin", int(time.time()) + 7200)

    # Seed through the function itself: 60 active items from 6 owners, with plenty of stock.
    seeder = release / "create-item"
    seeder = seeder if seeder.exists() else ROOT / "target" / "release" / "create-item"
    api, process, _ = start_function(seeder, env, wrapped=False)
    item_ids = []
    for n in range(60):
        owner = mint(secret, f"owner-{n % 6}", "user", int(time.time()) + 7200)
        body = {"name": f"bench item {n} {['lamp', 'desk', 'chair', 'kettle', 'rug'][n % 5]}", "price": 100 + n, "stock": 1_000_000, "status": "active"}
        response = json.loads(api.invoke(api_event("POST", "/api/items", "/api/items", owner, body=body))[1])
        item_ids.append(json.loads(response["body"])["data"]["id"])
    stop(process)
    api.close()
    target_item = item_ids[0]
    if daemon:
        daemon.received = 0  # count the measured runs only, not the seeding

    def sqs_event(n):
        records = [{
            "messageId": f"m-{n}-{i}", "receiptHandle": f"r-{n}-{i}",
            "body": json.dumps({"item_id": item_ids[(n * 10 + i) % len(item_ids)], "version": 1, "op": "upsert"}),
            "attributes": {}, "messageAttributes": {}, "eventSource": "aws:sqs", "awsRegion": "us-east-1",
            "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:bench",
        } for i in range(10)]
        return {"Records": records}

    item_path = f"/api/items/{target_item}"
    scenarios = {
        "get-item": lambda n: api_event("GET", "/api/items/{id}", item_path, user, path_params={"id": target_item}),
        "list-items": lambda n: api_event("GET", "/api/items", "/api/items", user, query={"limit": "50", "include": "owner"}),
        "create-item": lambda n: api_event("POST", "/api/items", "/api/items", user, body={"name": f"new {n}", "price": n}),
        "create-order": lambda n: api_event("POST", "/api/orders", "/api/orders", user, body={"lines": [{"item_id": item_ids[2 + n % 50], "quantity": 1}]}),
        "search-items": lambda n: api_event("GET", "/api/items/search", "/api/items/search", user, query={"q": ["desk lamp", "kettle", "bench chair"][n % 3]}),
        "index-worker": sqs_event,
    }
    # The worker runs first, so search has an index to load.
    order = ["index-worker", "get-item", "list-items", "create-item", "update-item", "create-order", "search-items"]
    # update-item patches another owner's item as that owner would: use the owner's token.
    owner1 = mint(secret, "owner-1", "user", int(time.time()) + 7200)
    scenarios["update-item"] = lambda n: api_event("PATCH", "/api/items/{id}", f"/api/items/{item_ids[1]}", owner1, body={"stock": n}, path_params={"id": item_ids[1]})

    results = {}
    for function in functions:
        binary = release / function
        row = {"function": function, "size_x86_64_mb": size_mb(binary), "size_arm64_mb": size_mb(ROOT / "target/lambda" / function / "bootstrap")}
        inits = []
        for _ in range(5):
            api, process, init_ms = start_function(binary, env)
            inits.append(init_ms)
            stop(process)
            api.close()
        row["init_ms"] = round(statistics.median(inits), 2)
        results[function] = row

    # moto answers a transaction or a 50-row query with owners in tens of milliseconds, so those two
    # routes get fewer invocations (BENCH_SLOW_INVOCATIONS); their CPU per invocation is unaffected.
    slow = {"list-items", "create-order"}
    # There is no in-container cache (it could not see other functions' writes): as deployed by
    # default, every GET is a DynamoDB GetItem, as in the samples the targets were set against.
    runs = [(name, name, {}) for name in order if name in functions]
    # The references (built outside the workspace, as a user would): the same GET event, warm.
    cold = os.environ.get("BENCH_COLD", "1") != "0"
    # BENCH_REFERENCES=0 measures this project's functions only (the references build for minutes).
    with_references = cold and os.environ.get("BENCH_REFERENCES", "1") != "0"
    references = cold_start.build_references() if with_references else {}
    for name in references:
        scenarios[name] = scenarios["get-item"]
    binaries = {name: release / name for name in functions}
    binaries.update(references)
    runs += [(name, name, {}) for name in references]
    for name, function, run_env in runs:
        make_event = scenarios[function]
        count = int(os.environ.get("BENCH_SLOW_INVOCATIONS", "500")) if function in slow else invocations
        count = count // 10 if function == "index-worker" else count
        api, process, _ = start_function(binaries[function], dict(env, **run_env))
        first_seconds, body = api.invoke(make_event(0))
        if function not in ("index-worker", "hello (reference)"):
            status = status_of(body)
            assert status and status < 400, f"{function}: first invocation answered {status}: {body[:300]!r}"
        cpu_before = proc_cpu_seconds(process.pid)
        latencies = []
        for n in range(1, count + 1):
            seconds, _ = api.invoke(make_event(n))
            latencies.append(seconds * 1000)
        cpu_after = proc_cpu_seconds(process.pid)
        peak = proc_peak_rss_mb(process.pid)
        stop(process)
        api.close()
        row = results.setdefault(name, {"function": name})
        row.update({
            "first_invocation_ms": round(first_seconds * 1000, 2),
            "warm_p50_ms": round(percentile(latencies, 0.5), 3),
            "warm_p99_ms": round(percentile(latencies, 0.99), 3),
            "cpu_us_per_invocation": round((cpu_after - cpu_before) / count * 1e6, 1),
            "peak_rss_mb": round(peak, 1),
            "invocations": count,
        })
        print(f"{name}: {row}", flush=True)
        if function == "index-worker":
            row["jobs_per_second"] = round(10 * count / (sum(latencies) / 1000), 1)
            row["cpu_us_per_job"] = round(row["cpu_us_per_invocation"] / 10, 1)

    if cold:
        cold_runs = int(os.environ.get("BENCH_COLD_RUNS", "20"))
        measured = [name for name in ("get-item", "list-items", "create-item", "create-order", "search-items", "index-worker")
                    if name in functions]
        cold_functions = [(name, binaries[name], scenarios[name], name) for name in [*references, *measured]]
        for name, row in cold_start.run(cold_functions, env, start_function, cold_runs).items():
            results.setdefault(name, {"function": name}).update(row)

    proxy = CountingProxy(ENDPOINT)
    counted_env = dict(env, AWS_ENDPOINT_URL=proxy.url)
    counted = [(name, function, run_env) for name, function, run_env in runs if function in ("get-item", "list-items", "create-item", "create-order", "search-items")]
    for name, function, run_env in counted:
        api, process, _ = start_function(release / function, dict(counted_env, **run_env))
        api.invoke(scenarios[function](0))  # warm: search loads its index here
        proxy.calls.clear()
        # Averaged over a run of requests: the rate limiter claims a lease every so many requests.
        samples = 64
        for n in range(1, samples + 1):
            api.invoke(scenarios[function](n))
        operations = {name: proxy.calls.count(name) / samples for name in dict.fromkeys(proxy.calls)}
        results[name]["dynamodb_calls"] = round(len(proxy.calls) / samples, 2)
        results[name]["dynamodb_operations"] = " + ".join(f"{per_request:g} {name}" for name, per_request in operations.items())
        stop(process)
        api.close()
    proxy.close()

    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT).stdout.strip()
    report = {"commit": commit, "cores": os.cpu_count(), "invocations": invocations, "dynamodb": "moto (single-threaded)", "functions": [results[name] for name in sorted(results)]}
    out = ROOT / "target" / "bench"
    out.mkdir(parents=True, exist_ok=True)
    (out / "lambda.json").write_text(json.dumps(report, indent=2))

    print(f"\ncommit {commit}, {os.cpu_count()} cores, DynamoDB = moto (single-threaded, loopback)")
    if daemon:
        print(f"X-Ray: {XRAY}, {daemon.received} subsegments received by the stand-in daemon")
        report["xray"] = {"mode": XRAY, "subsegments": daemon.received}
        (out / "lambda.json").write_text(json.dumps(report, indent=2))
    print()
    header = "| function | x86_64 MB | arm64 MB | init ms | first inv. ms | warm p50 ms | warm p99 ms | CPU µs/inv | peak RSS MB | invocations | DynamoDB calls/req |"
    print(header)
    print("|" + "---|" * (header.count("|") - 1))
    for row in (results[name] for name in sorted(results)):
        def f(key):
            value = row.get(key)
            return "—" if value is None else str(value)
        calls = f"{row['dynamodb_calls']} ({row['dynamodb_operations']})" if "dynamodb_calls" in row else "—"
        print(f"| {row['function']} | {f('size_x86_64_mb')} | {f('size_arm64_mb')} | {f('init_ms')} | {f('first_invocation_ms')} | {f('warm_p50_ms')} | {f('warm_p99_ms')} | {f('cpu_us_per_invocation')} | {f('peak_rss_mb')} | {f('invocations')} | {calls} |")
    cold_rows = [row for row in (results[name] for name in sorted(results)) if "cold_total_ms" in row]
    if cold_rows:
        print("\nCold start as billed: TLS to the store (local CA), CPU quota = Lambda's share at the function's memory; median [min–max]\n")
        print("| function | memory MB | CPU quota | runs | init ms | first invocation ms | init + first ms |")
        print("|---|---|---|---|---|---|---|")
        for row in cold_rows:
            print(f"| {row['function']} | {row['memory_mb']} | {row['cpu_quota_percent']} % | {row['cold_runs']} | {row['cold_init_ms']} | {row['cold_first_ms']} | {row['cold_total_ms']} |")
    worker = results.get("index-worker", {})
    if "jobs_per_second" in worker:
        print(f"\nindex-worker: {worker['jobs_per_second']} jobs/s, {worker['cpu_us_per_job']} µs CPU per job (batches of 10)")
    print(f"\nwrote {out / 'lambda.json'}")


if __name__ == "__main__":
    main()
