"""The substrate: DDL, roles, row-level security, the hash chain, idempotent provisioning."""

from __future__ import annotations

import asyncio
import hashlib
import json
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

import asyncpg
import pytest

from gateway.dev.embedded import EmbeddedPostgres
from gateway.dev.substrate.demo import (
    DEMO_WORKSPACE_ID,
    DEMO_WORKSPACE_IDS,
    FRESH_WORKSPACE_ID,
    demo_tenant_id,
)
from gateway.dev.substrate.provision import READER_ROLE, WRITER_ROLE, provision

KRONICLE_TABLES = (
    "agent_scratchpad",
    "policy_registry",
    "role_charters",
    "workspace_constitution_revisions",
)
CHAIN_ROWS = """
SELECT el.event_type, el.payload::text AS payload_text, el.prev_event_hash, el.this_event_hash,
       to_char(el.occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS at_text
FROM hivex_foundation.event_log el
WHERE el.tenant_id = $1
ORDER BY el.occurred_at, el.event_id
"""


@pytest.fixture
async def scratch_tenant(
    admin_conn: asyncpg.Connection, request: pytest.FixtureRequest
) -> AsyncIterator[uuid.UUID]:
    """A tenant this test owns, removed with its events afterwards (the admin bypasses RLS)."""
    tenant_id = await admin_conn.fetchval(
        "INSERT INTO hivex_foundation.tenant (clerk_org_id, display_name)"
        " VALUES ($1, 'Test tenant') RETURNING tenant_id",
        f"org_test_{request.node.name}",
    )
    yield tenant_id
    await admin_conn.execute(
        "DELETE FROM hivex_foundation.event_log WHERE tenant_id = $1", tenant_id
    )
    await admin_conn.execute("DELETE FROM hivex_foundation.tenant WHERE tenant_id = $1", tenant_id)


def chain_is_valid(rows: Sequence[Mapping[str, Any]]) -> bool:
    prev: bytes | None = None
    for row in rows:
        if row["prev_event_hash"] != prev:
            return False
        material = (prev or b"") + "".join(
            (row["event_type"], row["payload_text"], row["at_text"])
        ).encode("utf-8")
        if hashlib.sha256(material).digest() != row["this_event_hash"]:
            return False
        prev = row["this_event_hash"]
    return True


# -- DDL ------------------------------------------------------------------------------------------


async def test_schemas_and_tables_exist(admin_conn: asyncpg.Connection) -> None:
    rows = await admin_conn.fetch(
        "SELECT table_schema || '.' || table_name FROM information_schema.tables"
        " WHERE table_schema IN ('hivex_foundation', 'kronicle')"
    )
    assert {r[0] for r in rows} == {
        "hivex_foundation.tenant",
        "hivex_foundation.event_log",
        *(f"kronicle.{t}" for t in KRONICLE_TABLES),
    }


async def test_given_index_name(admin_conn: asyncpg.Connection) -> None:
    definition = await admin_conn.fetchval(
        "SELECT indexdef FROM pg_indexes WHERE schemaname = 'kronicle'"
        " AND indexname = 'idx_constitution_revisions_workspace_current'"
    )
    assert definition is not None
    assert "(workspace_id, revision_number DESC)" in definition


async def test_rls_enabled_and_forced_on_every_kronicle_table(
    admin_conn: asyncpg.Connection,
) -> None:
    rows = await admin_conn.fetch(
        "SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity,"
        "       (SELECT array_agg(pg_get_expr(p.polqual, p.polrelid)) FROM pg_policy p"
        "         WHERE p.polrelid = c.oid) AS quals"
        " FROM pg_class c WHERE c.relnamespace = 'kronicle'::regnamespace AND c.relkind = 'r'"
        " ORDER BY c.relname"
    )
    assert tuple(r["relname"] for r in rows) == KRONICLE_TABLES
    for row in rows:
        assert row["relrowsecurity"], row["relname"]
        assert row["relforcerowsecurity"], row["relname"]
        assert row["quals"] == ["(workspace_id = current_setting('app.workspace_id'::text, true))"]


