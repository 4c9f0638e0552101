"""Local stand-in for Lambda's SQS event source mapping (cargo lambda has no SQS poller).

Polls the index queue on moto, hands each batch to the `index-worker` function served by
`cargo lambda watch` as a real SQS event, and deletes the messages the worker did not report in
`batchItemFailures`; failed ones reappear after the visibility timeout, and after maxReceiveCount
receives moto moves them to the dead-letter queue, as SQS does.

    python infra/sqs_poller.py QUEUE_URL http://127.0.0.1:9000

Short polls only: moto serves one request at a time, so a long poll (WaitTimeSeconds > 0) would hold
its only thread and stall every DynamoDB call of the API behind it. The wait happens here instead.
"""

import json
import sys
import time
import urllib.request

import boto3

# How long an empty queue is left alone: the most an index job waits locally before it is picked up.
IDLE_SECONDS = 0.25


def to_event(messages, queue_arn):
    return {
        "Records": [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": m.get("Attributes", {}),
                "messageAttributes": {},
                "md5OfBody": m.get("MD5OfBody", ""),
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": "us-east-1",
            }
            for m in messages
        ]
    }


def invoke(api: str, event: dict) -> dict:
    request = urllib.request.Request(
        f"{api}/2015-03-31/functions/index-worker/invocations",
        data=json.dumps(event).encode(),
        headers={"content-type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read() or b"{}")


def main() -> None:
    queue_url, api = sys.argv[1], sys.argv[2]
    sqs = boto3.client("sqs", endpoint_url=queue_url.split("/", 3)[0] + "//" + queue_url.split("/", 3)[2])
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    while True:
        messages = sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0, AttributeNames=["All"]
        ).get("Messages", [])
        if not messages:
            time.sleep(IDLE_SECONDS)
            continue
        try:
            response = invoke(api, to_event(messages, queue_arn))
        except Exception as error:  # the function is still compiling or crashed: retry later
            print(f"sqs_poller: invoke failed: {error}", file=sys.stderr)
            time.sleep(1)
            continue
        failed = {f["itemIdentifier"] for f in response.get("batchItemFailures", [])}
        for m in messages:
            if m["MessageId"] not in failed:
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=m["ReceiptHandle"])
        print(f"sqs_poller: {len(messages) - len(failed)} indexed, {len(failed)} failed", file=sys.stderr)


if __name__ == "__main__":
    main()
