"""PostgreSQL restarted under load, against a real `gateway serve` process on loopback: typed
503s while it is down, /readyz says so, nothing hangs, and the gateway recovers by itself."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx
import pytest

from gateway.dev.embedded import EmbeddedPostgres
from tests.faults import eventually, gateway_backends, gateway_server
from tests.load import Load, Outcome

pytestmark = pytest.mark.outer  # heavy: run by .ci/run after the suite

DEADLINE_S = 1.5
"""No request may take longer, even while the database is down (acquire timeout 0.5 s)."""
RECOVERY_S = 3.0
"""The gateway answers again this soon after PostgreSQL is back."""


async def test_database_restart_under_load(
    fault_pg: EmbeddedPostgres, fault_reader_dsn: str, tmp_path: Path
) -> None:
    server = gateway_server(
        fault_reader_dsn,
        tmp_path / "gateway.log",
        env={
            "GATEWAY_POOL_MAX_SIZE": "6",
            "GATEWAY_POOL_ACQUIRE_TIMEOUT": "0.5",
            "GATEWAY_CONNECT_TIMEOUT": "1",
            "GATEWAY_REQUEST_TIMEOUT": str(DEADLINE_S),
            "GATEWAY_LOG_LEVEL": "warning",
        },
    )
    ready_during: list[httpx.Response] = []
    try:
        async with (
            Load(server.url, concurrency=10) as load,
            httpx.AsyncClient(base_url=server.url, timeout=5) as probe,
        ):
            await asyncio.sleep(0.6)
            await asyncio.to_thread(fault_pg.stop)
            down_at = time.monotonic()
            await asyncio.sleep(0.2)
            ready_during.append(await probe.get("/readyz"))
            await asyncio.sleep(0.6)
            ready_during.append(await probe.get("/readyz"))
            up_from = time.monotonic()
            await asyncio.to_thread(fault_pg.start)
            up_at = time.monotonic()
            await eventually(lambda: _ready(probe), within=RECOVERY_S)
            await asyncio.sleep(0.8)
            ready_after = await probe.get("/readyz")
        outcomes = load.outcomes
        assert server.proc.poll() is None, "the gateway process died"
        backends = await gateway_backends(fault_pg.admin_dsn)
    finally:
        exit_code = server.stop()
    assert exit_code == 0

    # Nothing but answers: no transport error, no hang, no code but the one that is true.
    assert not [o for o in outcomes if o.transport_error], _summary(outcomes)
    slowest = max(o.seconds for o in outcomes)
    assert slowest < DEADLINE_S + 0.5, f"a request took {slowest:.2f} s"
    for o in outcomes:
        assert o.ok or (o.status == 503 and o.codes and set(o.codes) == {"DATABASE_UNAVAILABLE"}), o
        assert o.ok or o.retry_after == "2", o

    # While it was down: every request failed fast and typed, /readyz said 503.
    during = [o for o in load.between(down_at, up_from) if o.ended <= up_from]
    assert len(during) >= 10 and not any(o.ok for o in during), _summary(during)
    assert [r.status_code for r in ready_during] == [503, 503]
    assert ready_during[0].json() == {"status": "unavailable", "code": "DATABASE_UNAVAILABLE"}

    # Back: recovered within seconds by itself, and not one error after the first success.
    first_ok = min(o.ended for o in outcomes if o.ok and o.started >= up_from)
    assert first_ok - up_at < RECOVERY_S
    after = [o for o in outcomes if o.started >= first_ok]
    assert len(after) >= 20 and all(o.ok for o in after), _summary(after)
    assert ready_after.status_code == 200 and ready_after.json()["pool"]["size"] >= 1
    assert backends >= 1  # the pool refilled with fresh connections


async def _ready(probe: httpx.AsyncClient) -> bool:
    return (await probe.get("/readyz")).status_code == 200


def _summary(outcomes: list[Outcome]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for o in outcomes:
        key = "ok" if o.ok else f"{o.status} {','.join(o.codes)} {o.transport_error or ''}"
        counts[key] = counts.get(key, 0) + 1
    return counts
