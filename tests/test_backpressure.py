"""Backpressure: a bounded wait for a connection, a bounded number of requests in flight, and
flat memory under a flood of a real server process."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from gateway.dev.embedded import EmbeddedPostgres
from tests.faults import eventually, gateway_server, locked, waiting_on_locks
from tests.load import flood, rss_kib
from tests.test_slow_database import POLICIES, gateway, settings_for


async def test_a_full_pool_answers_overloaded_after_a_bounded_wait(
    fault_pg: EmbeddedPostgres, fault_reader_dsn: str
) -> None:
    settings = settings_for(
        fault_reader_dsn, pool_max_size=2, pool_acquire_timeout=0.3, statement_timeout_ms=5000
    )
    async with gateway(settings) as (client, db):
        async with locked(fault_pg.admin_dsn, "kronicle.policy_registry"):
            holders = [asyncio.create_task(client.gql(POLICIES)) for _ in range(2)]
            await eventually(lambda: _waiting(fault_pg.admin_dsn, 2), within=5)
            assert db.pool_figures() == (2, 2, 2)
            started = time.monotonic()
            refused = await asyncio.gather(*(client.gql(POLICIES) for _ in range(6)))
            took = time.monotonic() - started
            assert not any(h.done() for h in holders)
        for answer in refused:
            assert answer.status == 503, answer.body
            assert answer.codes == ["OVERLOADED"]
            assert answer.headers["retry-after"] == "1"
            assert answer.errors[0]["extensions"]["retryAfterSeconds"] == 1
            assert answer.errors[0]["message"] == (
                "Every database connection is busy; retry shortly."
            )
        assert 0.3 <= took < 1.5
        # The lock is gone: the two requests that held the connections finish in full.
        for answer in await asyncio.gather(*holders):
            assert answer.status == 200 and not answer.errors


async def test_requests_beyond_the_inflight_limit_are_refused_at_once(
    fault_pg: EmbeddedPostgres, fault_reader_dsn: str
) -> None:
    settings = settings_for(fault_reader_dsn, max_inflight=3, pool_max_size=8)
    async with gateway(settings) as (client, _db):
        async with locked(fault_pg.admin_dsn, "kronicle.policy_registry"):
            admitted = [asyncio.create_task(client.gql(POLICIES)) for _ in range(3)]
            await eventually(lambda: _waiting(fault_pg.admin_dsn, 3), within=5)
            started = time.monotonic()
            refused = await asyncio.gather(*(client.gql(POLICIES) for _ in range(20)))
            took = time.monotonic() - started
            health = await client.http.get("/healthz")
        assert took < 0.5, f"refusals took {took:.2f} s"
        assert {a.status for a in refused} == {503}
        assert {tuple(a.codes) for a in refused} == {("OVERLOADED",)}
        assert "GATEWAY_MAX_INFLIGHT" in refused[0].errors[0]["message"]
        assert refused[0].headers["retry-after"] == "1"
        assert refused[0].errors[0]["extensions"] == {
            "code": "OVERLOADED",
            "retryable": True,
            "retryAfterSeconds": 1,
        }
        assert health.status_code == 200  # health checks are never refused
        for answer in await asyncio.gather(*admitted):
            assert answer.status == 200 and not answer.errors
        assert not (await client.gql(POLICIES)).errors  # the slots were given back


async def _waiting(admin_dsn: str, count: int) -> bool:
    return await waiting_on_locks(admin_dsn) == count


@pytest.mark.outer  # heavy: run by .ci/run after the suite
async def test_memory_stays_flat_under_a_flood(fault_reader_dsn: str, tmp_path: Path) -> None:
    server = gateway_server(
        fault_reader_dsn,
        tmp_path / "gateway.log",
        env={
            "GATEWAY_POOL_MAX_SIZE": "2",
            "GATEWAY_POOL_ACQUIRE_TIMEOUT": "0.2",
            "GATEWAY_MAX_INFLIGHT": "32",
            "GATEWAY_LOG_LEVEL": "warning",
        },
    )
    statuses: Counter[int] = Counter()
    rss = []
    try:
        for _round in range(3):  # the first round warms the process up
            await flood(
                "127.0.0.1",
                server.port,
                POLICIES,
                requests=750,
                concurrency=250,
                on_status=_tally(statuses),
            )
            rss.append(rss_kib(server.proc.pid))
        assert server.proc.poll() is None
    finally:
        assert server.stop() == 0
    assert statuses[0] == 0, f"connections failed: {statuses}"
    assert set(statuses) == {200, 503}, statuses  # served, or refused with OVERLOADED
    warm, *later = rss
    assert max(later) < warm * 1.10, f"RSS went from {warm} KiB to {later} KiB under a flood"


@pytest.mark.slow
async def test_the_inflight_ceiling_is_what_keeps_memory_flat(
    fault_reader_dsn: str, tmp_path: Path
) -> None:
    """The same flood (1,000 connections at once) with the default ceiling and without one."""
    peaks = {}
    for ceiling in ("256", "100000"):
        server = gateway_server(
            fault_reader_dsn,
            tmp_path / f"gateway-{ceiling}.log",
            env={"GATEWAY_MAX_INFLIGHT": ceiling, "GATEWAY_LOG_LEVEL": "warning"},
        )
        try:
            idle = rss_kib(server.proc.pid)
            statuses: Counter[int] = Counter()
            for _round in range(3):
                await flood(
                    "127.0.0.1",
                    server.port,
                    POLICIES,
                    requests=3000,
                    concurrency=1000,
                    on_status=_tally(statuses),
                )
            peaks[ceiling] = (idle, rss_kib(server.proc.pid), dict(statuses))
        finally:
            assert server.stop() == 0
    print(f"\nRSS KiB (idle, after 3 floods, statuses) by GATEWAY_MAX_INFLIGHT: {peaks}")
    assert peaks["256"][1] < peaks["100000"][1]


def _tally(counts: Counter[int]) -> Callable[[int], None]:
    return lambda status: counts.update((status,))
