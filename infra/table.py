"""Create the items table on the local DynamoDB (moto) from template.yaml's ItemsTable definition,
so the local schema is exactly the deployed one.

    python infra/table.py TABLE_NAME        (uses AWS_ENDPOINT_URL and the AWS_* test credentials)
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
        "BillingMode": props["BillingMode"],
    }


def main() -> None:
    name = sys.argv[1] if len(sys.argv) > 1 else "items"
    dynamodb = boto3.client(
        "dynamodb", endpoint_url=os.environ["AWS_ENDPOINT_URL"], region_name=os.environ.get("AWS_REGION", "us-east-1")
    )
    if name in dynamodb.list_tables()["TableNames"]:
        print(f"table {name} exists")
        return
    dynamodb.create_table(TableName=name, **table_definition())
    print(f"created table {name} from template.yaml")


if __name__ == "__main__":
    main()
