"""Create the local resources on moto from template.yaml: the items table (ItemsTable's exact
definition, so the local schema is the deployed one) and the index queue with its dead-letter
queue and redrive policy. Prints the queue URL.

    python infra/table.py TABLE_NAME QUEUE_NAME   (uses AWS_ENDPOINT_URL and the AWS_* test credentials)
"""

import os
import pathlib
import sys

import boto3
import yaml

TEMPLATE = pathlib.Path(__file__).resolve().parent.parent / "template.yaml"


class TemplateLoader(yaml.SafeLoader):
    """Reads CloudFormation YAML; intrinsic functions (!Ref, !Sub, ...) are kept as plain values."""


def _intrinsic(loader, suffix, node):
    if isinstance(node, yaml.ScalarNode):
        return loader.construct_scalar(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node)
    return loader.construct_mapping(node)


TemplateLoader.add_multi_constructor("!", _intrinsic)


def table_definition() -> dict:
    template = yaml.load(TEMPLATE.read_text(), Loader=TemplateLoader)
    props = template["Resources"]["ItemsTable"]["Properties"]
    return {
        "AttributeDefinitions": props["AttributeDefinitions"],
        "KeySchema": props["KeySchema"],
        "GlobalSecondaryIndexes": [
            {"IndexName": i["IndexName"], "KeySchema": i["KeySchema"], "Projection": i["Projection"]}
            for i in props["GlobalSecondaryIndexes"]
        ],
        "VectorIndexes": props.get("VectorIndexes", []),
        "BillingMode": props["BillingMode"],
    }


def client(service: str):
    return boto3.client(
        service, endpoint_url=os.environ["AWS_ENDPOINT_URL"], region_name=os.environ.get("AWS_REGION", "us-east-1")
    )


def create_queues(name: str) -> str:
    template = yaml.load(TEMPLATE.read_text(), Loader=TemplateLoader)
    props = template["Resources"]["IndexQueue"]["Properties"]
    max_receive = props["RedrivePolicy"]["maxReceiveCount"]
    sqs = client("sqs")
    dlq_url = sqs.create_queue(QueueName=f"{name}-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    attributes = {
        "VisibilityTimeout": str(props["VisibilityTimeout"]),
        "RedrivePolicy": f'{{"deadLetterTargetArn":"{dlq_arn}","maxReceiveCount":"{max_receive}"}}',
    }
    return sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]


def main() -> None:
    name = sys.argv[1] if len(sys.argv) > 1 else "items"
    queue = sys.argv[2] if len(sys.argv) > 2 else f"{name}-index"
    dynamodb = client("dynamodb")
    if name not in dynamodb.list_tables()["TableNames"]:
        dynamodb.create_table(TableName=name, **table_definition())
        print(f"created table {name} from template.yaml", file=sys.stderr)
    print(create_queues(queue))


if __name__ == "__main__":
    main()
