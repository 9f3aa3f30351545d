"""The edge (the shipped HAProxy configuration) protects the fleet: a 1 MB header is refused
without reaching a gateway, connections that send their headers or body slowly are closed after
the edge's request timeout while 16 other clients are served, and the gateways log the client
and the request id the edge passes on (and only the edge's).

The tests' clients connect from 127.0.0.2 (loopback too): the edge connects to the gateways
from 127.0.0.1, the only address they trust as a proxy.
"""

from __future__ import annotations

import asyncio
import re

import httpx
import pytest

from gateway.dev.cluster.gateways import Fleet
from tests.cluster.fleet_support import (
    EDGE_REQUEST_TIMEOUT_S,
    big_header_request,
    request_lines,
    slow_request,
)
from tests.faults import eventually
from tests.load import MIXED_QUERIES, Load

pytestmark = [pytest.mark.cluster, pytest.mark.fleet]

CLIENT = "127.0.0.2"
TYPENAME = {"query": "{ __typename }"}


def _logged(fleet: Fleet, request_id: str) -> list[dict[str, object]]:
    return [line for line in request_lines(fleet) if line.get("request_id") == request_id]


async def test_a_1_mb_header_is_refused_at_the_edge(steady: Fleet) -> None:
    answer = await big_header_request(steady.edge.port, 1024 * 1024, "big-header-1")
    assert answer.startswith(b"HTTP/1.1 400 "), answer[:200]
    # Headers that fit (8 KiB, under the edge's 15 KiB) go through.
    fits = await big_header_request(steady.edge.port, 8 * 1024, "fitting-header-1")
    assert fits.startswith(b"HTTP/1.1 200 "), fits[:200]
    await eventually(lambda: _logged(steady, "fitting-header-1"), within=5)
    assert not _logged(steady, "big-header-1"), "a gateway saw the refused request"


async def test_slow_headers_and_bodies_are_cut_at_the_edge_while_others_are_served(
    steady: Fleet,
) -> None:
    port = steady.edge.port
    slow_headers = [
        slow_request(
            port,
            b"POST /graphql HTTP/1.1\r\nhost: edge\r\nx-request-id: slow-header-%d\r\n" % n,
            b"x-more: y\r\n",
            every=0.2,
        )
        for n in range(5)
    ]
    slow_bodies = [
        slow_request(
            port,
            b"POST /graphql HTTP/1.1\r\nhost: edge\r\ncontent-type: application/json\r\n"
            b"x-request-id: slow-body-%d\r\ncontent-length: 200\r\n\r\n{" % n,
            b" ",
            every=0.2,
        )
        for n in range(5)
    ]
    async with Load(steady.edge.url, concurrency=16, queries=MIXED_QUERIES) as load:
        await eventually(lambda: len(load.outcomes) >= 20, within=10)
        cut = await asyncio.gather(*slow_headers, *slow_bodies)
        await asyncio.sleep(0.3)
    for seconds, answer in cut:
        # Closed after the edge's timeout (not at once, not much later), answered 408.
        assert EDGE_REQUEST_TIMEOUT_S - 0.1 <= seconds <= EDGE_REQUEST_TIMEOUT_S + 1.5, seconds
        assert answer.startswith(b"HTTP/1.1 408 "), answer[:120]
    failed = [o for o in load.outcomes if not o.ok]
    assert not failed and len(load.outcomes) > 50, failed[:3]
    slowest = max(o.seconds for o in load.outcomes)
    assert slowest < 2.0, slowest
    logged = {str(line.get("request_id")) for line in request_lines(steady)}
    assert not {i for i in logged if i.startswith("slow-")}, "a gateway saw a slow request"


async def test_the_gateways_log_the_client_and_the_request_id_the_edge_passes(
    steady: Fleet,
) -> None:
    transport = httpx.AsyncHTTPTransport(local_address=CLIENT)
    async with httpx.AsyncClient(transport=transport, timeout=10) as http:
        mine = await http.post(
            f"{steady.edge.url}/graphql", json=TYPENAME, headers={"x-request-id": "edge-mine-1"}
        )
        given = await http.post(f"{steady.edge.url}/graphql", json=TYPENAME)
        # Around the edge, straight to a gateway: its claims are not believed.
        direct = await http.post(
            f"{steady.gateways[0].url}/graphql",
            json=TYPENAME,
            headers={"x-request-id": "spoofed-1", "x-forwarded-for": "203.0.113.9"},
        )
    assert mine.status_code == given.status_code == direct.status_code == 200
    assert mine.headers["x-request-id"] == "edge-mine-1"
    edge_id = given.headers["x-request-id"]
    assert re.fullmatch(r"[0-9A-F]+(-[0-9A-F]+){4}", edge_id), edge_id  # the edge's unique-id
    own_id = direct.headers["x-request-id"]
    assert own_id != "spoofed-1"
    for request_id in ("edge-mine-1", edge_id, own_id):
        await eventually(lambda rid=request_id: _logged(steady, rid), within=5)  # type: ignore[misc]
    assert [line["client"] for line in _logged(steady, "edge-mine-1")] == [CLIENT]
    assert [line["client"] for line in _logged(steady, edge_id)] == [CLIENT]
    assert [line["client"] for line in _logged(steady, own_id)] == [CLIENT]
    assert not _logged(steady, "spoofed-1")
