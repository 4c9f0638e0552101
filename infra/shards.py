"""The shard of an item's index keys, as shared/src/repository/keys.rs computes it (FNV-1a of the id's
text, modulo SHARDS), and the sharded key values. The api tests run the scripts that use it against
items the service wrote, so the two cannot drift apart unnoticed."""

SHARDS = 16


def shard_of(item_id: str) -> int:
    value = 0xCBF29CE484222325
    for byte in item_id.encode():
        value = ((value ^ byte) * 0x100000001B3) % (1 << 64)
    return value % SHARDS


def list_partition(item_id: str) -> str:
    return f"ITEM#SHARD#{shard_of(item_id):02}"


def status_partition(status: str, item_id: str) -> str:
    return f"ITEM#STATUS#{status}#{shard_of(item_id):02}"


def pending_partition(item_id: str) -> str:
    return f"PENDING#{shard_of(item_id):02}"
