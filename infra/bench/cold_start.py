"""Cold start as Lambda bills it: TLS to the store, and the CPU share of the function's memory size.

Used by lambda_bench.py. Puts a TLS terminator with a locally generated CA in front of moto (the
functions trust that one root, as deployed functions trust the compiled-in Amazon roots), runs each
function under a CPU quota equal to Lambda's share at its configured memory (1,769 MB = one vCPU, so
128 MB = 7.2 % of one), and measures init (process start -> first request for an event), the first
invocation, and their sum over repeated cold starts. Two reference functions are built here, outside
the workspace, the way a user would write them: a lambda_runtime hello world (no SDK, no I/O) and a
plain lambda_http + aws_config::load_from_env + GetItem function on the SDK's default features.
"""

import asyncio
import datetime
import json
import os
import pathlib
import ssl
import statistics
import subprocess
import threading
import time

ROOT = pathlib.Path(__file__).resolve().parents[2]
OUT = ROOT / "target" / "bench"
# Lambda allocates CPU in proportion to memory: 1,769 MB is one full vCPU.
MB_PER_VCPU = 1769
PERIOD_US = 100_000

REFERENCE_CARGO = """[package]
name = "bench-references"
version = "0.0.0"
edition = "2021"
publish = false

# Its own workspace: built as a user would build it, not as a member of this project.
[workspace]

[dependencies]
lambda_runtime = "1"
lambda_http = "1"
aws-config = { version = "1", features = ["behavior-version-latest"] }
aws-sdk-dynamodb = "1"
tokio = { version = "1", features = ["macros"] }
serde_json = "1"

[profile.release]
strip = "symbols"
"""

HELLO = """use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| async move { Ok::<_, Error>(event.payload) })).await
}
"""

PLAIN_SDK = """use aws_sdk_dynamodb::types::AttributeValue;
use lambda_http::{service_fn, Body, Error, Request, RequestExt, Response};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let config = aws_config::load_from_env().await;
    let client = aws_sdk_dynamodb::Client::new(&config);
    let table = std::env::var("TABLE_NAME")?;
    lambda_http::run(service_fn(|request: Request| {
        let (client, table) = (client.clone(), table.clone());
        async move {
            let id = request.path_parameters_ref().and_then(|p| p.first("id")).unwrap_or_default().to_owned();
            let output = client
                .get_item()
                .table_name(table)
                .key("pk", AttributeValue::S(format!("ITEM#{id}")))
                .key("sk", AttributeValue::S("ITEM".to_owned()))
                .consistent_read(true)
                .send()
                .await?;
            let mut item = serde_json::Map::new();
            for (name, value) in output.item.unwrap_or_default() {
                let value = match value {
                    AttributeValue::S(s) => serde_json::Value::String(s),
                    AttributeValue::N(n) => serde_json::from_str(&n).unwrap_or(serde_json::Value::Null),
                    _ => serde_json::Value::Null,
                };
                item.insert(name, value);
            }
            let body = serde_json::json!({ "success": true, "data": item }).to_string();
            Ok::<_, Error>(Response::builder().status(200).body(Body::Text(body))?)
        }
    }))
    .await
}
"""


def build_references():
    """Builds the two reference functions (release) and returns {name: binary}."""
    project = OUT / "references"
    (project / "src" / "bin").mkdir(parents=True, exist_ok=True)
    (project / "Cargo.toml").write_text(REFERENCE_CARGO)
    (project / "src" / "bin" / "hello.rs").write_text(HELLO)
    (project / "src" / "bin" / "plain-sdk.rs").write_text(PLAIN_SDK)
    env = dict(os.environ, CARGO_TARGET_DIR=str(project / "target"))
    # As users get it today: AWS-LC with CPU Jitter entropy (this workspace's config turns it off).
    env["AWS_LC_SYS_NO_JITTER_ENTROPY"] = "0"
    print("==> building the reference functions (hello world; plain SDK GetItem)", flush=True)
    subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=project, env=env, check=True)
    release = project / "target" / "release"
    return {"hello (reference)": release / "hello", "plain SDK GetItem (reference)": release / "plain-sdk"}


