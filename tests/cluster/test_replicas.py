"""Reads on the replicas (GATEWAY_REPLICA_URLS): spread across them, the primary only when no
replica can serve, /readyz about reads rather than replicas, and metrics per pool."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from gateway.dev.cluster import Cluster
from gateway.settings import Settings
from tests.cluster.support import checkouts, pool_samples, replica_settings
from tests.conftest import running_app
from tests.load import MIXED_QUERIES
from tests.support import DEMO_WS, free_port

pytestmark = pytest.mark.cluster


async def test_reads_are_spread_over_the_replicas_and_not_the_primary(
    healthy: Cluster, make_settings: Callable[..., Settings], replica_urls: tuple[str, ...]
) -> None:
    async with running_app(replica_settings(make_settings, replica_urls)) as client:
        for query in MIXED_QUERIES * 8:
            assert not (await client.gql(query)).errors
        samples = await pool_samples(client.http)
    served = checkouts(samples)
    replicas = [served[("replica", h)] for h in _hosts(healthy, "replica")]
    assert served[("primary", _hosts(healthy, "primary")[0])] == 0
    assert all(n >= 8 for n in replicas), served  # both take a fair share
    assert sum(replicas) >= 40


async def test_the_primary_serves_when_no_replica_can(
    healthy: Cluster, make_settings: Callable[..., Settings]
) -> None:
    nowhere = tuple(
        f"postgresql://kora_gateway:x@127.0.0.1:{free_port()}/postgres" for _ in range(2)
    )
    query = '{ workspace(id: "%s") { displayName policies { name } } }' % DEMO_WS
    async with running_app(replica_settings(make_settings, nowhere)) as client:
        first = await client.gql(query)  # the replicas are taken out as they fail
        ready = await client.http.get("/readyz")
        again = await client.gql(query)
        samples = await pool_samples(client.http)
    assert not first.errors and not again.errors
    assert first.data["workspace"]["displayName"] == "Kora Demo"
    assert ready.status_code == 200 and ready.json()["status"] == "ready"
    served = checkouts(samples)
    assert served[("primary", _hosts(healthy, "primary")[0])] >= 2
    for labels, value in samples.items():
        if labels[0] == "gateway_db_pool_serving" and dict(labels[1])["role"] == "replica":
            assert value == 0


async def test_readyz_is_unavailable_only_when_nothing_can_serve(
    make_settings: Callable[..., Settings],
) -> None:
    def nowhere() -> str:
        return f"postgresql://kora_gateway:x@127.0.0.1:{free_port()}/postgres"

    settings = make_settings(database_url=nowhere(), replica_urls=(nowhere(),), connect_timeout=1.0)
    async with running_app(settings) as client:
        ready = await client.http.get("/readyz")
        answer = await client.gql('{ workspace(id: "%s") { id } }' % DEMO_WS)
    assert ready.status_code == 503 and ready.headers["retry-after"]
    assert answer.status == 503 and answer.codes == ["DATABASE_UNAVAILABLE"]


def _hosts(cluster: Cluster, role: str) -> list[str]:
    nodes = [cluster.primary] if role == "primary" else cluster.replicas
    return [f"127.0.0.1:{cluster.bouncer(n.name).port}" for n in nodes]
