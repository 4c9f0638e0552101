"""The race with aws-samples/serverless-rust-demo: get-item against its get-product, as deployed.

One interleaved run: cold starts as billed (TLS to the store with RSA-2048 certificates, the CPU
quota of 128 MB; cold_start.run, the functions taking turns) and CPU per warm GET (rounds in which
the functions alternate, user + system from /proc), next to the two reference functions (a
lambda_runtime hello world, a plain SDK GetItem). Every feature of get-item is on as deployed by
template.yaml's defaults: JWT verification, the DynamoDB rate limiter, X-Ray (the runtime's
unsampled trace header), EMF metrics, INFO logs, the envelope. The peer runs as its template sets
it (RUST_LOG=info) against its own table (partition key `id`), built by peer.py from
BENCH_PEER_SRC. Also prints stripped sizes and peak RSS, and whether get-item is ahead.

    BENCH_PEER_SRC=/path/to/serverless-rust-demo .venv/bin/python infra/bench/race.py   (moto running)

BENCH_RACE_COLD=20 cold starts each, BENCH_RACE_WARM=3,1500 rounds of that many GETs each;
BENCH_RACE_CALLGRIND=64,320 also counts instructions per warm GET with valgrind (warm_cost.count: the
difference of two runs' totals), the figure that does not move with the machine.
BENCH_RACE_VARIANTS=before=/tmp/get-item-before,... adds other builds of get-item as contestants
(same settings, same turns): how the lever table in README was measured, each change against the
build without it in one run. Needs the release build of get-item and create-item. Writes
target/bench/race.json.
"""

import json
import os
import pathlib
import statistics
import subprocess
import sys
import time
import uuid

os.environ.setdefault("BENCH_XRAY", "unsampled")  # the runtime's header for an unsampled request
ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "infra"))
sys.path.insert(0, str(ROOT / "infra" / "bench"))
import cold_start  # noqa: E402
import peer  # noqa: E402
from lambda_bench import (ENDPOINT, TICKS, api_event, function_env, local_secret, mint, proc_cpu_ticks, proc_peak_rss_mb,
                          start_function, status_of, stop)  # noqa: E402

OURS = "get-item"
# As template.yaml deploys it: ApplicationLogLevel INFO, metrics on.
AS_DEPLOYED = {"AWS_LAMBDA_LOG_LEVEL": "INFO", "METRICS": "on"}


def warm_cpu(binary, env, event, invocations):
    """CPU µs (user + system) per warm GET of one process after a first invocation, and its peak RSS."""
    api, process, _ = start_function(binary, env, wrapped=False)
    try:
        _, body = api.invoke(event)
        if binary.name != "hello":
            assert status_of(body) == 200, f"{binary}: {body[:300]!r}"
        before = proc_cpu_ticks(process.pid)
        for _ in range(invocations):
            api.invoke(event)
        after = proc_cpu_ticks(process.pid)
        rss = proc_peak_rss_mb(process.pid)
    finally:
        stop(process)
        api.close()
    return sum(b - a for a, b in zip(before, after)) / TICKS / invocations * 1e6, rss


def stripped_mb(binary):
    """Size as deployed: symbols stripped (the peer's profile leaves them in; Lambda zips what it gets,
    so compare like with like)."""
    copy = ROOT / "target" / "bench" / ("stripped" + str(binary).replace("/", "-"))
    subprocess.run(["strip", "-o", str(copy), str(binary)], check=True)
    return round(copy.stat().st_size / 1048576, 2)