def make_certificates():
    """A CA and a server certificate for localhost/127.0.0.1, signed by it. Returns (ca, cert, key) paths.

    RSA 2048 like DynamoDB's own chain (Amazon Root CA 1 -> Amazon RSA 2048 M0x -> the endpoint), so
    the handshake verifies what a deployed function verifies. With ECDSA P-256 keys instead, the four
    signature checks of the first invocation's two handshakes were ~14 M of its ~19 M instructions."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    directory = OUT / "tls"
    directory.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "bench local CA")])
    ca = (
        x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
                                     key_encipherment=False, data_encipherment=False, key_agreement=False,
                                     encipher_only=False, decipher_only=False), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    import ipaddress
    cert = (
        x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    paths = directory / "ca.pem", directory / "server.pem", directory / "server.key"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return paths


class TlsTerminator:
    """HTTPS on 127.0.0.1 in front of moto, keeping the client's connection alive as DynamoDB does.

    moto's single-threaded server answers HTTP/1.0 and closes every connection after one answer; a
    byte pipe would hand that to the function, and each store call of a first invocation would pay
    its own TLS handshake, which against DynamoDB only concurrent calls do. So this speaks HTTP: it
    reads each request off the client's connection, forwards it on a fresh upstream connection,
    and answers as HTTP/1.1 with a Content-Length, leaving the client's connection (and its TLS
    session) open for the next call. `handshakes` counts the connections clients opened."""

    def __init__(self, upstream, cert, key):
        self.upstream_host, self.upstream_port = upstream.split("//", 1)[1].split(":")
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        self.loop = asyncio.new_event_loop()
        self.handshakes = 0
        ready = threading.Event()

        async def start():
            self.server = await asyncio.start_server(self.serve, "127.0.0.1", 0, ssl=context)
            self.port = self.server.sockets[0].getsockname()[1]
            ready.set()

        threading.Thread(target=lambda: (self.loop.run_until_complete(start()), self.loop.run_forever()), daemon=True).start()
        ready.wait()
        self.url = f"https://localhost:{self.port}"

    async def serve(self, client_reader, client_writer):
        self.handshakes += 1
        try:
            while True:
                head = await client_reader.readuntil(b"\r\n\r\n")
                headers = head.decode("latin-1").split("\r\n")
                length = next((int(line.split(":", 1)[1]) for line in headers if line.lower().startswith("content-length:")), 0)
                body = await client_reader.readexactly(length)
                upstream_reader, upstream_writer = await asyncio.open_connection(self.upstream_host, int(self.upstream_port))
                upstream_writer.write(head + body)
                await upstream_writer.drain()
                answer = await upstream_reader.read()  # to EOF: moto closes after its answer
                upstream_writer.close()
                answer_head, _, answer_body = answer.partition(b"\r\n\r\n")
                status, *answer_headers = answer_head.decode("latin-1").split("\r\n")
                kept = [line for line in answer_headers if line.split(":", 1)[0].strip().lower() not in ("connection", "content-length", "keep-alive")]
                status = "HTTP/1.1" + status[len(status.split(" ", 1)[0]):]
                rewritten = "\r\n".join([status, *kept, f"Content-Length: {len(answer_body)}", "", ""]).encode("latin-1")
                client_writer.write(rewritten + answer_body)
                await client_writer.drain()
                if any(line.lower().replace(" ", "") == "connection:close" for line in headers):
                    break
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError, ssl.SSLError, OSError, ValueError):
            pass
        finally:
            try:
                client_writer.close()
            except Exception:
                pass

    def close(self):
        self.loop.call_soon_threadsafe(self.loop.stop)


def memory_sizes():
    """MemorySize per function binary from template.yaml (Globals apply unless a function sets its own)."""
    import yaml

    class Loader(yaml.SafeLoader):
        pass

    # CloudFormation's short-form intrinsics (!Ref, !Sub, ...): keep them as plain values.
    Loader.add_multi_constructor("!", lambda loader, suffix, node: None)
    template = yaml.load((ROOT / "template.yaml").read_text(), Loader=Loader)
    default = template["Globals"]["Function"].get("MemorySize", 128)
    sizes = {}
    for resource in template["Resources"].values():
        if resource.get("Type") == "AWS::Serverless::Function":
            binary = resource.get("Metadata", {}).get("BuildProperties", {}).get("Binary")
            if binary:
                sizes[binary] = resource["Properties"].get("MemorySize", default)
    # BENCH_MEMORY=search-items=256,index-worker=128 tries other sizes than the template's.
    for pair in filter(None, os.environ.get("BENCH_MEMORY", "").split(",")):
        binary, _, mb = pair.partition("=")
        sizes[binary.strip()] = int(mb)
    return sizes, default


class CpuQuota:
    """A cgroup limiting its processes to `share` of one CPU (cgroup v1 cpu controller, or v2 cpu.max)."""

    def __init__(self, name, memory_mb):
        self.quota_us = max(1000, round(PERIOD_US * memory_mb / MB_PER_VCPU))
        v1 = pathlib.Path("/sys/fs/cgroup/cpu")
        if (v1 / "cpu.cfs_quota_us").exists():
            self.path = v1 / name
            self.path.mkdir(exist_ok=True)
            (self.path / "cpu.cfs_period_us").write_text(str(PERIOD_US))
            (self.path / "cpu.cfs_quota_us").write_text(str(self.quota_us))
        else:
            self.path = pathlib.Path("/sys/fs/cgroup") / name
            self.path.mkdir(exist_ok=True)
            (self.path / "cpu.max").write_text(f"{self.quota_us} {PERIOD_US}")

    def launcher(self):
        """A command that moves itself into the cgroup, then execs the binary named after it.

        Not a preexec_fn: that would run in the fork of this (large) Python process, and the exec
        that tears that copy down was charged to the quota: the hello world's init went from ~10 ms
        to ~95 ms (a second period). A shell is small; Lambda starts the runtime from a small process too."""
        return ["/bin/sh", "-c", f'echo $$ > {self.path / "cgroup.procs"} && exec "$0"']

    def remove(self):
        try:
            self.path.rmdir()
        except OSError:
            pass


def stop_counting_cpu(process):
    """Stops a function (SIGTERM) and returns the CPU ms its process used, all threads, user + system:
    init, the first invocation and the exit. The quota turns this CPU into billed time in whole
    periods, so the wall figures jump by 100 ms where this one moves by a fraction of a millisecond."""
    process.terminate()
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    return (usage.ru_utime + usage.ru_stime) * 1000


def run(functions, env, start_function, runs):
    """Cold starts of each (name, binary, event maker, function[, env overrides]) under its quota,
    through TLS; returns rows. The functions take turns, run by run, so that drift of the machine
    (another process, a busy spell of the VM) hits all of them alike."""
    ca, cert, key = make_certificates()
    tls = TlsTerminator(env["AWS_ENDPOINT_URL"], str(cert), str(key))
    sizes, default_mb = memory_sizes()
    tls_env = dict(env, AWS_ENDPOINT_URL=tls.url, AWS_TLS_ROOTS="system", SSL_CERT_FILE=str(ca))
    # Deployed, this project's functions trust five compiled-in roots and the others the system
    # bundle. Here all trust the local CA; an empty SSL_CERT_DIR keeps ours from also parsing the
    # machine's bundle (~8 ms of CPU at init, one more quota period) that they never parse on Lambda.
    no_bundle = OUT / "tls" / "no-bundle"
    no_bundle.mkdir(parents=True, exist_ok=True)
    quotas = {}
    samples = {name: ([], [], [], [], []) for name, *_ in functions}
    for n in range(runs):
        for name, binary, make_event, function, *overrides in functions:
            memory_mb = sizes.get(function, default_mb)
            quota = quotas.setdefault(memory_mb, CpuQuota(f"bench-{memory_mb}mb", memory_mb))
            # A fresh environment starts with the period's quota unspent: let the last one's run out.
            time.sleep(PERIOD_US / 1e6)
            run_env = dict(tls_env, **(overrides[0] if overrides else {}))
            if function in sizes:
                run_env["SSL_CERT_DIR"] = str(no_bundle)
            before = tls.handshakes
            api, process, init_ms = start_function(binary, run_env, launcher=quota.launcher())
            first_seconds, body = api.invoke(make_event(n))
            cpu_ms = stop_counting_cpu(process)
            status = json.loads(body).get("statusCode") if body.startswith(b"{") else None
            if status and status >= 400:
                raise RuntimeError(f"{name}: its cold first invocation answered {status}: {body[:300]!r}")
            api.close()
            inits, firsts, totals, handshakes, cpus = samples[name]
            handshakes.append(tls.handshakes - before)
            cpus.append(cpu_ms)
            inits.append(init_ms)
            firsts.append(first_seconds * 1000)
            totals.append(init_ms + first_seconds * 1000)
    summary = lambda values: f"{statistics.median(values):.1f} [{min(values):.1f}–{max(values):.1f}]"
    rows = {}
    for name, binary, make_event, function, *_ in functions:
        memory_mb = sizes.get(function, default_mb)
        inits, firsts, totals, handshakes, cpus = samples[name]
        rows[name] = {
            "memory_mb": memory_mb,
            "cpu_quota_percent": round(100 * quotas[memory_mb].quota_us / PERIOD_US, 1),
            "cold_runs": runs,
            "cold_init_ms": summary(inits),
            "cold_first_ms": summary(firsts),
            "cold_total_ms": summary(totals),
            "cold_init_median_ms": round(statistics.median(inits), 1),
            "cold_first_median_ms": round(statistics.median(firsts), 1),
            "cold_total_median_ms": round(statistics.median(totals), 1),
            "cold_tls_handshakes": statistics.median(handshakes),
            "cold_cpu_ms": summary(cpus),
            "cold_cpu_median_ms": round(statistics.median(cpus), 2),
        }
        print(f"cold start as billed, {name}: {rows[name]}", flush=True)
    for quota in quotas.values():
        quota.remove()
    tls.close()
    return rows
