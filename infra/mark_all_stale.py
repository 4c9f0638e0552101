"""Marks every item of the table stale for search (`index_pending`), so `POST /api/admin/reindex`
re-enqueues them all: step 3 of an embedder migration (README, Search). Items only, never orders or
other records; an item deleted meanwhile is skipped, not recreated. Safe to run twice.

    python infra/mark_all_stale.py TABLE_NAME   (AWS credentials and region from the environment;
                                                 AWS_ENDPOINT_URL for moto)
"""

import pathlib
import sys

import boto3
from boto3.dynamodb.conditions import Attr

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from shards import pending_partition  # noqa: E402

ITEM_SK = "ITEM"


def mark_all_stale(table) -> int:
    marked = 0
    scan = {"FilterExpression": Attr("sk").eq(ITEM_SK), "ProjectionExpression": "pk, sk"}
    while True:
        page = table.scan(**scan)
        for key in page["Items"]:
            try:
                table.update_item(
                    Key={"pk": key["pk"], "sk": key["sk"]},
                    UpdateExpression="SET index_pending = :pending",
                    ConditionExpression="attribute_exists(pk)",
                    ExpressionAttributeValues={":pending": pending_partition(key["pk"].removeprefix("ITEM#"))},
                )
                marked += 1
            except table.meta.client.exceptions.ConditionalCheckFailedException:
                pass  # deleted since the scan read it
        if "LastEvaluatedKey" not in page:
            return marked
        scan["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    table = boto3.resource("dynamodb").Table(sys.argv[1])
    print(f"marked {mark_all_stale(table)} items stale; now call POST /api/admin/reindex until it enqueues 0")


if __name__ == "__main__":
    main()
