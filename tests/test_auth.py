"""Authentication: JWT with a shared secret, API keys, and the refusals, each answer exact."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import jwt
import pytest

from gateway.auth.api_keys import create_api_key, parse_api_key_lines
from gateway.settings import ConfigError, Settings
from tests.conftest import running_app
from tests.support import ATLAS_WS, DEMO_WS, REPO, GqlClient

SECRET = "k" * 40 + "-test-only-secret-for-hs-3f9a"  # 69 chars, not a placeholder
ISSUER = "https://id.example.test"
AUDIENCE = "kora-gateway"
QUERY = "query($id: ID!) { workspace(id: $id) { id } }"


def token(
    claims: dict[str, Any] | None = None,
    *,
    key: str = SECRET,
    alg: str = "HS256",
    headers: dict[str, Any] | None = None,
    drop: tuple[str, ...] = (),
) -> str:
    now = int(time.time())
    body: dict[str, Any] = {
        "sub": "user_1",
        "org_id": DEMO_WS,
        "iss": ISSUER,
        "aud": AUDIENCE,
        "iat": now,
        "nbf": now - 5,
        "exp": now + 300,
    }
    body.update(claims or {})
    for name in drop:
        body.pop(name)
    return jwt.encode(body, key, algorithm=alg, headers=headers)


def unsigned(claims: dict[str, Any]) -> str:
    def part(obj: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}."


@pytest.fixture
async def jwt_client(make_settings: Callable[..., Settings]) -> AsyncIterator[GqlClient]:
    settings = make_settings(
        auth_mode="jwt",
        jwt_secret=SECRET,
        jwt_issuer=ISSUER,
        jwt_audience=AUDIENCE,
        jwt_leeway_seconds=30,
    )
    async with running_app(settings) as client:
        yield client


async def test_valid_token_reads_its_workspace(jwt_client: GqlClient) -> None:
    answer = await jwt_client.gql(QUERY, {"id": DEMO_WS}, token=token())
    assert answer.status == 200 and answer.data == {"workspace": {"id": DEMO_WS}}


async def test_no_token_is_401_with_challenge(jwt_client: GqlClient) -> None:
    answer = await jwt_client.gql(QUERY, {"id": DEMO_WS})
    assert answer.status == 401
    assert answer.headers["www-authenticate"] == 'Bearer realm="kora-gateway"'
    assert "data" not in answer.body and answer.codes == ["UNAUTHENTICATED"]


NOW = int(time.time())
BAD_TOKENS = {
    "malformed": "not-a-jwt",
    "expired": token({"exp": NOW - 120}),
    "not yet valid": token({"nbf": NOW + 120}),
    "wrong issuer": token({"iss": "https://evil.example"}),
    "wrong audience": token({"aud": "someone-else"}),
    "alg none": unsigned({"org_id": DEMO_WS, "exp": NOW + 300, "iss": ISSUER, "aud": AUDIENCE}),
    "other key": token(key="another-secret-that-is-long-enough-to-sign-with"),
    "unconfigured alg": token(alg="HS384"),
    "no exp": token(drop=("exp",)),
}
EXPECTED_MESSAGES = {
    "malformed": "The token is not a JWT.",
    "expired": "The token has expired.",
    "not yet valid": "The token is not valid yet.",
    "wrong issuer": "The token's issuer is not accepted.",
    "wrong audience": "The token's audience is not accepted.",
    "alg none": "The token's algorithm 'none' is not accepted.",
    "other key": "The token's signature is not valid.",
    "unconfigured alg": "The token's algorithm 'HS384' is not accepted.",
    "no exp": "The token lacks the `exp` claim.",
}


@pytest.mark.parametrize("case", sorted(BAD_TOKENS))
async def test_bad_tokens_are_401_and_answer_no_data(jwt_client: GqlClient, case: str) -> None:
    answer = await jwt_client.gql(QUERY, {"id": DEMO_WS}, token=BAD_TOKENS[case])
    assert answer.status == 401
    assert (
        answer.headers["www-authenticate"] == 'Bearer realm="kora-gateway", error="invalid_token"'
    )
    assert "data" not in answer.body
    assert answer.errors[0]["message"] == EXPECTED_MESSAGES[case]
    assert answer.codes == ["UNAUTHENTICATED"]


async def test_leeway_accepts_small_clock_skew(jwt_client: GqlClient) -> None:
    skewed = token({"exp": int(time.time()) - 10, "nbf": int(time.time()) + 10})
    assert (await jwt_client.gql(QUERY, {"id": DEMO_WS}, token=skewed)).status == 200


async def test_not_a_bearer_header(jwt_client: GqlClient) -> None:
    answer = await jwt_client.gql(QUERY, {"id": DEMO_WS}, headers={"authorization": "Basic eDp5"})
    assert answer.status == 401 and answer.codes == ["UNAUTHENTICATED"]


async def test_workspace_claim_may_be_a_list_or_another_claim(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings(auth_mode="jwt", jwt_secret=SECRET, jwt_workspace_claim="orgs")
    async with running_app(settings) as client:
        both = token({"orgs": [DEMO_WS, ATLAS_WS]})
        answer = await client.gql(
            "query($ids: [ID!]!) { workspaces(ids: $ids) { id } }",
            {"ids": [DEMO_WS, ATLAS_WS]},
            token=both,
        )
        assert answer.data == {"workspaces": [{"id": DEMO_WS}, {"id": ATLAS_WS}]}
        # `org_id` is not the configured claim here: the token holds no workspace.
        only_org_id = await client.gql(QUERY, {"id": DEMO_WS}, token=token())
        assert only_org_id.codes == ["FORBIDDEN"]


async def test_api_keys(make_settings: Callable[..., Settings], tmp_path: Path) -> None:
    key, line = create_api_key([DEMO_WS], "agent one")
    other_key, other_line = create_api_key([ATLAS_WS])
    keys_file = tmp_path / "keys"
    keys_file.write_text(f"# agents\n{line}\n")
    settings = make_settings(auth_mode="api-key", api_keys_file=keys_file, api_keys=other_line)
    async with running_app(settings) as client:
        assert (await client.gql(QUERY, {"id": DEMO_WS}, token=key)).data == {
            "workspace": {"id": DEMO_WS}
        }
        assert (await client.gql(QUERY, {"id": ATLAS_WS}, token=other_key)).data == {
            "workspace": {"id": ATLAS_WS}
        }
        forbidden = await client.gql(QUERY, {"id": ATLAS_WS}, token=key)
        assert forbidden.codes == ["FORBIDDEN"] and forbidden.data == {"workspace": None}
        for bad in (key[:-1] + ("A" if key[-1] != "A" else "B"), "kgw_000000000000_nope", "x"):
            answer = await client.gql(QUERY, {"id": DEMO_WS}, token=bad)
            assert answer.status == 401 and "data" not in answer.body
            assert answer.errors[0]["message"] == "The API key is not valid."
    assert line not in keys_file.read_text().replace(line, "")  # the file holds no plain key
    assert key.split("_", 2)[2] not in line


def test_create_api_key_command_prints_a_usable_line() -> None:
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "gateway",
            "create-api-key",
            "--workspaces",
            f"{DEMO_WS},{ATLAS_WS}",
            "--name",
            "ci",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    records = parse_api_key_lines(run.stdout, source="stdout")
    [record] = records.values()
    assert record.workspaces == {DEMO_WS, ATLAS_WS} and record.name == "ci"
    assert "kgw_" in run.stderr and "kgw_" not in run.stdout


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({}, "GATEWAY_AUTH_MODE=jwt needs exactly one of GATEWAY_JWT_SECRET"),
        ({"jwt_secret": "changeme-changeme-changeme-changeme"}, "GATEWAY_JWT_SECRET looks like"),
        ({"jwt_secret": "short"}, "GATEWAY_JWT_SECRET looks like"),
        ({"jwt_secret": SECRET, "jwt_algorithms": ("RS256",)}, "GATEWAY_JWT_ALGORITHMS has RS256"),
        ({"auth_mode": "api-key"}, "GATEWAY_AUTH_MODE=api-key needs"),
    ],
)
def test_bad_auth_settings_stop_start_up(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Settings.from_env({}, database_url="postgresql://x/y", **overrides)


def test_serve_refuses_to_start_without_auth_settings(reader_dsn: str) -> None:
    env = {"PATH": "/usr/bin:/bin", "DATABASE_URL": reader_dsn}
    run = subprocess.run(
        [sys.executable, "-m", "gateway", "serve"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 2
    assert "GATEWAY_AUTH_MODE=jwt needs exactly one of" in run.stderr
