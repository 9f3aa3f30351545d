"""JWT verified through a JWKS served by a real HTTP server on loopback (RS256 and ES256)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from gateway.settings import Settings
from tests.conftest import running_app
from tests.support import DEMO_WS, GqlClient

QUERY = '{ workspace(id: "%s") { id } }' % DEMO_WS


class Jwks:
    """A JWKS endpoint whose key set a test can change, counting fetches."""

    def __init__(self) -> None:
        self.keys: list[dict[str, Any]] = []
        self.fetches = 0
        jwks = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                jwks.fetches += 1
                body = json.dumps({"keys": jwks.keys}).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/.well-known/jwks.json"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def publish(self, kid: str, key: Any) -> None:
        public = key.public_key()
        algo = RSAAlgorithm if isinstance(key, rsa.RSAPrivateKey) else ECAlgorithm
        jwk = json.loads(algo.to_jwk(public))
        jwk.update({"kid": kid, "use": "sig"})
        self.keys.append(jwk)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def sign(key: Any, kid: str, alg: str, **claims: Any) -> str:
    now = int(time.time())
    body = {"sub": "u", "org_id": DEMO_WS, "exp": now + 300, **claims}
    return jwt.encode(body, key, algorithm=alg, headers={"kid": kid})


def hs256_with(secret: bytes) -> str:
    def part(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    header = part(json.dumps({"alg": "HS256", "typ": "JWT", "kid": "rsa-1"}).encode())
    claims = part(json.dumps({"org_id": DEMO_WS, "exp": int(time.time()) + 60}).encode())
    mac = hmac.new(secret, f"{header}.{claims}".encode(), hashlib.sha256).digest()
    return f"{header}.{claims}.{part(mac)}"


@pytest.fixture
def jwks() -> Iterator[Jwks]:
    server = Jwks()
    yield server
    server.close()


@pytest.fixture
async def jwks_client(
    jwks: Jwks, make_settings: Callable[..., Settings]
) -> AsyncIterator[GqlClient]:
    settings = make_settings(auth_mode="jwt", jwks_url=jwks.url, jwks_min_refresh_seconds=0)
    async with running_app(settings) as client:
        yield client


RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
EC_KEY = ec.generate_private_key(ec.SECP256R1())


async def test_rs256_and_es256_keys_from_the_jwks(jwks: Jwks, jwks_client: GqlClient) -> None:
    jwks.publish("rsa-1", RSA_KEY)
    jwks.publish("ec-1", EC_KEY)
    for tok in (sign(RSA_KEY, "rsa-1", "RS256"), sign(EC_KEY, "ec-1", "ES256")):
        answer = await jwks_client.gql(QUERY, token=tok)
        assert answer.status == 200 and answer.data == {"workspace": {"id": DEMO_WS}}
    fetched = jwks.fetches
    await jwks_client.gql(QUERY, token=sign(RSA_KEY, "rsa-1", "RS256"))
    assert jwks.fetches == fetched, "known keys come from the cache"


async def test_unknown_kid_refreshes_the_jwks(jwks: Jwks, jwks_client: GqlClient) -> None:
    jwks.publish("rsa-1", RSA_KEY)
    assert (await jwks_client.gql(QUERY, token=sign(RSA_KEY, "rsa-1", "RS256"))).status == 200
    rotated = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwks.publish("rsa-2", rotated)
    answer = await jwks_client.gql(QUERY, token=sign(rotated, "rsa-2", "RS256"))
    assert answer.status == 200 and answer.data == {"workspace": {"id": DEMO_WS}}


async def test_refusals(jwks: Jwks, jwks_client: GqlClient) -> None:
    jwks.publish("rsa-1", RSA_KEY)
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public_pem = RSA_KEY.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    cases = {
        "The token's signing key is unknown.": sign(RSA_KEY, "nope", "RS256"),
        "The token's signature is not valid.": sign(stranger, "rsa-1", "RS256"),
        # Algorithm confusion: HS256 "signed" with the public key must never pass.
        "The token's algorithm 'HS256' is not accepted.": hs256_with(public_pem),
    }
    for message, tok in cases.items():
        answer = await jwks_client.gql(QUERY, token=tok)
        assert answer.status == 401, message
        assert answer.errors[0]["message"] == message
        assert "data" not in answer.body
