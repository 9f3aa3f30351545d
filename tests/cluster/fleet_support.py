"""Helpers of the fleet tests: subscribers that reconnect through the edge, a steady writer,
raw connections that send slowly, and the gateways' request log lines."""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import orjson
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from gateway.dev.cluster.edge import Edge
from gateway.dev.cluster.gateways import Fleet
from tests.chain_support import OwnedWorkspace, emit
from tests.support import METRICS_TOKEN
from tests.ws_support import ws_client

DRAIN_S = 2.0
"""The fleet's GATEWAY_DRAIN_SECONDS: long enough for the edge's checks (inter 1 s, fall 2,
fastinter 250 ms) to take a draining process out."""
FLEET_ENV = {
    "GATEWAY_DRAIN_SECONDS": str(DRAIN_S),
    "GATEWAY_SHUTDOWN_GRACE": "5",
    "GATEWAY_METRICS_TOKEN": METRICS_TOKEN,
    "GATEWAY_LIVE_TICK_MS": "100",
}
EDGE_REQUEST_TIMEOUT_S = 1.0
"""KORA_EDGE_REQUEST_TIMEOUT of the tests' edge (5 s as shipped)."""

GONE = (ConnectionClosed, InvalidHandshake, InvalidStatus, OSError, TimeoutError)
"""What a subscriber sees when its gateway goes away or refuses the upgrade."""


@dataclass
class Follower:
    """One subscriber to a workspace's events through the edge: reconnects whenever its socket
    closes, with ``after`` = the last event it received."""

    url: str
    workspace: str
    after: str
    received: list[str] = field(default_factory=list)
    """Event ids, in the order they arrived."""
    closes: list[int | None] = field(default_factory=list)
    """The close code of each socket that ended under it (None: no close frame)."""
    local_port: int | None = None
    """The client port of the current socket (to find its gateway on the edge)."""
    subscribed: asyncio.Event = field(default_factory=asyncio.Event)

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self._follow(stop)
            except GONE as exc:
                code = exc.rcvd.code if isinstance(exc, ConnectionClosed) and exc.rcvd else None
                self.closes.append(code)
                self.subscribed.clear()
                await asyncio.sleep(0.1)

    async def _follow(self, stop: asyncio.Event) -> None:
        async with ws_client(self.url, open_timeout=5) as ws:
            self.local_port = ws.conn.local_address[1]
            ack = await ws.init()
            assert ack["type"] == "connection_ack", ack
            await ws.subscribe("feed", ws=self.workspace, after=self.after)
            self.subscribed.set()
            while not stop.is_set():
                try:
                    message = await ws.recv(within=0.5)
                except TimeoutError:
                    continue
                assert message["type"] == "next", message
                event = message["payload"]["data"]["workspaceEvents"]
                self.received.append(event["eventId"])
                self.after = event["cursor"]


class Writer:
    """Appends one event every ``interval`` seconds to ``own`` until stopped; ``emitted`` in
    chain order (one writer, one event at a time)."""

    def __init__(self, pool: asyncpg.Pool, own: OwnedWorkspace, interval: float = 0.1) -> None:
        self.pool = pool
        self.own = own
        self.interval = interval
        self.emitted: list[str] = []

    async def run(self, stop: asyncio.Event) -> None:
        n = 0
        while not stop.is_set():
            made = await emit(self.pool, self.own.tenant_id, "kora.test.fleet", {"n": n})
            self.emitted.append(made.event_id)
            n += 1
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.interval)


def server_of(edge: Edge, client_port: int) -> str | None:
    """The gateway the edge sends the connection from ``client_port`` to (``show sess``)."""
    sessions = edge._admin("show sess")
    for line in sessions.splitlines():
        if f"src=127.0.0.1:{client_port} " in line:
            found = re.search(r"\bsrv=(\S+)", line)
            return found.group(1) if found else None
    return None


def request_lines(fleet: Fleet) -> Iterator[dict[str, Any]]:
    """Every request log line of every gateway of ``fleet`` (JSON), with its gateway's name."""
    for gateway in fleet.gateways:
        if not gateway.log_path.exists():
            continue
        for raw in gateway.log_path.read_bytes().splitlines():
            if raw.startswith(b"{") and b'"logger":"gateway.request"' in raw:
                yield {**orjson.loads(raw), "gateway": gateway.name}


async def slow_request(
    port: int, first: bytes, drip: bytes, *, every: float
) -> tuple[float, bytes]:
    """Send ``first``, then ``drip`` every ``every`` seconds, until the other side closes; the
    seconds until it closed and what it answered."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    started = time.monotonic()

    async def dribble() -> None:
        with contextlib.suppress(OSError):
            writer.write(first)
            await writer.drain()
            while True:
                await asyncio.sleep(every)
                writer.write(drip)
                await writer.drain()

    sending = asyncio.create_task(dribble())
    try:
        answer = await asyncio.wait_for(reader.read(), timeout=30)
    except OSError:
        answer = b""
    finally:
        sending.cancel()
        writer.close()
    return time.monotonic() - started, answer


async def big_header_request(port: int, header_bytes: int, request_id: str) -> bytes:
    """A request with one header of ``header_bytes``, read while it is still being written (a
    server refusing it early may answer before the client has sent it all)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    body = b'{"query": "{ __typename }"}'
    request = (
        b"POST /graphql HTTP/1.1\r\nhost: edge\r\ncontent-type: application/json\r\n"
        b"x-request-id: %s\r\nx-padding: %s\r\ncontent-length: %d\r\n\r\n%s"
        % (request_id.encode(), b"a" * header_bytes, len(body), body)
    )

    async def send() -> None:
        with contextlib.suppress(OSError):
            writer.write(request)
            await writer.drain()

    sending = asyncio.create_task(send())
    try:
        return await asyncio.wait_for(reader.read(65536), timeout=10)
    except OSError:
        return b""
    finally:
        sending.cancel()
        writer.close()
