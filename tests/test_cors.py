"""CORS: an explicit origin allowlist, none by default."""

from __future__ import annotations

from collections.abc import Callable

from gateway.settings import Settings
from tests.conftest import running_app

PREFLIGHT = {
    "access-control-request-method": "POST",
    "access-control-request-headers": "authorization,content-type",
}


async def test_no_origin_is_allowed_by_default(make_settings: Callable[..., Settings]) -> None:
    async with running_app(make_settings()) as client:
        answer = await client.http.post(
            "/graphql", json={"query": "{ __typename }"}, headers={"origin": "https://app.example"}
        )
        assert answer.status_code == 200
        assert "access-control-allow-origin" not in answer.headers
        preflight = await client.http.options(
            "/graphql", headers={"origin": "https://app.example", **PREFLIGHT}
        )
        assert "access-control-allow-origin" not in preflight.headers


async def test_allowlisted_origin_only(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings(cors_origins=("https://app.example",))
    async with running_app(settings) as client:
        ok = await client.http.options(
            "/graphql", headers={"origin": "https://app.example", **PREFLIGHT}
        )
        assert ok.status_code == 200
        assert ok.headers["access-control-allow-origin"] == "https://app.example"
        assert "authorization" in ok.headers["access-control-allow-headers"].lower()
        other = await client.http.options(
            "/graphql", headers={"origin": "https://evil.example", **PREFLIGHT}
        )
        assert other.status_code == 400
        assert "access-control-allow-origin" not in other.headers
        simple = await client.http.post(
            "/graphql", json={"query": "{ __typename }"}, headers={"origin": "https://app.example"}
        )
        assert simple.headers["access-control-allow-origin"] == "https://app.example"
        assert "x-request-id" in simple.headers["access-control-expose-headers"].lower()
