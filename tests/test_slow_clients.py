"""Slow and oversized clients against a real `gateway serve` (raw sockets): a body that trickles
in holds no in-flight slot and is cut at GATEWAY_BODY_TIMEOUT, headers that trickle in are cut
at GATEWAY_HEADER_TIMEOUT, and request headers over GATEWAY_MAX_HEADER_BYTES answer 431."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from tests.support import DEMO_WS, ServerProcess, running_server
from tests.ws_support import ws_client, ws_url

DEADLINE = 1.5
QUERY = b'{"query": "{ workspace(id: \\"%s\\") { id } }"}' % DEMO_WS.encode()


@pytest.fixture(scope="module")
def strict_server(
    reader_dsn: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    with running_server(
        {
            "DATABASE_URL": reader_dsn,
            "GATEWAY_AUTH_MODE": "none",
            "GATEWAY_MAX_INFLIGHT": "3",
            "GATEWAY_BODY_TIMEOUT": str(DEADLINE),
            "GATEWAY_HEADER_TIMEOUT": str(DEADLINE),
        },
        tmp_path_factory.mktemp("slow"),
    ) as server:
        yield server


@contextlib.asynccontextmanager
async def raw(
    server: ServerProcess,
) -> AsyncIterator[tuple[asyncio.StreamReader, asyncio.StreamWriter]]:
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    try:
        yield reader, writer
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


async def answer_then_eof(reader: asyncio.StreamReader, within: float) -> tuple[bytes, float]:
    """Everything the server sends until it ends the connection, and when it ended it."""
    started = time.monotonic()
    data = b""
    with contextlib.suppress(ConnectionResetError):
        while chunk := await asyncio.wait_for(reader.read(65536), timeout=within):
            data += chunk
    return data, time.monotonic() - started


def assert_typed_refusal(data: bytes) -> None:
    """A refusal of the HTTP protocol is a GraphQL error like any other: JSON, a code from the
    catalogue, not retryable as sent."""
    head, _, body = data.partition(b"\r\n\r\n")
    assert b"content-type: application/json" in head.lower(), head
    assert json.loads(body) == {
        "errors": [
            {
                "message": json.loads(body)["errors"][0]["message"],
                "extensions": {"code": "BAD_REQUEST", "retryable": False},
            }
        ]
    }


def post_head(length: int) -> bytes:
    return (
        b"POST /graphql HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n"
        b"content-length: %d\r\n\r\n" % length
    )


async def trickle_body(server: ServerProcess, every: float) -> tuple[bytes, float]:
    """A POST whose body comes one byte at a time (a slowloris client), until cut off."""
    async with raw(server) as (reader, writer):
        writer.write(post_head(len(QUERY)))
        await writer.drain()

        async def drip() -> None:
            with contextlib.suppress(OSError):
                for byte in QUERY:
                    writer.write(bytes([byte]))
                    await writer.drain()
                    await asyncio.sleep(every)

        dripping = asyncio.create_task(drip())
        try:
            return await answer_then_eof(reader, within=DEADLINE + 10)
        finally:
            dripping.cancel()


async def test_slow_bodies_hold_no_slot_and_are_cut_at_the_deadline(
    strict_server: ServerProcess,
) -> None:
    # Twice as many slow senders as slots (GATEWAY_MAX_INFLIGHT=3): everyone else is served.
    slow = [asyncio.create_task(trickle_body(strict_server, every=0.3)) for _ in range(6)]
    await asyncio.sleep(0.3)
    async with httpx.AsyncClient(base_url=strict_server.url, timeout=10) as http:
        statuses = []
        for _ in range(10):
            answer = await http.post(
                "/graphql", content=QUERY, headers={"content-type": "application/json"}
            )
            statuses.append(answer.status_code)
            assert answer.json() == {"data": {"workspace": {"id": DEMO_WS}}}
    assert statuses == [200] * 10  # none answered 503 OVERLOADED
    for data, closed_after in await asyncio.gather(*slow):
        assert data.startswith(b"HTTP/1.1 408 "), data
        assert_typed_refusal(data)
        assert b"connection: close" in data.lower()
        assert DEADLINE - 0.2 <= closed_after <= DEADLINE + 2, closed_after


async def test_a_later_request_on_a_kept_alive_connection_is_cut_too(
    strict_server: ServerProcess,
) -> None:
    async with raw(strict_server) as (reader, writer):
        writer.write(post_head(len(QUERY)) + QUERY)
        first = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=5)
        assert first.startswith(b"HTTP/1.1 200 ")
        length = int(first.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
        await reader.readexactly(length)
        started = time.monotonic()
        writer.write(b"POST /graphql HTTP/1.1\r\nhost: 127.0.0.1\r\n")  # and no more
        data, _ = await answer_then_eof(reader, within=DEADLINE + 10)
        after = time.monotonic() - started
    assert data.startswith(b"HTTP/1.1 408 "), data
    assert DEADLINE - 0.2 <= after <= DEADLINE + 2, after


async def test_a_body_in_quick_pieces_is_served(strict_server: ServerProcess) -> None:
    padding = b" " * 100_000
    body = QUERY[:-1] + padding + b"}"
    async with raw(strict_server) as (reader, writer):
        writer.write(post_head(len(body)))
        for start in range(0, len(body), 10_000):
            writer.write(body[start : start + 10_000])
            await writer.drain()
            await asyncio.sleep(0.05)
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=5)
    assert head.startswith(b"HTTP/1.1 200 "), head


async def test_trickling_and_idle_headers_are_cut_at_the_deadline(
    strict_server: ServerProcess,
) -> None:
    async def trickle_headers() -> tuple[bytes, float]:
        async with raw(strict_server) as (reader, writer):

            async def lines() -> None:
                with contextlib.suppress(OSError):
                    writer.write(b"POST /graphql HTTP/1.1\r\n")
                    for n in range(100):
                        await asyncio.sleep(0.3)
                        writer.write(b"x-slow-%d: 1\r\n" % n)
                        await writer.drain()

            task = asyncio.create_task(lines())
            try:
                return await answer_then_eof(reader, within=DEADLINE + 10)
            finally:
                task.cancel()

    async def idle() -> tuple[bytes, float]:
        async with raw(strict_server) as (reader, _writer):
            return await answer_then_eof(reader, within=DEADLINE + 10)

    (trickled, trickled_after), (_, silent_after) = await asyncio.gather(trickle_headers(), idle())
    assert trickled.startswith(b"HTTP/1.1 408 "), trickled
    assert DEADLINE - 0.2 <= trickled_after <= DEADLINE + 2
    assert DEADLINE - 0.2 <= silent_after <= DEADLINE + 2
    async with httpx.AsyncClient(base_url=strict_server.url) as http:
        assert (await http.get("/healthz")).status_code == 200


@pytest.mark.parametrize(
    "head",
    [
        # One huge header (1, 8 or 32 MB were answered 200 before; the first 64 KB refuse now).
        b"GET /healthz HTTP/1.1\r\nhost: x\r\nx-big: " + b"a" * (8 * 1024 * 1024) + b"\r\n\r\n",
        b"GET /healthz HTTP/1.1\r\nhost: x\r\nx-big: " + b"a" * 17_000 + b"\r\n\r\n",
        # Many small headers, a long request line.
        b"GET /healthz HTTP/1.1\r\n"
        + b"".join(b"x-h%d: %s\r\n" % (i, b"v" * 90) for i in range(200))
        + b"\r\n",
        b"GET /graphql?query=" + b"a" * 20_000 + b" HTTP/1.1\r\nhost: x\r\n\r\n",
        b"POST /graphql HTTP/1.1\r\nhost: x\r\nauthorization: Bearer "
        + b"t" * 20_000
        + b"\r\n\r\n",
    ],
    ids=["8 MB header", "17 KB header", "200 headers", "20 KB URL", "20 KB token"],
)
async def test_oversized_headers_answer_431(strict_server: ServerProcess, head: bytes) -> None:
    async with raw(strict_server) as (reader, writer):

        async def send() -> None:
            with contextlib.suppress(ConnectionError):
                writer.write(head)
                await writer.drain()

        sending = asyncio.create_task(send())
        data, _ = await answer_then_eof(reader, within=10)
        sending.cancel()
    assert data.startswith(b"HTTP/1.1 431 "), data[:200]
    assert_typed_refusal(data)
    async with httpx.AsyncClient(base_url=strict_server.url) as http:
        started = time.monotonic()
        assert (await http.get("/healthz")).status_code == 200
        assert time.monotonic() - started < 0.5


async def test_headers_just_under_the_limit_are_served(strict_server: ServerProcess) -> None:
    async with httpx.AsyncClient(base_url=strict_server.url) as http:
        answer = await http.get("/healthz", headers={"x-big": "a" * 15_000})
        assert answer.status_code == 200
        kept = await http.post(  # keep-alive: two requests, one connection
            "/graphql", content=QUERY, headers={"content-type": "application/json"}
        )
        assert kept.status_code == 200
        assert "server" not in answer.headers and "server" not in kept.headers


async def test_a_websocket_outlives_the_request_deadlines(strict_server: ServerProcess) -> None:
    async with ws_client(ws_url(strict_server)) as ws:
        await asyncio.sleep(0.5)
        assert (await ws.init())["type"] == "connection_ack"
        await asyncio.sleep(DEADLINE + 0.5)  # past both deadlines
        await ws.send({"type": "ping"})
        assert await ws.recv() == {"type": "pong"}
