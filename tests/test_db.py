"""The pool: per-connection safety settings, and the RLS transaction leaves nothing behind."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import asyncpg
import pytest

from gateway.db import Database
from gateway.observe.telemetry import RequestStats, current_stats
from gateway.settings import Settings
from gateway.surfaces.constitution import ACTIVE_CONSTITUTION_REVISION, fetch_active_revision
from gateway.surfaces.tenants import TENANT_SETTING_RLS, fetch_tenant_setting_rls
from tests.support import ATLAS_WS, DEMO_WS


async def test_connections_carry_statement_timeout(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings(statement_timeout_ms=1234, pool_max_size=1, pool_min_size=1)
    db = Database(settings, str(settings.database_url))
    await db.open()
    try:
        async with db.connection() as conn:
            assert await conn.fetchval("SHOW statement_timeout") == "1234ms"
            assert await conn.fetchval("SELECT current_setting('application_name')") == (
                "kora-gateway"
            )
            assert (
                await conn.fetchval("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
                is False
            )
    finally:
        await db.close()


async def test_rls_setting_is_transaction_local(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings(pool_max_size=1, pool_min_size=1)
    db = Database(settings, str(settings.database_url))
    await db.open()
    try:
        async with db.rls_transaction(DEMO_WS) as tx:
            row = await tx.fetchrow("test", "SELECT current_setting('app.workspace_id', true)")
            assert row is not None and row[0] == DEMO_WS
            read_only = await tx.fetchrow("test", "SHOW transaction_read_only")
            assert read_only is not None and read_only[0] == "on"
        async with db.connection() as conn:  # the same (only) connection, back from the pool
            assert await conn.fetchval("SELECT current_setting('app.workspace_id', true)") in (
                None,
                "",
            )
            assert await conn.fetchval("SELECT count(*) FROM kronicle.policy_registry") == 0
    finally:
        await db.close()


async def test_the_tenant_read_sets_the_rls_setting_in_the_same_round_trip(
    make_settings: Callable[..., Settings], admin_conn: asyncpg.Connection
) -> None:
    """BEGIN, set_config with the tenant row (one statement), the kronicle read, ROLLBACK: the
    read sees the workspace's rows, and none of another workspace's."""
    expected = await admin_conn.fetchval(
        "SELECT revision_id::text FROM kronicle.workspace_constitution_revisions"
        " WHERE workspace_id = $1 ORDER BY revision_number DESC LIMIT 1",
        DEMO_WS,
    )
    theirs = await admin_conn.fetchval(
        "SELECT count(*) FROM kronicle.workspace_constitution_revisions WHERE workspace_id = $1",
        ATLAS_WS,
    )
    assert expected is not None and theirs > 0
    settings = make_settings(pool_max_size=1, pool_min_size=1)
    db = Database(settings, str(settings.database_url))
    await db.open()
    sent: list[str] = []
    stats = RequestStats()
    token = current_stats.set(stats)
    try:
        async with db.connection() as conn:  # the pool's only connection: it logs every query
            conn.add_query_logger(lambda query: sent.append(query.query))
        async with db.rls_transaction(DEMO_WS) as tx:
            tenant = await fetch_tenant_setting_rls(tx, DEMO_WS)
            active = await fetch_active_revision(tx, DEMO_WS)
            other = await fetch_active_revision(tx, ATLAS_WS)
        await asyncio.sleep(0)  # query loggers are called soon, not at once
    finally:
        current_stats.reset(token)
        await db.close()
    assert tenant is not None and tenant.workspace_id == DEMO_WS
    assert active is not None and active.revision_id == expected  # data present
    assert other is None  # row-level security: another workspace's rows are not visible
    assert sent == [
        "BEGIN READ ONLY",
        TENANT_SETTING_RLS,
        ACTIVE_CONSTITUTION_REVISION,
        ACTIVE_CONSTITUTION_REVISION,
        "ROLLBACK",
    ]
    assert stats.statements == [
        "rls.set_config+tenant",
        "constitution.active",
        "constitution.active",
    ]
    assert stats.transactions == 1


@pytest.mark.parametrize("workspace", ["org_unknown", ATLAS_WS])
async def test_the_rls_setting_is_set_whether_or_not_the_tenant_exists(
    make_settings: Callable[..., Settings], workspace: str
) -> None:
    settings = make_settings(pool_max_size=1, pool_min_size=1)
    db = Database(settings, str(settings.database_url))
    await db.open()
    try:
        async with db.rls_transaction(workspace) as tx:
            tenant = await fetch_tenant_setting_rls(tx, workspace)
            setting = await tx.fetchrow("test", "SELECT current_setting('app.workspace_id', true)")
            seen = await tx.fetch(
                "test",
                "SELECT DISTINCT workspace_id FROM kronicle.workspace_constitution_revisions",
            )
    finally:
        await db.close()
    assert (tenant is None) == (workspace == "org_unknown")
    assert setting is not None and setting[0] == workspace
    assert [r[0] for r in seen] == ([] if workspace == "org_unknown" else [workspace])


async def test_a_read_without_the_tenant_sets_the_rls_setting_first(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings(pool_max_size=1, pool_min_size=1)
    db = Database(settings, str(settings.database_url))
    await db.open()
    stats = RequestStats()
    token = current_stats.set(stats)
    try:
        async with db.rls_transaction(DEMO_WS) as tx:
            active = await fetch_active_revision(tx, DEMO_WS)
    finally:
        current_stats.reset(token)
        await db.close()
    assert active is not None
    assert stats.statements == ["rls.set_config", "constitution.active"]


async def test_checkouts_are_served_in_arrival_order(
    make_settings: Callable[..., Settings],
) -> None:
    """A connection given back goes to the request that has waited longest, never to one that
    asks at that moment (asyncpg's pool alone lets such a newcomer take it, and the waiter
    queues again at the back: under load a few requests then waited many times the median)."""
    settings = make_settings(pool_max_size=2, pool_min_size=2, pool_acquire_timeout=30.0)
    db = Database(settings, str(settings.database_url))
    await db.open()
    asked: list[tuple[int, int]] = []
    served: list[tuple[int, int]] = []

    async def reads(task: int) -> None:
        for turn in range(10):
            asked.append((task, turn))
            async with db.connection() as conn:
                served.append((task, turn))
                await conn.fetchval("SELECT 1")

    try:
        await asyncio.gather(*(reads(task) for task in range(30)))
    finally:
        await db.close()
    assert len(served) == 300
    overtaken = sum(1 for a, s in zip(asked, served, strict=True) if a != s)
    assert served == asked, f"{overtaken} of 300 checkouts were served out of turn"


async def test_an_interface_error_on_a_released_connection_is_an_outage(reader_dsn: str) -> None:
    """asyncpg detaches a pooled connection's proxy when it sees the connection lost; every call
    on the proxy then raises InterfaceError. That is the database going away, not a bug."""
    from gateway.db import translate
    from gateway.errors import DatabaseUnavailable

    pool = await asyncpg.create_pool(reader_dsn, min_size=0, max_size=1)
    try:
        conn = await pool.acquire()
        await pool.release(conn)
        with pytest.raises(asyncpg.InterfaceError) as lost:
            await conn.fetch("SELECT 1")
        assert isinstance(translate(lost.value, conn), DatabaseUnavailable)
        async with pool.acquire() as fresh:
            wrong = asyncpg.InterfaceError("the server expects 1 argument for this query")
            assert translate(wrong, fresh) is None  # open: a programming error propagates
    finally:
        await pool.close()
