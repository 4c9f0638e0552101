"""Schemathesis hooks for the local conformance run (loaded through SCHEMATHESIS_HOOKS).

`cargo lambda watch` cannot put a body that is not valid UTF-8 into the API Gateway event it builds
(it answers 500 itself, before any function runs; API Gateway would base64-encode such a body and the
functions answer 400). Such bodies test the emulator, not the API, so they are not sent.
"""

import schemathesis


@schemathesis.hook
def filter_body(context, body):
    if isinstance(body, (bytes, bytearray)):
        try:
            bytes(body).decode("utf-8")
        except UnicodeDecodeError:
            return False
    if isinstance(body, str):
        try:
            body.encode("utf-8")
        except UnicodeEncodeError:
            return False
    return True
