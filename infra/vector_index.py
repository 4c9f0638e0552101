"""DynamoDB vector indexes (CreateTable/UpdateTable/DescribeTable and SearchVectors) on top of moto.

moto 5.2.5 has no vector indexes. infra/moto_server.py calls patch_moto() here, which adds them to
moto's DynamoDB: the definitions live on moto's Table object (`vector_indexes`), so they go when the
table goes, and a search reads the table's current items; nothing else is stored and nothing is
copied. The request and response shapes are botocore's service model (moto parses and serializes
with it, which is why infra/requirements.txt pins a botocore that knows SearchVectors).

Sources, quoted where a rule rests on their wording:
  [API]  API reference: SearchVectors, CreateVectorIndexAction, VectorIndexDescription, SearchSchemaElement,
         Projection, and the CreateTable/UpdateTable/TableDescription members (also botocore's
         dynamodb/2012-08-10/service-2.json, which carries the same text).
  [DEV]  Developer guide: "Creating and searching vector indexes", "Data synchronization between tables
         and vector indexes", "Troubleshooting vector indexes", "Requirements and limitations".
Messages quoted from a source are marked (verbatim); the others are ours, in DynamoDB's usual style.
Every error is HTTP 400.

Definitions (CreateTable `VectorIndexes`, UpdateTable `VectorIndexUpdates`)
- A vector index has IndexName (3-255 chars, [a-zA-Z0-9_.-]+, "Must be unique within the table" [API],
  so also distinct from the table's GSIs and LSIs), VectorAttribute.AttributeName, Dimensions (1 to
  4,096: "DynamoDB supports up to 4,096 dimensions" [DEV]), DistanceFunction (COSINE | EUCLIDEAN |
  DOT_PRODUCT), Projection (required) and an optional SearchSchema of at most one HASH and up to 18
  INLINE_FILTER elements. A missing or invalid member is a ValidationException.
- The table must be on-demand: "Vector indexes are not supported on provisioned capacity tables" [DEV];
  a PROVISIONED table, or an UpdateTable switching such a table to PROVISIONED, is a ValidationException.
- Every SearchSchema attribute must be in AttributeDefinitions: "ValidationException: One element in
  SearchSchema is not defined in attribute definitions" (verbatim [DEV]). moto rejects definitions no key
  uses, so those are kept aside while moto creates the table and put back on it afterwards.
- "If multiple vector indexes reference the same attribute, they must all use the same number of
  dimensions" [API].
- Projection: ProjectionType ALL | KEYS_ONLY | INCLUDE, NonKeyAttributes only with INCLUDE. "The total
  number of projected non-key attributes is shared across the vector attribute (counts as 1) and
  INLINE_FILTER search schema elements (each counts as 1). HASH search schema elements do not count"
  [API]: with the Projection limit of 20 NonKeyAttributes, that total must not exceed 20.
- CreateTable takes up to five: "VectorIndex count exceeds the per-table limit of 5" (verbatim [DEV]).
- UpdateTable takes one Create or one Delete: "You can add or remove one vector index for each UpdateTable
  operation" [API]; two actions fail with LimitExceededException "Subscriber limit exceeded: Only 1 online
  index can be created or deleted simultaneously per table" (verbatim [DEV]). Deleting an index the table
  does not have is a ValidationException "The table does not have the specified index: <name>".
- DescribeTable (and the CreateTable/UpdateTable/DeleteTable responses) list each index under
  VectorIndexes with IndexStatus ACTIVE, IndexArn <table ARN>/index/<name>, and no Backfilling member:
  "When the index is ready, IndexStatus becomes ACTIVE and the Backfilling field is no longer reported"
  [DEV]. Difference from AWS: AWS goes through CREATING (and CREATING with Backfilling true, during
  which "SearchVectors returns a ValidationException" [DEV]) and fills the index asynchronously, also
  afterwards ("Search results are eventually consistent" [DEV]). Here an index is ACTIVE at once and a
  search reads the items as they are at that moment: a write is visible to the next search. ItemCount
  and IndexSizeBytes ("updated approximately every six hours" [API]) are not reported.

Writes (PutItem, UpdateItem, BatchWriteItem, TransactWriteItems, PartiQL), from the table in [DEV]
"Writing items with vector data":
- "Vector attribute has wrong number of dimensions | Write is rejected": ValidationException, and so is
  a vector attribute that is not a list (L) of numbers (N) ("Write is rejected with 'Invalid type for
  parameter'" [DEV]). An UpdateItem that would leave such a vector is rejected and changes nothing.
- "Vector index partition key attribute type doesn't match index schema | Write is rejected", and an
  empty string or binary HASH value is rejected ("an index key attribute cannot be empty" [DEV]), with
  DynamoDB's messages for the same faults on a GSI key.
- "Vector index partition key attribute is missing | Write succeeds on the base table, but the item is
  not replicated to the vector index"; "Inline filter attribute is missing | Write succeeds and the item
  is replicated"; deleting the vector attribute or the item removes it from the index.
- Items already in the table when UpdateTable adds an index are never rejected; those with a vector
  that is not a list of exactly Dimensions numbers (or without the HASH attribute, or with one of
  another type) are simply not in the index. (How AWS's backfill treats them is not documented.)

SearchVectors, an exact (brute-force) search where AWS's is approximate:
- TableName (name or ARN), IndexName, SearchVector and TopK are required (a missing one is DynamoDB's
  "1 validation error detected: Value null at '<member>' failed to satisfy constraint: Member must not
  be null"). An unknown table is ResourceNotFoundException "Requested resource not found"; an unknown
  index is ValidationException "The table does not have the specified index: <indexName>" (verbatim [DEV]).
- TopK: "Valid values range from 1 to 100, inclusive" [API]; otherwise ValidationException "Provided
  TopK value is out of valid range" (verbatim [DEV]).
- SearchVector: "Each element is a 32-bit IEEE-754 floating point number, provided in DynamoDB list
  format. The number of dimensions must match the number of dimensions configured for the vector index"
  [API]: elements must be N, finite; a length other than Dimensions is a ValidationException.
- The indexed items: every current item whose vector attribute is a list of exactly Dimensions numbers
  and, if the index has a HASH element, which has that attribute with its declared type. Vectors are
  compared at f32 precision ("stored at 32-bit floating point (f32) precision in the index" [DEV]),
  the query vector too.
- Score [API]: COSINE "Returns the items with the k smallest scores. Scores range from 0 (identical) to
  2 (opposite). Lower scores indicate higher similarity": score = 1 - cos(q, v); a zero vector (no
  direction) is taken as cos = 0, score 1 (undocumented). EUCLIDEAN "Returns the items with the k
  smallest scores. Scores represent the Euclidean distance between vectors": score = |q - v|.
  DOT_PRODUCT "Returns the items with the k highest scores. Higher scores indicate higher similarity":
  score = q . v. Results are "sorted by similarity with the most similar item first" [API]; equal scores
  keep the table's item order. At most TopK results; fewer when fewer items qualify.
- SearchConditionExpression: "The HASH and INLINE_FILTER attributes support only the equality operator
  (=). You can reference only top-level attributes from the search schema" [API]. So: equalities
  `attr = :value` (either side order, #names allowed, parentheses ignored) joined by AND. Any other
  comparator (<>, <, <=, >, >=, IN, BETWEEN, a function) is ValidationException "Invalid comparator used
  in SearchConditionExpression" (verbatim [DEV]); OR, NOT, a nested path, an attribute outside the search
  schema, a reserved word used as a name, or a syntax error is a ValidationException too (our messages).
  "If your vector index has a partition key defined in the SearchSchema, you must include it in the
  SearchConditionExpression. Inline filter attributes are optional" [DEV]; without it:
  "SearchConditionExpression must be provided when SearchSchema has a HASH key" (verbatim [DEV]).
  An item matches when each named attribute equals its value (same type and value); an item without an
  inline filter attribute matches no equality on it.
- ExpressionAttributeNames/Values follow DynamoDB's rules for every expression: one that is used but not
  given, or given but not used, is a ValidationException.
- Projection: the index holds the table's key attributes, the search schema attributes, the vector
  attribute, and per ProjectionType nothing more (KEYS_ONLY), the NonKeyAttributes (INCLUDE) or every
  attribute (ALL). "If not specified, the operation returns all attributes projected into the vector
  index. Only attributes projected into the vector index can be retrieved" [API], except that "By
  default, the results from SearchVectors don't include the vector attribute (the embedding)... To
  include the vector attribute, request it with a ProjectionExpression" [DEV]. A ProjectionExpression
  path whose attribute is not projected returns nothing for it, without an error (not documented).
- Not emulated: ConsumedCapacity (VectorSearchRequestBytes) is not returned; the 16 MB response cap is
  not checked (TopK <= 100 keeps responses small here); no throttling; no backfilling state.
- Cost (see "Search state" below; 256 dimensions, this project's 2-core machine, measured by
  infra/bench/vector_search_check.py timing). moto keeps numbers as strings: each stored vector is
  parsed once, by the first search that meets it (about 0.15 ms a vector: 50,000 take 6-9 s), into the
  rows of an f32 matrix (4 bytes a number, beside moto's own objects for each). The index's items,
  grouped by HASH value, are found by walking the table, again on the first search after a write to an
  item with a vector attribute (0.15-0.25 s for 50,000 items with a vector and 50,000 without); writes to
  other items (the rate limiter's, say) do not count. Any other search costs one f32 matrix product
  over its HASH value's vectors, its inline filters as array comparisons, and _score on about TopK
  items: 10-15 ms for 50,000 items in one HASH value, where scoring each with _score took 8-12 s.
  moto's request parsing and response serializer come on top: through boto3, TopK 60 answers in about
  45 ms with ProjectionExpression pk (as search-items asks) and about 90 ms with every KEYS_ONLY
  attribute. Answers are the same as scoring every item with _score, to the bit (_nearest says why;
  vector_search_check.py equivalence checks it against that search).
"""

