"""Serve moto's DynamoDB + SQS on 127.0.0.1, single-threaded.

moto's own `moto_server` is multi-threaded and does not apply TransactWriteItems atomically
under concurrency; one request at a time makes conditional writes behave like DynamoDB's.
"""

import sys

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import run_simple


def main() -> None:
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 5000
    app = DomainDispatcherApplication(create_backend_app)
    run_simple("127.0.0.1", port, app, threaded=False, use_reloader=False, use_debugger=False)


if __name__ == "__main__":
    main()
