"""CORS: an explicit origin allowlist, none by default."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gateway.settings import Settings
from gateway.transport.origins import allowed_origin
from tests.conftest import running_app
from tests.support import GqlClient

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


BROWSER_TRACING = "traceparent,tracestate,apollographql-client-name,apollographql-client-version"


async def preflight(client: GqlClient, headers: str, origin: str = "https://app.example") -> Any:
    return await client.http.options(
        "/graphql",
        headers={
            "origin": origin,
            "access-control-request-method": "POST",
            "access-control-request-headers": headers,
        },
    )


async def test_tracing_and_apollo_headers_pass_the_preflight(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings(cors_origins=("https://app.example",))
    async with running_app(settings) as client:
        ok = await preflight(client, f"content-type,authorization,{BROWSER_TRACING}")
        assert ok.status_code == 200, ok.text
        allowed = ok.headers["access-control-allow-headers"].lower()
        for header in BROWSER_TRACING.split(","):
            assert header in allowed
        assert (await preflight(client, "x-custom")).status_code == 400


async def test_allowed_headers_are_a_setting(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings(cors_origins=("https://app.example",), cors_allow_headers="X-Custom")
    assert settings.cors_allow_headers == ("x-custom",)
    async with running_app(settings) as client:
        assert (await preflight(client, "x-custom")).status_code == 200
        assert (await preflight(client, "traceparent")).status_code == 400


async def test_the_demo_allows_local_dev_servers_only(
    make_settings: Callable[..., Settings],
) -> None:
    demo = make_settings(demo=True, allowed_hosts=("gateway.test",))
    async with running_app(demo) as client:
        for origin in (
            "http://localhost:5173",
            "http://127.0.0.1:3000",
            "http://localhost",
            "https://localhost:8443",
        ):
            ok = await preflight(client, "content-type", origin)
            assert ok.status_code == 200, origin
            assert ok.headers["access-control-allow-origin"] == origin
            assert allowed_origin(demo, origin)  # the WebSocket upgrade's check too
        for origin in ("http://localhost.evil.example", "http://10.0.0.1:3000", "http://app"):
            refused = await preflight(client, "content-type", origin)
            assert "access-control-allow-origin" not in refused.headers, origin
            assert not allowed_origin(demo, origin)
    # Outside the demo, local origins are like any other: not allowed unless listed.
    plain = make_settings()
    async with running_app(plain) as client:
        answer = await preflight(client, "content-type", "http://localhost:5173")
        assert "access-control-allow-origin" not in answer.headers
        assert not allowed_origin(plain, "http://localhost:5173")
