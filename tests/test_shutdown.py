"""Graceful shutdown of a real `gateway serve`: SIGTERM during load drains first (the process
serves on, /readyz says `draining`, answers carry `Connection: close`; at the end WebSocket
subscribers get 1012 and HTTP streams end with the reason), then stops accepting, finishes what
is in flight, closes the pool and exits 0. Without a drain period it stops accepting at once.
(That it also stops the embedded PostgreSQL it started is tested with several workers, in
test_workers.py.)"""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.dev.embedded import EmbeddedPostgres
from tests.faults import eventually, gateway_backends, gateway_server, locked, waiting_on_locks
from tests.load import Load, send
from tests.stream_support import MULTIPART, StreamReader, open_stream
from tests.support import DEMO_WS, ServerProcess
from tests.ws_support import EVENTS_SUBSCRIPTION, ws_client, ws_url

pytestmark = pytest.mark.outer  # heavy: run by .ci/run after the suite

POLICIES = '{ workspace(id: "%s") { policies { name } } }' % DEMO_WS
IN_FLIGHT_MARGIN_S = 0.05
QUICK = (
    '{ workspace(id: "%s") { constitution { revisionId } events(limit: 3) { eventType } } }'
    % DEMO_WS,
)
NO_POLICIES = (
    *QUICK,
    '{ workspace(id: "%s") { ownScratchpad(limit: 5) { kind content } } }' % DEMO_WS,
    '{ workspace(id: "%s") { displayName events(limit: 10) { payloadText } } }' % DEMO_WS,
)
"""Reads that do not wait on the locked policies table."""
DRAIN_S = 2.0


async def test_sigterm_during_load_fails_no_inflight_request(
    fault_pg: EmbeddedPostgres, fault_reader_dsn: str, tmp_path: Path
) -> None:
    server = gateway_server(
        fault_reader_dsn,
        tmp_path / "gateway.log",
        env={
            "GATEWAY_DRAIN_SECONDS": "0",
            "GATEWAY_SHUTDOWN_GRACE": "10",
            "GATEWAY_STATEMENT_TIMEOUT_MS": "20000",
        },
    )
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=20) as slow_client:
            async with locked(fault_pg.admin_dsn, "kronicle.policy_registry"):
                # Four requests certainly in flight: each holds a connection, waits on the lock.
                slow = [asyncio.create_task(send(slow_client, POLICIES)) for _ in range(4)]
                await eventually(lambda: _waiting(fault_pg.admin_dsn, 4), within=10)
                async with Load(server.url, concurrency=6, queries=QUICK) as load:
                    # Enough requests under way first, however slow the machine is today.
                    await eventually(lambda: _count(load, 10), within=10)
                    await asyncio.sleep(2 * IN_FLIGHT_MARGIN_S)
                    sigterm_at = time.monotonic()
                    server.proc.send_signal(signal.SIGTERM)
                    await asyncio.sleep(0.5)
                    refused = await _connect_refused(server.url)
                assert server.proc.poll() is None, "exited before its in-flight requests finished"
            # The lock is released: the slow requests finish, then the process exits.
            slow_outcomes = await asyncio.gather(*slow)
        exit_code = await asyncio.to_thread(server.proc.wait, 15)
    finally:
        server.stop()
    assert exit_code == 0
    assert refused, "still accepting connections after SIGTERM"
    assert all(o.ok for o in slow_outcomes), slow_outcomes
    # In flight: sent well before SIGTERM. A request sent in the last moments may still be on
    # its way when the server closes an idle keep-alive connection (HTTP/1.1 allows it; clients
    # retry): that race is uvicorn's and the client's, and the assertion below covers it.
    inflight = [o for o in load.outcomes if o.started < sigterm_at - IN_FLIGHT_MARGIN_S]
    assert len(inflight) >= 10
    failed = [o for o in inflight if not o.ok]
    assert not failed, (sigterm_at, failed)
    # Requests sent after SIGTERM were served, or found the door closed (refused, or a keep-alive
    # connection closed under them): never an error answer.
    for o in load.outcomes:
        assert o.ok or (o.status is None and o.transport_error), o
    log = server.log_text()
    assert "Application shutdown complete" in log
    assert await gateway_backends(fault_pg.admin_dsn) == 0  # the pool was closed


