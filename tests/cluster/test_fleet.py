"""A fleet under 16-client load: two `gateway serve` processes over the cluster's database tier
behind the shipped HAProxy (``scripts/cluster --gateways``), clients that never retry.

- a rolling restart of every gateway fails no request and none takes 5 s; subscribers are told
  to reconnect (1012) and, reconnecting through the edge with ``after``, miss nothing;
- SIGKILL of one gateway: only requests in flight on it fail (a connection error or a typed
  answer), the edge stops sending to it within about 2 s, nothing fails after; its subscribers
  reconnect through the edge and receive every event exactly once, in chain order.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import time
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from gateway.dev.cluster import Cluster
from gateway.dev.cluster.gateways import Fleet
from tests.chain_support import WorkspaceMaker, emit
from tests.cluster.fleet_support import (
    DRAIN_S,
    FLEET_ENV,
    Follower,
    Writer,
    request_lines,
    server_of,
)
from tests.faults import eventually
from tests.load import MIXED_QUERIES, Load
from tests.support import free_port
from tests.ws_support import origin_cursor

pytestmark = [pytest.mark.cluster, pytest.mark.fleet]

SLOWEST_S = 5.0
SUBSCRIBERS = 4


@pytest.fixture
async def writer_pool(cluster: Cluster) -> AsyncIterator[asyncpg.Pool]:
    pool = await asyncpg.create_pool(cluster.writer_dsn, min_size=1, max_size=2)
    yield pool
    await pool.close()


async def _followers(
    fleet: Fleet, workspaces: WorkspaceMaker, pool: asyncpg.Pool
) -> tuple[list[Follower], Writer]:
    """``SUBSCRIBERS`` subscribers to a fresh workspace through the edge, after its origin."""
    own = await workspaces("fleet")
    await emit(pool, own.tenant_id, "kora.test.origin")
    cursor = await origin_cursor(fleet.edge, own.workspace_id)  # type: ignore[arg-type]
    url = fleet.edge.url.replace("http://", "ws://") + "/graphql"
    return [Follower(url, own.workspace_id, cursor) for _ in range(SUBSCRIBERS)], Writer(pool, own)


async def test_a_rolling_restart_of_every_gateway_fails_no_request(
    steady: Fleet, workspaces: WorkspaceMaker, writer_pool: asyncpg.Pool
) -> None:
    before = {g.name: g.pid() for g in steady.gateways}
    followers, writer = await _followers(steady, workspaces, writer_pool)
    async with _watched(steady, followers, writer) as load:
        took = await asyncio.to_thread(steady.rolling_restart)
        await asyncio.sleep(1.0)  # served by the restarted processes
    after = {g.name: g.pid() for g in steady.gateways}
    assert all(after[name] != pid for name, pid in before.items()), (before, after)
    failed = [o for o in load.outcomes if not o.ok]
    assert not failed, failed[:5]
    slowest = max(o.seconds for o in load.outcomes)
    assert slowest < SLOWEST_S, slowest
    assert len(load.outcomes) > 100 and all(t > DRAIN_S for t in took), took
    # Every subscriber was told to reconnect at least once (1012), and missed nothing.
    assert all(1012 in f.closes for f in followers), [f.closes for f in followers]
    for f in followers:
        assert f.received == writer.emitted, (len(f.received), len(writer.emitted))
    # Both restarted processes served requests.
    served_by = {line["pid"] for line in request_lines(steady)}
    assert set(after.values()) <= served_by


async def test_sigkill_of_one_gateway_fails_only_what_was_in_flight_on_it(
    steady: Fleet, workspaces: WorkspaceMaker, writer_pool: asyncpg.Pool
) -> None:
    followers, writer = await _followers(steady, workspaces, writer_pool)
    async with _watched(steady, followers, writer) as load:
        # The victim: a gateway at least one subscriber is on.
        homes = [server_of(steady.edge, f.local_port or 0) for f in followers]
        victim = next(g for g in steady.gateways if g.name in homes)
        on_victim = homes.count(victim.name)
        pid = victim.pid()
        assert pid is not None
        killed_at = time.monotonic()
        os.kill(pid, signal.SIGKILL)
        taken_out = await asyncio.to_thread(steady.edge.wait_state, victim.name, "DOWN", within=10)
        out_at = time.monotonic()
        await asyncio.sleep(2.0)  # the survivor serves everything
    assert taken_out <= 2.5, taken_out
    failed = [o for o in load.outcomes if not o.ok]
    # Only requests in flight when the process died fail, each with a connection error or a
    # typed answer (the edge's 502: OVERLOADED, retryable).
    for o in failed:
        assert o.started <= killed_at + 0.05 and o.ended >= killed_at, (killed_at, o)
        assert o.transport_error or (o.status == 502 and o.codes == ("OVERLOADED",)), o
    assert len(failed) <= 16
    after = [o for o in load.outcomes if o.started >= out_at]
    assert len(after) > 20 and all(o.ok for o in after)
    # Its subscribers reconnected through the edge, to the survivor, and missed nothing.
    reconnected = [f for f in followers if f.closes]
    assert len(reconnected) >= on_victim >= 1
    for f in followers:
        assert f.received == writer.emitted, (len(f.received), len(writer.emitted), f.closes)
    slowest = max(o.seconds for o in load.outcomes)
    assert slowest < SLOWEST_S, slowest


@contextlib.asynccontextmanager
async def _watched(fleet: Fleet, followers: list[Follower], writer: Writer) -> AsyncIterator[Load]:
    """16 clients that never retry loading the edge, the subscribers following and the writer
    writing (all under way when the block starts). On the way out the load stops, then the
    writer, then each subscriber once it has received as many events as were written
    (duplicates count too, and fail the comparison after)."""
    write_stop, follow_stop = asyncio.Event(), asyncio.Event()
    following = [asyncio.create_task(f.run(follow_stop)) for f in followers]
    writing = asyncio.create_task(writer.run(write_stop))
    try:
        async with Load(fleet.edge.url, concurrency=16, queries=MIXED_QUERIES) as load:
            for f in followers:
                await asyncio.wait_for(f.subscribed.wait(), 10)
            await eventually(lambda: len(load.outcomes) >= 50, within=15)
            yield load
        write_stop.set()
        await writing
        wanted = len(writer.emitted)
        await eventually(lambda: all(len(f.received) >= wanted for f in followers), within=15)
    finally:
        write_stop.set()
        follow_stop.set()
        await asyncio.gather(writing, *following, return_exceptions=True)


async def test_a_fleet_that_cannot_start_leaves_nothing_running(
    healthy: Cluster, tmp_path: Path
) -> None:
    """The edge's port is taken: ``up`` fails, naming HAProxy, and stops the gateways it had
    started."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        names = ["gateway1", "edge"]
        ports = {name: free_port() for name in names} | {"edge": taken.getsockname()[1]}
        fleet = Fleet.build(
            tmp_path, count=1, ports=ports, database_env=healthy.gateway_env(), env=FLEET_ENV
        )
        with pytest.raises(RuntimeError, match="haproxy"):
            await asyncio.to_thread(fleet.up)
    assert not fleet.gateways[0].running() and not fleet.edge.running()
    assert "Application startup complete" in fleet.gateways[0].log_path.read_text()
