"""Mint an HS256 bearer token for the API (standard library only).

    python3 infra/mint_token.py                       # user "dev-user", role user, valid 12 h
    python3 infra/mint_token.py --sub alice --role admin --ttl 600
    python3 infra/mint_token.py --secret "$JWT_SECRET"   # for a deployed stack

The default secret is the local one from infra/local.env.
"""

import argparse
import base64
import hashlib
import hmac
import json
import pathlib
import time


def local_secret() -> str:
    env = pathlib.Path(__file__).with_name("local.env").read_text()
    for line in env.splitlines():
        if line.startswith("JWT_SECRET="):
            return line.split("=", 1)[1].strip()
    raise SystemExit("JWT_SECRET missing from infra/local.env")


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def mint(secret: str, sub: str, role: str, expires_at: int) -> str:
    header = b64url(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    claims = {"sub": sub, "role": role, "iat": int(time.time()), "exp": expires_at}
    payload = b64url(json.dumps(claims, separators=(",", ":")).encode())
    signing_input = f"{header}.{payload}".encode()
    signature = hmac.new(secret.encode(), signing_input, hashlib.sha256).digest()
    return f"{header}.{payload}.{b64url(signature)}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sub", default="dev-user")
    parser.add_argument("--role", default="user", choices=["user", "moderator", "admin"])
    parser.add_argument("--ttl", type=int, default=12 * 3600, help="seconds until expiry")
    parser.add_argument("--expires-at", type=int, help="absolute expiry (epoch seconds); overrides --ttl")
    parser.add_argument("--secret", default=None, help="HS256 secret (default: the local one)")
    args = parser.parse_args()
    expires_at = args.expires_at or int(time.time()) + args.ttl
    print(mint(args.secret or local_secret(), args.sub, args.role, expires_at))


if __name__ == "__main__":
    main()
