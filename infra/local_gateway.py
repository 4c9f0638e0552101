"""Local stand-in for API Gateway in front of `cargo lambda watch`: forwards every request as it is and
caps how many are in flight to the emulator at once; the rest wait here, each on its own connection,
and are let through in the order they arrived.

    python infra/local_gateway.py PORT UPSTREAM_PORT [MAX_IN_FLIGHT]

Why a cap at all: cargo lambda 1.9.2 deadlocks once more than 100 invocations of one function wait for
an instance. Its request cache holds the write lock on the map of per-function queues while it awaits a
push into a queue bounded at 100, and an instance needs the read lock on that map to take the next
request, so nothing is taken again and every function stalls (crates/cargo-lambda-watch/src/state.rs,
`RequestCache::upsert`). 200 orders sent at once hit it: a few answered, the rest waited for minutes.

Why a small one (default 2): behind the functions is moto, which serves one DynamoDB or SQS call at a
time. Every request let through makes its calls to moto at once with the others, and each call's SDK
timers (1.5 s an attempt, 4 s an operation) run while it waits in moto's queue: 16 concurrent clients
made calls wait seconds there, and the functions answered with SDK timeouts and a rate limiter that
failed open. A request waiting here has no timer running, and the store serves no more calls a second
either way, so the excess waits here instead. The wait is first in, first out (a semaphore lets a new
arrival overtake one that has waited, which stretches the tail). Measurements: README, "The local stack".

Every 10 s in which requests waited, one line on stderr says how many passed, the longest queue and the
longest wait.
"""

import collections
import http.client
import http.server
import sys
import threading
import time

# Not forwarded either way: they describe one connection, not the request.
HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer", "upgrade"}


class FifoGate:
    """At most `slots` holders; the others wait and are admitted strictly in arrival order."""

    def __init__(self, slots: int) -> None:
        self.free = slots
        self.waiting = collections.deque()
        self.lock = threading.Lock()
        self.passed = self.longest_queue = 0
        self.longest_wait = 0.0

    def __enter__(self) -> None:
        started = time.monotonic()
        with self.lock:
            self.passed += 1
            if self.free and not self.waiting:
                self.free -= 1
                return
            turn = threading.Event()
            self.waiting.append(turn)
            self.longest_queue = max(self.longest_queue, len(self.waiting))
        turn.wait()  # the slot is handed over by __exit__, so nobody can take it in between
        waited = time.monotonic() - started
        with self.lock:
            self.longest_wait = max(self.longest_wait, waited)

    def __exit__(self, *_) -> None:
        with self.lock:
            if self.waiting:
                self.waiting.popleft().set()
            else:
                self.free += 1

    def report(self) -> None:
        while True:
            time.sleep(10)
            with self.lock:
                passed, queue, wait = self.passed, self.longest_queue, self.longest_wait
                self.passed = self.longest_queue = 0
                self.longest_wait = 0.0
            if queue:
                print(f"local_gateway: last 10 s: {passed} requests, up to {queue} waiting, longest wait {wait * 1000:.0f} ms", file=sys.stderr, flush=True)


def main() -> None:
    port, upstream = int(sys.argv[1]), int(sys.argv[2])
    slots = int(sys.argv[3]) if len(sys.argv) > 3 else 2
    if not 1 <= slots <= 100:
        raise SystemExit("MAX_IN_FLIGHT must be 1-100 (over 100, cargo lambda watch can deadlock)")
    gate = FifoGate(slots)
    threading.Thread(target=gate.report, daemon=True).start()

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def forward(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length) if length else None
            with gate:
                connection = http.client.HTTPConnection("127.0.0.1", upstream, timeout=600)
                try:
                    connection.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
                    for key, value in self.headers.items():  # repeated headers stay repeated
                        if key.lower() not in HOP_BY_HOP:
                            connection.putheader(key, value)
                    connection.endheaders(body)
                    response = connection.getresponse()
                    status, reason, payload = response.status, response.reason, response.read()
                    reply = [(k, v) for k, v in response.getheaders() if k.lower() not in HOP_BY_HOP]
                except OSError as error:
                    status, reason, reply = 502, "Bad Gateway", [("content-type", "text/plain")]
                    payload = f"local_gateway: cargo lambda watch did not answer: {error}\n".encode()
                finally:
                    connection.close()
            self.send_response_only(status, reason)
            for key, value in reply:
                if key.lower() != "content-length":
                    self.send_header(key, value)
            self.send_header("content-length", str(len(payload)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)

        def __getattr__(self, name):  # every method (QUERY, TRACE, ...) goes through, as to the emulator
            if name.startswith("do_"):
                return self.forward
            raise AttributeError(name)

        def log_message(self, format, *args) -> None:  # one line per request is noise here
            pass

    class Server(http.server.ThreadingHTTPServer):
        daemon_threads = True
        request_queue_size = 1024  # the default listen backlog (5) drops connects of a burst

    Server(("127.0.0.1", port), Handler).serve_forever()


if __name__ == "__main__":
    main()