# -- roles ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", [READER_ROLE, WRITER_ROLE])
async def test_roles_are_unprivileged(admin_conn: asyncpg.Connection, role: str) -> None:
    flags = await admin_conn.fetchrow(
        "SELECT rolsuper, rolbypassrls, rolcreaterole, rolcanlogin FROM pg_roles"
        " WHERE rolname = $1",
        role,
    )
    assert flags is not None
    assert dict(flags) == {
        "rolsuper": False,
        "rolbypassrls": False,
        "rolcreaterole": False,
        "rolcanlogin": True,
    }
    owned = await admin_conn.fetchval(
        "SELECT count(*) FROM pg_tables WHERE tableowner = $1"
        " AND schemaname IN ('hivex_foundation', 'kronicle')",
        role,
    )
    assert owned == 0


async def test_only_the_writer_may_emit(admin_conn: asyncpg.Connection) -> None:
    privilege = (
        "SELECT has_function_privilege($1,"
        " 'hivex_foundation._emit_chain_event(uuid, text, jsonb)', 'EXECUTE')"
    )
    assert await admin_conn.fetchval(privilege, READER_ROLE) is False
    assert await admin_conn.fetchval(privilege, WRITER_ROLE) is True
    for role in (READER_ROLE, WRITER_ROLE):
        insert = "SELECT has_table_privilege($1, 'hivex_foundation.event_log', 'INSERT')"
        assert await admin_conn.fetchval(insert, role) is False


async def test_reader_cannot_write(reader_conn: asyncpg.Connection) -> None:
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await reader_conn.execute(
            "SELECT hivex_foundation._emit_chain_event($1, 'kora.session.started', '{}')",
            demo_tenant_id(DEMO_WORKSPACE_ID),
        )
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await reader_conn.execute(
            "INSERT INTO kronicle.agent_scratchpad (workspace_id, agent_id, kind, content)"
            " VALUES ($1, 'kora', 'note', 'x')",
            DEMO_WORKSPACE_ID,
        )


async def test_wrong_password_is_refused(embedded_pg: EmbeddedPostgres) -> None:
    with pytest.raises(asyncpg.InvalidPasswordError):
        await asyncpg.connect(embedded_pg.dsn_for(READER_ROLE, "not-the-password"))


# -- row-level security ---------------------------------------------------------------------------


@pytest.mark.parametrize("table", KRONICLE_TABLES)
async def test_reader_sees_nothing_without_the_setting(
    reader_conn: asyncpg.Connection, table: str
) -> None:
    assert await reader_conn.fetchval(f"SELECT count(*) FROM kronicle.{table}") == 0


@pytest.mark.parametrize("table", KRONICLE_TABLES)
async def test_reader_sees_only_the_set_workspace(
    reader_conn: asyncpg.Connection, admin_conn: asyncpg.Connection, table: str
) -> None:
    expected = await admin_conn.fetchval(
        f"SELECT count(*) FROM kronicle.{table} WHERE workspace_id = $1", DEMO_WORKSPACE_ID
    )
    total = await admin_conn.fetchval(f"SELECT count(*) FROM kronicle.{table}")
    assert 0 < expected < total
    async with reader_conn.transaction():
        await reader_conn.execute(
            "SELECT set_config('app.workspace_id', $1, true)", DEMO_WORKSPACE_ID
        )
        rows = await reader_conn.fetch(f"SELECT workspace_id FROM kronicle.{table}")
        other = await reader_conn.fetchval(
            f"SELECT count(*) FROM kronicle.{table} WHERE workspace_id <> $1", DEMO_WORKSPACE_ID
        )
    assert len(rows) == expected
    assert {r["workspace_id"] for r in rows} == {DEMO_WORKSPACE_ID}
    assert other == 0
    # The setting was transaction-local: gone with the transaction.
    assert await reader_conn.fetchval(f"SELECT count(*) FROM kronicle.{table}") == 0


async def test_writer_cannot_insert_into_another_workspace(writer_conn: asyncpg.Connection) -> None:
    insert = (
        "INSERT INTO kronicle.agent_scratchpad (workspace_id, agent_id, kind, content)"
        " VALUES ($1, 'kora', 'note', 'test')"
    )
    tx = writer_conn.transaction()
    await tx.start()
    try:
        await writer_conn.execute(
            "SELECT set_config('app.workspace_id', $1, true)", DEMO_WORKSPACE_ID
        )
        await writer_conn.execute(insert, DEMO_WORKSPACE_ID)  # its own workspace: allowed
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="row-level security"):
            await writer_conn.execute(insert, FRESH_WORKSPACE_ID)
    finally:
        await tx.rollback()


