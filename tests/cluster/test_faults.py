"""Faults under load: a real `gateway serve` reading from the cluster (two replicas through
PgBouncer, transaction mode), 16 clients, and real processes stopped, restarted or paused."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest

from gateway.dev.cluster import Cluster
from tests.chain_support import WorkspaceMaker, emit
from tests.cluster.conftest import MCP_TOKEN
from tests.cluster.support import by_pool, checkouts, pool_samples, untyped
from tests.faults import eventually
from tests.load import Load, Outcome
from tests.support import METRICS_TOKEN, ServerProcess
from tests.writes.support import McpServerProcess
from tests.ws_support import ws_client, ws_url

pytestmark = pytest.mark.cluster

CLIENTS = 16
SLOWEST_S = 5.0


@pytest.fixture
def serve(cluster: Cluster, tmp_path: Path) -> Iterator[Callable[..., ServerProcess]]:
    """Start a gateway process on the cluster's settings (plus ``env``); stopped after."""
    started: list[ServerProcess] = []

    def start(**env: str) -> ServerProcess:
        settings = {
            **cluster.gateway_env(),
            "GATEWAY_AUTH_MODE": "none",
            "GATEWAY_LOG_FORMAT": "json",
            "GATEWAY_METRICS_TOKEN": METRICS_TOKEN,
            **env,
        }
        server = ServerProcess(settings, log_path=tmp_path / f"gateway-{len(started)}.log")
        started.append(server)
        server.wait_ready()
        return server

    yield start
    for server in started:
        server.stop()


@contextlib.asynccontextmanager
async def loaded(server: ServerProcess) -> AsyncIterator[tuple[Load, httpx.AsyncClient]]:
    async with (
        httpx.AsyncClient(base_url=server.url, timeout=10) as http,
        Load(server.url, concurrency=CLIENTS) as load,
    ):
        await asyncio.sleep(1.0)
        yield load, http


def host(cluster: Cluster, node: str) -> str:
    return f"127.0.0.1:{cluster.bouncer(node).port}"


async def served(http: httpx.AsyncClient, pool: str) -> float:
    """Connections lent so far by the gateway's pool of ``pool`` (host:port)."""
    return next(v for (_role, h), v in checkouts(await pool_samples(http)).items() if h == pool)


async def serving(http: httpx.AsyncClient, pool: str) -> bool:
    found = by_pool(await pool_samples(http), "gateway_db_pool_serving")
    return next(v for (_role, h), v in found.items() if h == pool) == 1


def check_outcomes(outcomes: list[Outcome], *, most_failed: int) -> None:
    assert len(outcomes) > 100
    assert not untyped(outcomes), untyped(outcomes)[:5]
    slowest = max(o.seconds for o in outcomes)
    assert slowest < SLOWEST_S, slowest
    failed = [o for o in outcomes if not o.ok]
    assert len(failed) <= most_failed, [(o.status, o.codes) for o in failed[:10]]


async def test_a_stopped_replica_is_taken_out_at_once_and_used_again_once_back(
    healthy: Cluster, serve: Callable[..., ServerProcess]
) -> None:
    server = serve()
    replica = healthy.node("replica1")
    pool = host(healthy, "replica1")
    async with loaded(server) as (load, http):
        assert await served(http, pool) > 0
        stopped = time.monotonic()
        await asyncio.to_thread(replica.stop)
        await asyncio.sleep(2.0)
        at_two_seconds = await served(http, pool)
        await asyncio.sleep(1.5)
        assert await served(http, pool) == at_two_seconds  # its reads go elsewhere
        assert not await serving(http, pool)
        await asyncio.to_thread(replica.start)
        back = time.monotonic()
        took = await eventually(lambda: _more(http, pool, at_two_seconds), within=5.0)
    print(f"replica used again {took:.2f} s after its start")
    check_outcomes(load.outcomes, most_failed=3)
    assert all(o.ok for o in load.between(stopped + 2.0, back)), "served by the other replica"


async def _more(http: httpx.AsyncClient, pool: str, than: float) -> bool:
    return await served(http, pool) > than


async def test_serving_recovers_within_seconds_after_pgbouncer_restarts(
    healthy: Cluster, serve: Callable[..., ServerProcess]
) -> None:
    server = serve()
    async with loaded(server) as (load, _http):
        for bouncer in healthy.bouncers:  # every one of them, primary's included
            await asyncio.to_thread(bouncer.stop)
        await asyncio.sleep(0.5)
        for bouncer in healthy.bouncers:
            await asyncio.to_thread(bouncer.start)
        restarted = time.monotonic()
        await asyncio.sleep(4.0)
    check_outcomes(load.outcomes, most_failed=len(load.outcomes))
    later = load.between(restarted + 3.0, time.monotonic())
    assert later and all(o.ok for o in later), [(o.status, o.codes) for o in later if not o.ok]