from __future__ import annotations

import array
import copy
import heapq
import math
import operator
import re
from typing import Any

import numpy as np
from moto.dynamodb.exceptions import DynamodbException, MockValidationException
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.dynamo_type import DynamoType, Item
from moto.dynamodb.models.table import Table
from moto.dynamodb.parsing.reserved_keywords import ReservedKeywords
from moto.dynamodb.responses import DynamoHandler, DynamoResult

DISTANCE_FUNCTIONS = ("COSINE", "EUCLIDEAN", "DOT_PRODUCT")
MAX_DIMENSIONS = 4096
MAX_VECTOR_INDEXES = 5
MAX_INLINE_FILTERS = 18
MAX_PROJECTED_NON_KEY = 20
TOP_K_RANGE = (1, 100)
INDEX_NAME = re.compile(r"[a-zA-Z0-9_.-]{3,255}")


class LimitExceededException(DynamodbException):
    def __init__(self, message: str):
        super().__init__("com.amazonaws.dynamodb.v20120810#LimitExceededException", message)


def _invalid(message: str) -> MockValidationException:
    return MockValidationException(message)


def _not_null(value: Any, member: str) -> None:
    if value is None:
        raise _invalid(
            f"1 validation error detected: Value null at '{member}' failed to satisfy constraint: "
            "Member must not be null"
        )


# --- Definitions -------------------------------------------------------------------------------


