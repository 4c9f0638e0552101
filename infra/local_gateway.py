"""Local stand-in for API Gateway in front of `cargo lambda watch`: forwards every request as it is and
caps how many are in flight to the emulator at once; the rest wait here, each on its own connection.

    python infra/local_gateway.py PORT UPSTREAM_PORT [MAX_IN_FLIGHT]

Why: cargo lambda 1.9.2 deadlocks once more than 100 invocations of one function wait for an instance.
Its request cache holds the write lock on the map of per-function queues while it awaits a push into a
queue bounded at 100, and an instance needs the read lock on that map to take the next request, so
nothing is taken again and every function stalls (crates/cargo-lambda-watch/src/state.rs,
`RequestCache::upsert`). 200 orders sent at once hit it: a few answered, the rest waited for minutes.
With at most MAX_IN_FLIGHT (default 64, below the 100) forwarded at a time no queue can fill.
"""

import http.client
import http.server
import sys
import threading

# Not forwarded either way: they describe one connection, not the request.
HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer", "upgrade"}


def main() -> None:
    port, upstream = int(sys.argv[1]), int(sys.argv[2])
    slots = threading.BoundedSemaphore(int(sys.argv[3]) if len(sys.argv) > 3 else 64)

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def forward(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length) if length else None
            with slots:
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
