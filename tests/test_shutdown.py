"""Graceful shutdown of a real `gateway serve`: SIGTERM during load stops accepting, finishes
what is in flight, closes the pool and exits 0. (That it also stops the embedded PostgreSQL it
started is tested with several workers, in test_workers.py.)"""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path

import httpx

from gateway.dev.embedded import EmbeddedPostgres
from tests.faults import eventually, gateway_backends, gateway_server, locked, waiting_on_locks
from tests.load import Load, send
from tests.support import DEMO_WS

POLICIES = '{ workspace(id: "%s") { policies { name } } }' % DEMO_WS
IN_FLIGHT_MARGIN_S = 0.05
QUICK = (
    '{ workspace(id: "%s") { constitution { revisionId } events(limit: 3) { eventType } } }'
    % DEMO_WS,
)


async def test_sigterm_during_load_fails_no_inflight_request(
    fault_pg: EmbeddedPostgres, fault_reader_dsn: str, tmp_path: Path
) -> None:
    server = gateway_server(
        fault_reader_dsn,
        tmp_path / "gateway.log",
        env={"GATEWAY_SHUTDOWN_GRACE": "10", "GATEWAY_STATEMENT_TIMEOUT_MS": "20000"},
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
