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


BROWSER_TRACING = "traceparent,tracestate,apollographql-client-name,apollographql-client-version"


async def test_tracing_and_apollo_headers_pass_the_preflight(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings(cors_origins=("https://app.example",))
    async with running_app(settings) as client:
        ok = await client.http.options(
            "/graphql",
            headers={
                "origin": "https://app.example",
                "access-control-request-method": "POST",
                "access-control-request-headers": f"content-type,authorization,{BROWSER_TRACING}",
            },
        )
        assert ok.status_code == 200, ok.text
        allowed = ok.headers["access-control-allow-headers"].lower()
        for header in BROWSER_TRACING.split(","):
            assert header in allowed
        refused = await client.http.options(
            "/graphql",
            headers={
                "origin": "https://app.example",
                "access-control-request-method": "POST",
                "access-control-request-headers": "x-custom",
            },
        )
        assert refused.status_code == 400


async def test_allowed_headers_are_a_setting(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings(cors_origins=("https://app.example",), cors_allow_headers="X-Custom")
    assert settings.cors_allow_headers == ("x-custom",)
    async with running_app(settings) as client:
        ok = await client.http.options(
            "/graphql",
            headers={
                "origin": "https://app.example",
                "access-control-request-method": "POST",
                "access-control-request-headers": "x-custom",
            },
        )
        assert ok.status_code == 200
        traced = await client.http.options(
            "/graphql",
            headers={
                "origin": "https://app.example",
                "access-control-request-method": "POST",
                "access-control-request-headers": "traceparent",
            },
        )
        assert traced.status_code == 400


async def test_the_demo_allows_local_dev_servers_only(
    make_settings: Callable[..., Settings],
) -> None:
    async with running_app(make_settings(demo=True)) as client:
        for origin in (
            "http://localhost:5173",
            "http://127.0.0.1:3000",
            "http://localhost",
            "https://localhost:8443",
        ):
            ok = await client.http.options("/graphql", headers={"origin": origin, **PREFLIGHT})
            assert ok.status_code == 200, origin
            assert ok.headers["access-control-allow-origin"] == origin
        for origin in ("http://localhost.evil.example", "http://10.0.0.1:3000", "http://app"):
            refused = await client.http.options("/graphql", headers={"origin": origin, **PREFLIGHT})
            assert "access-control-allow-origin" not in refused.headers, origin
    # Outside the demo, local origins are like any other: not allowed unless listed.
    async with running_app(make_settings()) as client:
        answer = await client.http.options(
            "/graphql", headers={"origin": "http://localhost:5173", **PREFLIGHT}
        )
        assert "access-control-allow-origin" not in answer.headers