def main():
    if not peer.source():
        sys.exit("BENCH_PEER_SRC must name a checkout of aws-samples/serverless-rust-demo")
    import boto3
    from table import create_queues, table_definition

    table = f"race-{uuid.uuid4().hex[:8]}"
    boto3.client("dynamodb", endpoint_url=ENDPOINT, region_name="us-east-1").create_table(TableName=table, **table_definition())
    secret = local_secret()
    env = dict(function_env(table, secret, create_queues(f"{table}-index"), ENDPOINT), **AS_DEPLOYED)
    # The limiter counts in DynamoDB as deployed, with limits one caller's 1,500 GETs a round stay
    # under (function_env): leases of 32, one claim per 32 GETs (the defaults' user:read=600/60
    # would lease 12 and then refuse, and a refusal is answered from memory).
    user = mint(secret, "race-user", "user", int(time.time()) + 7200)
    release = ROOT / "target" / "release"
    api, process, _ = start_function(release / "create-item", env, wrapped=False)
    created = json.loads(api.invoke(api_event("POST", "/api/items", "/api/items", user, body={"name": "warm lamp", "price": 5}))[1])
    stop(process)
    api.close()
    item = json.loads(created["body"])["data"]["id"]
    ours_event = api_event("GET", "/api/items/{id}", f"/api/items/{item}", user, path_params={"id": item})
    peer_env, peer_event = peer.fixture(ENDPOINT, api_event)

    contestants = {OURS: (release / OURS, {}, ours_event)}
    for variant in filter(None, os.environ.get("BENCH_RACE_VARIANTS", "").split(",")):
        label, _, path = variant.partition("=")
        contestants[f"{OURS} ({label})"] = (pathlib.Path(path), {}, ours_event)
    contestants.update({name: (binary, peer_env, peer_event) for name, binary in peer.build().items()})
    contestants.update({name: (binary, {}, ours_event) for name, binary in cold_start.build_references().items()})

    cold_runs = int(os.environ.get("BENCH_RACE_COLD", "20"))
    rounds, invocations = (int(n) for n in os.environ.get("BENCH_RACE_WARM", "3,1500").split(","))
    functions = [(name, binary, lambda n, event=event: event, OURS if name.startswith(OURS) else name, overrides)
                 for name, (binary, overrides, event) in contestants.items()]
    cold = cold_start.run(functions, env, start_function, cold_runs)

    warm = {name: [] for name in contestants}
    rss = {name: [] for name in contestants}
    for _ in range(rounds):
        for name, (binary, overrides, event) in contestants.items():
            cpu, peak = warm_cpu(binary, dict(env, **overrides), event, invocations)
            warm[name].append(cpu)
            rss[name].append(peak)
            print(f"warm, {name}: {cpu:.0f} µs CPU per GET, peak RSS {peak:.1f} MB", flush=True)

    instructions = {}
    counts = os.environ.get("BENCH_RACE_CALLGRIND", "")
    if counts:
        import shutil
        from warm_cost import count

        short, long = (int(n) for n in counts.split(","))
        traces = ROOT / "target" / "bench" / "callgrind-race"
        traces.mkdir(parents=True, exist_ok=True)
        for index, (name, (binary, overrides, event)) in enumerate(contestants.items()):
            totals = [count(binary, dict(env, **overrides), event, n, shutil.which("valgrind"), traces / f"callgrind.{index}.{n}")
                      for n in (short, long)]
            instructions[name] = round((totals[1] - totals[0]) / (long - short))
            print(f"instructions per warm GET, {name}: {instructions[name]:,}", flush=True)

    rows = []
    for name, (binary, _, _) in contestants.items():
        rows.append({
            "function": name, **cold[name],
            "warm_cpu_us": [round(cpu) for cpu in warm[name]],
            "warm_cpu_us_median": round(statistics.median(warm[name])) if warm[name] else None,
            "peak_rss_mb": round(max(rss[name]), 1) if rss[name] else None,
            "stripped_mb": stripped_mb(binary),
            "instructions_per_warm_get": instructions.get(name),
        })
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT).stdout.strip()
    out = ROOT / "target" / "bench" / "race.json"
    out.write_text(json.dumps({"commit": commit, "cold_runs": cold_runs, "warm": [rounds, invocations], "functions": rows}, indent=2) + "\n")

    print(f"\ncommit {commit}, {os.cpu_count()} cores; cold: {cold_runs} interleaved cold starts each, TLS (RSA 2048), "
          f"CPU quota of 128 MB; warm: {rounds} alternating rounds of {invocations} GETs; medians [min–max]\n")
    print("| function | init ms | first invocation ms | init + first ms | its CPU ms | TLS handshakes | warm CPU µs per GET | instructions per warm GET | peak RSS MB | stripped MB |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for row in rows:
        instructions = format(row["instructions_per_warm_get"], ",") if row["instructions_per_warm_get"] else "—"
        print(f"| {row['function']} | {row['cold_init_ms']} | {row['cold_first_ms']} | {row['cold_total_ms']} | {row['cold_cpu_ms']} | {row['cold_tls_handshakes']:g} | "
              f"{row['warm_cpu_us_median']} {row['warm_cpu_us']} | {instructions} | {row['peak_rss_mb']} | {row['stripped_mb']} |")
    by_name = {row["function"]: row for row in rows}
    ours, theirs = by_name[OURS], by_name[peer.NAME]
    for label, key in (("cold start (init + first)", "cold_total_median_ms"), ("its CPU", "cold_cpu_median_ms"),
                       ("warm CPU per GET", "warm_cpu_us_median")):
        if ours[key] is None or theirs[key] is None:
            continue
        verdict = "ahead or level" if ours[key] <= theirs[key] else "BEHIND"
        print(f"{label}: get-item {ours[key]} vs peer {theirs[key]}: {verdict}")
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
