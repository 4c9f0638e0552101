"""Instructions per warm GET: get-item against the reference functions, counted with callgrind.

CPU time from /proc moves with whatever else the machine runs (the figures in README's benchmark
table changed by 2x between runs on this VM); instruction counts do not. Each function is started
under lambda_bench.py's Runtime API with the production settings, given a first invocation, then
`short` and, in a second process, `long` warm invocations of the same GET; the difference of the
two totals divided by `long - short` is what one warm invocation executes, with init, the first
invocation and exit cancelled out. Both counts are multiples of the rate limiter's lease (32), so
each run pays the same share of lease claims.

    .venv/bin/python infra/bench/warm_cost.py        (moto running: ./infra/moto.sh)

Needs valgrind, the release (or BENCH_PROFILE) build of get-item and create-item, and builds the
references as lambda_bench does (cold_start.build_references). `BENCH_WARM_COUNTS=64,320` sets the counts.
Then CPU time per warm GET without valgrind (user + system from /proc, so kernel work counts too),
`BENCH_WARM_CPU=3,2000` rounds of that many invocations, the functions alternating.
Prints a table and writes target/bench/warm_cost.json; the callgrind files stay in
target/bench/callgrind-warm/ (use a `profiling` build for callgrind_annotate).
"""

import json
import os
import pathlib
import shutil
import statistics
import subprocess
import sys
import time
import uuid

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "infra"))
sys.path.insert(0, str(ROOT / "infra" / "bench"))
import cold_start  # noqa: E402
from init_cost import callgrind_total  # noqa: E402
from lambda_bench import (ENDPOINT, TICKS, api_event, function_env, local_secret, mint, proc_cpu_ticks, start_function,
                          status_of, stop)  # noqa: E402


def count(binary, env, event, invocations, valgrind, out_file):
    """Total instructions of one process: init, a first invocation, `invocations` warm ones, exit."""
    os.environ["BENCH_WRAPPER"] = f"{valgrind} --tool=callgrind -q --callgrind-out-file={out_file}"
    api, process, _ = start_function(binary, env)
    try:
        for _ in range(invocations + 1):
            _, body = api.invoke(event)
            if binary.name != "hello":
                assert status_of(body) == 200, f"{binary.name}: {body[:300]!r}"
    finally:
        stop(process)
        api.close()
        os.environ.pop("BENCH_WRAPPER", None)
    return callgrind_total(out_file)


def cpu_per_invocation(binary, env, event, invocations):
    """CPU µs (user, system) per warm invocation of one unwrapped process, after a first invocation."""
    api, process, _ = start_function(binary, env, wrapped=False)
    try:
        api.invoke(event)
        before = proc_cpu_ticks(process.pid)
        for _ in range(invocations):
            api.invoke(event)
        after = proc_cpu_ticks(process.pid)
    finally:
        stop(process)
        api.close()
    return tuple((b - a) / TICKS / invocations * 1e6 for a, b in zip(before, after))


def main():
    valgrind = shutil.which("valgrind")
    if not valgrind:
        sys.exit("valgrind is required (Debian: apt-get install valgrind)")
    short, long = (int(n) for n in os.environ.get("BENCH_WARM_COUNTS", "64,320").split(","))
    profile = ROOT / "target" / os.environ.get("BENCH_PROFILE", "release")
    import boto3
    from table import create_queues, table_definition

    table = f"warm-{uuid.uuid4().hex[:8]}"
    boto3.client("dynamodb", endpoint_url=ENDPOINT, region_name="us-east-1").create_table(TableName=table, **table_definition())
    secret = local_secret()
    env = function_env(table, secret, create_queues(f"{table}-index"), ENDPOINT)
    user = mint(secret, "warm-user", "user", int(time.time()) + 7200)

    api, process, _ = start_function(ROOT / "target" / "release" / "create-item", env, wrapped=False)
    created = json.loads(api.invoke(api_event("POST", "/api/items", "/api/items", user, body={"name": "warm lamp", "price": 5}))[1])
    stop(process)
    api.close()
    item = json.loads(created["body"])["data"]["id"]
    event = api_event("GET", "/api/items/{id}", f"/api/items/{item}", user, path_params={"id": item})

    references = cold_start.build_references()
    functions = {"get-item": profile / "get-item", **references}
    traces = ROOT / "target" / "bench" / "callgrind-warm"
    traces.mkdir(parents=True, exist_ok=True)
    rows = []
    for name, binary in functions.items():
        slug = binary.name
        totals = [count(binary, env, event, n, valgrind, traces / f"callgrind.{slug}.{n}") for n in (short, long)]
        per_invocation = (totals[1] - totals[0]) / (long - short)
        rows.append({"function": name, "binary": str(binary.relative_to(ROOT)), "totals": totals, "instructions_per_warm_get": round(per_invocation)})
        print(f"{name}: {per_invocation:,.0f} instructions per warm GET (totals {totals})", flush=True)

    # CPU time as the kernel accounts it (user + system, so syscalls count too), without valgrind:
    # rounds alternate the functions so that a busy spell of the machine hits all of them.
    rounds, invocations = (int(n) for n in os.environ.get("BENCH_WARM_CPU", "3,2000").split(","))
    samples = {row["function"]: [] for row in rows}
    for _ in range(rounds):
        for name, binary in functions.items():
            samples[name].append(cpu_per_invocation(binary, env, event, invocations))
    for row in rows:
        runs = samples[row["function"]]
        row["cpu_us_per_warm_get"] = [round(user + system) for user, system in runs]
        row["cpu_us_median"] = statistics.median(user + system for user, system in runs)
        row["system_us_median"] = statistics.median(system for _, system in runs)
        print(f"{row['function']}: CPU µs per warm GET {row['cpu_us_per_warm_get']} (system {row['system_us_median']:.0f})", flush=True)

    by_name = {row["function"]: row["instructions_per_warm_get"] for row in rows}
    cpu_plain = next((row["cpu_us_median"] for row in rows if row["function"] == "plain SDK GetItem (reference)"), None)
    plain = by_name.get("plain SDK GetItem (reference)")
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT).stdout.strip()
    out = ROOT / "target" / "bench" / "warm_cost.json"
    out.write_text(json.dumps({"commit": commit, "counts": [short, long], "cpu_rounds": [rounds, invocations], "functions": rows}, indent=2) + "\n")
    print(f"\ncommit {commit}, {os.cpu_count()} cores: instructions per warm GET ({long} - {short} invocations, callgrind); "
          f"CPU per warm GET (user + system, median of {rounds} runs of {invocations})\n")
    print("| function | instructions per warm GET | vs plain SDK | CPU µs per warm GET | of which system | vs plain SDK |")
    print("|---|---|---|---|---|---|")
    for row in rows:
        ratio = f"{row['instructions_per_warm_get'] / plain:.2f}x" if plain else "—"
        cpu_ratio = f"{row['cpu_us_median'] / cpu_plain:.2f}x" if cpu_plain else "—"
        print(f"| {row['function']} | {row['instructions_per_warm_get']:,} | {ratio} | {row['cpu_us_median']:.0f} | {row['system_us_median']:.0f} | {cpu_ratio} |")
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
