"""Schemathesis hooks for the local conformance run (loaded through SCHEMATHESIS_HOOKS).

Two kinds of adjustment, each for a reason that lies outside the API:

- `cargo lambda watch` cannot put a body that is not valid UTF-8 into the API Gateway event it builds
  (it answers 500 itself, before any function runs; API Gateway would base64-encode such a body and
  the functions answer 400). Such bodies test the emulator, not the API, so they are not sent.
- `positive_data_acceptance` (ST202) flags a schema-valid request answered 4xx. A few rules of the
  API cannot be written in OpenAPI; a 400 that names exactly one of them, for a request that really
  breaks it, is the documented answer, so that failure is dropped. Any other 400 still fails:
  * a cursor the API never issued (cursors are sealed; no generator can make one). A cursor the API
    did issue, followed through the `NextItemsPage` link, must be accepted;
  * an order naming one item on two lines (OpenAPI's uniqueItems compares whole lines);
  * a name with a code point refused by Unicode category that a regular expression over the Basic
    Multilingual Plane cannot list (unassigned, private-use or format characters of other planes).
  And one generator limitation: the coverage phase builds header values from A-Z, a-z and 0-9 only,
  so for `If-Match` / `If-None-Match` (whose grammar needs `"` or `*`) it sends `0` as if valid; a
  400 for a header value that does not match the spec's own pattern is not a rejected valid request.
"""

import atexit
import collections
import json
import pathlib
import re
import unicodedata

import schemathesis
import yaml

SPEC = yaml.safe_load((pathlib.Path(__file__).resolve().parent.parent / "openapi.yaml").read_text())

# Conditional headers by the error code that refuses them, with the spec's pattern for each.
CONDITIONAL_HEADERS = {
    "invalid_if_match": ("If-Match", SPEC["components"]["parameters"]["IfMatch"]["schema"]["pattern"]),
    "invalid_if_none_match": ("If-None-Match", SPEC["components"]["parameters"]["IfNoneMatch"]["schema"]["pattern"]),
}

# Printed when the run ends: which documented answers were dropped, and what the run really did
# (e.g. that the stateful phase placed orders on real items).
DROPPED = collections.Counter()
SUCCEEDED = collections.Counter()

# next_cursor values the API has handed out during this run, with the listing each belongs to.
ISSUED_CURSORS = {}

# What a cursor is bound to: its listing and, for items, the filter and sort (absent = default).
LISTING_DEFAULTS = {"/api/items": {"status": "*", "sort": "created_at", "order": "desc"}, "/api/orders": {}}

# Categories `text::name` refuses; the spec's pattern lists the BMP members of these.
REFUSED_IN_NAMES = {"Cc", "Cf", "Zl", "Zp", "Co", "Cs", "Cn"}


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


@schemathesis.hook
def after_call(context, case, response):
    if 200 <= response.status_code < 300:
        SUCCEEDED[f"{case.method.upper()} {case.operation.path} {response.status_code}"] += 1
    if response.status_code != 200:
        return
    page = _json(response.content).get("page", {})
    if isinstance(page, dict) and isinstance(page.get("next_cursor"), str):
        ISSUED_CURSORS[page["next_cursor"]] = _listing(case)


@schemathesis.hook
def filter_failure(context, failure, case, response):
    """Keeps every failure except an ST202 whose 400 names a rule OpenAPI cannot express."""
    if failure.code != "ST202" or response.status_code != 400:
        return True
    error = _json(response.content).get("error", {})
    keep = _keep(error, case)
    if not keep:
        DROPPED[error.get("code")] += 1
    return keep


def _keep(error, case):
    if error.get("code") in CONDITIONAL_HEADERS:
        header, pattern = CONDITIONAL_HEADERS[error["code"]]
        value = (case.headers or {}).get(header)
        return isinstance(value, str) and re.search(pattern, value) is not None
    if error.get("code") == "invalid_cursor":
        # Kept only when the cursor was issued for this very listing: then it had to be accepted.
        cursor = (case.query or {}).get("cursor")
        return cursor in ISSUED_CURSORS and ISSUED_CURSORS[cursor] == _listing(case)
    if error.get("code") == "validation_failed":
        details = error.get("details") or []
        return not details or not all(_inexpressible(detail, case.body) for detail in details)
    return True


@atexit.register
def _report():
    print("conformance: documented 400s dropped from ST202, by code:", dict(DROPPED) or "none")
    print("conformance: 2xx answers by operation:", dict(sorted(SUCCEEDED.items())))


def _listing(case):
    path = case.operation.path
    query = case.query or {}
    return path, tuple((name, str(query.get(name, default))) for name, default in LISTING_DEFAULTS.get(path, {}).items())


def _inexpressible(detail, body):
    field, code = detail.get("field", ""), detail.get("code")
    if not isinstance(body, dict):
        return False
    if code == "duplicate" and field.startswith("lines["):
        ids = [line.get("item_id") for line in body.get("lines", []) if isinstance(line, dict)]
        return len(ids) != len(set(ids))
    if field == "name" and code == "invalid":
        name = unicodedata.normalize("NFC", str(body.get("name", "")))
        return any(ord(c) > 0xFFFF or unicodedata.category(c) == "Cn" for c in name if _refused(c))
    return False


def _refused(c):
    return unicodedata.category(c) in REFUSED_IN_NAMES


def _json(content):
    """The response body as a JSON object, or {} when it is anything else."""
    try:
        value = json.loads(content)
    except (ValueError, TypeError):
        return {}
    return value if isinstance(value, dict) else {}
