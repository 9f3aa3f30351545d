"""Fixtures of the cluster tests: one cluster per session (a primary with the demo substrate, two
streaming replicas, PgBouncer in transaction mode in front of each), made by the same code as
``scripts/cluster`` (``gateway.dev.cluster``), stopped by PID and removed at the end.

The root fixtures that name a database (``make_settings``, ``admin_dsn``, ``reader_dsn``,
``writer_dsn``) are overridden here: tests written for the embedded PostgreSQL (the isolation
tests) run unchanged through the primary's PgBouncer in transaction mode. The fleet tests add
two gateway processes behind HAProxy over the same cluster.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from gateway.dev.cluster import Cluster
from gateway.dev.cluster.gateways import Fleet
from gateway.dev.substrate.provision import READER_ROLE, WRITER_ROLE
from gateway.settings import Settings
from tests.cluster.fleet_support import EDGE_REQUEST_TIMEOUT_S, FLEET_ENV
from tests.conftest import READER_PASSWORD, WRITER_PASSWORD
from tests.support import METRICS_TOKEN, free_port
from tests.writes.conftest import MCP_TOKEN, mcp_process

__all__ = ["MCP_TOKEN", "mcp_process"]  # the writes tests' MCP server, on the cluster's DSNs

POOL_SIZE = 3
"""PgBouncer's server connections per node: fewer than a gateway's pool (8) and its clients."""


@pytest.fixture(scope="session")
async def cluster() -> AsyncIterator[Cluster]:
    base = Path(tempfile.mkdtemp(prefix="kora-cluster-"))
    made = Cluster(
        base / "cluster",
        replicas=2,
        pool_size=POOL_SIZE,
        passwords={READER_ROLE: READER_PASSWORD, WRITER_ROLE: WRITER_PASSWORD},
    )
    try:
        await made.up()
        yield made
    finally:
        made.down()
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
async def healthy(cluster: Cluster) -> AsyncIterator[Cluster]:
    """The cluster with everything running and replaying, before and after the test (faults a
    test causes are undone even when it fails)."""
    await asyncio.to_thread(restore, cluster)
    yield cluster
    await asyncio.to_thread(restore, cluster)


def restore(cluster: Cluster) -> None:
    for component in cluster.components:
        component.start()
    for node in cluster.replicas:
        node.sql("SELECT pg_wal_replay_resume()")
    cluster.wait_caught_up()


@pytest.fixture(scope="session")
def admin_dsn(cluster: Cluster) -> str:
    return cluster.primary.admin_dsn


@pytest.fixture(scope="session")
def reader_dsn(cluster: Cluster) -> str:
    """The reader role through the primary's PgBouncer."""
    return cluster.bouncer("primary").dsn_for(READER_ROLE, READER_PASSWORD)


@pytest.fixture(scope="session")
def writer_dsn(cluster: Cluster) -> str:
    return cluster.writer_dsn


@pytest.fixture(scope="session")
def direct_reader_dsn(cluster: Cluster) -> str:
    """The reader role straight to the primary (the reference reads are made there)."""
    return cluster.primary.dsn_for(READER_ROLE, READER_PASSWORD)


@pytest.fixture(scope="session")
def replica_urls(cluster: Cluster) -> tuple[str, ...]:
    return tuple(
        cluster.bouncer(n.name).dsn_for(READER_ROLE, READER_PASSWORD) for n in cluster.replicas
    )


@pytest.fixture(scope="session")
def make_settings(reader_dsn: str) -> Callable[..., Settings]:
    """Settings of an in-process gateway through the primary's PgBouncer, transaction mode."""

    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "database_url": reader_dsn,
            "db_pool_mode": "transaction",
            "pool_max_size": 8,
            "auth_mode": "none",
            "metrics_token": METRICS_TOKEN,
        }
        values.update(overrides)
        return Settings.from_env({}, **values)

    return make


# -- the fleet: gateway processes behind the edge (tests/cluster/test_fleet*.py) --------------


@pytest.fixture(scope="session")
def fleet(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    """Two gateways and the edge over the session's cluster, made by the cluster command's code
    (started when a fleet test first asks for them)."""
    names = ["gateway1", "gateway2", "edge"]
    made = Fleet.build(
        Path(tmp_path_factory.mktemp("fleet")),
        count=2,
        ports={name: free_port() for name in names},
        database_env=cluster.gateway_env(),
        env=FLEET_ENV,
        request_timeout=f"{EDGE_REQUEST_TIMEOUT_S:g}s",
    )
    try:
        made.up()
        yield made
    finally:
        made.down()


@pytest.fixture
async def steady(healthy: Cluster, fleet: Fleet) -> AsyncIterator[Fleet]:
    """Every gateway running and in the edge, before and after the test."""
    await asyncio.to_thread(_all_up, fleet)
    yield fleet
    await asyncio.to_thread(_all_up, fleet)


def _all_up(fleet: Fleet) -> None:
    for gateway in fleet.gateways:
        if not gateway.running():
            gateway.start()
        fleet.edge.wait_state(gateway.name, "UP")