def _validate_definition(
    index: dict[str, Any], attr_types: dict[str, str], taken: set[str], dims_by_attr: dict[str, int]
) -> dict[str, Any]:
    """Checks one VectorIndex / CreateVectorIndexAction and returns it as stored."""
    name = index.get("IndexName")
    _not_null(name, "indexName")
    if not INDEX_NAME.fullmatch(name):
        raise _invalid(
            f"1 validation error detected: Value '{name}' at 'indexName' failed to satisfy constraint: "
            "Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+ and have length between 3 and 255"
        )
    if name in taken:
        raise _invalid(f"One or more parameter values were invalid: Duplicate index name: {name}")
    vector_attr = (index.get("VectorAttribute") or {}).get("AttributeName")
    _not_null(vector_attr, "vectorAttribute.attributeName")
    dims = index.get("Dimensions")
    _not_null(dims, "dimensions")
    if not isinstance(dims, int) or not 1 <= dims <= MAX_DIMENSIONS:
        raise _invalid(
            f"One or more parameter values were invalid: Dimensions must be between 1 and {MAX_DIMENSIONS}, "
            f"got {dims} for vector index {name}"
        )
    if dims_by_attr.get(vector_attr, dims) != dims:
        raise _invalid(
            "One or more parameter values were invalid: vector indexes on the same attribute must use the "
            f"same number of dimensions; attribute: {vector_attr}"
        )
    function = index.get("DistanceFunction")
    _not_null(function, "distanceFunction")
    if function not in DISTANCE_FUNCTIONS:
        raise _invalid(
            f"1 validation error detected: Value '{function}' at 'distanceFunction' failed to satisfy "
            "constraint: Member must satisfy enum value set: [COSINE, DOT_PRODUCT, EUCLIDEAN]"
        )
    schema = index.get("SearchSchema")
    if schema is not None:
        if not schema:
            raise _invalid(
                "1 validation error detected: Value '[]' at 'searchSchema' failed to satisfy constraint: "
                "Member must have length greater than or equal to 1"
            )
        hashes = [e for e in schema if e.get("SearchSchemaElementType") == "HASH"]
        filters = [e for e in schema if e.get("SearchSchemaElementType") == "INLINE_FILTER"]
        if len(hashes) + len(filters) != len(schema):
            raise _invalid(
                "1 validation error detected: Value at 'searchSchema.member.searchSchemaElementType' failed "
                "to satisfy constraint: Member must satisfy enum value set: [HASH, INLINE_FILTER]"
            )
        if len(hashes) > 1:
            raise _invalid("One or more parameter values were invalid: SearchSchema can have at most one HASH element")
        if len(filters) > MAX_INLINE_FILTERS:
            raise _invalid(
                f"One or more parameter values were invalid: SearchSchema can have at most {MAX_INLINE_FILTERS} "
                "INLINE_FILTER elements"
            )
        names = [e.get("AttributeName") for e in schema]
        if len(set(names)) != len(names) or vector_attr in names:
            raise _invalid("One or more parameter values were invalid: Duplicate attribute in SearchSchema")
        if any(n not in attr_types for n in names):
            raise _invalid("One element in SearchSchema is not defined in attribute definitions")
    projection = index.get("Projection")
    _not_null(projection, "projection")
    kind = projection.get("ProjectionType")
    if kind not in ("ALL", "KEYS_ONLY", "INCLUDE"):
        raise _invalid(
            f"1 validation error detected: Value '{kind}' at 'projection.projectionType' failed to satisfy "
            "constraint: Member must satisfy enum value set: [ALL, KEYS_ONLY, INCLUDE]"
        )
    non_key = projection.get("NonKeyAttributes")
    if kind == "INCLUDE" and not non_key:
        raise _invalid(
            "One or more parameter values were invalid: ProjectionType is INCLUDE, but NonKeyAttributes is not specified"
        )
    if kind != "INCLUDE" and non_key:
        raise _invalid(
            f"One or more parameter values were invalid: ProjectionType is {kind}, but NonKeyAttributes is specified"
        )
    inline = [e for e in schema or [] if e["SearchSchemaElementType"] == "INLINE_FILTER"]
    if len(non_key or []) + 1 + len(inline) > MAX_PROJECTED_NON_KEY:
        raise _invalid(
            "One or more parameter values were invalid: the vector attribute, the INLINE_FILTER attributes and "
            f"NonKeyAttributes of vector index {name} exceed {MAX_PROJECTED_NON_KEY} projected non-key attributes"
        )
    stored = {
        "IndexName": name,
        "VectorAttribute": {"AttributeName": vector_attr},
        "Dimensions": dims,
        "DistanceFunction": function,
        "Projection": {"ProjectionType": kind} | ({"NonKeyAttributes": list(non_key)} if non_key else {}),
    }
    if schema:
        stored["SearchSchema"] = [
            {"AttributeName": e["AttributeName"], "SearchSchemaElementType": e["SearchSchemaElementType"]}
            for e in schema
        ]
    return stored


def _other_index_names(table: Table | None, body: dict[str, Any]) -> set[str]:
    names = {i["IndexName"] for i in (body.get("GlobalSecondaryIndexes") or [])}
    names |= {i["IndexName"] for i in (body.get("LocalSecondaryIndexes") or [])}
    if table is not None:
        names |= {i.name for i in table.all_indexes()}
        names |= {i["IndexName"] for i in getattr(table, "vector_indexes", [])}
    return names


def _search_schema_names(indexes: list[dict[str, Any]]) -> set[str]:
    return {e["AttributeName"] for i in indexes for e in i.get("SearchSchema", [])}


_moto_create_table = DynamoHandler.create_table
_moto_update_table = DynamoHandler.update_table


def create_table(self: DynamoHandler) -> Any:
    body = self.body
    requested = body.get("VectorIndexes")
    if not requested:
        return _moto_create_table(self)
    if body.get("BillingMode") != "PAY_PER_REQUEST":
        raise _invalid(
            "One or more parameter values were invalid: Vector indexes are not supported on provisioned capacity "
            "tables; use BillingMode PAY_PER_REQUEST"
        )
    if len(requested) > MAX_VECTOR_INDEXES:
        raise _invalid(
            "One or more parameter values were invalid: VectorIndex count exceeds the per-table limit of "
            f"{MAX_VECTOR_INDEXES}"
        )
    all_attrs = list(body.get("AttributeDefinitions") or [])
    attr_types = {a["AttributeName"]: a["AttributeType"] for a in all_attrs}
    taken = _other_index_names(None, body)
    dims_by_attr: dict[str, int] = {}
    indexes = []
    for requested_index in requested:
        index = _validate_definition(requested_index, attr_types, taken, dims_by_attr)
        taken.add(index["IndexName"])
        dims_by_attr[index["VectorAttribute"]["AttributeName"]] = index["Dimensions"]
        indexes.append(index)
    # moto rejects AttributeDefinitions that no key schema uses: hide those only the search schemas use.
    key_names = {k["AttributeName"] for k in body.get("KeySchema") or []}
    for idx in (body.get("GlobalSecondaryIndexes") or []) + (body.get("LocalSecondaryIndexes") or []):
        key_names |= {k["AttributeName"] for k in idx.get("KeySchema", [])}
    body["AttributeDefinitions"] = [a for a in all_attrs if a["AttributeName"] in key_names or
                                    a["AttributeName"] not in _search_schema_names(indexes)]
    _moto_create_table(self)
    table = self.dynamodb_backend.get_table(body["TableName"])
    table.attr = all_attrs
    table.vector_indexes = indexes
    return DynamoResult(table.describe())