# -- the hash chain -------------------------------------------------------------------------------


async def test_every_demo_chain_is_valid(admin_conn: asyncpg.Connection) -> None:
    tenants = await admin_conn.fetch("SELECT tenant_id, clerk_org_id FROM hivex_foundation.tenant")
    for tenant in tenants:
        rows = await admin_conn.fetch(CHAIN_ROWS, tenant["tenant_id"])
        assert chain_is_valid(rows), tenant["clerk_org_id"]
        if rows:
            assert rows[0]["prev_event_hash"] is None
            assert all(r["prev_event_hash"] is not None for r in rows[1:])
            stamps = [r["at_text"] for r in rows]
            assert stamps == sorted(set(stamps)), "occurred_at must strictly increase"


async def test_tampering_breaks_the_recomputed_chain(admin_conn: asyncpg.Connection) -> None:
    rows = [dict(r) for r in await admin_conn.fetch(CHAIN_ROWS, demo_tenant_id(DEMO_WORKSPACE_ID))]
    rows[10]["payload_text"] = rows[10]["payload_text"].replace("}", ', "x": 1}', 1)
    assert not chain_is_valid(rows)


async def test_concurrent_emits_stay_one_chain(
    admin_conn: asyncpg.Connection, writer_dsn: str, scratch_tenant: uuid.UUID
) -> None:
    tenant_id = scratch_tenant
    pool = await asyncpg.create_pool(writer_dsn, min_size=4, max_size=4)
    try:
        await asyncio.gather(
            *(
                pool.execute(
                    "SELECT hivex_foundation._emit_chain_event($1, $2, $3::jsonb)",
                    tenant_id,
                    "kora.session.started",
                    json.dumps({"n": n, "text": "café ✓"}),
                )
                for n in range(40)
            )
        )
    finally:
        await pool.close()
    rows = await admin_conn.fetch(CHAIN_ROWS, tenant_id)
    assert len(rows) == 40
    assert chain_is_valid(rows)


async def test_emit_refuses_repeatable_read(writer_conn: asyncpg.Connection) -> None:
    with pytest.raises(asyncpg.InvalidTransactionStateError, match="READ COMMITTED"):
        async with writer_conn.transaction(isolation="repeatable_read"):
            await writer_conn.execute(
                "SELECT hivex_foundation._emit_chain_event($1, 'kora.session.started', '{}')",
                demo_tenant_id(DEMO_WORKSPACE_ID),
            )


async def test_emit_notifies_listeners(
    reader_conn: asyncpg.Connection, writer_conn: asyncpg.Connection, scratch_tenant: uuid.UUID
) -> None:
    tenant_id = scratch_tenant
    received: asyncio.Queue[str] = asyncio.Queue()
    await reader_conn.add_listener("kora_events", lambda *args: received.put_nowait(args[3]))
    row = await writer_conn.fetchrow(
        "SELECT * FROM hivex_foundation._emit_chain_event($1, 'kora.session.started', '{}')",
        tenant_id,
    )
    assert row is not None
    message = json.loads(await asyncio.wait_for(received.get(), timeout=5))
    assert message == {"tenant_id": str(tenant_id), "event_id": str(row["event_id"])}


# -- provisioning ---------------------------------------------------------------------------------


async def test_provision_is_idempotent(
    admin_dsn: str, admin_conn: asyncpg.Connection, reader_dsn: str, passwords: dict[str, str]
) -> None:
    census = (
        "SELECT (SELECT count(*) FROM hivex_foundation.tenant),"
        " (SELECT count(*) FROM hivex_foundation.event_log),"
        " (SELECT count(*) FROM kronicle.agent_scratchpad),"
        " (SELECT count(*) FROM kronicle.policy_registry)"
    )
    before = await admin_conn.fetchrow(census)
    for _ in range(2):
        await provision(
            admin_dsn,
            reader_password=passwords[READER_ROLE],
            writer_password=passwords[WRITER_ROLE],
            demo=True,
        )
    assert await admin_conn.fetchrow(census) == before
    tenants = await admin_conn.fetch("SELECT clerk_org_id FROM hivex_foundation.tenant")
    assert set(DEMO_WORKSPACE_IDS) <= {t[0] for t in tenants}
    conn = await asyncpg.connect(reader_dsn)
    await conn.close()
