"""aws-samples/serverless-rust-demo's `get-product`, built from its published source, as a peer.

GitHub is not reachable from every machine this runs on, so the source is a checkout the caller
names: BENCH_PEER_SRC=/path/to/serverless-rust-demo (a git checkout or a plain tree). The one change
made to it is the one the issue allows: its DynamoDB client honours AWS_ENDPOINT_URL (its aws-config
0.7 predates that variable), so it can reach the local store. Everything else, including its
dependency versions and release profile, is as published.
"""

import os
import pathlib
import shutil
import subprocess
import uuid

ROOT = pathlib.Path(__file__).resolve().parents[2]
OUT = ROOT / "target" / "bench" / "peer"
NAME = "serverless-rust-demo get-product (peer)"

# src/utils.rs get_store(): the client, as published, and with the endpoint honoured.
PUBLISHED = "    let client = aws_sdk_dynamodb::Client::new(&config);\n"
PATCHED = """    let mut dynamodb = aws_sdk_dynamodb::config::Builder::from(&config);
    if let Ok(url) = std::env::var("AWS_ENDPOINT_URL") {
        let uri = url.parse().expect("AWS_ENDPOINT_URL must be a URI");
        dynamodb = dynamodb.endpoint_resolver(aws_sdk_dynamodb::Endpoint::immutable(uri));
    }
    let client = aws_sdk_dynamodb::Client::from_conf(dynamodb.build());
"""


def source():
    path = os.environ.get("BENCH_PEER_SRC", "")
    return pathlib.Path(path) if path else None


def build():
    """Builds the peer's get-product (release) and returns {NAME: binary}, or {} without BENCH_PEER_SRC."""
    src = source()
    if src is None:
        print("==> BENCH_PEER_SRC is not set: the serverless-rust-demo peer is left out", flush=True)
        return {}
    tree = OUT / "src"
    if tree.exists():
        shutil.rmtree(tree)
    if (src / ".git").exists() or src.name.endswith(".git") or (src / "HEAD").exists():
        # A checkout or a bare mirror: its committed tree, nothing local.
        tree.mkdir(parents=True)
        archive = subprocess.run(["git", f"--git-dir={src / '.git' if (src / '.git').exists() else src}", "archive", "HEAD"],
                                 check=True, capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", str(tree)], input=archive, check=True)
    else:
        shutil.copytree(src, tree, ignore=shutil.ignore_patterns("target"))
    utils = tree / "src" / "utils.rs"
    text = utils.read_text()
    if text.count(PUBLISHED) != 1:
        raise SystemExit(f"{utils}: the published client construction was not found; the peer changed upstream")
    utils.write_text(text.replace(PUBLISHED, PATCHED))
    env = dict(os.environ, CARGO_TARGET_DIR=str(OUT / "target"))
    print("==> building serverless-rust-demo's get-product from its source (release)", flush=True)
    subprocess.run(["cargo", "build", "--release", "--quiet", "--bin", "get-product"], cwd=tree, env=env, check=True)
    return {NAME: OUT / "target" / "release" / "get-product"}


def fixture(endpoint, api_event):
    """A products table as the peer's template defines it (partition key `id`), one product in it.
    Returns (environment overrides as its template sets them, its GET event)."""
    import boto3

    table = f"peer-{uuid.uuid4().hex[:8]}"
    dynamodb = boto3.client("dynamodb", endpoint_url=endpoint, region_name="us-east-1")
    dynamodb.create_table(TableName=table, KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                          AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST")
    product = "a3b1e9d2-peer-product"
    dynamodb.put_item(TableName=table, Item={"id": {"S": product}, "name": {"S": "warm lamp"}, "price": {"N": "5"}})
    env = {"TABLE_NAME": table, "RUST_LOG": "info"}
    event = api_event("GET", "/{id}", f"/{product}", "unused", path_params={"id": product})
    return env, event
