"""The gateway's event reads return exactly the given read's rows (after the 300-character cut).

The gateway pretty-prints after the limit and cuts payloads server-side; the substrate's given
read pretty-prints every event first. Same data, same rows, same order, same payload_text.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest

from gateway.surfaces import events
from gateway.surfaces.events import ChainEventRow, truncate_payload
from tests.support import ATLAS_WS, BOREAL_WS, DEMO_WS, FRESH_WS

EMIT = "SELECT hivex_foundation._emit_chain_event($1, $2, $3::jsonb)"
SCRATCH_WS = "org_test_events_sql"


class ConnExecutor:
    """The surfaces' executor over one plain connection."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def fetch(self, name: str, sql: str, *args: Any) -> list[asyncpg.Record]:
        rows: list[asyncpg.Record] = await self.conn.fetch(sql, *args)
        return rows

    async def fetchrow(self, name: str, sql: str, *args: Any) -> asyncpg.Record | None:
        row: asyncpg.Record | None = await self.conn.fetchrow(sql, *args)
        return row


@pytest.fixture
async def boundary_workspace(admin_conn: asyncpg.Connection) -> AsyncIterator[str]:
    """A workspace whose payloads pretty-print to 294..306 characters, multi-byte at the cut."""
    tenant_id = await admin_conn.fetchval(
        "INSERT INTO hivex_foundation.tenant (clerk_org_id, display_name)"
        " VALUES ($1, 'Boundaries') RETURNING tenant_id",
        SCRATCH_WS,
    )
    for n in range(280, 293):
        for text in ("é" * n, "a" * (n - 1) + "😀", "x" * n):
            await admin_conn.execute(EMIT, tenant_id, "kora.boundary", json.dumps({"d": text}))
        await admin_conn.execute(EMIT, tenant_id, "sea.noise", json.dumps({"d": "n" * 2000}))
    await admin_conn.execute(EMIT, tenant_id, "kora.empty", "{}")
    yield SCRATCH_WS
    await admin_conn.execute(
        "DELETE FROM hivex_foundation.event_log WHERE tenant_id = $1", tenant_id
    )
    await admin_conn.execute("DELETE FROM hivex_foundation.tenant WHERE tenant_id = $1", tenant_id)


async def given(conn: asyncpg.Connection, workspace: str, limit: int) -> list[ChainEventRow]:
    rows = await conn.fetch(events.RECENT_CHAIN_EVENTS, workspace, limit)
    return [ChainEventRow(r[0], r[1], r[2], truncate_payload(r[3]), workspace) for r in rows]


WORKSPACES = (DEMO_WS, ATLAS_WS, BOREAL_WS, FRESH_WS, "org_unknown")


@pytest.mark.parametrize("limit", [1, 3, 7, 50, 500])
async def test_single_read_equals_given(
    reader_conn: asyncpg.Connection, boundary_workspace: str, limit: int
) -> None:
    executor = ConnExecutor(reader_conn)
    for workspace in (*WORKSPACES, boundary_workspace):
        want = await given(reader_conn, workspace, limit)
        got = await events.fetch_recent_events(executor, workspace, limit)
        assert got == want, workspace


async def test_boundaries_are_exercised(
    reader_conn: asyncpg.Connection, boundary_workspace: str
) -> None:
    rows = await reader_conn.fetch(events.RECENT_CHAIN_EVENTS, boundary_workspace, 500)
    lengths = {len(r[3]) for r in rows}
    assert {299, 300, 301, 302} <= lengths
    texts = [e.payload_text for e in await given(reader_conn, boundary_workspace, 500)]
    assert any(t.endswith("é…") and len(t) == 301 for t in texts)
    assert any(len(t) == 300 and not t.endswith("…") for t in texts)


async def test_batch_read_equals_given(
    reader_conn: asyncpg.Connection, boundary_workspace: str
) -> None:
    keys = [(ws, limit) for ws in (*WORKSPACES, boundary_workspace) for limit in (2, 50)]
    keys.append(keys[0])  # a repeated key is answered too
    got = await events.fetch_recent_events_many(ConnExecutor(reader_conn), keys)
    assert set(got) == set(keys)
    for workspace, limit in keys:
        assert got[(workspace, limit)] == await given(reader_conn, workspace, limit)


async def test_tenant_with_events_equals_separate_reads(
    reader_conn: asyncpg.Connection, boundary_workspace: str
) -> None:
    from gateway.surfaces.tenants import fetch_tenants

    executor = ConnExecutor(reader_conn)
    keys = [(ws, limit) for ws in (*WORKSPACES, boundary_workspace) for limit in (1, 50)]
    batch = await events.fetch_tenants_with_events(executor, keys)
    for key in keys:
        single = await events.fetch_tenants_with_events(executor, [key])
        tenant = (await fetch_tenants(executor, [key[0]])).get(key[0])
        if tenant is None:
            assert batch[key] is None
            assert single[key] is None
            continue
        want = (tenant, await given(reader_conn, *key))
        assert batch[key] == want
        assert single[key] == want
