#!/usr/bin/env python3
"""Runs the SAM transform (AWS::Serverless-2016-10-31) on template.yaml offline, as a deploy would.

cfn-lint checks SAM resources against schemas but does not run the transform, so a template it
passes can still be refused by the SAM transform that CloudFormation runs at `sam deploy` (an `Auth`
that is an `!If`, for one). This runs the same translator (aws-sam-translator, pinned in
infra/requirements.txt) on the template as `sam deploy` hands it over (local CodeUri replaced by an
S3 URI, as `sam package` does) with the stack's parameter values, and makes no AWS calls: the region
is given, and a stub answers managed-policy lookups by name with the AWS-managed ARN.

For each AuthMode it then reads the HTTP API that CloudFormation would import (the transformed
OpenAPI body with its !If conditions decided) and checks that every route has a function behind it
and, with AuthMode=gateway, API Gateway's JWT authorizer; with AuthMode=verify, no authorizer.

    python infra/sam_transform.py                      # once per AuthMode value the template allows
    python infra/sam_transform.py -p AuthMode=gateway -p JwtIssuer=https://id.example.com/
    python infra/sam_transform.py -p AuthMode=gateway --output target/sam-gateway.json

Prints one line per transform (resources, routes); on a failure, the translator's error or the
routes that break the promise, and exits 1.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
REGION = "us-east-1"  # samconfig.toml's; only used to form ARNs and partitions.

# Values for parameters without a default, as a deploy would have to give them.
REQUIRED_PARAMETERS = {"JwtSecret": "x" * 32}
# gateway mode needs an issuer and an audience (see the AuthMode parameter); the authorizer is
# rendered with them, so give plausible ones unless the caller sets their own.
GATEWAY_PARAMETERS = {"JwtIssuer": "https://issuer.example.com/", "JwtAudience": "items-api"}


class CfnYamlLoader(yaml.SafeLoader):
    """YAML loader that turns CloudFormation's short-form tags (!Ref, !Sub, ...) into long form."""