def update_table(self: DynamoHandler) -> Any:
    body = self.body
    updates = body.get("VectorIndexUpdates")
    name = body.get("TableName")
    table = self.dynamodb_backend.get_table(name)
    existing: list[dict[str, Any]] = getattr(table, "vector_indexes", [])
    if existing and body.get("BillingMode") == "PROVISIONED":
        raise _invalid(
            "One or more parameter values were invalid: Vector indexes are not supported on provisioned capacity tables"
        )
    kept_attrs = [a for a in table.attr if a["AttributeName"] in _search_schema_names(existing)]
    change = None
    if updates:
        if len(updates) > 1 or len(updates[0]) != 1:
            raise LimitExceededException(
                "Subscriber limit exceeded: Only 1 online index can be created or deleted simultaneously per table"
            )
        action, spec = next(iter(updates[0].items()))
        if action == "Create":
            if (body.get("BillingMode") or table.billing_mode) != "PAY_PER_REQUEST":
                raise _invalid(
                    "One or more parameter values were invalid: Vector indexes are not supported on provisioned "
                    "capacity tables; use BillingMode PAY_PER_REQUEST"
                )
            if len(existing) >= MAX_VECTOR_INDEXES:
                raise _invalid(
                    "One or more parameter values were invalid: VectorIndex count exceeds the per-table limit of "
                    f"{MAX_VECTOR_INDEXES}"
                )
            attr_types = {a["AttributeName"]: a["AttributeType"] for a in table.attr}
            attr_types |= {a["AttributeName"]: a["AttributeType"] for a in body.get("AttributeDefinitions") or []}
            dims_by_attr = {i["VectorAttribute"]["AttributeName"]: i["Dimensions"] for i in existing}
            change = ("Create", _validate_definition(spec, attr_types, _other_index_names(table, body), dims_by_attr))
        elif action == "Delete":
            index_name = spec.get("IndexName")
            _not_null(index_name, "indexName")
            if index_name not in {i["IndexName"] for i in existing}:
                raise _invalid(f"The table does not have the specified index: {index_name}")
            change = ("Delete", index_name)
        else:
            raise _invalid("One or more parameter values were invalid: a VectorIndexUpdate needs Create or Delete")
        if action == "Create" and body.get("AttributeDefinitions"):
            # moto would replace the table's AttributeDefinitions and reject those only a search schema uses.
            new_attrs = body.pop("AttributeDefinitions")
            merged = {a["AttributeName"]: a for a in table.attr} | {a["AttributeName"]: a for a in new_attrs}
            kept_attrs = list(merged.values())
    _moto_update_table(self)
    if change is not None:
        if change[0] == "Create":
            table.vector_indexes = existing + [change[1]]
        else:
            table.vector_indexes = [i for i in existing if i["IndexName"] != change[1]]
        _keep_vector_caches(table)
    # Keep the definitions that the search schemas need (moto replaces table.attr when it is given).
    present = {a["AttributeName"] for a in table.attr}
    table.attr = list(table.attr) + [a for a in kept_attrs if a["AttributeName"] not in present]
    return DynamoResult(table.describe())


_moto_describe = Table.describe


def describe(self: Table, base_key: str = "TableDescription") -> dict[str, Any]:
    result = _moto_describe(self, base_key)
    indexes = getattr(self, "vector_indexes", [])
    if indexes:
        result[base_key]["VectorIndexes"] = [
            dict(index) | {"IndexStatus": "ACTIVE", "IndexArn": f"{self.table_arn}/index/{index['IndexName']}"}
            for index in indexes
        ]
    return result


# --- Writes ------------------------------------------------------------------------------------


def _check_write(table: Table, attrs: dict[str, Any]) -> None:
    """Rejects an item (attribute name -> {type: value}) as DynamoDB rejects writes to a vector index."""
    attr_types = {a["AttributeName"]: a["AttributeType"] for a in table.attr}
    for index in getattr(table, "vector_indexes", []):
        name = index["IndexName"]
        vector_attr = index["VectorAttribute"]["AttributeName"]
        vector = attrs.get(vector_attr)
        if vector is not None:
            elements = vector.get("L")
            if not isinstance(elements, list) or any(
                not isinstance(e, dict) or set(e) != {"N"} for e in elements
            ):
                raise _invalid(
                    f"One or more parameter values were invalid: Invalid type for parameter {vector_attr}: a vector "
                    f"must be a list (L) of numbers (N). IndexName: {name}"
                )
            if len(elements) != index["Dimensions"]:
                raise _invalid(
                    f"One or more parameter values were invalid: Vector dimension mismatch for attribute "
                    f"{vector_attr}: expected {index['Dimensions']}, actual {len(elements)}. IndexName: {name}"
                )
        for element in index.get("SearchSchema", []):
            if element["SearchSchemaElementType"] != "HASH":
                continue
            key = element["AttributeName"]
            value = attrs.get(key)
            if value is None:
                continue  # written, but not indexed
            actual, raw = next(iter(value.items())) if len(value) == 1 else (None, None)
            if actual != attr_types.get(key):
                raise _invalid(
                    f"One or more parameter values were invalid: Type mismatch for Index Key {key} Expected: "
                    f"{attr_types.get(key)} Actual: {actual} IndexName: {name}"
                )
            if actual in ("S", "B") and raw == "":
                raise _invalid(
                    "One or more parameter values are not valid. A value specified for a secondary index key is not "
                    "supported. The AttributeValue for a key attribute cannot contain an empty "
                    f"{'string' if actual == 'S' else 'binary'} value. IndexName: {name}, IndexKey: {key}"
                )


_moto_put_item = Table.put_item


def put_item(self: Table, item_attrs: dict[str, Any], *args: Any, **kwargs: Any) -> Item:
    if getattr(self, "vector_indexes", None):
        _check_write(self, item_attrs)
        if "vector_state" in self.__dict__:
            _touched(self, item_attrs, _current_attrs(self, item_attrs))
    return _moto_put_item(self, item_attrs, *args, **kwargs)


def _current_attrs(table: Table, item_attrs: dict[str, Any]) -> Any:
    """The attributes of the item a put replaces (None: there is none); when the key cannot be read,
    which moto then rejects, every vector attribute, so the write counts."""
    try:
        hash_value = DynamoType(item_attrs[table.hash_key_attr])
        range_value = DynamoType(item_attrs[table.range_key_attr]) if table.range_key_attr else None
        current = table.get_item(hash_value, range_value)  # moto's put_item looks it up the same way
    except Exception:
        return dict.fromkeys(_vector_attributes(table))
    return current.attrs if current is not None else None


_moto_delete_item = Table.delete_item


def delete_item(self: Table, hash_key: DynamoType, range_key: DynamoType | None) -> Item | None:
    item = _moto_delete_item(self, hash_key, range_key)
    if item is not None:
        _touched(self, item.attrs)
    return item


_moto_update_item = DynamoDBBackend.update_item


