"""Fixtures of the cluster tests: one cluster per session (a primary with the demo substrate, two
streaming replicas, PgBouncer in transaction mode in front of each), made by the same code as
``scripts/cluster`` (``gateway.dev.cluster``), stopped by PID and removed at the end.

The root fixtures that name a database (``make_settings``, ``admin_dsn``, ``reader_dsn``,
``writer_dsn``) are overridden here: tests written for the embedded PostgreSQL (the isolation
tests) run unchanged through the primary's PgBouncer in transaction mode.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from gateway.dev.cluster import Cluster
from gateway.dev.substrate.provision import READER_ROLE, WRITER_ROLE
from gateway.settings import Settings
from tests.conftest import READER_PASSWORD, WRITER_PASSWORD
from tests.support import METRICS_TOKEN
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