def _intrinsic(loader: CfnYamlLoader, tag_suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = "Ref" if tag_suffix == "Ref" else f"Fn::{tag_suffix}"
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
        if tag_suffix == "GetAtt":
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {name: value}


CfnYamlLoader.add_multi_constructor("!", _intrinsic)


class StubManagedPolicies(dict):
    """Name -> ARN of AWS-managed policies, without calling IAM's ListPolicies."""

    def __missing__(self, name: str) -> str:
        return f"arn:aws:iam::aws:policy/{name}"

    def get(self, name: str, default: Any = None) -> str:  # type: ignore[override]
        return self[name]


class StubManagedPolicyLoader:
    def load(self) -> dict[str, str]:
        return StubManagedPolicies()


def load_template(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf-8") as f:
        return yaml.load(f, Loader=CfnYamlLoader)  # noqa: S506 - SafeLoader subclass


# Properties that `sam package` (run by `sam deploy`) replaces with the S3 location it uploaded to.
PACKAGED_PROPERTIES = {
    "AWS::Serverless::Function": "CodeUri",
    "AWS::Serverless::LayerVersion": "ContentUri",
    "AWS::Serverless::Api": "DefinitionUri",
    "AWS::Serverless::HttpApi": "DefinitionUri",
    "AWS::Serverless::StateMachine": "DefinitionUri",
}


def as_packaged(template: dict[str, Any]) -> dict[str, Any]:
    """The template as `sam deploy` hands it to CloudFormation: local paths become S3 URIs."""
    out = json.loads(json.dumps(template))  # a deep copy; the translator mutates its input too
    for name, resource in out.get("Resources", {}).items():
        prop = PACKAGED_PROPERTIES.get(resource.get("Type"))
        props = resource.get("Properties", {})
        value = props.get(prop) if prop else None
        if isinstance(value, str) and not value.startswith("s3://"):
            props[prop] = f"s3://sam-transform-check/{name}"
    return out


def transform(template: dict[str, Any], parameters: dict[str, str]) -> dict[str, Any]:
    import boto3
    from samtranslator.metrics.metrics import DummyMetricsPublisher, Metrics
    from samtranslator.parser.parser import Parser
    from samtranslator.translator.translator import Translator

    # A session only to name the region: the translator asks it for one; no request is made.
    session = boto3.session.Session(region_name=REGION)
    metrics = Metrics("ServerlessTransform", DummyMetricsPublisher())
    translator = Translator(None, Parser(), boto_session=session, metrics=metrics)
    try:
        return translator.translate(
            as_packaged(template),
            parameter_values=dict(parameters),
            get_managed_policy_map=StubManagedPolicyLoader().load,
        )
    finally:
        metrics.publish()  # to nowhere; otherwise the translator warns about unpublished metrics


NO_VALUE = {"Ref": "AWS::NoValue"}


def condition_values(template: dict[str, Any], parameters: dict[str, Any]) -> dict[str, bool]:
    """Evaluates the template's Conditions for these parameter values (the functions they may use)."""
    declared = template.get("Parameters", {})
    values = {k: str(v.get("Default", "")) for k, v in declared.items()}
    values.update({k: str(v) for k, v in parameters.items()})
    conditions = template.get("Conditions", {})
    done: dict[str, bool] = {}

    def value(x: Any) -> Any:
        if isinstance(x, dict) and list(x) == ["Ref"]:
            return values[x["Ref"]]
        return truth(x) if isinstance(x, dict) else x

    def truth(x: Any) -> bool:
        ((fn, args),) = x.items()
        if fn == "Condition":
            return named(args)
        if fn == "Fn::Equals":
            return str(value(args[0])) == str(value(args[1]))
        if fn == "Fn::Not":
            return not truth(args[0])
        if fn == "Fn::And":
            return all(truth(a) for a in args)
        if fn == "Fn::Or":
            return any(truth(a) for a in args)
        raise ValueError(f"condition function {fn} is not evaluated here")

    def named(name: str) -> bool:
        if name not in done:
            done[name] = truth(conditions[name])
        return done[name]

    return {name: named(name) for name in conditions}


def resolve_ifs(x: Any, conditions: dict[str, bool]) -> Any:
    """x with every Fn::If decided and AWS::NoValue dropped, as CloudFormation does."""
    if isinstance(x, dict):
        if list(x) == ["Fn::If"]:
            name, yes, no = x["Fn::If"]
            return resolve_ifs(yes if conditions[name] else no, conditions)
        out = {}
        for k, v in x.items():
            v = resolve_ifs(v, conditions)
            if v != NO_VALUE:
                out[k] = v
        return out
    if isinstance(x, list):
        return [v for v in (resolve_ifs(v, conditions) for v in x) if v != NO_VALUE]
    return x


HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace", "x-amazon-apigateway-any-method"}


def check_routes(transformed: dict[str, Any], conditions: dict[str, bool], gateway_auth: bool) -> list[str]:
    """What CloudFormation will import as each HTTP API: every route has a function behind it, and
    API Gateway's JWT authorizer guards every route when gateway_auth, none otherwise."""
    problems = []
    for name, resource in transformed.get("Resources", {}).items():
        if resource.get("Type") != "AWS::ApiGatewayV2::Api" or "Body" not in resource.get("Properties", {}):
            continue
        body = resolve_ifs(resource["Properties"]["Body"], conditions)
        schemes = body.get("components", {}).get("securitySchemes", {})
        jwt = {k for k, v in schemes.items() if v.get("x-amazon-apigateway-authorizer", {}).get("type") == "jwt"}
        if gateway_auth and not jwt:
            problems.append(f"{name}: no JWT authorizer in components.securitySchemes")
        if not gateway_auth and schemes:
            problems.append(f"{name}: authorizers {sorted(schemes)} although AuthMode is not gateway")
        for path, item in body.get("paths", {}).items():
            for method, operation in item.items():
                if method.lower() not in HTTP_METHODS:
                    continue
                route = f"{method.upper()} {path}"
                if "x-amazon-apigateway-integration" not in operation:
                    problems.append(f"{name}: {route} has no integration (in DefinitionBody, but no function's event)")
                security = operation.get("security", [])
                uses = {k for requirement in security for k in requirement}
                if gateway_auth and not (uses and uses <= jwt):
                    problems.append(f"{name}: {route} is not guarded by the JWT authorizer (security: {security})")
                if not gateway_auth and security:
                    problems.append(f"{name}: {route} has security {security} although AuthMode is not gateway")
    return problems


def count_routes(transformed: dict[str, Any]) -> int:
    return sum(
        1
        for r in transformed.get("Resources", {}).values()
        if r.get("Type") == "AWS::ApiGatewayV2::Api"
        for item in r.get("Properties", {}).get("Body", {}).get("paths", {}).values()
        for method in item
        if method.lower() in HTTP_METHODS
    )


def parse_overrides(pairs: list[str]) -> dict[str, str]:
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            sys.exit(f"--parameter takes Name=Value, got {pair!r}")
        out[key] = value
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--template", type=Path, default=ROOT / "template.yaml")
    ap.add_argument(
        "-p",
        "--parameter",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="parameter override, as with sam deploy --parameter-overrides (repeatable); without "
        "AuthMode, the transform runs once per AuthMode value the template allows",
    )
    ap.add_argument("--output", type=Path, help="write the transformed template (of the last AuthMode run) as JSON")
    args = ap.parse_args()

    try:
        from samtranslator.model.exceptions import InvalidDocumentException
    except ImportError:
        print("samtranslator is not importable: install infra/requirements.txt (aws-sam-translator)", file=sys.stderr)
        return 1

    os.environ.setdefault("AWS_DEFAULT_REGION", REGION)
    template = load_template(args.template)
    overrides = parse_overrides(args.parameter)
    declared = template.get("Parameters", {})
    unknown = sorted(set(overrides) - set(declared))
    if unknown:
        print(f"unknown parameter(s): {', '.join(unknown)}", file=sys.stderr)
        return 1
    for key, value in overrides.items():
        allowed = [str(v) for v in declared[key].get("AllowedValues", [])]
        if allowed and value not in allowed:
            print(f"{key}={value} is not one of its AllowedValues {allowed}", file=sys.stderr)
            return 1

    if "AuthMode" in overrides:
        modes = [overrides["AuthMode"]]
    else:
        modes = [str(v) for v in declared.get("AuthMode", {}).get("AllowedValues", [])] or [None]

    failed = False
    result: dict[str, Any] = {}
    for mode in modes:
        params = {k: v for k, v in REQUIRED_PARAMETERS.items() if k in declared}
        if mode == "gateway":
            params.update(GATEWAY_PARAMETERS)
        if mode is not None:
            params["AuthMode"] = mode
        params.update(overrides)
        label = f"AuthMode={mode}" if mode is not None else "template"
        try:
            result = transform(template, params)
        except InvalidDocumentException as e:
            failed = True
            print(f"{label}: SAM transform failed:", file=sys.stderr)
            for cause in e.causes:
                print(f"  {cause.message}", file=sys.stderr)
            continue
        resources = result.get("Resources", {})
        line = f"{label}: SAM transform OK, {len(resources)} resources"
        if mode is not None:
            gateway = params["AuthMode"] == "gateway"
            problems = check_routes(result, condition_values(template, params), gateway)
            if problems:
                failed = True
                print(f"{label}: SAM transform OK, but the HTTP API is not what AuthMode promises:", file=sys.stderr)
                for problem in problems:
                    print(f"  {problem}", file=sys.stderr)
                continue
            guard = "each behind API Gateway's JWT authorizer" if gateway else "no API Gateway authorizer"
            line += f"; {count_routes(result)} routes, {guard}"
        print(line)

    if args.output and result:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(json.dumps(result, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