def update_item(self: DynamoDBBackend, table_name: str, key: dict[str, Any], *args: Any, **kwargs: Any) -> Item:
    """moto's update_item, then the write checks on the item it produced; a rejected update is undone."""
    table = self.tables.get(table_name)
    if table is None or not getattr(table, "vector_indexes", None):
        return _moto_update_item(self, table_name, key, *args, **kwargs)
    hash_value, range_value = self.get_keys_value(table, key)
    current = table.get_item(hash_value, range_value)
    if current is not None:
        _forget_vectors(table, current)  # moto may change its vector in place (SET v[3] = :x)
        _touched(table, current.attrs)
    before = copy.deepcopy(current)
    records = list(table.stream_shard.items) if table.stream_shard is not None else None
    item = _moto_update_item(self, table_name, key, *args, **kwargs)
    _touched(table, item.attrs)
    try:
        _check_write(table, item.to_json()["Attributes"])
    except MockValidationException:
        if range_value is None:
            if before is None:
                table.items.pop(hash_value, None)
            else:
                table.items[hash_value] = before
        else:
            bucket = table.items.get(hash_value, {})
            if before is None:
                bucket.pop(range_value, None)
                if not bucket:
                    table.items.pop(hash_value, None)
            else:
                table.items[hash_value][range_value] = before
        if records is not None:
            table.stream_shard.items = records
        raise
    return item


# --- SearchVectors -----------------------------------------------------------------------------

_TOKEN = re.compile(
    r"\s*(<>|<=|>=|=|<|>|\(|\)|,|:[A-Za-z0-9_]+|#[A-Za-z0-9_]+(?:\.[^\s=<>(),]+|\[\d+\])*"
    r"|[A-Za-z0-9_]+(?:\.[^\s=<>(),]+|\[\d+\])*|\S)"
)
_COMPARATORS = {"<>", "<", "<=", ">", ">=", "IN", "BETWEEN"}


def _parse_condition(
    expression: str, names: dict[str, str], values: dict[str, Any], names_used: set[str], values_used: set[str]
) -> list[tuple[str, dict[str, Any]]]:
    """`a = :x AND #b = :y` -> [("a", {"S": ...}), ("b", ...)]; attribute names resolved."""
    if not expression.strip():
        raise _invalid("Invalid SearchConditionExpression: The expression can not be empty;")
    tokens = _TOKEN.findall(expression)
    depth = 0
    for i, token in enumerate(tokens):
        upper = token.upper()
        if token in _COMPARATORS or upper in _COMPARATORS:
            raise _invalid("Invalid comparator used in SearchConditionExpression")
        if token == "(" and i > 0 and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", tokens[i - 1]) and tokens[
            i - 1
        ].upper() not in ("AND", "OR", "NOT"):
            raise _invalid("Invalid comparator used in SearchConditionExpression")  # a function call
        if upper in ("OR", "NOT"):
            raise _invalid(
                f"Invalid SearchConditionExpression: only equality conditions joined by AND are supported; "
                f"found: {token}"
            )
        depth += token == "("
        depth -= token == ")"
        if depth < 0:
            raise _invalid('Invalid SearchConditionExpression: Syntax error; token: ")"')
    if depth:
        raise _invalid("Invalid SearchConditionExpression: Syntax error; unbalanced parentheses")
    clauses: list[list[str]] = [[]]
    for token in tokens:
        if token in ("(", ")"):
            continue
        if token.upper() == "AND":
            clauses.append([])
        else:
            clauses[-1].append(token)
    result = []
    for clause in clauses:
        if len(clause) != 3 or clause[1] != "=":
            raise _invalid(
                f"Invalid SearchConditionExpression: Syntax error; near: \"{' '.join(clause) or 'AND'}\""
            )
        left, _, right = clause
        path, value = (left, right) if right.startswith(":") else (right, left)
        if not value.startswith(":") or path.startswith(":"):
            raise _invalid(
                "Invalid SearchConditionExpression: each condition must compare a search schema attribute "
                "with an expression attribute value"
            )
        if "." in path or "[" in path:
            raise _invalid(
                f"Invalid SearchConditionExpression: only top-level search schema attributes can be referenced; "
                f"path: {path}"
            )
        if path.startswith("#"):
            if path not in names:
                raise _invalid(
                    f"Invalid SearchConditionExpression: An expression attribute name used in the document path "
                    f"is not defined; attribute name: {path}"
                )
            names_used.add(path)
            attribute = names[path]
        else:
            if path.upper() in ReservedKeywords.get_reserved_keywords():
                raise _invalid(
                    f"Invalid SearchConditionExpression: Attribute name is a reserved keyword; reserved keyword: {path}"
                )
            attribute = path
        if value not in values:
            raise _invalid(
                f"Invalid SearchConditionExpression: An expression attribute value used in expression is not "
                f"defined; attribute value: {value}"
            )
        values_used.add(value)
        result.append((attribute, values[value]))
    return result


def _parse_projection(expression: str, names: dict[str, str], names_used: set[str]) -> list[list[str]]:
    """`a, #b, c.d` -> [["a"], ["b"], ["c", "d"]], as moto's GetItem/Query read a ProjectionExpression."""
    if not expression.strip():
        raise _invalid("Invalid ProjectionExpression: The expression can not be empty;")
    paths = []
    for part in (p.strip() for p in expression.split(",")):
        if not part:
            raise _invalid('Invalid ProjectionExpression: Syntax error; token: ","')
        steps = []
        for step in re.split(r"\.", part):
            base = re.match(r"[^\[]*", step).group(0)
            if base.startswith("#"):
                if base not in names:
                    raise _invalid(
                        "Invalid ProjectionExpression: An expression attribute name used in the document path is "
                        f"not defined; attribute name: {base}"
                    )
                names_used.add(base)
                base = names[base]
            elif not steps and base.upper() in ReservedKeywords.get_reserved_keywords():
                raise _invalid(
                    f"Invalid ProjectionExpression: Attribute name is a reserved keyword; reserved keyword: {base}"
                )
            steps.append(base + step[len(re.match(r"[^\[]*", step).group(0)):])
        paths.append(steps)
    return paths


def _vector(value: DynamoType | None, dims: int) -> array.array | None:
    """The item's vector at f32 precision, or None when it is not a list of exactly `dims` numbers."""
    if value is None or value.type != "L" or len(value.value) != dims:
        return None
    numbers = [e.value for e in value.value if e.type == "N"]
    if len(numbers) != dims:
        return None
    try:
        vector = array.array("f", map(float, numbers))
    except (TypeError, ValueError, OverflowError):
        return None
    return vector if all(map(math.isfinite, vector)) else None


def _score(function: str, query: array.array, vector: array.array, query_norm: float) -> float:
    if function == "EUCLIDEAN":
        return math.dist(query, vector)
    dot = sum(map(operator.mul, query, vector))
    if function == "DOT_PRODUCT":
        return dot
    norm = math.hypot(*vector)
    if norm == 0.0 or query_norm == 0.0:
        return 1.0
    return 1.0 - max(-1.0, min(1.0, dot / (query_norm * norm)))


