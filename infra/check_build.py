"""Checks what `sam build` left for `sam deploy`: for every function of template.yaml, its
.aws-sam/build/<LogicalId>/bootstrap is an arm64 (aarch64) ELF executable identical to the one cargo built
for this tree (target/lambda/<Binary>/bootstrap), and reports the size of the zip `sam deploy` uploads.
Exits non-zero on any mismatch."""

import hashlib
import io
import sys
import zipfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
EM_AARCH64 = 183


class TemplateLoader(yaml.SafeLoader):
    """Reads CloudFormation's short-form tags (!Ref, !GetAtt, ...) as plain values."""


TemplateLoader.add_multi_constructor("!", lambda loader, suffix, node: None)


def functions():
    template = yaml.load((ROOT / "template.yaml").read_text(), Loader=TemplateLoader)
    for name, resource in template["Resources"].items():
        if resource.get("Type") == "AWS::Serverless::Function":
            yield name, resource["Metadata"]["BuildProperties"]["Binary"], resource["Properties"]["CodeUri"]


def zipped_size(path: Path) -> int:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.write(path, "bootstrap")
    return len(buffer.getvalue())


def main() -> int:
    failures = []
    total = 0
    print(f"{'function':<24} {'binary':<14} {'bootstrap MB':>12} {'zip MB':>8}")
    for name, binary, code_uri in functions():
        built = ROOT / ".aws-sam" / "build" / name / "bootstrap"
        cargo = ROOT / "target" / "lambda" / binary / "bootstrap"
        if code_uri != "functions":
            failures.append(f"{name}: CodeUri {code_uri!r} is not functions (the one package of every binary)")
        if not built.is_file():
            failures.append(f"{name}: {built.relative_to(ROOT)} is missing")
            continue
        head = built.read_bytes()[:20]
        if head[:4] != b"\x7fELF" or int.from_bytes(head[18:20], "little") != EM_AARCH64:
            failures.append(f"{name}: {built.relative_to(ROOT)} is not an arm64 ELF executable")
        if not cargo.is_file() or hashlib.sha256(built.read_bytes()).digest() != hashlib.sha256(cargo.read_bytes()).digest():
            failures.append(f"{name}: differs from {cargo.relative_to(ROOT)}, cargo's build of this tree")
        size = zipped_size(built)
        total += size
        print(f"{name:<24} {binary:<14} {built.stat().st_size / 2**20:>12.2f} {size / 2**20:>8.2f}")
    print(f"{'all functions':<24} {'':<14} {'':>12} {total / 2**20:>8.2f}")
    for failure in failures:
        print(f"FAIL {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
