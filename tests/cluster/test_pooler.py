"""GATEWAY_DB_POOL_MODE=transaction behind Debian's PgBouncer (pool_mode = transaction, a plain
configuration, fewer server connections than the gateway's clients)."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable

import asyncpg
import httpx
import pytest

from bench.expected import expected_data, strip_volatile
from bench.workloads import WORKLOADS
from gateway.db import Database
from gateway.dev.cluster import Cluster
from gateway.settings import Settings
from gateway.surfaces.tenants import fetch_tenants
from tests.cluster.conftest import POOL_SIZE
from tests.conftest import running_app
from tests.faults import locked
from tests.support import ATLAS_WS, BOREAL_WS, DEMO_WS, FRESH_WS, ServerProcess

pytestmark = pytest.mark.cluster

WORKSPACES = [DEMO_WS, ATLAS_WS, BOREAL_WS, FRESH_WS, "org_unknown"]


async def test_session_mode_is_refused_by_the_pooler_and_transaction_mode_is_not(
    make_settings: Callable[..., Settings],
) -> None:
    """What a new user met: PgBouncer refuses the startup parameters of session mode. In
    transaction mode the same PgBouncer, unchanged, serves."""
    query = '{ workspace(id: "%s") { displayName constitution { revisionId } } }' % DEMO_WS
    async with running_app(make_settings(db_pool_mode="session")) as client:
        refused = await client.gql(query)
        assert (await client.http.get("/readyz")).status_code == 503
    assert refused.codes == ["DATABASE_UNAVAILABLE"]
    async with running_app(make_settings()) as client:
        served = await client.gql(query)
        assert (await client.http.get("/readyz")).status_code == 200
    assert not served.errors
    assert served.data["workspace"]["displayName"] == "Kora Demo"


async def test_a_gateway_process_becomes_ready_through_the_pooler(
    healthy: Cluster, reader_dsn: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    server = ServerProcess(
        {
            "DATABASE_URL": reader_dsn,
            "GATEWAY_DB_POOL_MODE": "transaction",
            "GATEWAY_AUTH_MODE": "none",
        },
        log_path=tmp_path_factory.mktemp("pooled") / "gateway.log",
    )
    try:
        server.wait_ready()
        async with httpx.AsyncClient(base_url=server.url) as http:
            answer = await http.post(
                "/graphql", json={"query": '{ workspace(id: "%s") { id } }' % DEMO_WS}
            )
        assert answer.json() == {"data": {"workspace": {"id": DEMO_WS}}}
    finally:
        server.stop()
    assert "unsupported startup parameter" not in server.log_text()


async def test_every_read_equals_direct_sql_under_concurrency(
    healthy: Cluster, make_settings: Callable[..., Settings], direct_reader_dsn: str
) -> None:
    """W1-W4 (events, the session context, the constitution, many workspaces at once), 200
    requests 40 at a time through PgBouncer's 3 server connections: each answer equals the same
    read made by direct SQL on the primary."""
    seed = random.randrange(1 << 30)
    print(f"seed {seed}")
    rng = random.Random(seed)
    bodies = []
    for _ in range(200):
        workload = WORKLOADS[rng.choice(["W1", "W2", "W3", "W4"])]
        ids = rng.sample(WORKSPACES, 3) if workload.fan_out else None
        variables = {"ids": ids} if ids else {"id": rng.choice(WORKSPACES)}
        bodies.append((workload.name, {"query": workload.document, "variables": variables}))
    conn = await asyncpg.connect(direct_reader_dsn)
    try:
        expected = [await expected_data(conn, name, body["variables"]) for name, body in bodies]
    finally:
        await conn.close()
    gate = asyncio.Semaphore(40)
    async with running_app(make_settings(pool_max_size=8)) as client:

        async def ask(body: dict[str, object]) -> dict[str, object]:
            async with gate:
                response = await client.http.post("/graphql", json=body)
                return dict(response.json())

        answers = await asyncio.gather(*(ask(body) for _name, body in bodies))
    for (name, body), answer, want in zip(bodies, answers, expected, strict=True):
        assert "errors" not in answer, (name, body["variables"], answer)
        assert strip_volatile(answer["data"]) == want, (name, body["variables"])
    assert POOL_SIZE < 8 < 40


async def test_a_slow_read_answers_timeout_through_the_pooler(
    healthy: Cluster, make_settings: Callable[..., Settings], admin_dsn: str
) -> None:
    """statement_timeout holds through the pooler, for a read in an RLS transaction and for a
    pooled read alike: the SET LOCAL travels with BEGIN, before the first statement."""
    settings = make_settings(statement_timeout_ms=300, request_timeout=10.0)
    reads = {
        "kronicle.workspace_constitution_revisions": '{ workspace(id: "%s") { constitution '
        "{ revisionId } } }" % DEMO_WS,
        "hivex_foundation.event_log": '{ workspace(id: "%s") { events(limit: 3) { eventId } } }'
        % DEMO_WS,
    }
    async with running_app(settings) as client:
        for table, query in reads.items():
            async with locked(admin_dsn, table):
                started = time.monotonic()
                answer = await client.gql(query)
                took = time.monotonic() - started
            assert "TIMEOUT" in answer.codes, (table, answer.body)
            assert took < 2.0, (table, took)  # the server's 300 ms, not the 2.3 s backstop
            assert not (await client.gql(query)).errors  # and the connections still serve


async def test_no_named_prepared_statement_outlives_its_transaction(
    make_settings: Callable[..., Settings], direct_reader_dsn: str
) -> None:
    """Straight to PostgreSQL (no pooler to hide it): after reads in transaction mode the
    session holds no prepared statement; in session mode it holds asyncpg's named ones."""
    counts = {}
    for mode in ("transaction", "session"):
        settings = make_settings(
            database_url=direct_reader_dsn, db_pool_mode=mode, pool_max_size=1, pool_min_size=1
        )
        db = Database(settings, direct_reader_dsn)
        await db.open()
        try:
            for _ in range(3):
                await fetch_tenants(db.pooled, [DEMO_WS])
                async with db.rls_transaction(DEMO_WS) as tx:
                    await tx.fetch("test", "SELECT count(*) FROM kronicle.policy_registry")
            async with db.connection() as conn:  # the pool's only connection
                counts[mode] = await conn.fetchval("SELECT count(*) FROM pg_prepared_statements")
        finally:
            await db.close()
    assert counts["transaction"] == 0
    assert counts["session"] > 0