# --- Search state ------------------------------------------------------------------------------
# What a search needs, kept between searches: each vector parsed once, into the rows of an f32 matrix,
# and the index's items grouped by HASH value, rebuilt after a write that can change them. A search
# scores its group with one matrix product at f32 and rescores with _score only the items that can be
# among the best (_nearest), so its answer is a full _score scan's to the bit.


class _VectorCache:
    """The parsed vectors of one attribute at one length, in the rows of an f32 matrix.

    Entries are keyed by id() of moto's DynamoType for the attribute and hold that object, so the id
    cannot be reused by another value while the entry lives. A write that replaces the attribute
    (PutItem, BatchWriteItem, TransactWriteItems, PartiQL, an UpdateItem that sets the whole attribute)
    stores a new object, parsed when a search first meets it. An UpdateItem can also change the list in
    place (SET v[3] = :x, REMOVE v[0]): update_item forgets the item's vector before moto runs it. Entries
    no item holds any more (replaced or deleted) are swept when they outnumber the table's items twice.
    """

    def __init__(self, attribute: str, dims: int):
        self.attribute = attribute
        self.dims = dims
        self.entries: dict[int, tuple[DynamoType, int]] = {}  # id(value) -> (value, row; -1: not a vector)
        self.matrix = np.zeros((0, dims), dtype=np.float32)
        self.norms = np.zeros(0, dtype=np.float64)  # math.hypot of each row, as _score computes it
        self.free: list[int] = []
        self.used = 0
        self.views: dict[tuple[str | None, str | None], _View] = {}  # by (HASH attribute, its type)

    def row(self, value: DynamoType) -> int:
        entry = self.entries.get(id(value))
        if entry is not None:
            return entry[1]
        vector = _vector(value, self.dims)
        row = -1
        if vector is not None:
            if self.free:
                row = self.free.pop()
            else:
                if self.used == len(self.matrix):
                    capacity = max(64, 2 * len(self.matrix))
                    self.matrix = np.resize(self.matrix, (capacity, self.dims))
                    self.norms = np.resize(self.norms, capacity)
                row = self.used
                self.used += 1
            self.matrix[row] = np.frombuffer(vector, dtype=np.float32)
            self.norms[row] = math.hypot(*vector)
        self.entries[id(value)] = (value, row)
        return row

    def forget(self, value: DynamoType) -> None:
        entry = self.entries.pop(id(value), None)
        if entry is not None and entry[1] >= 0:
            self.free.append(entry[1])

    def sweep(self, table: Table, item_count: int) -> None:
        if len(self.entries) <= 2 * item_count + 1024:
            return
        live = {id(item.attrs.get(self.attribute)) for item in _items(table)}
        for key in [key for key in self.entries if key not in live]:
            self.forget(self.entries[key][0])


class _View:
    """The items of an index in the table's order, grouped by HASH value (DynamoType equality: same
    type, same cast_value), each group as (items, their rows in the cache). `writes` is the table's
    count of writes that touched a vector when it was made: until the next one, no item in the view
    changes (each has a vector), so a column of one attribute's values, made for an inline filter,
    stays true too."""

    def __init__(self, writes: int, groups: dict[Any, tuple[list[Item], np.ndarray]]):
        self.writes = writes
        self.groups = groups
        self.columns: dict[tuple[Any, str], tuple[np.ndarray, dict[tuple[str, Any], int]]] = {}

    def column(self, group: Any, attribute: str) -> tuple[np.ndarray, dict[tuple[str, Any], int]]:
        """The attribute of each item of a group as a code, and the codes by _equality_key (-1: the
        attribute is missing, or of a type no S, N or B value equals)."""
        found = self.columns.get((group, attribute))
        if found is None:
            lookup: dict[tuple[str, Any], int] = {}
            codes = []
            for item in self.groups[group][0]:
                value = item.attrs.get(attribute)
                key = None if value is None else _equality_key(value)
                codes.append(-1 if key is None else lookup.setdefault(key, len(lookup)))
            found = self.columns[(group, attribute)] = (np.asarray(codes, dtype=np.int64), lookup)
        return found


def _equality_key(value: DynamoType) -> tuple[str, Any] | None:
    """Equal for two S, N or B values exactly when DynamoType's == holds (same type, same cast_value:
    a number's Decimal, so 1 and 1.0 are equal); None for the other types."""
    if value.type in ("S", "B"):
        return (value.type, value.value)
    if value.type == "N":
        return ("N", value.cast_value)
    return None


class _VectorState:
    """Per table, while it has vector indexes: the caches, by (vector attribute, dimensions), and the
    count of writes that may have changed what is indexed (a write to or from an item with any vector
    index's attribute). Writes to other items (no vector before or after) change no index: the items in
    an index keep their order, and their own attributes are read when a search runs."""

    def __init__(self) -> None:
        self.writes = 0
        self.caches: dict[tuple[str, int], _VectorCache] = {}

    def __deepcopy__(self, memo: dict[int, Any]) -> _VectorState:
        # A copied table (moto's backups, its whole-table transaction rollback) holds copies of the items:
        # no id here is theirs, so the copy starts empty.
        return _VectorState()


def _state(table: Table) -> _VectorState:
    state = table.__dict__.get("vector_state")
    if state is None:
        state = table.__dict__["vector_state"] = _VectorState()
    return state


def _vector_attributes(table: Table) -> set[str]:
    return {i["VectorAttribute"]["AttributeName"] for i in getattr(table, "vector_indexes", [])}


def _touched(table: Table, *attr_maps: Any) -> None:
    """Counts a write if any of the given items (attribute maps, or None) has a vector attribute."""
    state = table.__dict__.get("vector_state")
    if state is None:
        return
    vector_attrs = _vector_attributes(table)
    if any(attrs is not None and any(a in attrs for a in vector_attrs) for attrs in attr_maps):
        state.writes += 1


def _keep_vector_caches(table: Table) -> None:
    """After UpdateTable: drops the caches no vector index reads any more (all of them with the last one)."""
    state = table.__dict__.get("vector_state")
    if state is None:
        return
    if not getattr(table, "vector_indexes", None):
        del table.__dict__["vector_state"]
        return
    wanted = {(i["VectorAttribute"]["AttributeName"], i["Dimensions"]) for i in table.vector_indexes}
    for key in [key for key in state.caches if key not in wanted]:
        del state.caches[key]
    for cache in state.caches.values():
        cache.views.clear()  # a HASH element's type may have changed with the attribute definitions
    state.writes += 1


