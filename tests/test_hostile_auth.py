"""Malformed credentials against a real `gateway serve` with JWT auth: always 401
`invalid_token` over HTTP and 4401 over the WebSocket, one log line per request, no traceback.

The tokens are hand-made (header and claims as raw JSON text, signed or not), as an attacker
without the secret, or with a signing key but odd claims, would make them.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.support import DEMO_WS, ServerProcess, running_server
from tests.ws_support import wait_until, ws_client, ws_url

SECRET = "k" * 40 + "-test-only-secret-for-hs-3f9a"
QUERY = "query Who($id: ID!) { workspace(id: $id) { id } }"
CHALLENGE = 'Bearer realm="kora-gateway", error="invalid_token"'


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def signed(header: str, claims: str, key: str = SECRET) -> str:
    """A JWT of exactly this header and claims text, signed with HS256 under ``key``."""
    head = f"{b64(header.encode())}.{b64(claims.encode())}"
    return f"{head}.{b64(hmac.new(key.encode(), head.encode(), hashlib.sha256).digest())}"


def unsigned(header: str, claims: str) -> str:
    return f"{b64(header.encode())}.{b64(claims.encode())}.{b64(b'not-a-signature')}"


LATER = int(time.time()) + 3600
CLAIMS = json.dumps({"sub": "user_1", "org_id": DEMO_WS, "exp": LATER})
HS = '{"alg":"HS256","typ":"JWT"}'
BAD_TOKENS = {
    # Without the secret: the header alone used to crash PyJWT's callers.
    "crit extension": unsigned('{"alg":"HS256","crit":["exp"]}', CLAIMS),
    "crit not a list": unsigned('{"alg":"HS256","crit":"exp"}', CLAIMS),
    "crit empty": unsigned('{"alg":"HS256","crit":[]}', CLAIMS),
    "kid a number": unsigned('{"alg":"HS256","kid":5}', CLAIMS),
    "kid a list": unsigned('{"alg":"HS256","kid":["a"]}', CLAIMS),
    "kid an object": unsigned('{"alg":"HS256","kid":{}}', CLAIMS),
    "b64 false": unsigned('{"alg":"HS256","b64":false,"crit":["b64"]}', CLAIMS),
    "alg a list": unsigned('{"alg":["HS256"]}', CLAIMS),
    "alg an object": unsigned('{"alg":{"x":1}}', CLAIMS),
    "no alg": unsigned('{"typ":"JWT"}', CLAIMS),
    "alg none": unsigned('{"alg":"none"}', CLAIMS),
    "header a list": unsigned("[1]", CLAIMS),
    "header a number": unsigned("5", CLAIMS),
    "header not json": f"{b64(b'{nope')}.{b64(CLAIMS.encode())}.x",
    "not base64": "%%%.%%%.%%%",
    "four parts": signed(HS, CLAIMS) + ".x",
    "two parts": f"{b64(HS.encode())}.{b64(CLAIMS.encode())}",
    "dots": "..",
    "unicode": "ëÿ.ä.ö",
    "huge": "a" * 6000,
    # With the signing key: claims of the wrong type.
    "exp a numeric string": signed(HS, json.dumps({"org_id": DEMO_WS, "exp": str(LATER)})),
    "exp a word": signed(HS, json.dumps({"org_id": DEMO_WS, "exp": "later"})),
    "exp infinite": signed(HS, '{"exp":Infinity}'),
    "exp nan": signed(HS, '{"exp":NaN}'),
    "exp overflows": signed(HS, '{"exp":1e400}'),
    "exp true": signed(HS, '{"exp":true}'),
    "exp null": signed(HS, '{"exp":null}'),
    "nbf a string": signed(HS, json.dumps({"exp": LATER, "nbf": "0"})),
    "iat a string": signed(HS, json.dumps({"exp": LATER, "iat": "yesterday"})),
    "iat a list": signed(HS, json.dumps({"exp": LATER, "iat": [1]})),
    "claims a list": signed(HS, "[1]"),
    "claims a string": signed(HS, '"x"'),
    "claims not json": signed(HS, "{"),
}


@pytest.fixture(scope="module")
def jwt_server(
    reader_dsn: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    with running_server(
        {
            "DATABASE_URL": reader_dsn,
            "GATEWAY_AUTH_MODE": "jwt",
            "GATEWAY_JWT_SECRET": SECRET,
            "GATEWAY_LOG_FORMAT": "text",
        },
        tmp_path_factory.mktemp("jwt"),
    ) as server:
        yield server


def request_id(case: str) -> str:
    """12 characters (the text log shows that many), unique per case."""
    return hashlib.sha256(case.encode()).hexdigest()[:12]


async def test_every_malformed_token_is_401_invalid_token(jwt_server: ServerProcess) -> None:
    async with httpx.AsyncClient(base_url=jwt_server.url, timeout=10) as http:
        for case, token in BAD_TOKENS.items():
            answer = await http.post(
                "/graphql",
                json={"query": QUERY, "variables": {"id": DEMO_WS}},
                headers={
                    "authorization": f"Bearer {token}".encode(),  # bytes: UTF-8 as sent
                    "x-request-id": request_id(case),
                },
            )
            assert answer.status_code == 401, (case, answer.text)
            assert answer.headers["www-authenticate"] == CHALLENGE, case
            assert answer.headers["content-type"].startswith("application/json"), case
            assert answer.headers["x-request-id"] == request_id(case)
            body = answer.json()
            assert "data" not in body, case
            assert [e["extensions"]["code"] for e in body["errors"]] == ["UNAUTHENTICATED"]
        good = signed(HS, CLAIMS)
        ok = await http.post(
            "/graphql",
            json={"query": QUERY, "variables": {"id": DEMO_WS}},
            headers={"authorization": f"Bearer {good}"},
        )
        assert ok.status_code == 200 and ok.json() == {"data": {"workspace": {"id": DEMO_WS}}}
    log = jwt_server.log_text()
    assert "Traceback" not in log and "Exception in ASGI" not in log
    for case in BAD_TOKENS:
        lines = [line for line in log.splitlines() if request_id(case) in line]
        assert len(lines) == 1, (case, lines)
        assert lines[0].startswith("info    gateway.request: 401 rejected")
        assert "[UNAUTHENTICATED]" in lines[0]


async def test_malformed_headers_of_credentials_are_401(jwt_server: ServerProcess) -> None:
    async with httpx.AsyncClient(base_url=jwt_server.url, timeout=10) as http:
        for header in ("Basic eDp5", "Bearer", "bearer", "Token abc", "Bearer a b"):
            answer = await http.post(
                "/graphql", json={"query": "{ __typename }"}, headers={"authorization": header}
            )
            assert answer.status_code == 401, header
            assert answer.headers["www-authenticate"] == CHALLENGE, header


@pytest.mark.parametrize(
    "case", ["crit extension", "kid a number", "exp a numeric string", "exp infinite", "huge"]
)
async def test_malformed_tokens_close_the_socket_4401(jwt_server: ServerProcess, case: str) -> None:
    async with ws_client(ws_url(jwt_server)) as ws:
        await ws.send({"type": "connection_init", "payload": {"token": BAD_TOKENS[case]}})
        code, reason = await ws.closed_with()
    assert code == 4401 and reason.startswith("Unauthorized: "), (case, code, reason)
    headers = {"Authorization": f"Bearer {BAD_TOKENS[case]}"}
    async with ws_client(ws_url(jwt_server), additional_headers=headers) as ws:
        await ws.send({"type": "connection_init"})
        assert (await ws.closed_with())[0] == 4401
    assert "Traceback" not in jwt_server.log_text()


async def test_a_forged_subject_cannot_write_a_log_line(jwt_server: ServerProcess) -> None:
    forged = "user\ninfo    gateway.request: 200 ok query Forged\x1b[2J\x9b31m"
    token = signed(HS, json.dumps({"sub": forged, "org_id": DEMO_WS, "exp": LATER}))
    async with ws_client(ws_url(jwt_server)) as ws:
        assert (await ws.init({"token": token}))["type"] == "connection_ack"
    assert await wait_until(lambda: "Forged" in jwt_server.log_text())
    raw = jwt_server.log_path.read_bytes()
    assert b"\x1b" not in raw and b"\xc2\x9b" not in raw
    lines = raw.decode().splitlines()
    assert not any(
        line.startswith("info    gateway.request: 200 ok query Forged") for line in lines
    )
    [closed] = [line for line in lines if "Forged" in line]
    assert closed.startswith("info    gateway.live: websocket closed ")
    assert '"user\\ninfo    gateway.request: 200 ok query Forged\\u001b[2J\\u009b31m"' in closed