async def _count(load: Load, least: int) -> bool:
    return len(load.outcomes) >= least


async def _waiting(admin_dsn: str, count: int) -> bool:
    return await waiting_on_locks(admin_dsn) >= count


async def _connect_refused(url: str) -> bool:
    try:
        async with httpx.AsyncClient(base_url=url, timeout=2) as fresh:
            await fresh.get("/healthz")
    except httpx.ConnectError:
        return True
    return False


async def test_sigterm_drains_then_no_request_sent_before_the_drain_ended_fails(
    fault_pg: EmbeddedPostgres, fault_reader_dsn: str, tmp_path: Path
) -> None:
    """16 clients that never retry, on keep-alive connections, through SIGTERM: the process
    serves on for GATEWAY_DRAIN_SECONDS, moving every client off its connection, then stops
    accepting with a request still in flight, which it finishes. Nothing sent before the drain
    ended fails."""
    server = gateway_server(
        fault_reader_dsn,
        tmp_path / "gateway.log",
        env={
            "GATEWAY_DRAIN_SECONDS": str(DRAIN_S),
            "GATEWAY_SHUTDOWN_GRACE": "10",
            "GATEWAY_STATEMENT_TIMEOUT_MS": "20000",
        },
    )
    try:
        feed = {"ws": DEMO_WS}
        async with (
            httpx.AsyncClient(base_url=server.url, timeout=20) as slow_client,
            ws_client(ws_url(server)) as subscriber,
            open_stream(server.url, EVENTS_SUBSCRIPTION, feed) as sse,
            open_stream(server.url, EVENTS_SUBSCRIPTION, feed, accept=MULTIPART) as parts,
        ):
            assert (await subscriber.init())["type"] == "connection_ack"
            await subscriber.subscribe("feed", ws=DEMO_WS)
            assert sse.response.status_code == parts.response.status_code == 200
            async with Load(server.url, concurrency=16, queries=NO_POLICIES) as load:
                await eventually(lambda: _count(load, 50), within=15)
                async with locked(fault_pg.admin_dsn, "kronicle.policy_registry"):
                    # In flight across the end of the drain: waits on the lock until released.
                    slow = asyncio.create_task(send(slow_client, POLICIES))
                    await eventually(lambda: _waiting(fault_pg.admin_dsn, 1), within=10)
                    sigterm_at = time.monotonic()
                    server.proc.send_signal(signal.SIGTERM)
                    await asyncio.sleep(0.05)  # the signal reaches the process
                    probes = await _probe_until(server, sigterm_at + DRAIN_S - 0.4)
                    close = await subscriber.closed_with(within=DRAIN_S + 5)
                    drain_ended = time.monotonic()
                    sse_end = await _sse_last_words(sse)
                    parts_end = await _multipart_last_words(parts)
                    await asyncio.sleep(0.5)
                    refused = await _connect_refused(server.url)
                    await load.stop()
                    assert server.proc.poll() is None, "exited with a request in flight"
                slow_outcome = await slow
        exit_code = await asyncio.to_thread(server.proc.wait, 15)
    finally:
        server.stop()
    assert exit_code == 0, server.log_text()[-2000:]
    # The drain: still accepting and serving, not ready, every answer closing its connection.
    assert len(probes) >= 2
    for ready, answer in probes:
        assert ready.status_code == 503 and ready.json() == {"status": "draining"}
        assert ready.headers["connection"] == "close"
        assert answer.status_code == 200 and "errors" not in answer.json(), answer.text
        assert answer.headers["connection"] == "close"
    # Then subscribers are told to reconnect, and the door closes.
    assert close[0] == 1012 and "reconnect" in close[1], close
    # HTTP streams end with the reason, as a typed error, then their closing.
    for error in (sse_end, parts_end):
        assert error["extensions"]["code"] == "OVERLOADED", error
        assert "subscribe again with `after`" in error["message"]
    assert drain_ended - sigterm_at >= DRAIN_S - 0.2
    assert refused, "still accepting connections after the drain"
    assert slow_outcome.ok, slow_outcome
    before = [o for o in load.outcomes if o.started < min(sigterm_at + DRAIN_S, drain_ended)]
    during = [o for o in before if o.started >= sigterm_at]
    assert len(during) >= 20, len(during)
    failed = [o for o in before if not o.ok]
    assert not failed, (sigterm_at, failed)
    # Sent after the drain: served, or found the door closed; never an error answer.
    for o in load.outcomes:
        assert o.ok or (o.status is None and o.transport_error), o
    log = server.log_text()
    assert "SIGTERM: draining" in log and "Application shutdown complete" in log
    assert await gateway_backends(fault_pg.admin_dsn) == 0