def _forget_vectors(table: Table, item: Item | None) -> None:
    state = table.__dict__.get("vector_state")
    if state is None or item is None:
        return
    for cache in state.caches.values():
        value = item.attrs.get(cache.attribute)
        if value is not None:
            cache.forget(value)


def _view(table: Table, cache: _VectorCache, hash_attr: str | None, hash_type: str | None) -> _View:
    """The cache's view for this HASH element, made again when a write may have changed it."""
    writes = _state(table).writes
    view = cache.views.get((hash_attr, hash_type))
    if view is not None and view.writes == writes:
        return view
    groups: dict[Any, tuple[list[Item], list[int]]] = {}
    count = 0
    vector_attr, entries = cache.attribute, cache.entries
    plain = hash_type in ("S", "B")  # cast_value is the value itself
    for item in _items(table):
        count += 1
        attrs = item.attrs
        key = None
        if hash_attr is not None:
            value = attrs.get(hash_attr)
            if value is None or value.type != hash_type:
                continue  # not in the index
            key = value.value if plain else value.cast_value
        vector = attrs.get(vector_attr)
        if vector is None:
            continue
        entry = entries.get(id(vector))
        row = cache.row(vector) if entry is None else entry[1]
        if row < 0:
            continue  # not a list of exactly Dimensions numbers: not in the index
        group = groups.get(key)
        if group is None:
            group = groups[key] = ([], [])
        group[0].append(item)
        group[1].append(row)
    cache.sweep(table, count)  # frees only rows of values no item holds: none of them is in a view
    view = _View(writes, {key: (items, np.asarray(rows, dtype=np.intp)) for key, (items, rows) in groups.items()})
    cache.views[(hash_attr, hash_type)] = view
    return view


def _indexed(
    table: Table, cache: _VectorCache, hash_attr: str | None, hash_type: str | None, wanted: list[tuple[str, DynamoType]]
) -> tuple[Any, np.ndarray]:
    """The items a search ranks, in the table's order, and their rows in `cache`: those in the index
    (with the HASH attribute at its declared type and a vector of exactly the index's dimensions)
    whose attributes equal each wanted value, as `attrs[a] != value` tests it (DynamoType equality)."""
    view = _view(table, cache, hash_attr, hash_type)
    rest = list(wanted)
    key = None
    if hash_attr is not None:
        first = next(c for c in wanted if c[0] == hash_attr)  # search_vectors requires one
        rest.remove(first)
        if first[1].type != hash_type:
            return [], np.zeros(0, dtype=np.intp)
        key = first[1].cast_value
    if key not in view.groups:
        return [], np.zeros(0, dtype=np.intp)
    items, rows = view.groups[key]
    if not rest:
        return items, rows
    # Each S, N or B equality through the view's column of that attribute; any other (a list, say) by
    # DynamoType's != on the items left.
    kept = np.ones(len(items), dtype=bool)
    others = []
    for attribute, value in rest:
        wanted_key = _equality_key(value)
        if wanted_key is None:
            others.append((attribute, value))
            continue
        codes, lookup = view.column(key, attribute)
        code = lookup.get(wanted_key)
        if code is None:
            return [], np.zeros(0, dtype=np.intp)
        kept &= codes == code
    chosen = np.flatnonzero(kept)
    if others:
        chosen = np.asarray([
            i for i in chosen.tolist()
            if not any(attribute not in items[i].attrs or items[i].attrs[attribute] != value for attribute, value in others)
        ], dtype=np.intp)
    return _Picked(items, chosen), rows[chosen]


class _Picked:
    """items[chosen[i]] as the i-th element, without building the list (a search reads only its winners)."""

    def __init__(self, items: list[Item], chosen: np.ndarray):
        self.items = items
        self.chosen = chosen

    def __len__(self) -> int:
        return len(self.chosen)

    def __getitem__(self, i: int) -> Item:
        return self.items[self.chosen[i]]


_U32 = 2.0**-24  # unit roundoff of f32
_U64 = 2.0**-53  # of f64 (Python floats)


def _nearest(
    function: str, query: array.array, query_norm: float, top_k: int, cache: _VectorCache, found: Any, rows: np.ndarray
) -> list[tuple[float, Item]]:
    """The top_k of `found` as (score, item), best first, ties in table order: exactly what ranking every
    item by _score would give, scores included, bit for bit.

    Every dot product q . v is computed at once at f32 (one matrix product; any summation order, FMA or
    not). Against the f64 sum _score makes of the same f32 numbers, its error is at most
    (gamma_d(f32) + gamma_d(f64)) * |q| |v| (gamma_d = d u / (1 - d u), the bound of any d-term dot
    product, with sum |q_i v_i| <= |q| |v|), plus an absolute d * 2^-126 * (1 + |q| + |v|) for f32
    underflow, flush to zero included. Twice that gives each item an interval that holds its _score,
    for each distance function (EUCLIDEAN through |q|^2 + |v|^2 - 2 q . v); a product that overflowed
    f32 gives an unbounded one. U is the top_k-th smallest upper end: an item whose lower end is above U
    has top_k items strictly better, so only items whose interval reaches U or below are rescored with
    _score, and those are ranked as the scan ranks them. With scattered scores that is about top_k
    items; exact ties (duplicate vectors) are scored once per distinct vector.
    """
    count = len(rows)
    if not count:
        return []
    dims = cache.dims
    q = np.frombuffer(query, dtype=np.float32)
    with np.errstate(all="ignore"):
        if 2 * count >= cache.used:
            dots = (cache.matrix[: cache.used] @ q)[rows].astype(np.float64)
        else:
            dots = (cache.matrix[rows] @ q).astype(np.float64)
        norms = cache.norms[rows]
        gamma = dims * _U32 / (1 - dims * _U32) + dims * _U64 / (1 - dims * _U64)
        bound = 2 * (gamma * query_norm * norms + dims * 2.0**-126 * (1 + query_norm + norms))
        if function == "DOT_PRODUCT":
            low, high = -dots - bound, -dots + bound
        elif function == "COSINE":
            scale = query_norm * norms
            score = 1.0 - np.clip(dots / scale, -1.0, 1.0)
            slack = bound / scale + 16 * _U64
            low, high = score - slack, score + slack
        else:
            squares = query_norm * query_norm + norms * norms
            squared = squares - 2 * dots
            slack = 2 * bound + 16 * _U64 * (squares + 2 * np.abs(dots))
            low = np.sqrt(np.maximum(squared - slack, 0.0)) * (1 - 16 * _U64)
            high = np.sqrt(np.maximum(squared + slack, 0.0)) * (1 + 16 * _U64)
        unbounded = ~(np.isfinite(dots) & np.isfinite(low) & np.isfinite(high))  # clip would hide an inf
        low[unbounded] = -np.inf
        high[unbounded] = np.inf
        # _score's COSINE of a zero vector, or for a zero query, is 1.0 exactly.
        known = (norms == 0.0) | (query_norm == 0.0) if function == "COSINE" else np.zeros(count, dtype=bool)
        low[known] = high[known] = 1.0
        if count > top_k:
            chosen = np.flatnonzero(low <= np.partition(high, top_k - 1)[top_k - 1])
        else:
            chosen = np.arange(count)
    matrix = cache.matrix
    by_vector: dict[bytes, float] = {}
    ranked = []
    for i in chosen.tolist():
        if known[i]:
            score = 1.0
        else:
            data = matrix[rows[i]].tobytes()
            score = by_vector.get(data)
            if score is None:
                vector = array.array("f")
                vector.frombytes(data)
                score = by_vector[data] = _score(function, query, vector, query_norm)
        ranked.append((-score if function == "DOT_PRODUCT" else score, i, score))
    return [(score, found[i]) for _, i, score in heapq.nsmallest(top_k, ranked)]


