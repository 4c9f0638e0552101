"""Init cost per function: stripped x86_64 release binary size, and instructions executed during init.

Init is what Lambda bills before the first event: process start until the runtime's first
`GET /2018-06-01/runtime/invocation/next`. Wall time jitters by a millisecond or more on a shared
machine; instruction counts do not, so init is counted with valgrind's callgrind. Each function is
started under lambda_bench.py's Runtime API server with the production settings lambda_bench uses, is
never sent an event, and is stopped with SIGTERM once it has asked for one (callgrind writes its
totals on that signal), so the count covers init only: the dynamic loader, the Rust runtime, logging,
configuration, the AWS clients and every service the function builds. Init makes no network call,
so no moto is needed. The environment is fixed (fixed names, no inherited variables), so two runs of
one binary count the same instructions, and a change of code shows up as a change of count.

    .venv/bin/python infra/bench/init_cost.py

builds every function for release (`BENCH_BUILD=0` skips the build), then prints a table and writes
target/bench/init_cost.json (both under $CARGO_TARGET_DIR when it is set). Knobs:
`BENCH_FUNCTIONS=get-item,...` narrows the run, `BENCH_INIT_RUNS` (2) counts each function that
many times and reports any difference, `BENCH_PROFILE=profiling` counts the binaries of that cargo
profile instead (release code with symbols, for callgrind_annotate; sizes always come from release).
The callgrind files stay in target/bench/callgrind-init/.
"""

import json
import os
import pathlib
import shutil
import struct
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[2]
# Init makes no AWS call: the endpoint is only a setting here (nothing listens on port 9).
ENDPOINT = "http://127.0.0.1:9"
os.environ.setdefault("AWS_ENDPOINT_URL", ENDPOINT)  # lambda_bench reads it on import
sys.path.insert(0, str(ROOT / "infra" / "bench"))
from lambda_bench import function_env, local_secret, start_function, stop  # noqa: E402

# After the first /next arrives, let the function block on it before the signal, so the signal
# never lands in the middle of its last few instructions.
SETTLE_SECONDS = 0.5


def target_dir():
    configured = os.environ.get("CARGO_TARGET_DIR")
    return (ROOT / configured).resolve() if configured else ROOT / "target"


def has_symbol_table(path):
    """True if the ELF file still has a .symtab (SHT_SYMTAB) section, i.e. is not stripped."""
    with open(path, "rb") as f:
        header = f.read(64)
        if header[:4] != b"\x7fELF" or header[4] != 2:
            raise RuntimeError(f"{path}: not a 64-bit ELF file")
        shoff, = struct.unpack_from("<Q", header, 0x28)
        shentsize, shnum = struct.unpack_from("<HH", header, 0x3A)
        f.seek(shoff)
        table = f.read(shentsize * shnum)
    return any(struct.unpack_from("<I", table, i * shentsize + 4)[0] == 2 for i in range(shnum))


def stripped_bytes(path):
    """Size of the binary as shipped: as built if the profile strips it (release does), else of a
    stripped copy."""
    if not has_symbol_table(path):
        return path.stat().st_size
    with tempfile.TemporaryDirectory() as tmp:
        copy = pathlib.Path(tmp) / path.name
        subprocess.run(["strip", "--strip-all", "-o", str(copy), str(path)], check=True)
        return copy.stat().st_size


def callgrind_total(path):
    for line in path.read_text().splitlines():
        if line.startswith(("totals:", "summary:")):
            return int(line.split()[1])
    raise RuntimeError(f"{path}: no totals line")


def count_init(binary, env, base_env, valgrind, out_file):
    """Instructions from exec to the first GET /next, under callgrind."""
    os.environ["BENCH_WRAPPER"] = f"{valgrind} --tool=callgrind -q --callgrind-out-file={out_file}"
    out_file.unlink(missing_ok=True)
    api, process, _ = start_function(binary, env, base_env=base_env)
    time.sleep(SETTLE_SECONDS)
    # Nothing was queued, so the function is still waiting for its first event: init only.
    assert api.events.empty() and api.responses.empty(), f"{binary.name} was sent an event"
    stop(process)
    api.close()
    if process.returncode != -15:
        raise RuntimeError(f"{binary.name} under callgrind exited with {process.returncode}, not SIGTERM: "
                           f"{process.stderr.read().decode()[:500]}")
    return callgrind_total(out_file)


def main():
    profile = os.environ.get("BENCH_PROFILE", "release")
    runs = int(os.environ.get("BENCH_INIT_RUNS", "2"))
    valgrind = shutil.which("valgrind")
    if not valgrind:
        sys.exit("valgrind is required (Debian: apt-get install valgrind)")
    if os.environ.get("BENCH_BUILD", "1") != "0":
        for build_profile in dict.fromkeys(["release", profile]):
            print(f"==> cargo build --profile {build_profile} --workspace --bins", flush=True)
            subprocess.run(["cargo", "build", "--profile", build_profile, "--workspace", "--bins"], cwd=ROOT, check=True)

    functions = sorted(p.stem for p in (ROOT / "functions" / "src" / "bin").glob("*.rs"))
    only = [name for name in os.environ.get("BENCH_FUNCTIONS", "").split(",") if name]
    functions = [name for name in functions if not only or name in only]
    target = target_dir()
    out = target / "bench"
    traces = out / "callgrind-init"
    traces.mkdir(parents=True, exist_ok=True)

    # A fixed environment: only what the functions read, no inherited variables, fixed names.
    base_env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_REGION": "us-east-1",
    }
    env = function_env("bench-init", local_secret(), f"{ENDPOINT}/123456789012/bench-init-index", ENDPOINT)

    rows = []
    for function in functions:
        size = stripped_bytes(target / "release" / function)
        counts = [count_init(target / profile / function, env, base_env, valgrind, traces / f"callgrind.{function}.{run}")
                  for run in range(runs)]
        row = {
            "function": function,
            "stripped_x86_64_bytes": size,
            "stripped_x86_64_mb": round(size / 1048576, 2),
            "init_instructions": min(counts),
            "init_minstructions": round(min(counts) / 1e6, 2),
            "runs": counts,
        }
        rows.append(row)
        print(f"{function}: {size} bytes, {row['init_instructions']} instructions "
              f"(runs: {counts}, spread {max(counts) - min(counts)})", flush=True)

    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True, cwd=ROOT).stdout.strip()
    version = subprocess.run([valgrind, "--version"], capture_output=True, text=True).stdout.strip()
    report = {
        "commit": commit + ("-dirty" if dirty else ""),
        "size_profile": "release",
        "count_profile": profile,
        "counted_with": f"{version} --tool=callgrind (Ir, exec to first GET /runtime/invocation/next)",
        "mb": "MiB (1,048,576 bytes), as in lambda.json",
        "functions": rows,
    }
    (out / "init_cost.json").write_text(json.dumps(report, indent=2) + "\n")

    print(f"\ncommit {report['commit']}: sizes of the stripped `release` binaries (x86_64), init counted on "
          f"`{profile}` binaries with {version} callgrind, {runs} run(s) each\n")
    print("| function | stripped x86_64 bytes | MB | init instructions | M |")
    print("|---|---|---|---|---|")
    for row in rows:
        print(f"| {row['function']} | {row['stripped_x86_64_bytes']:,} | {row['stripped_x86_64_mb']} | "
              f"{row['init_instructions']:,} | {row['init_minstructions']} |")
    print(f"\nwrote {out / 'init_cost.json'}")


if __name__ == "__main__":
    main()
