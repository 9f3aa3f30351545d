"""A slow database: statement_timeout answers TIMEOUT, the connection goes back clean, other
requests go on; a database that stops answering altogether is cut off by the request deadline."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx

from gateway.app import create_app
from gateway.db import Database
from gateway.dev.embedded import EmbeddedPostgres
from gateway.settings import Settings
from tests.faults import eventually, frozen, locked, waiting_on_locks
from tests.support import DEMO_WS, GqlClient

POLICIES = '{ workspace(id: "%s") { policies { name } } }' % DEMO_WS
CONSTITUTION = '{ workspace(id: "%s") { constitution { revisionId } } }' % DEMO_WS


@contextlib.asynccontextmanager
async def gateway(settings: Settings) -> AsyncIterator[tuple[GqlClient, Database]]:
    """The app in process (lifespan running) and its Database, to look at the pool itself."""
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as http:
            yield GqlClient(http), app.state.db


def settings_for(dsn: str, **overrides: Any) -> Settings:
    return Settings.from_env({}, database_url=dsn, auth_mode="none", **overrides)


async def test_statement_timeout_is_typed_and_the_connection_returns_clean(
    fault_pg: EmbeddedPostgres, fault_reader_dsn: str
) -> None:
    settings = settings_for(
        fault_reader_dsn, pool_min_size=1, pool_max_size=1, statement_timeout_ms=300
    )
    async with gateway(settings) as (client, db):
        async with db.connection() as conn:
            backend = conn.get_server_pid()
        async with locked(fault_pg.admin_dsn, "kronicle.policy_registry"):
            started = time.monotonic()
            slow = await client.gql(POLICIES)
            took = time.monotonic() - started
        assert slow.codes == ["TIMEOUT"], slow.body
        assert slow.errors[0]["extensions"] == {"code": "TIMEOUT", "retryable": True}
        assert slow.status == 504 and slow.data == {"workspace": None}
        assert slow.errors[0]["path"] == ["workspace", "policies"]
        assert "select" not in str(slow.body).lower()  # no SQL text leaks
        assert 0.3 <= took < 2.0
        # The only pooled connection is the one the timed-out read used: same backend, rolled
        # back, the workspace GUC gone, and it serves the next read.
        async with db.connection() as conn:
            assert conn.get_server_pid() == backend
            assert not conn.is_in_transaction()
            assert await conn.fetchval("SELECT current_setting($1, true)", "app.workspace_id") in (
                None,
                "",
            )
            assert await conn.fetchval("SHOW statement_timeout") == "300ms"
        again = await client.gql(POLICIES)
        assert again.status == 200 and not again.errors
        assert again.data["workspace"]["policies"]


async def test_a_slow_read_does_not_hold_up_the_others(
    fault_pg: EmbeddedPostgres, fault_reader_dsn: str
) -> None:
    settings = settings_for(fault_reader_dsn, pool_max_size=4, statement_timeout_ms=3000)
    async with gateway(settings) as (client, _db):
        async with locked(fault_pg.admin_dsn, "kronicle.policy_registry") as admin:
            stuck = asyncio.create_task(client.gql(POLICIES))
            await eventually(lambda: waiting_on_locks(fault_pg.admin_dsn), within=5)
            started = time.monotonic()
            others = await asyncio.gather(*(client.gql(CONSTITUTION) for _ in range(5)))
            took = time.monotonic() - started
            assert all(a.status == 200 and not a.errors for a in others)
            assert took < 1.5, f"other reads waited {took:.2f} s behind the slow one"
            assert not stuck.done()
            await admin.execute("SELECT 1")  # the lock is still held here
        answer = await stuck  # the lock is gone: the slow read finishes, in full
        assert answer.status == 200 and not answer.errors


async def test_a_database_that_stops_answering_is_cut_off_by_the_deadline(
    fault_pg: EmbeddedPostgres, fault_reader_dsn: str
) -> None:
    settings = settings_for(
        fault_reader_dsn, pool_min_size=2, request_timeout=1.0, pool_acquire_timeout=0.5
    )
    async with gateway(settings) as (client, _db):
        assert not (await client.gql(CONSTITUTION)).errors
        with frozen(fault_pg):
            started = time.monotonic()
            answers = await asyncio.gather(*(client.gql(CONSTITUTION) for _ in range(4)))
            took = time.monotonic() - started
            ready = await client.http.get("/readyz")
        assert took < 1.0 + 0.5, f"requests hung {took:.2f} s against a frozen database"
        for answer in answers:
            assert answer.status in (503, 504), answer.body
            assert answer.codes in (["TIMEOUT"], ["DATABASE_UNAVAILABLE"]), answer.body
        assert any(a.codes == ["TIMEOUT"] for a in answers)
        timed_out = next(a for a in answers if a.codes == ["TIMEOUT"])
        assert "GATEWAY_REQUEST_TIMEOUT" in timed_out.errors[0]["message"]
        assert ready.status_code == 503
        # Thawed: the gateway serves again by itself.
        await eventually(lambda: _serves(client), within=10)


async def _serves(client: GqlClient) -> bool:
    answer = await client.gql(CONSTITUTION)
    return answer.status == 200 and not answer.errors