def search_vectors(self: DynamoHandler) -> Any:
    body = self.body
    table_name = body.get("TableName")
    _not_null(table_name, "tableName")
    index_name = body.get("IndexName")
    _not_null(index_name, "indexName")
    search_vector = body.get("SearchVector")
    _not_null(search_vector, "searchVector")
    top_k = body.get("TopK")
    _not_null(top_k, "topK")
    table = self.dynamodb_backend.get_table(table_name)  # ResourceNotFoundException "Requested resource not found"
    index = next((i for i in getattr(table, "vector_indexes", []) if i["IndexName"] == index_name), None)
    if index is None:
        raise _invalid(f"The table does not have the specified index: {index_name}")
    if not isinstance(top_k, int) or not TOP_K_RANGE[0] <= top_k <= TOP_K_RANGE[1]:
        raise _invalid("Provided TopK value is out of valid range")
    dims = index["Dimensions"]
    if not isinstance(search_vector, list) or any(
        not isinstance(e, dict) or set(e) != {"N"} for e in search_vector
    ):
        raise _invalid("One or more parameter values were invalid: SearchVector must be a list of numbers (N)")
    try:
        query = array.array("f", [float(e["N"]) for e in search_vector])
    except (TypeError, ValueError, OverflowError):
        raise _invalid("One or more parameter values were invalid: SearchVector must be a list of numbers (N)")
    if any(not math.isfinite(q) for q in query):
        raise _invalid("One or more parameter values were invalid: SearchVector elements must be finite numbers")
    if len(query) != dims:
        raise _invalid(
            f"One or more parameter values were invalid: SearchVector has {len(query)} dimensions, but vector index "
            f"{index_name} has {dims}"
        )

    names = body.get("ExpressionAttributeNames") or {}
    values = body.get("ExpressionAttributeValues") or {}
    names_used: set[str] = set()
    values_used: set[str] = set()
    schema = {e["AttributeName"]: e["SearchSchemaElementType"] for e in index.get("SearchSchema", [])}
    hash_attr = next((a for a, kind in schema.items() if kind == "HASH"), None)
    condition_text = body.get("SearchConditionExpression")
    conditions = (
        _parse_condition(condition_text, names, values, names_used, values_used) if condition_text is not None else []
    )
    for attribute, _ in conditions:
        if attribute not in schema:
            raise _invalid(
                "Invalid SearchConditionExpression: only attributes of the vector index's SearchSchema can be "
                f"referenced; attribute: {attribute}"
            )
    if hash_attr is not None and hash_attr not in {a for a, _ in conditions}:
        raise _invalid("SearchConditionExpression must be provided when SearchSchema has a HASH key")
    projection_text = body.get("ProjectionExpression")
    paths = _parse_projection(projection_text, names, names_used) if projection_text is not None else None
    for given, used, kind in ((names, names_used, "Names"), (values, values_used, "Values")):
        unused = [k for k in given if k not in used]
        if unused:
            raise _invalid(f"Value provided in ExpressionAttribute{kind} unused in expressions: keys: {{{unused[0]}}}")

    wanted = [(attribute, DynamoType(value)) for attribute, value in conditions]
    attr_types = {a["AttributeName"]: a["AttributeType"] for a in table.attr}
    function = index["DistanceFunction"]
    vector_attr = index["VectorAttribute"]["AttributeName"]
    query_norm = math.hypot(*query)

    state = _state(table)
    cache = state.caches.get((vector_attr, dims))
    if cache is None:
        cache = state.caches[(vector_attr, dims)] = _VectorCache(vector_attr, dims)
    found, rows = _indexed(table, cache, hash_attr, attr_types.get(hash_attr), wanted)
    best = _nearest(function, query, query_norm, top_k, cache, found, rows)

    projected = set(table.table_key_attrs) | set(schema) | {vector_attr}
    kind = index["Projection"]["ProjectionType"]
    projected |= set(index["Projection"].get("NonKeyAttributes", []))
    results = []
    for score, item in best:
        if kind == "ALL":
            visible = dict(item.attrs)
        else:
            visible = {k: v for k, v in item.attrs.items() if k in projected}
        if paths is None:
            visible.pop(vector_attr, None)
            shown = visible
        else:
            chosen = [p for p in paths if p[0].split("[")[0] in visible]
            shown = _named_only(item, {p[0].split("[")[0] for p in chosen}).project(chosen).attrs if chosen else {}
        results.append({"Item": dict(shown), "Score": score})
    return DynamoResult({"SearchResults": results})


def _named_only(item: Item, names: set[str]) -> Item:
    """The item with only the named top-level attributes (the same objects). Item.project converts the
    whole item to plain JSON first, its vector too; a projection of these names reads nothing else."""
    small = Item.__new__(Item)
    small.hash_key, small.range_key = item.hash_key, item.range_key
    small.attrs = {name: value for name, value in item.attrs.items() if name in names}
    return small


def _items(table: Table) -> Any:
    """The table's items in its own order, without copying or sorting them."""
    for bucket in table.items.values():
        if table.range_key_attr:
            yield from bucket.values()
        else:
            yield bucket


def patch_moto() -> None:
    DynamoHandler.create_table = create_table
    DynamoHandler.update_table = update_table
    DynamoHandler.search_vectors = search_vectors
    Table.describe = describe
    Table.put_item = put_item
    Table.delete_item = delete_item
    DynamoDBBackend.update_item = update_item