async def _sse_last_words(stream: StreamReader) -> dict[str, Any]:
    while (message := await stream.sse(within=5))[0] == "ping":
        pass
    event, data = message
    assert event == "next" and data["errors"], message
    assert await stream.sse() == ("complete", None)
    error: dict[str, Any] = data["errors"][0]
    return error


async def _multipart_last_words(stream: StreamReader) -> dict[str, Any]:
    while (part := await stream.part(within=5)) == {}:
        pass  # heartbeats
    assert part.get("errors"), part
    assert await stream.part() == "end"
    error: dict[str, Any] = part["errors"][0]
    return error


async def _probe_until(
    server: ServerProcess, deadline: float
) -> list[tuple[httpx.Response, httpx.Response]]:
    """/readyz and a query, each on a fresh connection, every 0.1 s until ``deadline``."""
    probes = []
    while time.monotonic() < deadline:
        async with httpx.AsyncClient(base_url=server.url, timeout=5) as fresh:
            ready = await fresh.get("/readyz")
        async with httpx.AsyncClient(base_url=server.url, timeout=5) as fresh:
            answer = await fresh.post("/graphql", json={"query": QUICK[0]})
        probes.append((ready, answer))
        await asyncio.sleep(0.1)
    return probes


async def test_a_connection_accepted_before_the_stop_gets_its_first_request_answered(
    fault_reader_dsn: str, tmp_path: Path
) -> None:
    """A connection the server accepted before it stopped accepting, whose request was still on
    its way: answered (with Connection: close), not cut; one that never sends is closed after a
    second. (uvicorn alone would close both at once.)"""
    server = gateway_server(
        fault_reader_dsn, tmp_path / "gateway.log", env={"GATEWAY_DRAIN_SECONDS": "0"}
    )
    try:
        late_reader, late = await asyncio.open_connection("127.0.0.1", server.port)
        silent_reader, silent = await asyncio.open_connection("127.0.0.1", server.port)
        await asyncio.sleep(0.3)  # accepted by the server's loop
        server.proc.send_signal(signal.SIGTERM)
        await eventually(lambda: _connect_refused(server.url), within=5)
        body = b'{"query": "{ __typename }"}'
        late.write(
            b"POST /graphql HTTP/1.1\r\nhost: gateway\r\ncontent-type: application/json\r\n"
            b"content-length: %d\r\n\r\n%s" % (len(body), body)
        )
        answer = await asyncio.wait_for(late_reader.read(), timeout=5)  # to the server's close
        silent_closed = await asyncio.wait_for(silent_reader.read(), timeout=5)
        exit_code = await asyncio.to_thread(server.proc.wait, 10)
        late.close()
        silent.close()
    finally:
        server.stop()
    head, _, payload = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), answer
    assert b"connection: close" in head.lower()
    assert payload == b'{"data":{"__typename":"Query"}}'
    assert silent_closed == b""
    assert exit_code == 0
