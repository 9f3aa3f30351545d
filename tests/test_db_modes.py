"""The settings of scale (pool mode, replicas, read-after-write, LISTEN), checked at start, and
what transaction mode sends: the session settings inside each transaction, nothing outside."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from gateway.db import Database, begin_statement, pool_options
from gateway.db.lsn import format_lsn, parse_lsn
from gateway.settings import ConfigError, Settings
from gateway.surfaces.constitution import ACTIVE_CONSTITUTION_REVISION, fetch_active_revision
from gateway.surfaces.tenants import (
    TENANT_SETTING_RLS,
    TENANTS_BY_CLERK_ORG_IDS,
    fetch_tenant_setting_rls,
    fetch_tenants,
)
from tests.support import DEMO_WS, GqlClient

DSN = "postgresql://kora_gateway:s3cret-pw@db.example:5432/kora"


def _settings(**env: str) -> Settings:
    return Settings.from_env({"DATABASE_URL": DSN, "GATEWAY_AUTH_MODE": "none", **env})


@pytest.mark.parametrize(
    ("env", "names"),
    [
        ({"GATEWAY_DB_POOL_MODE": "statement"}, "GATEWAY_DB_POOL_MODE"),
        ({"GATEWAY_REPLICA_URLS": f"{DSN},mysql://x"}, "GATEWAY_REPLICA_URLS"),
        ({"GATEWAY_LISTEN_URL": "db.example:5432"}, "GATEWAY_LISTEN_URL"),
        ({"GATEWAY_REPLICA_MAX_LAG_MS": "-1"}, "GATEWAY_REPLICA_MAX_LAG_MS"),
        ({"GATEWAY_REPLICA_CHECK_MS": "0"}, "GATEWAY_REPLICA_CHECK_MS"),
        ({"GATEWAY_READ_AFTER_WAIT_MS": "soon"}, "GATEWAY_READ_AFTER_WAIT_MS"),
        (
            {"GATEWAY_DB_POOL_MODE": "transaction", "GATEWAY_LIVE_NOTIFY_CHANNEL": "kora_events"},
            "GATEWAY_LISTEN_URL",
        ),
    ],
)
def test_bad_scale_settings_stop_start_up_naming_the_variable(
    env: dict[str, str], names: str
) -> None:
    with pytest.raises(ConfigError, match=names):
        _settings(**env)


def test_replica_urls_are_redacted_and_listen_url_makes_transaction_mode_with_live_valid() -> None:
    settings = _settings(
        GATEWAY_DB_POOL_MODE="TRANSACTION",
        GATEWAY_REPLICA_URLS=f"{DSN}, {DSN.replace('db.', 'db2.')}",
        GATEWAY_LIVE_NOTIFY_CHANNEL="kora_events",
        GATEWAY_LISTEN_URL=DSN.replace("5432", "5433"),
    )
    assert settings.db_pool_mode == "transaction"
    assert settings.replica_urls == (DSN, DSN.replace("db.", "db2."))
    shown = settings.redacted()
    assert "s3cret-pw" not in str(shown)
    assert shown["GATEWAY_REPLICA_URLS"].count("kora_gateway:***@") == 2
    assert shown["GATEWAY_LISTEN_URL"] == "postgresql://kora_gateway:***@db.example:5433/kora"


def test_transaction_mode_sends_no_session_settings_at_connect() -> None:
    session, transaction = _settings(), _settings(GATEWAY_DB_POOL_MODE="transaction")
    assert pool_options(session)["server_settings"]["statement_timeout"] == "5000"
    assert "statement_cache_size" not in pool_options(session)
    assert pool_options(transaction)["server_settings"] == {"application_name": "kora-gateway"}
    assert pool_options(transaction)["statement_cache_size"] == 0
    assert begin_statement(session) == "BEGIN READ ONLY"
    assert begin_statement(transaction) == (
        "BEGIN READ ONLY; SET LOCAL statement_timeout = 5000; "
        "SET LOCAL idle_in_transaction_session_timeout = 10000"
    )


def test_wal_positions_read_and_write_as_postgresql_does() -> None:
    assert parse_lsn("16/B374D848") == (0x16 << 32) | 0xB374D848
    assert format_lsn(parse_lsn("16/B374D848") or 0) == "16/B374D848"
    assert parse_lsn("0/0") == 0
    for bad in ("", "16", "16/", "x/1", "1/2/3", "123456789/1", " 1 /2"):
        assert parse_lsn(bad) is None, bad


async def test_transaction_mode_reads_run_inside_transactions_carrying_the_settings(
    make_settings: Callable[..., Settings],
) -> None:
    """Against PostgreSQL directly: every read, pooled ones included, runs inside a transaction
    whose BEGIN message carries the SET LOCALs; the setting is in force for the first read."""
    settings = make_settings(
        db_pool_mode="transaction", statement_timeout_ms=4321, pool_max_size=1, pool_min_size=1
    )
    db = Database(settings, str(settings.database_url))
    await db.open()
    sent: list[str] = []
    try:
        async with db.connection() as conn:  # the pool's only connection: it logs every query
            conn.add_query_logger(lambda query: sent.append(query.query))
        found = await fetch_tenants(db.pooled, [DEMO_WS])
        async with db.rls_transaction(DEMO_WS) as tx:
            await fetch_tenant_setting_rls(tx, DEMO_WS)
            active = await fetch_active_revision(tx, DEMO_WS)
            timeout = await tx.fetchrow("test", "SHOW statement_timeout")
        await asyncio.sleep(0)  # query loggers are called soon, not at once
        async with db.connection() as conn:
            outside = await conn.fetchval("SHOW statement_timeout")
    finally:
        await db.close()
    begin = begin_statement(settings)
    assert DEMO_WS in found and active is not None
    assert timeout is not None and timeout[0] == "4321ms"
    assert outside != "4321ms"  # SET LOCAL: nothing stays on the connection
    assert sent[:8] == [
        begin,
        TENANTS_BY_CLERK_ORG_IDS,
        "ROLLBACK",
        begin,
        TENANT_SETTING_RLS,
        ACTIVE_CONSTITUTION_REVISION,
        "SHOW statement_timeout",
        "ROLLBACK",
    ]


async def test_entries_that_were_read_have_no_consistency_token(client: GqlClient) -> None:
    answer = await client.gql(
        '{ workspace(id: "%s") { ownScratchpad(limit: 3) { entryId consistencyToken } '
        "sessionContext { crossAgentScratchpad { consistencyToken } } } }" % DEMO_WS
    )
    assert not answer.errors, answer.errors
    workspace = answer.data["workspace"]
    entries = workspace["ownScratchpad"] + workspace["sessionContext"]["crossAgentScratchpad"]
    assert entries and all(e["consistencyToken"] is None for e in entries)
    assert "kora-read-after" not in answer.headers  # no write, no token
