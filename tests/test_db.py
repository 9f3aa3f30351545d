"""The pool: per-connection safety settings, and the RLS transaction leaves nothing behind."""

from __future__ import annotations

from collections.abc import Callable

from gateway.config import Settings
from gateway.db import Database
from tests.support import DEMO_WS


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