async def test_a_replica_past_the_lag_bound_takes_no_reads_until_it_catches_up(
    healthy: Cluster,
    serve: Callable[..., ServerProcess],
    workspaces: WorkspaceMaker,
    writer_dsn: str,
) -> None:
    own = await workspaces("lag")
    server = serve(GATEWAY_REPLICA_MAX_LAG_MS="1000")
    lagging, other = healthy.node("replica1"), healthy.node("replica2")
    pool = host(healthy, "replica1")
    writer = await asyncpg.create_pool(writer_dsn, min_size=2, max_size=2)
    writing = asyncio.create_task(_keep_writing(writer, own.tenant_id))
    try:
        async with loaded(server) as (load, http):
            await asyncio.to_thread(lagging.sql, "SELECT pg_wal_replay_pause()")
            paused = time.monotonic()
            took = await eventually(lambda: _out(http, pool), within=4.0)
            assert took + 0.05 > 0.9  # not before the bound
            settled = await served(http, pool)
            writing.cancel()  # the lag keeps growing without writes: nothing replays
            with contextlib.suppress(asyncio.CancelledError):
                await writing
            # A write now: the other replica has it at once, the lagging one never will.
            marker = await emit(writer, own.tenant_id, "kora.test.marker")
            query = (
                "SELECT count(*) FROM hivex_foundation.event_log WHERE event_id = "
                f"'{marker.event_id}'"
            )
            await eventually(lambda: other.sql(query) == "1", within=5.0)
            for _ in range(20):
                answer = await http.post("/graphql", json={"query": _EVENTS % own.workspace_id})
                ids = [e["eventId"] for e in answer.json()["data"]["workspace"]["events"]]
                assert ids[0] == marker.event_id  # never read from the lagging replica
            assert await served(http, pool) == settled
            assert lagging.sql(query) == "0"
            await asyncio.to_thread(lagging.sql, "SELECT pg_wal_replay_resume()")
            await eventually(lambda: _more(http, pool, settled), within=5.0)
        print(f"taken out {took:.2f} s after its replay paused")
    finally:
        writing.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await writing
        await writer.close()
    check_outcomes(load.outcomes, most_failed=0)
    assert paused < time.monotonic()


_EVENTS = '{ workspace(id: "%s") { events(limit: 3) { eventId } } }'


async def _out(http: httpx.AsyncClient, pool: str) -> bool:
    return not await serving(http, pool)


async def _keep_writing(writer: asyncpg.Pool, tenant_id: uuid.UUID) -> None:
    while True:
        await emit(writer, tenant_id, "kora.test.tick")
        await asyncio.sleep(0.05)


async def test_with_the_primary_stopped_reads_and_subscriptions_go_on_and_writes_fail(
    healthy: Cluster,
    serve: Callable[..., ServerProcess],
    writer_dsn: str,
    mcp_process: McpServerProcess,
) -> None:
    if not mcp_process.running():
        mcp_process.start()
    admin = await asyncpg.connect(healthy.primary.admin_dsn)
    workspaces = WorkspaceMaker(admin)
    own = await workspaces("primary")
    await asyncio.to_thread(healthy.wait_caught_up)
    server = serve(GATEWAY_MCP_URL=mcp_process.url, GATEWAY_MCP_TOKEN=MCP_TOKEN)
    writer = await asyncpg.connect(writer_dsn)
    try:
        async with loaded(server) as (load, http), ws_client(ws_url(server)) as ws:
            assert (await ws.init())["type"] == "connection_ack"
            await ws.subscribe("feed", ws=own.workspace_id)
            await asyncio.sleep(0.5)
            first = await emit(writer, own.tenant_id, "kora.test.before")
            assert [e["eventId"] for e in await ws.next_events("feed", 1)] == [first.event_id]
            # LISTEN on GATEWAY_LISTEN_URL, straight to the primary (not through PgBouncer).
            assert '"msg":"live watcher listens"' in server.log_text()
            assert "cannot LISTEN" not in server.log_text()
            # Written while no replica replays, then the primary goes: only the replicas hold
            # these events now, and the subscription must still deliver them.
            await asyncio.to_thread(_replay, healthy, "pause")
            late = [await emit(writer, own.tenant_id, f"kora.test.late{n}") for n in range(3)]
            await writer.close()
            await asyncio.to_thread(healthy.primary.stop)
            stopped = time.monotonic()
            await asyncio.to_thread(_replay, healthy, "resume")
            received = await ws.next_events("feed", 3, within=8)
            assert [e["eventId"] for e in received] == [e.event_id for e in late]
            write = await http.post("/graphql", json={"query": _EMIT % own.workspace_id})
            result = write.json()["data"]["emitEvent"]
            assert result["__typename"] == "WriteFailed", result
            assert result["retryable"] is True
            await asyncio.sleep(2.0)
            during = load.between(stopped, time.monotonic())
    finally:
        if not writer.is_closed():
            await writer.close()
        await asyncio.to_thread(healthy.primary.start)
        workspaces.admin = await asyncpg.connect(healthy.primary.admin_dsn)
        await workspaces.cleanup()
        await workspaces.admin.close()
        admin.terminate()
    check_outcomes(load.outcomes, most_failed=3)
    assert len(during) > 50 and all(o.ok for o in during), "reads served by the replicas"


_EMIT = """mutation { emitEvent(input: {workspaceId: "%s", eventType: "kora.test.down",
  payload: {}, idempotencyKey: "primary-down"}) {
  __typename ... on WriteFailed { code retryable } } }"""


def _replay(cluster: Cluster, verb: str) -> None:
    for node in cluster.replicas:
        node.sql(f"SELECT pg_wal_replay_{verb}()")
