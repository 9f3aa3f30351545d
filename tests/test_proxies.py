"""GATEWAY_TRUSTED_PROXIES: X-Forwarded-For, X-Forwarded-Proto and X-Request-ID are believed
from a trusted proxy only; from any other peer the log names the peer and a fresh request id."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from gateway.app import create_app
from gateway.settings import ConfigError, Settings
from gateway.transport.proxies import PEER, TRUSTED, ProxyHeaders, TrustedProxies

QUERY = {"query": "{ __typename }"}


async def _request_line(
    settings: Settings, caplog: pytest.LogCaptureFixture, *, peer: str, headers: dict[str, str]
) -> tuple[httpx.Response, logging.LogRecord]:
    """One request from ``peer`` through the whole app; its answer and its log record."""
    app = create_app(settings)
    caplog.set_level(logging.INFO, logger="gateway.request")
    caplog.clear()
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, client=(peer, 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as http:
            answer = await http.post("/graphql", json=QUERY, headers=headers)
    [record] = [r for r in caplog.records if r.name == "gateway.request"]
    return answer, record


async def test_a_trusted_proxy_names_the_client_and_the_request_id(
    make_settings: Callable[..., Settings], caplog: pytest.LogCaptureFixture
) -> None:
    answer, line = await _request_line(
        make_settings(),  # default: loopback is trusted (a proxy on the same host)
        caplog,
        peer="127.0.0.1",
        headers={"x-forwarded-for": "203.0.113.9", "x-request-id": "edge-7f3a"},
    )
    assert answer.status_code == 200
    assert answer.headers["x-request-id"] == "edge-7f3a"
    fields: Any = line.__dict__
    assert fields["client"] == "203.0.113.9" and fields["request_id"] == "edge-7f3a"


async def test_any_other_peer_cannot_name_a_client_or_a_request_id(
    make_settings: Callable[..., Settings], caplog: pytest.LogCaptureFixture
) -> None:
    answer, line = await _request_line(
        make_settings(),
        caplog,
        peer="198.51.100.7",
        headers={"x-forwarded-for": "203.0.113.9", "x-request-id": "spoofed-1"},
    )
    assert answer.status_code == 200
    fields: Any = line.__dict__
    assert fields["client"] == "198.51.100.7"
    assert fields["request_id"] != "spoofed-1" and len(fields["request_id"]) == 32
    assert answer.headers["x-request-id"] == fields["request_id"]


async def test_trusted_networks_are_skipped_to_the_first_untrusted_hop(
    make_settings: Callable[..., Settings], caplog: pytest.LogCaptureFixture
) -> None:
    # The client said it was 192.0.2.1 (a lie it may tell); the edge saw 203.0.113.9 and an
    # inner proxy 10.9.9.9 passed it on to the gateway's peer 10.1.2.3.
    _, line = await _request_line(
        make_settings(trusted_proxies="10.0.0.0/8"),
        caplog,
        peer="10.1.2.3",
        headers={"x-forwarded-for": "192.0.2.1, 203.0.113.9, 10.9.9.9"},
    )
    assert line.__dict__["client"] == "203.0.113.9"
    _, nobody = await _request_line(
        make_settings(trusted_proxies="none"),
        caplog,
        peer="127.0.0.1",
        headers={"x-forwarded-for": "203.0.113.9", "x-request-id": "edge-1"},
    )
    assert nobody.__dict__["client"] == "127.0.0.1" and nobody.__dict__["request_id"] != "edge-1"


async def test_the_scheme_comes_from_a_trusted_proxy_only() -> None:
    seen: list[dict[str, Any]] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append(dict(scope))

    middleware = ProxyHeaders(app, proxies=TrustedProxies(("127.0.0.1",)))
    for peer in ("127.0.0.1", "198.51.100.7"):
        for kind in ("http", "websocket"):
            scope = {
                "type": kind,
                "scheme": "http" if kind == "http" else "ws",
                "client": (peer, 1),
                "headers": [(b"x-forwarded-proto", b"https"), (b"x-forwarded-for", b"203.0.113.9")],
            }
            await middleware(scope, None, None)
    trusted_http, trusted_ws, other_http, other_ws = seen
    assert trusted_http["scheme"] == "https" and trusted_ws["scheme"] == "wss"
    assert trusted_http["client"] == ("203.0.113.9", 0) and trusted_http[PEER] == ("127.0.0.1", 1)
    assert trusted_http[TRUSTED] and not other_http[TRUSTED]
    assert other_http["scheme"] == "http" and other_ws["scheme"] == "ws"
    assert other_http["client"] == ("198.51.100.7", 1) and PEER not in other_http


def test_a_bad_entry_stops_start_up_naming_the_setting() -> None:
    env = {"GATEWAY_AUTH_MODE": "none"}
    with pytest.raises(ConfigError, match=r"GATEWAY_TRUSTED_PROXIES: 'proxy\.internal'"):
        Settings.from_env({**env, "GATEWAY_TRUSTED_PROXIES": "10.0.0.0/8,proxy.internal"})
    anyone = Settings.from_env({**env, "GATEWAY_TRUSTED_PROXIES": "*"})
    assert anyone.trusted_proxies == ("*",)
    assert TrustedProxies(("*",)).trusts("198.51.100.7")
    assert not TrustedProxies(("none",)).trusts("127.0.0.1")
