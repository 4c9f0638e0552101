"""Re-keys every item of the table onto the sharded listing partitions (README, Scale): `list_pk`,
`status_pk` and a present `index_pending` of each item, and `index_pending` of each delete tombstone,
get the values of their shard (infra/shards.py). Run it once after deploying a release that shards
keys onto a table written by one that did not (or after changing SHARDS): until it ends, items not yet
re-keyed are missing from listings and from reindex. One Scan page at a time, one conditional
UpdateItem per record; an item deleted meanwhile is skipped, not recreated. Safe to run twice.

    python infra/reshard.py TABLE_NAME   (AWS credentials and region from the environment;
                                          AWS_ENDPOINT_URL for moto)
"""

import pathlib
import sys

import boto3
from boto3.dynamodb.conditions import Attr

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from shards import list_partition, pending_partition, status_partition  # noqa: E402


def rekey(table, record) -> int:
    """1 if the record was re-keyed. The status read is a condition: a status changed meanwhile
    (by a release writing sharded keys) is read again rather than overwritten with a stale one."""
    for _ in range(5):
        item_id = record["pk"].removeprefix("ITEM#")
        sets, values, condition = [], {}, "attribute_exists(pk)"
        names = {}
        if record["sk"] == "ITEM":
            sets += ["list_pk = :list", "status_pk = :status"]
            values[":list"] = list_partition(item_id)
            values[":status"] = status_partition(record["status"], item_id)
            values[":read_status"] = record["status"]
            names["#status"] = "status"
            condition += " AND #status = :read_status"
        if "index_pending" in record:
            sets.append("index_pending = :pending")
            values[":pending"] = pending_partition(item_id)
        if not sets:
            return 0
        try:
            table.update_item(
                Key={"pk": record["pk"], "sk": record["sk"]},
                UpdateExpression="SET " + ", ".join(sets),
                ConditionExpression=condition,
                ExpressionAttributeValues=values,
                **({"ExpressionAttributeNames": names} if names else {}),
            )
            return 1
        except table.meta.client.exceptions.ConditionalCheckFailedException:
            record = table.get_item(Key={"pk": record["pk"], "sk": record["sk"]}, ConsistentRead=True).get("Item")
            if record is None:
                return 0  # deleted since the scan read it
    raise SystemExit(f"{record['pk']}: its status kept changing; run the script again")


def reshard(table) -> int:
    rekeyed = 0
    scan = {
        "FilterExpression": Attr("sk").is_in(["ITEM", "DELETED"]) & Attr("pk").begins_with("ITEM#"),
        "ProjectionExpression": "pk, sk, #status, index_pending",
        "ExpressionAttributeNames": {"#status": "status"},
    }
    while True:
        page = table.scan(**scan)
        for record in page["Items"]:
            rekeyed += rekey(table, record)
        if "LastEvaluatedKey" not in page:
            return rekeyed
        scan["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    table = boto3.resource("dynamodb").Table(sys.argv[1])
    print(f"re-keyed {reshard(table)} records onto their shards")


if __name__ == "__main__":
    main()
