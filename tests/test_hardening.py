"""Hardening: the Host allow-list (DNS rebinding), the WebSocket Origin's scheme, /metrics behind
a token, `X-Content-Type-Options: nosniff` on JSON answers, no `server` header, bounded request
ids; against a real `gateway demo` and `gateway serve` where the HTTP stack is involved."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
from websockets.exceptions import InvalidStatus

from gateway.settings import ConfigError, Settings
from gateway.transport.hosts import host_name
from tests.conftest import running_app
from tests.support import DEMO_WS, METRICS_TOKEN, SCRAPER, ServerProcess, asgi_call
from tests.ws_support import serve_in_process, ws_client, ws_url

QUERY = {"query": f'{{ workspace(id: "{DEMO_WS}") {{ id }} }}'}


async def test_the_demo_answers_loopback_names_only(demo_server: ServerProcess) -> None:
    port = demo_server.port
    async with httpx.AsyncClient(base_url=demo_server.url, timeout=10) as http:
        for host in (f"127.0.0.1:{port}", f"localhost:{port}", "localhost", f"[::1]:{port}"):
            answer = await http.post("/graphql", json=QUERY, headers={"host": host})
            assert answer.status_code == 200, (host, answer.text)
        for host in (f"rebind.attacker.example:{port}", "evil.example", "127.0.0.1.evil", ""):
            answer = await http.post("/graphql", json=QUERY, headers={"host": host})
            assert answer.status_code == 400, host
            assert answer.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
            assert answer.headers["x-content-type-options"] == "nosniff"
            assert "GATEWAY_ALLOWED_HOSTS" in answer.text and DEMO_WS not in answer.text
            page = await http.get("/graphql", headers={"host": host, "accept": "text/html"})
            assert page.status_code == 400
        # Probes come to an address, whatever the host name.
        for probe in ("/healthz", "/readyz"):
            assert (await http.get(probe, headers={"host": "10.1.2.3:8000"})).status_code == 200
    # The socket connects to the gateway, the URL (hence Host) names the attacker's domain.
    rebound = f"ws://rebind.attacker.example:{port}/graphql"
    with pytest.raises(InvalidStatus) as refused:
        async with ws_client(rebound, host="127.0.0.1", port=port):
            pass
    assert refused.value.response.status_code == 403
    async with ws_client(ws_url(demo_server)) as ws:
        assert (await ws.init())["type"] == "connection_ack"


async def test_allowed_hosts_is_configurable(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings(allowed_hosts="api.example.com,Gateway.Internal")
    async with running_app(settings) as client:
        for host, status in (
            ("api.example.com", 200),
            ("API.EXAMPLE.COM:443", 200),
            ("gateway.internal.", 200),
            ("gateway.test", 400),
            ("example.com", 400),
            ("api.example.com.evil", 400),
        ):
            answer = await client.http.post("/graphql", json=QUERY, headers={"host": host})
            assert answer.status_code == status, host
    assert make_settings().hosts is None  # `gateway serve`: any host unless listed
    assert make_settings(demo=True).hosts == {"localhost", "127.0.0.1", "::1"}
    assert make_settings(demo=True, allowed_hosts="*").hosts is None
    assert host_name(b"[::1]:8000") == "::1" and host_name(b"LocalHost.:80") == "localhost"


async def test_the_websocket_origin_must_match_the_scheme_too(
    make_settings: Callable[..., Settings],
) -> None:
    async with serve_in_process(make_settings()) as server:
        for origin in (
            f"https://127.0.0.1:{server.port}",  # passed before: same host, other scheme
            f"http://127.0.0.1:{server.port + 1}",
            "http://127.0.0.1",
            "null",
        ):
            with pytest.raises(InvalidStatus) as refused:
                async with ws_client(server.ws_url, origin=origin):  # type: ignore[arg-type]
                    pass
            assert refused.value.response.status_code == 403, origin
        own = f"http://127.0.0.1:{server.port}"
        async with ws_client(server.ws_url, origin=own) as ws:  # type: ignore[arg-type]
            assert (await ws.init())["type"] == "connection_ack"


async def test_metrics_need_the_token_outside_the_demo(
    live_server: ServerProcess, demo_server: ServerProcess, make_settings: Callable[..., Settings]
) -> None:
    # `gateway serve` without GATEWAY_METRICS_TOKEN: refused, the setting named.
    async with httpx.AsyncClient() as http:
        refused = await http.get(f"{live_server.url}/metrics")
        demo = await http.get(f"{demo_server.url}/metrics")
    assert refused.status_code == 401 and "GATEWAY_METRICS_TOKEN" in refused.text
    assert "gateway_requests_total" not in refused.text
    # The demo (no authentication anywhere): open.
    assert demo.status_code == 200 and "gateway_requests_total" in demo.text
    async with running_app(make_settings()) as client:  # the tests' token is set
        assert (await client.http.get("/metrics", headers=SCRAPER)).status_code == 200
        for wrong in ("", "Bearer ", f"Bearer {METRICS_TOKEN}x", f"Basic {METRICS_TOKEN}"):
            answer = await client.http.get("/metrics", headers={"authorization": wrong})
            assert answer.status_code == 401, wrong
            assert "gateway_" not in answer.text
    with pytest.raises(ConfigError, match="GATEWAY_METRICS_TOKEN"):
        make_settings(metrics_token="short")


async def test_json_answers_carry_nosniff_and_no_server_header(live_server: ServerProcess) -> None:
    json_ = {"content-type": "application/json"}
    async with httpx.AsyncClient(base_url=live_server.url, timeout=10) as http:
        answers = [
            await http.post("/graphql", json=QUERY),
            await http.get("/graphql", params=QUERY),
            await http.post("/graphql", json={"query": "{ nope }"}),
            await http.post("/graphql", content=b"{", headers=json_),
            await http.post("/graphql", content=b"x", headers={"content-type": "text/plain"}),
            await http.put("/graphql", json=QUERY),
            await http.post("/graphql", json=QUERY, headers={"accept": "image/png"}),
            await http.post("/graphql", content=b"{" + b" " * 600_000 + b"}", headers=json_),
            await http.get("/healthz"),
            await http.get("/readyz"),
        ]
        for answer in answers:
            assert answer.headers["content-type"].startswith("application/"), answer.request
            assert answer.headers["x-content-type-options"] == "nosniff", answer.request
        for answer in [*answers, await http.get("/nope"), await http.get("/metrics")]:
            assert "server" not in answer.headers, answer.request


async def test_request_ids_are_bounded(make_settings: Callable[..., Settings]) -> None:
    async with running_app(make_settings()) as client:
        app = client.http._transport.app  # type: ignore[attr-defined]
        for sent, kept in (
            (b"abc-123_x.y", True),
            (b"a" * 64, True),
            (b"a" * 65, False),
            (b"abc\n", False),  # `$` would have matched before the newline
            (b"abc def", False),
            (b"\xff\xfe", False),
            (b"", False),
        ):
            headers = ((b"content-type", b"application/json"), (b"x-request-id", sent))
            start = (await asgi_call(app, headers=headers))[0]
            rid = dict(start["headers"])[b"x-request-id"]
            assert (rid == sent) is kept, sent
            if not kept:
                assert len(rid) == 32 and rid.isalnum()
